/// Strings decoded lately, found again by their bytes (`RecordDecoder`, `ScoreDecoder`).
///
/// Records repeat the same source, kind, file name, hash, attribute keys and many attribute
/// values line after line, in streams that mix feeds. Comparing a value's bytes with a kept copy
/// is a hash of two words and a few word compares; making a `String` of them is a validation,
/// often an allocation, and a release later. The cache is direct-mapped on a hash of the bytes,
/// so a value is found whichever field it is in and whatever came between (a cache by field
/// position missed 3.2 values a record on a mix of court and transit records).
///
/// Keeping the bytes beside the string, rather than asking the string for its UTF-8 (which a
/// small string must first copy out), is what makes a hit cheap: callgrind counted 145
/// instructions per field with the one-entry slots this replaced, which did that.
///
/// Values longer than `width` bytes are made every time and not kept.
final class StringCache {
    /// The most bytes a kept value may have (a SHA-256 in hex is 64).
    static let width = 64
    /// log2 of the number of entries.
    static let bits = 10

    /// `width` bytes for each entry, the kept value's first.
    private let bytes: UnsafeMutablePointer<UInt8>
    /// The kept value's length for each entry; -1 while an entry is empty.
    private let lengths: UnsafeMutablePointer<Int>
    private let strings: UnsafeMutablePointer<String>

    init() {
        let n = 1 << Self.bits
        bytes = .allocate(capacity: n * Self.width)
        lengths = .allocate(capacity: n)
        lengths.initialize(repeating: -1, count: n)
        strings = .allocate(capacity: n)
        strings.initialize(repeating: "", count: n)
    }

    deinit {
        strings.deinitialize(count: 1 << Self.bits)
        strings.deallocate()
        lengths.deallocate()
        bytes.deallocate()
    }

    /// The string `ref` holds: the kept one when its bytes are the same, else a new one, kept.
    /// (The view that made `ref` has checked its UTF-8.)
    @inline(__always)
    func string(_ ref: JSONStringRef) -> String {
        if ref.escaped { return ref.string }
        // `content` lies between two quotes, so it has an address even when empty.
        return string(ref.content.assumingMemoryBound(to: UInt8.self)) { String(decoding: $0, as: UTF8.self) }
    }

    /// The kept string for `bytes` when there is one; else `make`'s, kept (when it returns).
    @inline(__always)
    func string<E: Error>(_ bytes: UnsafeBufferPointer<UInt8>, make: (UnsafeBufferPointer<UInt8>) throws(E) -> String) throws(E) -> String {
        let n = bytes.count
        guard n <= Self.width, let src = bytes.baseAddress else { return try make(bytes) }
        let i = Self.slot(src, n)
        let kept = self.bytes + i &* Self.width
        if lengths[i] == n, memcmpEqual(kept, src, n) { return strings[i] }
        let s = try make(bytes)
        kept.update(from: src, count: n)
        lengths[i] = n
        strings[i] = s
        return s
    }

    /// The entry for `n` bytes at `p`: a hash of the length and of the first and last eight
    /// bytes (or what there is), never reading outside the value.
    @inline(__always)
    static func slot(_ p: UnsafePointer<UInt8>, _ n: Int) -> Int {
        let raw = UnsafeRawPointer(p)
        var h = UInt64(truncatingIfNeeded: n)
        if n >= 8 {
            h ^= raw.loadUnaligned(as: UInt64.self) &* 0x9E37_79B9_7F4A_7C15
            h ^= raw.loadUnaligned(fromByteOffset: n - 8, as: UInt64.self)
        } else if n >= 4 {
            h ^= UInt64(raw.loadUnaligned(as: UInt32.self)) << 8
            h ^= UInt64(raw.loadUnaligned(fromByteOffset: n - 4, as: UInt32.self)) << 32
        } else if n > 0 {
            h ^= UInt64(p[0]) << 8 | UInt64(p[n >> 1]) << 16 | UInt64(p[n - 1]) << 24
        }
        h = (h ^ (h >> 31)) &* 0xBF58_476D_1CE4_E5B9
        return Int(truncatingIfNeeded: h >> UInt64(64 - bits))
    }
}
