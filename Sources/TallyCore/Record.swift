/// One normalised event or fact from a feed: `tally.record` version 1, one JSON object a line.
///
/// Every stage after `tally-parse` speaks this format; `schemas/record.schema.json` is its
/// contract. A sample line (keys always in this order when tally writes them):
///
/// ```json
/// {"v":1,"id":"court:3f9c0d1e2a7b4c55e81f0a9d6c2b7e40","source":"court","kind":"court.dishonest-debtor","subject":{"scheme":"cn-rid","id":"990106199001011232"},"at":"2026-11-26T16:00:00Z","amount_fen":1234567,"attrs":{"court":"330106","case":"(2026)浙0106执1234号","status":"unperformed"},"prov":{"file":"court-20261127.xml.gz","sha256":"…","line":42}}
/// ```
///
/// Correction records (`kind` `correction.*`) carry `target`, the id of the record they correct.
/// Linked records carry `person` and `link`.
public struct Record: Equatable, Sendable {
    /// The format version this code reads and writes.
    public static let version = 1

    /// `SOURCE:` and 32 hex digits of SHA-256 of the natural key.
    public var id: String
    /// The feed the record came from (`court`, `tax`, …).
    public var source: String
    /// `SOURCE.EVENT`, e.g. `court.dishonest-debtor`, or `correction.ACTION`.
    public var kind: String
    /// Whom the record is about.
    public var subject: Subject
    /// When the event happened.
    public var at: Timestamp
    /// An amount of money in fen, when the feed gives one.
    public var amountFen: Int64?
    /// For corrections: the id of the record corrected.
    public var target: String? {
        get { optionalStrings.target }
        set { optionalStrings.target = newValue }
    }
    /// Source fields carried as strings, in the feed schema's order.
    public var attrs: Attributes
    /// Where the record came from: file, its SHA-256, and the line where the row starts.
    public var prov: Provenance
    /// The pseudonymous person key, after linking.
    public var person: String? {
        get { optionalStrings.person }
        set { optionalStrings.person = newValue }
    }
    /// `target` and `person`, kept in a struct of their own. Stored directly in `Record`, an
    /// optional string made the optimiser build every new record on the stack, copy it whole
    /// and destroy the first (Swift 6.3, -O; reproduced with three strings and one `String?`
    /// in a struct, and not with the optional one level down): 570 instructions a decoded record.
    var optionalStrings: OptionalStrings
    struct OptionalStrings: Equatable, Sendable {
        var target: String?
        var person: String?
    }
    /// How `person` was found, after linking.
    public var link: Link?

    public init(id: String, source: String, kind: String, subject: Subject, at: Timestamp,
                amountFen: Int64? = nil, target: String? = nil, attrs: Attributes = Attributes(),
                prov: Provenance, person: String? = nil, link: Link? = nil) {
        self.id = id
        self.source = source
        self.kind = kind
        self.subject = subject
        self.at = at
        self.amountFen = amountFen
        self.attrs = attrs
        self.prov = prov
        optionalStrings = OptionalStrings(target: target, person: person)
        self.link = link
    }
}

/// The identifier a record is about. `id` is absent when the record was redacted.
public struct Subject: Equatable, Hashable, Sendable {
    /// An identifier scheme name (`cn-rid`, `cn-uscc`, `transit-card`, `shop-account`, or
    /// `record` for corrections).
    public var scheme: String
    /// The identifier, normalised; nil after `tally-link --redact`.
    public var id: String?

    public init(scheme: String, id: String?) {
        self.scheme = scheme
        self.id = id
    }
}

/// Where a record came from.
public struct Provenance: Equatable, Sendable {
    /// The file's name as delivered (base name).
    public var file: String
    /// Lower-case hex SHA-256 of the file's bytes as delivered (compressed, if it was).
    public var sha256: String
    /// The 1-based line where the row, or the XML record element, starts in the decompressed file.
    public var line: Int

    public init(file: String, sha256: String, line: Int) {
        self.file = file
        self.sha256 = sha256
        self.line = line
    }
}

