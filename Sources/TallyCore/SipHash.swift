/// SipHash with a 128-bit result (Aumasson and Bernstein), over one contiguous run of bytes:
/// the keyed hash behind RepeatedKeys' fingerprints. One pass gives all 128 bits, where two of
/// Swift's `Hasher` (64 bits each) read the bytes twice and cost a third of parsing a wide
/// export's main thread (perf). `rounds` and `finalRounds` are SipHash's c and d: tally uses 1
/// and 3, as Swift's `Hasher` does; the tests check 2 and 4 against the reference vectors.
public struct SipHash128: Sendable {
    public let k0: UInt64
    public let k1: UInt64

    public init(k0: UInt64, k1: UInt64) {
        self.k0 = k0
        self.k1 = k1
    }

    /// A key drawn at random, once a process: no file can be made to collide on purpose.
    public static let random: SipHash128 = {
        var g = SystemRandomNumberGenerator()
        return SipHash128(k0: g.next(), k1: g.next())
    }()

    @inline(__always)
    static func round(_ v0: inout UInt64, _ v1: inout UInt64, _ v2: inout UInt64, _ v3: inout UInt64) {
        v0 &+= v1; v1 = v1.rotl(13); v1 ^= v0; v0 = v0.rotl(32)
        v2 &+= v3; v3 = v3.rotl(16); v3 ^= v2
        v0 &+= v3; v3 = v3.rotl(21); v3 ^= v0
        v2 &+= v1; v1 = v1.rotl(17); v1 ^= v2; v2 = v2.rotl(32)
    }

    /// The 128-bit digest of `bytes`, as two words (the first eight bytes of the reference
    /// output, little-endian, then the last eight); `wide: false` gives the 64-bit SipHash.
    @inline(__always)
    public func hash(_ bytes: UnsafeRawBufferPointer, rounds: Int = 1, finalRounds: Int = 3, wide: Bool = true) -> (UInt64, UInt64) {
        var stream = Stream(self, rounds: rounds, finalRounds: finalRounds, wide: wide)
        stream.feed(bytes)
        return stream.finish()
    }
}

extension SipHash128 {
    /// The digest of bytes fed piece by piece, kept in registers: no bytes are gathered in
    /// memory first (`hash` feeds one run). The CSV reader hashes a row's key this way from its
    /// read buffer: reading back a key just gathered in a buffer stalled the reading thread
    /// behind its stores into the batch, a cache line from the other core each (perf: a fifth
    /// of the thread's time).
    public struct Stream {
        var v0: UInt64, v1: UInt64, v2: UInt64, v3: UInt64
        var tail: UInt64 = 0
        var tailBytes: UInt64 = 0
        var total = 0
        let rounds: Int, finalRounds: Int, wide: Bool

        /// `rounds` and `finalRounds` are SipHash's c and d; `wide: false` gives 64 bits.
        @inline(__always)
        public init(_ key: SipHash128, rounds: Int = 1, finalRounds: Int = 3, wide: Bool = true) {
            v0 = key.k0 ^ 0x736f_6d65_7073_6575
            v1 = key.k1 ^ 0x646f_7261_6e64_6f6d ^ (wide ? 0xee : 0)
            v2 = key.k0 ^ 0x6c79_6765_6e65_7261
            v3 = key.k1 ^ 0x7465_6462_7974_6573
            self.rounds = rounds
            self.finalRounds = finalRounds
            self.wide = wide
        }

        @inline(__always)
        mutating func compress(_ m: UInt64) {
            v3 ^= m
            for _ in 0..<rounds { SipHash128.round(&v0, &v1, &v2, &v3) }
            v0 ^= m
        }

        /// Adds one byte.
        @inline(__always)
        public mutating func feed(_ byte: UInt8) {
            tail |= UInt64(byte) << (tailBytes &* 8)
            tailBytes &+= 1
            total &+= 1
            if tailBytes == 8 {
                compress(tail)
                tail = 0
                tailBytes = 0
            }
        }

        /// Adds bytes.
        @inline(__always)
        public mutating func feed(_ bytes: UnsafeRawBufferPointer) {
            guard let p = bytes.baseAddress else { return }
            let n = bytes.count
            var i = 0
            while tailBytes != 0 && i < n {
                feed(p.load(fromByteOffset: i, as: UInt8.self))
                i &+= 1
            }
            while i &+ 8 <= n {
                compress(UInt64(littleEndian: p.loadUnaligned(fromByteOffset: i, as: UInt64.self)))
                i &+= 8
                total &+= 8
            }
            while i < n {
                feed(p.load(fromByteOffset: i, as: UInt8.self))
                i &+= 1
            }
        }

        /// Adds `bytes` as whole words: first their count, then the bytes eight at a time, the
        /// last word filled with zeros. A list of cells fed this way makes a list of words no
        /// other list makes (each count says how many words of bytes follow, and where the
        /// zeros begin). Only where nothing was fed byte by byte. Row keys are hashed this way:
        /// a count in decimal digits and a colon, then the bytes, went a byte at a time up to
        /// each word's edge (perf: a tenth of the wide export's consumer thread in the key hash).
        @inline(__always)
        public mutating func feedWords(_ bytes: UnsafeRawBufferPointer) {
            precondition(tailBytes == 0, "feedWords after bytes fed one by one")
            let n = bytes.count
            compress(UInt64(n))
            total &+= 8
            guard let p = bytes.baseAddress else { return }
            var i = 0
            while i &+ 8 <= n {
                compress(UInt64(littleEndian: p.loadUnaligned(fromByteOffset: i, as: UInt64.self)))
                i &+= 8
            }
            let r = n &- i
            if r > 0 {
                // The last 1 to 7 bytes, read in pieces of 4, 2 and 1 so as never to read past them.
                var w: UInt64 = 0, shift: UInt64 = 0
                if r & 4 != 0 {
                    w = UInt64(UInt32(littleEndian: p.loadUnaligned(fromByteOffset: i, as: UInt32.self)))
                    i &+= 4; shift = 32
                }
                if r & 2 != 0 {
                    w |= UInt64(UInt16(littleEndian: p.loadUnaligned(fromByteOffset: i, as: UInt16.self))) << shift
                    i &+= 2; shift &+= 16
                }
                if r & 1 != 0 { w |= UInt64(p.load(fromByteOffset: i, as: UInt8.self)) << shift }
                compress(w)
            }
            total &+= (n &+ 7) & ~7
        }

        /// The digest of everything fed (the second word 0 when not `wide`).
        @inline(__always)
        public func finish() -> (UInt64, UInt64) {
            var v0 = v0, v1 = v1, v2 = v2, v3 = v3
            let last = UInt64(truncatingIfNeeded: total) << 56 | tail
            v3 ^= last
            for _ in 0..<rounds { SipHash128.round(&v0, &v1, &v2, &v3) }
            v0 ^= last
            v2 ^= wide ? 0xee : 0xff
            for _ in 0..<finalRounds { SipHash128.round(&v0, &v1, &v2, &v3) }
            let first = v0 ^ v1 ^ v2 ^ v3
            guard wide else { return (first, 0) }
            v1 ^= 0xdd
            for _ in 0..<finalRounds { SipHash128.round(&v0, &v1, &v2, &v3) }
            return (first, v0 ^ v1 ^ v2 ^ v3)
        }
    }
}

extension UInt64 {
    @inline(__always) func rotl(_ k: UInt64) -> UInt64 { (self << k) | (self >> (64 &- k)) }
}
