import CTally

/// Strict UTF-8 validation over bytes (RFC 3629: no overlong forms, no surrogates, nothing past
/// U+10FFFF), with an eight-bytes-at-a-time path for ASCII, which most feed text is.
///
/// `String(validating:as:)` would do, but it runs unspecialised generic code that cost a
/// quarter of the record decoder's time (measured with perf); validating here and then building
/// with `String(decoding:as:)`, which is specialised, keeps strings cheap.
public enum UTF8Check {
    /// Whether `bytes` are valid UTF-8.
    @inline(__always)
    public static func isValid(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool { isValid(bytes, simd: simdReady) }

    /// Whether `tally_utf8_valid` can run here.
    static let simdReady = tally_utf8_simd_ready() != 0

    /// `simd: false` checks with the loop below alone (the tests check both ways).
    @inline(__always)
    static func isValid(_ bytes: UnsafeBufferPointer<UInt8>, simd: Bool) -> Bool {
        guard let base = bytes.baseAddress else { return true }
        let n = bytes.count
        var i = 0
        while i &+ 8 <= n {
            if !Bytes.isASCII(UnsafeRawPointer(base + i).loadUnaligned(as: UInt64.self)) { break }
            i &+= 8
        }
        while i < n {
            if base[i] < 0x80 { i &+= 1; continue }
            // From the first byte above 0x7F (ASCII before it), sixteen bytes a step where the
            // processor can (`tally_utf8_valid`, SSSE3): a wide export's Chinese names took a
            // tenth of its reading thread a character at a time.
            if simd { return tally_utf8_valid(base + i, n &- i) != 0 }
            return validateTail(base, from: i, count: n)
        }
        return true
    }

    @inline(never)
    static func validateTail(_ p: UnsafePointer<UInt8>, from start: Int, count n: Int) -> Bool {
        var i = start
        while i < n {
            let b0 = p[i]
            if b0 < 0x80 {
                i &+= 1
                while i &+ 8 <= n, Bytes.isASCII(UnsafeRawPointer(p + i).loadUnaligned(as: UInt64.self)) { i &+= 8 }
                continue
            }
            // Three-byte sequences (all of CJK) with four bytes in reach: both continuation bytes
            // checked with one load; E0 and ED, which restrict the second byte, take the switch.
            if b0 & 0xF0 == 0xE0, b0 != 0xE0, b0 != 0xED, i &+ 4 <= n {
                let w = UnsafeRawPointer(p + i).loadUnaligned(as: UInt32.self).littleEndian
                guard w & 0x00C0_C000 == 0x0080_8000 else { return false }
                i &+= 3
                continue
            }
            @inline(__always) func cont(_ k: Int) -> Bool { i + k < n && p[i + k] & 0xC0 == 0x80 }
            switch b0 {
            case 0xC2...0xDF:
                guard cont(1) else { return false }
                i += 2
            case 0xE0...0xEF:
                guard cont(1), cont(2) else { return false }
                let b1 = p[i + 1]
                if b0 == 0xE0 && b1 < 0xA0 { return false }   // overlong
                if b0 == 0xED && b1 >= 0xA0 { return false }  // surrogate
                i += 3
            case 0xF0...0xF4:
                guard cont(1), cont(2), cont(3) else { return false }
                let b1 = p[i + 1]
                if b0 == 0xF0 && b1 < 0x90 { return false }   // overlong
                if b0 == 0xF4 && b1 >= 0x90 { return false }  // past U+10FFFF
                i += 4
            default:
                return false
            }
        }
        return true
    }

    /// A `String` of `bytes` if they are valid UTF-8, else nil.
    @inline(__always)
    public static func string(_ bytes: UnsafeBufferPointer<UInt8>) -> String? {
        guard isValid(bytes) else { return nil }
        return String(decoding: bytes, as: UTF8.self)
    }
}

extension UTF8Check {
    /// The length of the valid UTF-8 sequence at `i` (1 to 4), or 0 when the bytes there are not
    /// one. For cold paths (messages); `isValid` is the fast check.
    public static func sequenceLength(_ b: UnsafeRawBufferPointer, at i: Int) -> Int {
        let n = b.count
        let b0 = b[i]
        if b0 < 0x80 { return 1 }
        func cont(_ k: Int) -> Bool { i + k < n && b[i + k] & 0xC0 == 0x80 }
        switch b0 {
        case 0xC2...0xDF:
            return cont(1) ? 2 : 0
        case 0xE0...0xEF:
            guard cont(1), cont(2) else { return 0 }
            let b1 = b[i + 1]
            if (b0 == 0xE0 && b1 < 0xA0) || (b0 == 0xED && b1 >= 0xA0) { return 0 }
            return 3
        case 0xF0...0xF4:
            guard cont(1), cont(2), cont(3) else { return 0 }
            let b1 = b[i + 1]
            if (b0 == 0xF0 && b1 < 0x90) || (b0 == 0xF4 && b1 >= 0x90) { return 0 }
            return 4
        default:
            return 0
        }
    }
}