/// How a record's person key was found.
public enum Link: String, Equatable, Sendable {
    /// The crosswalk maps the subject's identifier to a person.
    case crosswalk
    /// The subject is a resident identity number: its own person.
    case direct
    /// Nobody is known for the identifier: it keeps a key of its own, never merged.
    case unlinked
}

/// A record's attributes: string keys to string values, in a stable order.
///
/// Kept as one block of UTF-8 (for each entry, its key's and its value's length in four bytes
/// each, then the key's and the value's bytes) rather than as an array of string pairs: a
/// record's five or so attributes are then one allocation to make, copy and free instead of
/// eleven, and are written out from the block as they are. Keys and values become `String`s
/// when they are read. (Decoding into `Record` spent a third of its instructions on the pairs:
/// callgrind, 200,000 records.)
public struct Attributes: Equatable, @unchecked Sendable, Sequence, ExpressibleByDictionaryLiteral, CustomStringConvertible {
    /// One attribute.
    public struct Entry: Equatable, Sendable {
        public var key: String
        public var value: String
        public init(key: String, value: String) { self.key = key; self.value = value }
    }

    /// The entries, one after another: key length, value length (UInt32, native order), key
    /// bytes, value bytes; nil while there are none. Shared between copies until one changes.
    /// Two sets are equal when their entries are, in order, which is when their bytes are.
    private var block: AttributeBlock?
    /// How many entries.
    public private(set) var count: Int

    public init() { block = nil; count = 0 }
    /// An empty set with room for `capacity` entries of average size.
    public init(capacity: Int) {
        block = capacity > 0 ? AttributeBlock.make(capacity: capacity * 32) : nil
        count = 0
    }
    public init(dictionaryLiteral elements: (String, String)...) {
        self.init()
        for (k, v) in elements { append(key: k, value: v) }
    }

    public static func == (a: Attributes, b: Attributes) -> Bool {
        guard a.count == b.count else { return false }
        let x = a.bytes, y = b.bytes
        return x.count == y.count && (x.count == 0 || memcmpEqual(x.baseAddress!.assumingMemoryBound(to: UInt8.self), y.baseAddress!.assumingMemoryBound(to: UInt8.self), x.count))
    }

    /// The block's bytes in use (valid while this value is not changed).
    private var bytes: UnsafeRawBufferPointer {
        guard let block else { return UnsafeRawBufferPointer(start: nil, count: 0) }
        return block.withUnsafeMutablePointers { h, e in UnsafeRawBufferPointer(start: e, count: h.pointee.used) }
    }

    /// The entries, in order, as strings.
    public var entries: [Entry] { Array(self) }

    /// The value for `key`, if any.
    public subscript(key: String) -> String? {
        get {
            var found: String?
            forEachBytes { k, v in
                if found == nil, k.equals(text: key) { found = String(decoding: v, as: UTF8.self) }
            }
            return found
        }
        set {
            var rebuilt = Attributes(capacity: count + 1)
            var replaced = false
            for e in self {
                if e.key == key {
                    replaced = true
                    if let newValue { rebuilt.append(key: key, value: newValue) }
                } else {
                    rebuilt.append(key: e.key, value: e.value)
                }
            }
            if !replaced, let newValue { rebuilt.append(key: key, value: newValue) }
            self = rebuilt
        }
    }

    /// Adds an entry at the end (the caller keeps keys unique).
    public mutating func append(key: String, value: String) {
        var key = key, value = value
        key.withUTF8 { k in value.withUTF8 { v in append(key: UnsafeRawBufferPointer(k), value: UnsafeRawBufferPointer(v)) } }
    }

    /// Adds an entry of valid UTF-8 bytes at the end (the caller keeps keys unique).
    mutating func append(key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) {
        let n = 8 + key.count + value.count
        let used = block?.header.used ?? 0
        if block == nil || !isKnownUniquelyReferenced(&block!) || block!.header.capacity - used < n {
            let bigger = AttributeBlock.make(capacity: Swift.max(64, 2 * (used + n)))
            if used > 0 { bigger.withUnsafeMutablePointerToElements { $0.update(from: block!.withUnsafeMutablePointerToElements { UnsafePointer($0) }, count: used) } }
            bigger.header.used = used
            block = bigger
        }
        block!.withUnsafeMutablePointers { h, e in
            h.pointee.used += Self.writeEntry(to: UnsafeMutableRawPointer(e + h.pointee.used), key: key, value: value)
        }
        count += 1
    }

