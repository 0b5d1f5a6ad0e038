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
    public var target: String?
    /// Source fields carried as strings, in the feed schema's order.
    public var attrs: Attributes
    /// Where the record came from: file, its SHA-256, and the line where the row starts.
    public var prov: Provenance
    /// The pseudonymous person key, after linking.
    public var person: String?
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
        self.target = target
        self.attrs = attrs
        self.prov = prov
        self.person = person
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
public struct Attributes: Equatable, Sendable, Sequence, ExpressibleByDictionaryLiteral {
    /// One attribute.
    public struct Entry: Equatable, Sendable {
        public var key: String
        public var value: String
        public init(key: String, value: String) { self.key = key; self.value = value }
    }

    /// The entries, in order.
    public private(set) var entries: [Entry]

    public init() { entries = [] }
    /// An empty set with room for `capacity` entries.
    public init(capacity: Int) {
        entries = []
        entries.reserveCapacity(capacity)
    }
    public init(dictionaryLiteral elements: (String, String)...) {
        entries = elements.map { Entry(key: $0.0, value: $0.1) }
    }

    /// The value for `key`, if any.
    public subscript(key: String) -> String? {
        get { entries.first { $0.key == key }?.value }
        set {
            if let i = entries.firstIndex(where: { $0.key == key }) {
                if let newValue { entries[i].value = newValue } else { entries.remove(at: i) }
            } else if let newValue {
                entries.append(Entry(key: key, value: newValue))
            }
        }
    }

    /// Adds an entry at the end (the caller keeps keys unique).
    public mutating func append(key: String, value: String) { entries.append(Entry(key: key, value: value)) }
    public mutating func removeAll() { entries.removeAll(keepingCapacity: true) }
    public var count: Int { entries.count }
    public var isEmpty: Bool { entries.isEmpty }
    public func makeIterator() -> IndexingIterator<[Entry]> { entries.makeIterator() }
}
