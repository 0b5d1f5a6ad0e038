import CTally

/// A growable byte buffer for building output without going through `String`.
///
/// Stages encode records into one reused `ByteBuffer` and hand its bytes to an output sink, so the
/// hot path allocates nothing per line. It is a class so that encoders can append into it without
/// copy-on-write checks; it is not thread-safe.
///
/// ```swift
/// let out = ByteBuffer()
/// out.append("tally")
/// out.append(UInt8(ascii: "\n"))
/// ```
public final class ByteBuffer {
    /// The start of the storage; valid until the next append or `reserve`.
    public private(set) var base: UnsafeMutablePointer<UInt8>
    /// The number of bytes written.
    public internal(set) var count: Int

    /// Drops the bytes past the first `n` (what was appended since the count was `n`).
    public func truncate(to n: Int) {
        precondition(n >= 0 && n <= count)
        count = n
    }
    /// The number of bytes the storage holds before it must grow.
    public private(set) var capacity: Int
    /// The day last written by `appendTimestamp` and its `YYYY-MM-DD`: records written together
    /// mostly share their date, and turning a day number into a date was a sixth of encoding a
    /// record (callgrind).
    var lastDay = DayMemo()

    /// Makes an empty buffer with room for `capacity` bytes.
    public init(capacity: Int = 1 << 16) {
        self.capacity = max(capacity, 16)
        self.base = .allocate(capacity: self.capacity)
        self.count = 0
    }

    deinit { base.deallocate() }

    /// Makes sure `n` more bytes fit without growing.
    @inline(__always)
    public func reserve(_ n: Int) {
        if count &+ n > capacity { grow(to: count + n) }
    }

    @inline(never)
    private func grow(to needed: Int) {
        var newCapacity = capacity
        while newCapacity < needed { newCapacity *= 2 }
        let newBase = UnsafeMutablePointer<UInt8>.allocate(capacity: newCapacity)
        newBase.update(from: base, count: count)
        base.deallocate()
        base = newBase
        capacity = newCapacity
    }

    /// Appends what `write` writes into room for at most `n` bytes at the end; it returns how
    /// many it wrote. For producers that write straight into a buffer (iconv).
    @inline(__always)
    public func append(atMost n: Int, _ write: (UnsafeMutableRawBufferPointer) -> Int) {
        reserve(n)
        let written = write(UnsafeMutableRawBufferPointer(start: base + count, count: n))
        precondition(written >= 0 && written <= n)
        count &+= written
    }

    /// Appends one byte.
    @inline(__always)
    public func append(_ byte: UInt8) {
        reserve(1)
        base[count] = byte
        count &+= 1
    }

    /// Appends `bytes` as lower-case hex, two digits a byte (record ids, person keys, `\u00XX`).
    @inline(__always)
    public func appendHex(_ bytes: UnsafeRawBufferPointer) {
        guard let p = bytes.baseAddress else { return }
        let n = bytes.count
        reserve(2 * n)
        tally_hex(p.assumingMemoryBound(to: UInt8.self), UInt(n), base + count)
        count &+= 2 &* n
    }

    /// Appends raw bytes.
    @inline(__always)
    public func append(_ bytes: UnsafeRawBufferPointer) {
        guard let src = bytes.baseAddress, !bytes.isEmpty else { return }
        reserve(bytes.count)
        UnsafeMutableRawPointer(base + count).copyMemory(from: src, byteCount: bytes.count)
        count &+= bytes.count
    }

    /// Appends raw bytes.
    @inline(__always)
    public func append(_ bytes: UnsafeBufferPointer<UInt8>) {
        append(UnsafeRawBufferPointer(bytes))
    }

    /// Appends 32 lower-case hex digits: `hi`'s 16, then `lo`'s (record ids, person keys).
    @inline(__always)
    public func appendHex32(_ hi: UInt64, _ lo: UInt64) {
        reserve(32)
        Bytes.writeHex16(hi, to: base + count)
        Bytes.writeHex16(lo, to: base + count + 16)
        count &+= 32
    }

    /// Appends the UTF-8 of a literal.
    @inline(__always)
    public func append(_ literal: StaticString) {
        append(UnsafeRawBufferPointer(start: literal.utf8Start, count: literal.utf8CodeUnitCount))
    }

    /// Appends the UTF-8 of a string as is (no escaping).
    @inline(__always)
    public func append(_ string: String) {
        if string.utf8.withContiguousStorageIfAvailable({ append(UnsafeRawBufferPointer($0)) }) != nil { return }
        var copy = string
        copy.withUTF8 { append(UnsafeRawBufferPointer($0)) }
    }

    /// Appends a signed integer in decimal.
    public func appendDecimal(_ value: Int64) {
        reserve(20)
        var magnitude = value.magnitude
        if value < 0 { base[count] = UInt8(ascii: "-"); count &+= 1 }
        if magnitude < 10 {
            base[count] = UInt8(truncatingIfNeeded: magnitude) &+ 48
            count &+= 1
            return
        }
        var digits = 0
        var probe = magnitude
        while probe > 0 { digits &+= 1; probe /= 10 }
        var position = count &+ digits &- 1
        while magnitude > 0 {
            base[position] = UInt8(truncatingIfNeeded: magnitude % 10) &+ 48
            magnitude /= 10
            position &-= 1
        }
        count &+= digits
    }

    /// Appends `value` in decimal, left-padded with zeros to `width` digits (non-negative values).
    @inline(__always)
    public func appendPadded(_ value: Int, width: Int) {
        reserve(width)
        var v = value
        var i = width - 1
        while i >= 0 {
            base[count &+ i] = UInt8(truncatingIfNeeded: v % 10) &+ 48
            v /= 10
            i -= 1
        }
        count &+= width
    }

    /// Forgets the contents, keeping the storage.
    @inline(__always)
    public func removeAll() { count = 0 }

    /// Empties the buffer and, if it has grown past `limit` bytes, gives the memory back down to
    /// `keep` bytes: a buffer reused for many small values after one huge one should not hold
    /// the huge one's room.
    @inline(__always)
    public func removeAll(shrinkingPast limit: Int, to keep: Int) {
        count = 0
        if capacity > limit { shrink(to: keep) }
    }

    @inline(never)
    func shrink(to keep: Int) {
        base.deallocate()
        capacity = max(keep, 16)
        base = .allocate(capacity: capacity)
    }

    /// Trades contents with `other` (bytes, count and room), without copying: a row pipeline's
    /// batch lends its buffer to the row that writes into it, then to the row that reads it.
    public func exchange(with other: ByteBuffer) {
        swap(&base, &other.base)
        swap(&count, &other.count)
        swap(&capacity, &other.capacity)
    }

    /// Drops the last `n` bytes.
    public func removeLast(_ n: Int) {
        precondition(n <= count)
        count -= n
    }

    /// Calls `body` with the bytes written so far.
    public func withBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeRawBufferPointer(start: base, count: count))
    }

    /// The bytes in place: valid until the buffer next changes.
    public var contents: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: count) }

    /// The contents as an array (tests and small outputs).
    public var bytes: [UInt8] { Array(UnsafeBufferPointer(start: base, count: count)) }

    /// The contents decoded as UTF-8 (tests and small outputs).
    public var string: String { String(decoding: UnsafeBufferPointer(start: base, count: count), as: UTF8.self) }
}
