/// The field values of one row, as UTF-8 bytes in one reused buffer.
///
/// Readers fill it (CSV cells unquoted and decoded to UTF-8, XML text and attributes); the
/// validator and mapper read it. Nothing here allocates per row once the buffers have grown.
public final class Row {
    /// The field values, back to back from `origin`. A row read on its own owns its buffer, which
    /// starts small and grows to the widest row it holds. A row pipeline's reading row writes
    /// into its batch's one buffer instead (`origin` moves past each row it keeps), and the
    /// consumer's row looks into that buffer: rows then cross from one core to the other as a
    /// stream of bytes, not as thousands of objects (perf: the first store into a pooled row
    /// object was 9% of parsing transit, and the copies into its two buffers 13%).
    public let storage = ByteBuffer(capacity: 512)
    /// Where this row's bytes start in `storage`.
    public internal(set) var origin = 0
    /// Set by a row pipeline on its reading row: the consumer has more batches waiting than not,
    /// so the reader has time to spare for work the consumer would otherwise do (the CSV reader
    /// then hashes row keys). Which thread is the slower one depends on the feed's shape:
    /// hashing keys on the reader made transit 6% faster and the wide export 11% slower.
    public var consumerBehind = false
    /// Set by a row pipeline on its reading row: the consumer finishes what the reader leaves to
    /// it (`convertLater`).
    public var consumerFinishes = false
    /// The row's cells are still in the feed's legacy encoding (GB18030), left by the reader for
    /// the consumer to convert when the consumer is not behind: the pipeline converts them before
    /// it shows the row.
    public var convertLater = false
    /// Whether `storage` holds a batch's rows, others before `origin`.
    var sharesStorage = false
    // Cell boundaries (offsets into `storage`) in plain buffers: Swift arrays cost uniqueness
    // checks and retains on every cell, a tenth of parsing transit (measured with perf).
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
    /// Where the row's bytes as they stand in the file (CSV) are in `storage`, for reject
    /// reports; none for XML, whose rejects are rebuilt from the fields.
    public var rawStart = 0
    public var rawCount = 0
    /// Whether the cells are the record's bytes as is (an unquoted CSV record, cut at its
    /// separators), so that its raw text needs no copy of its own.
    public internal(set) var cellsAreVerbatim = false
    /// Whether `rawBytes` is UTF-8 (else it is in the feed's legacy encoding).
    public var rawIsUTF8 = true
    /// A problem found while reading the row (bad quoting, a bad encoding, the wrong number of
    /// cells, an XSD error), which makes it a reject whatever its values.
    public var readFault: RowFault?
    /// Further problems found while reading (an XML record can break its XSD in several places).
    public var moreReadFaults: [RowFault] = []
    /// The row's key, hashed by the CSV reader from the bytes it read (`RepeatedKeys`), or nil
    /// when it was not (the consumer hashes it then).
    public var keyPrint: RepeatedKeys.Prepared? {
        get {
            switch keyKind {
            case 1: return .unchecked
            case 2: return .empty
            case 3: return .key(keyA, keyB)
            default: return nil
            }
        }
        set {
            switch newValue {
            case nil: keyKind = 0
            case .unchecked: keyKind = 1
            case .empty: keyKind = 2
            case .key(let a, let b): keyKind = 3; keyA = a; keyB = b
            }
        }
    }
    // Kept as plain words, copied word by word to the batch: a 16-byte load of an enum just
    // stored in pieces could not take the stores' values on the way, and waited for them
    // behind the thread's stores into the batch (perf).
    public var keyKind: UInt8 = 0
    public var keyA: UInt64 = 0
    public var keyB: UInt64 = 0

    /// The most room a row's own buffer keeps between rows.
    public static let keptCapacity = 1 << 20