    /// Writes one entry as the block lays it out (two lengths, key, value); returns its size.
    @inline(__always)
    static func writeEntry(to at: UnsafeMutableRawPointer, key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) -> Int {
        at.storeBytes(of: UInt32(key.count), as: UInt32.self)
        (at + 4).storeBytes(of: UInt32(value.count), as: UInt32.self)
        if key.count > 0 { (at + 8).copyMemory(from: key.baseAddress!, byteCount: key.count) }
        if value.count > 0 { (at + 8 + key.count).copyMemory(from: value.baseAddress!, byteCount: value.count) }
        return 8 + key.count + value.count
    }

    /// The entry at byte `at` of a block: its key and value bytes, and where the next begins.
    @inline(__always)
    static func readEntry(_ b: UnsafeRawBufferPointer, at: Int) -> (key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer, next: Int) {
        let k = Int(b.loadUnaligned(fromByteOffset: at, as: UInt32.self))
        let v = Int(b.loadUnaligned(fromByteOffset: at + 4, as: UInt32.self))
        return (UnsafeRawBufferPointer(rebasing: b[(at + 8)..<(at + 8 + k)]),
                UnsafeRawBufferPointer(rebasing: b[(at + 8 + k)..<(at + 8 + k + v)]), at + 8 + k + v)
    }

    /// A set made in one step from `count` entries whose bytes `fill` writes in order into
    /// exactly `byteCount` bytes (with `writeEntry`).
    @inline(__always)
    init(count: Int, byteCount: Int, fill: (UnsafeMutableRawPointer) -> Void) {
        self.count = count
        guard count > 0 else { block = nil; return }
        let block = AttributeBlock.make(capacity: byteCount)
        block.withUnsafeMutablePointers { h, e in
            fill(UnsafeMutableRawPointer(e))
            h.pointee.used = byteCount
        }
        self.block = block
    }

    public mutating func removeAll() {
        block = nil
        count = 0
    }
    public var isEmpty: Bool { count == 0 }

    /// Calls `body` with each entry's key and value bytes, in order.
    @inline(__always)
    func forEachBytes(_ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) -> Void) {
        let b = bytes
        var at = 0
        while at < b.count {
            let entry = Self.readEntry(b, at: at)
            body(entry.key, entry.value)
            at = entry.next
        }
        withExtendedLifetime(block) {}
    }

    public struct Iterator: IteratorProtocol {
        let attributes: Attributes
        var at = 0
        public mutating func next() -> Entry? {
            let b = attributes.bytes
            guard at < b.count else { return nil }
            let entry = Attributes.readEntry(b, at: at)
            at = entry.next
            return Entry(key: String(decoding: entry.key, as: UTF8.self), value: String(decoding: entry.value, as: UTF8.self))
        }
    }
    public func makeIterator() -> Iterator { Iterator(attributes: self) }

    public var description: String {
        "[" + map { "\(String(reflecting: $0.key)): \(String(reflecting: $0.value))" }.joined(separator: ", ") + "]"
    }
}

/// The bytes of one record's attributes (see `Attributes`): a header and the bytes in one
/// allocation. Changed only while uniquely referenced, so values that share one never see it
/// change (which is why `Attributes` may be `Sendable` although the block, a `ManagedBuffer`,
/// may not).
final class AttributeBlock: ManagedBuffer<AttributeBlock.Header, UInt8> {
    struct Header {
        var used: Int
        var capacity: Int
    }

    static func make(capacity: Int) -> AttributeBlock {
        let b = create(minimumCapacity: capacity) { _ in Header(used: 0, capacity: capacity) }
        return unsafeDowncast(b, to: AttributeBlock.self)
    }
}
