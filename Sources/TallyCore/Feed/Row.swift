/// The field values of one row, as UTF-8 bytes in one reused buffer.
///
/// Readers fill it (CSV cells unquoted and decoded to UTF-8, XML text and attributes); the
/// validator and mapper read it. Nothing here allocates per row once the buffers have grown.
public final class Row {
    /// All field values, back to back.
    public let storage = ByteBuffer(capacity: 1 << 12)
    private var starts: [Int] = []
    private var ends: [Int] = []
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

    public init() {}

    /// The number of fields read.
    @inline(__always) public var count: Int { starts.count }

    /// Forgets the previous row.
    @inline(__always)
    public func reset() {
        storage.removeAll()
        raw.removeAll()
        starts.removeAll(keepingCapacity: true)
        ends.removeAll(keepingCapacity: true)
        readFault = nil
    }

    /// Starts a new field at the end of the storage; append its bytes to `storage`, then call
    /// `endField()`.
    @inline(__always) public func beginField() { starts.append(storage.count) }
    @inline(__always) public func endField() { ends.append(storage.count) }

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
        starts.removeAll(keepingCapacity: true)
        ends.removeAll(keepingCapacity: true)
        for v in values { v.withUnsafeBytes { appendField($0) } }
    }

    /// Sets the fields to `count` empty values (XML readers fill them by position).
    public func resetFields(count: Int) {
        reset()
        rawIsUTF8 = true
        for _ in 0..<count { starts.append(0); ends.append(0) }
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