    /// The row's raw text (CSV): its bytes as they stand in the file.
    public var rawBytes: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: storage.base + rawStart, count: rawCount)
    }

    /// The bytes of every cell, back to back (before any raw text is added).
    public var cellBytes: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: storage.base + origin, count: storage.count - origin)
    }

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

    /// Forgets the previous row (what was written since `origin`).
    @inline(__always)
    public func reset() {
        if sharesStorage {
            storage.truncate(to: origin)
        } else {
            // A row's own buffer gives back what one huge row made it take (forty 4 MiB rows
            // once kept 365 MB in the pipeline).
            storage.removeAll(shrinkingPast: Row.keptCapacity, to: 1 << 12)
        }
        fieldCount = 0
        rawStart = origin
        rawCount = 0
        cellsAreVerbatim = false
        readFault = nil
        convertLater = false
        keyKind = 0
        if !moreReadFaults.isEmpty { moreReadFaults.removeAll() }
    }

    /// Makes the row's raw text the cells' bytes (they are the record as is), or else a copy of
    /// `bytes` after them.
    public func setRaw(_ bytes: UnsafeRawBufferPointer) {
        if cellsAreVerbatim {
            rawStart = origin
            rawCount = storage.count - origin
        } else {
            rawStart = storage.count
            storage.append(bytes)
            rawCount = bytes.count
        }
    }

    /// Starts writing rows into a batch's buffer, which `storage` holds (lent by `exchange`)
    /// until `stopWriting`: each row goes after the ones before.
    public func startWriting() {
        sharesStorage = true
        origin = storage.count
        reset()
    }

    /// Forgets the batch's rows (before `storage` gives the batch its buffer back).
    public func stopWriting() {
        sharesStorage = false
        origin = 0
        fieldCount = 0
        rawStart = 0
        rawCount = 0
    }

    /// Copies the cells' starts, then their ends, to `p` (room for `2 * count`), as offsets
    /// from `origin`: four bytes a number, since the batch's cells cross from core to core.
    /// The caller has made sure that the row's bytes number fewer than 2^32.
    public func copyCells(to p: UnsafeMutablePointer<UInt32>) {
        let o = origin
        for i in 0..<fieldCount {
            p[i] = UInt32(truncatingIfNeeded: starts[i] &- o)
            p[fieldCount &+ i] = UInt32(truncatingIfNeeded: ends[i] &- o)
        }
    }

    /// Keeps what was written: the next row starts after it.
    public func keep() { origin = storage.count }

    /// Makes this row the one kept in a batch at `origin` of `storage` (which holds the batch's
    /// bytes, lent by `exchange`), with `n` cells whose starts, then ends, are at `cells` as
    /// offsets from `origin`.
    public func look(at cells: UnsafePointer<UInt32>, count n: Int, origin o: Int) {
        sharesStorage = true
        origin = o
        while capacity < n { fieldCount = 0; grow() }
        for i in 0..<n {
            starts[i] = o &+ Int(cells[i])
            ends[i] = o &+ Int(cells[n &+ i])
        }
        fieldCount = n
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
        cellsAreVerbatim = fieldCount == 0 && base == origin
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

    /// Stores a record whose cells are the bytes between the separators at offsets `cuts`
    /// (`count` of them, ascending, from the record's start), as `tally_csv_plain_record`
    /// found them: the bytes are copied once and each cell is a span of them.
    @inline(__always)
    public func setCells(_ record: UnsafeRawBufferPointer, cutAt cuts: UnsafePointer<UInt32>, count k: Int) {
        let base = storage.count
        cellsAreVerbatim = fieldCount == 0 && base == origin
        storage.append(record)
        while capacity < fieldCount &+ k &+ 1 { grow() }
        var cellStart = base
        for j in 0..<k {
            let cut = base &+ Int(cuts[j])
            starts[fieldCount &+ j] = cellStart
            ends[fieldCount &+ j] = cut
            cellStart = cut &+ 1
        }
        starts[fieldCount &+ k] = cellStart
        ends[fieldCount &+ k] = base &+ record.count
        fieldCount &+= k &+ 1
    }

    /// Stores a record whose cells are spans of its bytes (`count` pairs of start and end at
    /// `spans`, offsets from the record's start; a start's top bit marks a cell with doubled
    /// quotes), as `tally_csv_simple_record` found them: the bytes are copied once. When
    /// `quoted`, the cells leave out their quotes and the record is the row's raw text as well;
    /// otherwise the cells are the record as is.
    @inline(__always)
    public func setSpans(_ record: UnsafeRawBufferPointer, spans: UnsafePointer<UInt32>, count k: Int, quoted: Bool) {
        let base = storage.count
        cellsAreVerbatim = !quoted && fieldCount == 0 && base == origin
        storage.append(record)
        while capacity < fieldCount &+ k { grow() }
        for j in 0..<k {
            starts[fieldCount &+ j] = base &+ Int(spans[2 &* j] & 0x7FFF_FFFF)
            ends[fieldCount &+ j] = base &+ Int(spans[2 &* j &+ 1])
        }
        fieldCount &+= k
        if quoted {
            rawStart = base
            rawCount = record.count
        }
    }

    /// Makes each doubled quote one, in place, in the cells whose start in `spans` (as given to
    /// `setSpans`) has its top bit set. The bytes a cell gives up are set to quotes, so that the
    /// cells still stand apart in the storage, ASCII between them (`CSVReader` checks their UTF-8
    /// as one run). The record's raw text is then no longer the cells' bytes: `setRaw` copies it.
    public func undoubleQuotes(spans: UnsafePointer<UInt32>) {
        let base = storage.base
        cellsAreVerbatim = false
        for j in 0..<fieldCount where spans[2 &* j] & 0x8000_0000 != 0 {
            let end = ends[j]
            var from = starts[j], to = from
            while from < end {
                let b = base[from]
                base[to] = b
                to &+= 1
                from &+= b == 0x22 ? 2 : 1
            }
            (base + to).update(repeating: 0x22, count: end &- to)
            ends[j] = to
        }
        rawCount = 0
    }

    /// Appends a whole field.
    @inline(__always)
    public func appendField(_ bytes: UnsafeRawBufferPointer) {
        beginField()
        storage.append(bytes)
        endField()
    }

    /// Points every cell at bytes written after the row's own, back to back from offset `first`
    /// of the storage, the i-th ending at `ends[i]` (offsets too), keeping the line and the raw
    /// text; the bytes the cells stood in before stay as they are.
    public func relocateCells(startingAt first: Int, ends cellEnds: UnsafePointer<Int>) {
        cellsAreVerbatim = false
        var start = first
        for i in 0..<fieldCount {
            starts[i] = start
            ends[i] = cellEnds[i]
            start = cellEnds[i]
        }
    }

    /// Replaces every field's value, keeping the raw text and line.
    public func replaceFields(_ values: [[UInt8]]) {
        storage.truncate(to: origin)
        fieldCount = 0
        cellsAreVerbatim = false
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

    /// Where each cell starts and ends in `storage` (the C code that converts a row's cells).
    public var cellStarts: UnsafePointer<Int> { UnsafePointer(starts) }
    public var cellEnds: UnsafePointer<Int> { UnsafePointer(ends) }

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
