/// The field values of one row, as UTF-8 bytes in one reused buffer.
///
/// Readers fill it (CSV cells unquoted and decoded to UTF-8, XML text and attributes); the
/// validator and mapper read it. Nothing here allocates per row once the buffers have grown.
public final class Row {
    /// All field values, back to back. It starts small and grows to the widest row it holds:
    /// the pipeline keeps about 4,096 rows, and 4 KiB each was 16 MB before any row was read.
    public let storage = ByteBuffer(capacity: 512)
    // Cell boundaries in plain buffers: Swift arrays cost uniqueness checks and retains on every
    // cell, a tenth of parsing transit (measured with perf).
    // Inlinable into the readers (another module): perf showed the calls of beginField and
    // endField at 7% of parsing a wide export.
    @usableFromInline var starts: UnsafeMutablePointer<Int>
    @usableFromInline var ends: UnsafeMutablePointer<Int>
    @usableFromInline var capacity = 32
    @usableFromInline var fieldCount = 0
    /// The number of fields read.
    @inlinable public var count: Int { fieldCount }
    /// The 1-based line where the row starts in the decompressed file.
    public var line = 0
    /// The row's bytes as they stand in the file (CSV), for reject reports; empty for XML,
    /// whose rejects are rebuilt from the fields.
    public let raw = ByteBuffer(capacity: 256)
    /// Whether `raw` is UTF-8 (else it is in the feed's legacy encoding).
    public var rawIsUTF8 = true
    /// A problem found while reading the row (bad quoting, a bad encoding, the wrong number of
    /// cells, an XSD error), which makes it a reject whatever its values.
    public var readFault: RowFault?
    /// Further problems found while reading (an XML record can break its XSD in several places).
    public var moreReadFaults: [RowFault] = []
    /// The row's key, hashed by the reading thread (`RepeatedKeys.print`), or nil when it was not:
    /// the main thread of tally-parse had the most work of the two (perf), so the hashing moved.
    public var keyPrint: RepeatedKeys.Prepared?

    /// The most room a pooled row keeps between rows.
    public static let keptCapacity = 1 << 20

    /// The bytes the row holds (its values and its raw text), for the pipeline's budget.
    public var heldBytes: Int { storage.count + raw.count }

    public init() {
        starts = .allocate(capacity: capacity)
        ends = .allocate(capacity: capacity)
    }

    deinit {
        starts.deallocate()
        ends.deallocate()
    }

    @inline(never) @usableFromInline
    func grow() {
        let newCapacity = capacity * 2
        let s = UnsafeMutablePointer<Int>.allocate(capacity: newCapacity), e = UnsafeMutablePointer<Int>.allocate(capacity: newCapacity)
        s.update(from: starts, count: count)
        e.update(from: ends, count: count)
        starts.deallocate()
        ends.deallocate()
        starts = s
        ends = e
        capacity = newCapacity
    }

    /// Forgets the previous row.
    @inline(__always)
    public func reset() {
        // A row's buffers give back what one huge row made them take (rows are pooled by the
        // hundred in the row pipeline: forty 4 MiB rows once kept 365 MB).
        storage.removeAll(shrinkingPast: Row.keptCapacity, to: 1 << 12)
        raw.removeAll(shrinkingPast: Row.keptCapacity, to: 256)
        fieldCount = 0
        readFault = nil
        keyPrint = nil
        if !moreReadFaults.isEmpty { moreReadFaults.removeAll() }
    }

    /// Starts a new field at the end of the storage; append its bytes to `storage`, then call
    /// `endField()`.
    @inlinable @inline(__always) public func beginField() {
        if fieldCount == capacity { grow() }
        starts[fieldCount] = storage.count
        ends[fieldCount] = storage.count
        fieldCount += 1
    }
    @inlinable @inline(__always) public func endField() { ends[fieldCount - 1] = storage.count }

    /// Stores a record whose cells need no unquoting: the bytes are copied once and each cell
    /// is a span of them, cut at `separator`.
    public func setUnquotedCells(_ record: UnsafeRawBufferPointer, separator: UInt8) {
        let base = storage.count
        storage.append(record)
        var cellStart = 0
        let n = record.count
        guard let p = record.baseAddress?.assumingMemoryBound(to: UInt8.self) else {
            beginField()
            return
        }
        var i = 0
        while true {
            // Find the next separator eight bytes at a time: in the zero-byte test of
            // (word XOR separators), the lowest set bit marks the first match exactly.
            var found = -1
            while i &+ 8 <= n {
                let m = Bytes.bytes(UnsafeRawPointer(p + i).loadUnaligned(as: UInt64.self), equalTo: separator)
                if m != 0 { found = i &+ m.trailingZeroBitCount >> 3; break }
                i &+= 8
            }
            if found < 0 {
                while i < n && p[i] != separator { i &+= 1 }
                found = i
            }
            i = found
            if fieldCount == capacity { grow() }
            starts[fieldCount] = base &+ cellStart
            ends[fieldCount] = base &+ i
            fieldCount &+= 1
            if i >= n { break }
            i &+= 1
            cellStart = i
        }
    }

    /// Appends a whole field.
    @inline(__always)
    public func appendField(_ bytes: UnsafeRawBufferPointer) {
        beginField()
        storage.append(bytes)
        endField()
    }

    /// Replaces every field's value, keeping the raw text and line.
    public func replaceFields(_ values: [[UInt8]]) {
        storage.removeAll()
        fieldCount = 0
        for v in values { v.withUnsafeBytes { appendField($0) } }
    }

    /// Sets the fields to `count` empty values (XML readers fill them by position).
    public func resetFields(count n: Int) {
        reset()
        rawIsUTF8 = true
        for _ in 0..<n { beginField() }
    }

    /// Stores `bytes` as the value of field `i` (after `resetFields`), appending to any value it has.
    public func append(_ bytes: UnsafeRawBufferPointer, toField i: Int) {
        if starts[i] == ends[i] {
            starts[i] = storage.count
            storage.append(bytes)
        } else if ends[i] == storage.count {
            storage.append(bytes)
        } else {
            // Move the value to the end so it stays contiguous.
            let old = Array(UnsafeRawBufferPointer(start: storage.base + starts[i], count: ends[i] - starts[i]))
            starts[i] = storage.count
            old.withUnsafeBytes { storage.append($0) }
            storage.append(bytes)
        }
        ends[i] = storage.count
    }

    /// The bytes of field `i`; valid until the row changes.
    @inline(__always)
    public func field(_ i: Int) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: storage.base + starts[i], count: ends[i] - starts[i])
    }

    /// Field `i` as a string (the bytes are valid UTF-8 once the reader has checked them).
    public func string(_ i: Int) -> String {
        String(decoding: field(i), as: UTF8.self)
    }
}
