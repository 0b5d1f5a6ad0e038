/// What the stage knows about the file a row came from.
public struct FileContext: Sendable {
    /// The base name, as provenance records it.
    public var name: String
    /// Hex SHA-256 of the file as delivered.
    public var sha256: String
    /// The `YYYYMMDD` date in the file name, if there is one.
    public var date: CivilDate?

    public init(name: String, sha256: String, date: CivilDate?) {
        self.name = name
        self.sha256 = sha256
        self.date = date
    }

    /// The date in a feed file name `SOURCE-YYYYMMDD.EXT`.
    public static func date(inFileName name: String) -> CivilDate? {
        let bytes = Array(name.utf8)
        guard let dash = bytes.lastIndex(of: UInt8(ascii: "-")), bytes.count >= dash + 9 else { return nil }
        let digits = Array(bytes[(dash + 1)..<(dash + 9)])
        if bytes.count > dash + 9, bytes[dash + 9] != UInt8(ascii: ".") { return nil }
        return digits.withUnsafeBytes { CivilDate.parseCompact($0) }
    }
}

/// Turns valid rows into records, as the feed declaration says.
public final class RecordMapper {
    public let spec: FeedSpec
    private let key = ByteBuffer(capacity: 256)
    private let naturalKey: NaturalKey
    // The kind rule, unpacked once: matching `spec.kind` on every row copied its map (a retain
    // and a release a row, most of them rows the map filters; perf on a wide export).
    private let kindField: Int
    private let kindMap: ByteMap<String>?
    private let constantKind: String

    public init(spec: FeedSpec) {
        self.spec = spec
        naturalKey = NaturalKey(spec: spec)
        switch spec.kind {
        case .constant(let k): (kindField, kindMap, constantKind) = (0, nil, k)
        case .map(let field, let map, _): (kindField, kindMap, constantKind) = (field, map, "")
        }
    }

    /// The kind of record a valid row (the validator found no fault) makes, or nil when the
    /// declaration filters rows like it (ordinary transit rides, 99% of transit's rows). Asked
    /// apart from `record`: an outcome holding either a record or nothing was copied whole (a
    /// record's size) by the caller on every row, filtered or not, and the kind was retained
    /// before the filter (perf: 3% of the consumer thread on transit).
    @inline(__always)
    public func kind(of row: Row) -> String? {
        guard let kindMap else { return constantKind }
        // A map that does not filter covers every allowed value (checked on load), so a valid
        // row's value is outside the map only when the declaration filters it.
        return kindMap[row.field(kindField)]
    }

    /// The record of a valid row of the kind `kind(of:)` gave it, from the file `file`.
    public func record(_ row: Row, kind: String, file: FileContext) -> Record {
        var kind = kind
        key.removeAll()
        naturalKey.append(row, to: key)
        var id = NaturalKey.recordID(source: spec.name, key: key.contents)
        var target: String?
        var subject: Subject
        if naturalKey.isRevocation(row) {
            // A revocation retracts the earlier entry with the same natural key.
            target = id
            naturalKey.appendRevocationSuffix(to: key)
            id = NaturalKey.recordID(source: spec.name, key: key.contents)
            kind = "correction.retract"
            subject = Subject(scheme: "record", id: target)
        } else if let (sourceField, keyField) = spec.target {
            let t = NaturalKey.recordID(source: row.string(sourceField), key: row.field(keyField))
            target = t
            subject = Subject(scheme: "record", id: t)
        } else {
            subject = makeSubject(row)
        }
        let at: Timestamp
        switch spec.at {
        case .fileDate: at = Timestamp(chinaMidnightOf: file.date ?? CivilDate(daysSinceEpoch: 0))
        case .field(let i): at = Self.timestamp(row.field(i), type: spec.fields[i].type)
        }
        var amount: Int64?
        if let i = spec.amount, !row.field(i).isEmpty {
            if spec.fields[i].money, case .success(let fen) = Yuan.parseFen(row.field(i)) { amount = fen }
            else if spec.fields[i].type == .integer { amount = RowValidator.parseInteger(row.field(i)) }
        }
        var attrs = Attributes(capacity: spec.attrs.count + 1)
        for i in spec.attrs where !row.field(i).isEmpty {
            attrs.append(key: spec.fields[i].name, value: row.string(i))
        }
        if kind == "correction.retract" && spec.retraction != nil {
            attrs.append(key: "reason", value: "revoked by the source")
        }
        return Record(id: id, source: spec.name, kind: kind, subject: subject, at: at, amountFen: amount,
                              target: target, attrs: attrs,
                              prov: Provenance(file: file.name, sha256: file.sha256, line: row.line))
    }

    func makeSubject(_ row: Row) -> Subject {
        switch spec.subject! {
        case .fixed(let field, let scheme):
            return Subject(scheme: scheme.rawValue, id: normalised(field, row))
        case .by(let field, let schemeField, let map):
            let scheme = map[row.field(schemeField)]!
            return Subject(scheme: scheme.rawValue, id: normalised(field, row))
        }
    }

    /// A field's value, with a resident identity number's lower-case x made upper-case.
    func normalised(_ i: Int, _ row: Row) -> String {
        let v = row.field(i)
        if v.last == UInt8(ascii: "x"), spec.fields[i].identifier?.holdsResidentID(in: row) == true {
            return String(decoding: v.dropLast(), as: UTF8.self) + "X"
        }
        return String(decoding: v, as: UTF8.self)
    }

    static func timestamp(_ v: UnsafeRawBufferPointer, type: FieldSpec.ValueType) -> Timestamp {
        switch type {
        case .date: return Timestamp(chinaMidnightOf: CivilDate.parse(v)!)
        case .localDateTime: return Timestamp.parseLocal(v, offsetSeconds: Timestamp.chinaOffsetSeconds)!
        case .offsetDateTime: return Timestamp.parseRFC3339(v)!
        default: return Timestamp.parseUTC(v)!
        }
    }
}
