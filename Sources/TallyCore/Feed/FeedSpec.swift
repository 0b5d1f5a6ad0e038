/// Reads JSON into a `Decodable`. TallyCore imports no Foundation: TallyIO gives the decoder
/// (Foundation's), and `FeedSpec.load(feedFile:bytes:readSibling:)` there passes it in.
public protocol JSONDecoding {
    func decode<T: Decodable>(_ type: T.Type, from bytes: [UInt8]) throws -> T
}

/// A feed's declaration: its format and encoding, its fields, its natural key, and how its rows
/// become records. Read from `schemas/feeds/NAME.feed.json` (and, for CSV feeds, the Frictionless
/// Table Schema it names); adding an agency feed means adding such files, not code.
public struct FeedSpec: Sendable {
    public enum Format: Sendable, Equatable {
        /// RFC 4180 CSV with a header row, in `encoding` unless a UTF-8 BOM says otherwise.
        case csv(encoding: TextEncoding)
        /// XML validated against `xsd` (a path beside the feed file); each `record` element in
        /// `namespace` under `root` is one row.
        case xml(xsd: String, namespace: String, root: String, record: String)
    }

    public enum TextEncoding: String, Sendable, Equatable {
        case utf8 = "utf-8"
        case gb18030
    }

    /// Where a record's subject comes from.
    public enum SubjectRule: Sendable {
        case fixed(field: Int, scheme: IdentifierScheme)
        case by(field: Int, schemeField: Int, map: ByteMap<IdentifierScheme>)
    }

    /// Where a record's time comes from.
    public enum AtRule: Sendable {
        case field(Int)
        /// Midnight (China) of the `YYYYMMDD` date in the file name.
        case fileDate
    }

    /// How a row's kind is decided.
    public enum KindRule: Sendable {
        case constant(String)
        /// By a field's value; a value not in `map` is filtered out when `filterOthers`, else the
        /// row is refused.
        case map(field: Int, map: ByteMap<String>, filterOthers: Bool)
    }

    public var name: String
    public var format: Format

    /// The kinds this feed's records can have (for rules files to be checked against).
    public var eventKinds: Set<String> {
        switch kind {
        case .constant(let k): return [k]
        case .map(_, let map, _): return Set(map.allValues)
        }
    }
    public var fields: [FieldSpec]
    public var naturalKey: [Int]
    /// The Table Schema's primary key (checked by tally-validate: repeated keys are reported).
    public var primaryKey: [Int]
    public var subject: SubjectRule?
    public var at: AtRule
    public var amount: Int?
    public var attrs: [Int]
    public var kind: KindRule
    /// For a corrections feed: the fields naming the corrected record's source and natural key.
    public var target: (source: Int, key: Int)?
    /// A value of a field that makes the row a retraction of the earlier record with the same
    /// natural key (court `status` `revoked`).
    public var retraction: (field: Int, value: String)?
    /// Pairs of fields whose values must agree (`debtor/id/@scheme` cn-rid with `debtor/@kind` person).
    public var agreements: [(field: Int, with: Int, pairs: ByteMap<String>)]
    /// The largest share of a file's rows that may be rejected before the nightly pipeline holds
    /// the file back for review (`maxRejectedShare` in the declaration; 2% when not given).
    public var maxRejectedShare: Double = FeedSpec.defaultMaxRejectedShare
    /// What a feed tolerates when its declaration does not say: two rows in a hundred.
    public static let defaultMaxRejectedShare = 0.02

    /// The index of the field called `name`.
    public func index(of name: String) -> Int? { fields.firstIndex { $0.name == name } }
}

/// Why a feed declaration could not be loaded.
public struct FeedSpecError: Error, CustomStringConvertible, Sendable {
    public var file: String
    public var message: String
    public init(file: String, _ message: String) {
        self.file = file
        self.message = message
    }
    public var description: String { "\(file): \(message)" }
}

// MARK: - Loading

extension FeedSpec {
    /// Builds a spec from the bytes of a feed file and, for CSV feeds, of its Table Schema.
    ///
    /// - Parameters:
    ///   - feedFile: the feed file's name, for messages.
    ///   - readSibling: returns the bytes of a file named in the feed file (the Table Schema).
    ///   - json: the JSON decoder.
    public static func load(feedFile: String, bytes: [UInt8], readSibling: (String) throws -> [UInt8], json decoder: JSONDecoding) throws -> FeedSpec {
        let doc: FeedDocument
        do {
            doc = try decoder.decode(FeedDocument.self, from: bytes)
        } catch {
            throw FeedSpecError(file: feedFile, "not a valid feed file: \(describe(error))")
        }
        var fieldDocs: [FieldDocument]
        var primaryKeyNames: [String] = []
        let format: Format
        switch doc.format {
        case "csv":
            guard let table = doc.table else { throw FeedSpecError(file: feedFile, "a CSV feed needs \"table\" (its Table Schema)") }
            let tableBytes = try readSibling(table)
            do {
                let table = try decoder.decode(TableSchemaDocument.self, from: tableBytes)
                fieldDocs = table.fields
                primaryKeyNames = table.primaryKey?.names ?? []
            } catch {
                throw FeedSpecError(file: table, "not a valid Table Schema: \(describe(error))")
            }
            guard let encoding = TextEncoding(rawValue: (doc.encoding ?? "utf-8").lowercased()) else {
                throw FeedSpecError(file: feedFile, "unsupported encoding \"\(doc.encoding ?? "")\" (utf-8 or gb18030)")
            }
            format = .csv(encoding: encoding)
        case "xml":
            guard let xsd = doc.xsd, let namespace = doc.namespace, let root = doc.root, let record = doc.record, let fields = doc.fields else {
                throw FeedSpecError(file: feedFile, "an XML feed needs xsd, namespace, root, record and fields")
            }
            fieldDocs = fields
            format = .xml(xsd: xsd, namespace: namespace, root: root, record: record)
        default:
            throw FeedSpecError(file: feedFile, "format must be csv or xml, not \"\(doc.format)\"")
        }
        let names = fieldDocs.map(\.name)
        func field(_ name: String, _ role: String) throws -> Int {
            guard let i = names.firstIndex(of: name) else { throw FeedSpecError(file: feedFile, "\(role) names unknown field \"\(name)\"") }
            return i
        }
        func scheme(_ text: String, _ role: String) throws -> IdentifierScheme {
            guard let s = IdentifierScheme(rawValue: text) else { throw FeedSpecError(file: feedFile, "\(role): unknown identifier scheme \"\(text)\"") }
            return s
        }
        var fields: [FieldSpec] = []
        for f in fieldDocs {
            fields.append(try f.spec(in: names, file: feedFile))
        }
        var subject: SubjectRule?
        if let s = doc.subject {
            let f = try field(s.field, "subject")
            if let fixed = s.scheme {
                subject = .fixed(field: f, scheme: try scheme(fixed, "subject"))
            } else if let by = s.schemeBy {
                subject = .by(field: f, schemeField: try field(by.field, "subject.schemeBy"), map: ByteMap(try by.map.mapValues { try scheme($0, "subject.schemeBy") }))
            } else {
                throw FeedSpecError(file: feedFile, "subject needs scheme or schemeBy")
            }
        } else if doc.target == nil {
            throw FeedSpecError(file: feedFile, "a feed needs a subject (or a target, for corrections)")
        }
        let at: AtRule
        if doc.at.fileDate == true {
            at = .fileDate
        } else if let f = doc.at.field {
            at = .field(try field(f, "at"))
            guard [.date, .localDateTime, .offsetDateTime, .utcDateTime].contains(fields[try field(f, "at")].type) else {
                throw FeedSpecError(file: feedFile, "at: field \"\(f)\" is not a date or datetime")
            }
        } else {
            throw FeedSpecError(file: feedFile, "at needs field or fileDate")
        }
        let kind: KindRule
        if let c = doc.kind.constant {
            kind = .constant(c)
        } else if let f = doc.kind.field, let map = doc.kind.map {
            let index = try field(f, "kind")
            let filterOthers = doc.kind.otherwise == "filter"
            if !filterOthers {
                // Without "otherwise": "filter", every value the field allows must have a kind,
                // or valid rows would vanish unaccounted.
                guard let allowed = fields[index].allowed, fields[index].required else {
                    throw FeedSpecError(file: feedFile, "kind: field \"\(f)\" must be a required enumeration, or the kind needs \"otherwise\": \"filter\"")
                }
                let missing = allowed.map { String(decoding: $0, as: UTF8.self) }.filter { map[$0] == nil }
                guard missing.isEmpty else {
                    throw FeedSpecError(file: feedFile, "kind: no kind for \(missing.joined(separator: ", ")) (add them to the map, or \"otherwise\": \"filter\")")
                }
            }
            kind = .map(field: index, map: ByteMap(map), filterOthers: filterOthers)
        } else {
            throw FeedSpecError(file: feedFile, "kind needs constant, or field and map")
        }
        var spec = FeedSpec(
            name: doc.feed, format: format, fields: fields,
            naturalKey: try doc.naturalKey.map { try field($0, "naturalKey") },
            primaryKey: try primaryKeyNames.map { try field($0, "primaryKey") },
            subject: subject, at: at,
            amount: try doc.amount.map { try field($0.field, "amount") },
            attrs: try (doc.attrs ?? []).map { try field($0, "attrs") },
            kind: kind, target: nil, retraction: nil, agreements: [])
        if let t = doc.target {
            spec.target = (try field(t.sourceField, "target"), try field(t.keyField, "target"))
        }
        if let r = doc.retraction {
            spec.retraction = (try field(r.field, "retraction"), r.value)
        }
        if let share = doc.maxRejectedShare {
            guard share >= 0 && share <= 1 else { throw FeedSpecError(file: feedFile, "maxRejectedShare must lie between 0 and 1, not \(share)") }
            spec.maxRejectedShare = share
        }
        for a in doc.agree ?? [] {
            spec.agreements.append((try field(a.field, "agree"), try field(a.with, "agree"), ByteMap(a.pairs)))
        }
        guard !spec.naturalKey.isEmpty else { throw FeedSpecError(file: feedFile, "naturalKey must name at least one field") }
        guard spec.name.allSatisfy({ $0.isLowercase || $0.isNumber || $0 == "-" }), !spec.name.isEmpty else {
            throw FeedSpecError(file: feedFile, "feed name must be lower-case letters, digits and '-'")
        }
        return spec
    }

    static func describe(_ error: Error) -> String {
        switch error {
        case let DecodingError.keyNotFound(key, context):
            return "missing \"\(key.stringValue)\" at \(path(context.codingPath))"
        case let DecodingError.typeMismatch(_, context), let DecodingError.valueNotFound(_, context):
            return "wrong type at \(path(context.codingPath)): \(context.debugDescription)"
        case let DecodingError.dataCorrupted(context):
            return "\(context.debugDescription) at \(path(context.codingPath))"
        default:
            return "\(error)"
        }
    }

    static func path(_ keys: [CodingKey]) -> String {
        keys.isEmpty ? "top level" : keys.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
    }
}

// The JSON shapes of feed files and Table Schemas (only what tally reads).

struct FeedDocument: Decodable {
    struct Subject: Decodable {
        struct By: Decodable { var field: String; var map: [String: String] }
        var field: String
        var scheme: String?
        var schemeBy: By?
    }
    struct At: Decodable { var field: String?; var fileDate: Bool? }
    struct Amount: Decodable { var field: String }
    struct Kind: Decodable { var field: String?; var map: [String: String]?; var constant: String?; var otherwise: String? }
    struct Target: Decodable { var sourceField: String; var keyField: String }
    struct Retraction: Decodable { var field: String; var value: String }
    struct Agree: Decodable { var field: String; var with: String; var pairs: [String: String] }

    var feed: String
    var format: String
    var encoding: String?
    var table: String?
    var xsd: String?
    var namespace: String?
    var root: String?
    var record: String?
    var fields: [FieldDocument]?
    var naturalKey: [String]
    var subject: Subject?
    var at: At
    var amount: Amount?
    var attrs: [String]?
    var kind: Kind
    var target: Target?
    var retraction: Retraction?
    var agree: [Agree]?
    var maxRejectedShare: Double?
}

struct TableSchemaDocument: Decodable {
    /// A primary key is a field name or a list of them.
    enum Key: Decodable {
        case one(String), many([String])
        init(from decoder: Decoder) throws {
            let c = try decoder.singleValueContainer()
            if let s = try? c.decode(String.self) { self = .one(s) } else { self = .many(try c.decode([String].self)) }
        }
        var names: [String] {
            switch self { case .one(let s): return [s]; case .many(let m): return m }
        }
    }
    var fields: [FieldDocument]
    var primaryKey: Key?
}

struct FieldDocument: Decodable {
    struct Constraints: Decodable {
        var required: Bool?
        var `enum`: [String]?
        var minimum: Int64?
        var maximum: Int64?
        var maxLength: Int?
        var pattern: String?
    }
    enum IdentifierDoc: Decodable {
        case fixed(String)
        case by(field: String, schemes: [String: String])
        struct ByShape: Decodable { var by: String; var schemes: [String: String] }
        init(from decoder: Decoder) throws {
            let c = try decoder.singleValueContainer()
            if let s = try? c.decode(String.self) { self = .fixed(s); return }
            let b = try c.decode(ByShape.self)
            self = .by(field: b.by, schemes: b.schemes)
        }
    }
    enum CodingKeys: String, CodingKey {
        case name, type, format, constraints, path
        case identifier = "tally:identifier"
        case money = "tally:money"
    }

    var name: String
    var type: String?
    var format: String?
    var constraints: Constraints?
    var path: String?
    var identifier: IdentifierDoc?
    var money: String?

    func spec(in names: [String], file: String) throws -> FieldSpec {
        let valueType: FieldSpec.ValueType
        switch (type ?? "string", format ?? "default") {
        case ("string", _): valueType = .string
        case ("integer", _): valueType = .integer
        case ("date", "default"), ("date", "%Y-%m-%d"): valueType = .date
        case ("yearmonth", _): valueType = .yearMonth
        case ("datetime", "%Y-%m-%dT%H:%M:%S"): valueType = .localDateTime
        case ("datetime", "%Y-%m-%dT%H:%M:%S%z"): valueType = .offsetDateTime
        case ("datetime", "default"): valueType = .utcDateTime
        default:
            throw FeedSpecError(file: file, "field \"\(name)\": unsupported type \"\(type ?? "")\" with format \"\(format ?? "default")\"")
        }
        var identifierRule: FieldSpec.IdentifierRule?
        switch identifier {
        case .fixed(let s)?:
            guard let scheme = IdentifierScheme(rawValue: s) else { throw FeedSpecError(file: file, "field \"\(name)\": unknown identifier scheme \"\(s)\"") }
            identifierRule = .fixed(scheme)
        case .by(let field, let schemes)?:
            guard let i = names.firstIndex(of: field) else { throw FeedSpecError(file: file, "field \"\(name)\": tally:identifier names unknown field \"\(field)\"") }
            var map: [String: IdentifierScheme] = [:]
            for (k, v) in schemes {
                guard let scheme = IdentifierScheme(rawValue: v) else { throw FeedSpecError(file: file, "field \"\(name)\": unknown identifier scheme \"\(v)\"") }
                map[k] = scheme
            }
            identifierRule = .by(field: i, schemes: ByteMap(map))
        case nil: identifierRule = nil
        }
        if let money, money != "yuan" { throw FeedSpecError(file: file, "field \"\(name)\": tally:money must be \"yuan\"") }
        var pattern: Pattern?
        if let source = constraints?.pattern {
            do { pattern = try Pattern(source) } catch { throw FeedSpecError(file: file, "field \"\(name)\": \(error.description)") }
        }
        return FieldSpec(name: name, type: valueType, required: constraints?.required ?? false, allowed: constraints?.enum,
                         minimum: constraints?.minimum, maximum: constraints?.maximum, maxLength: constraints?.maxLength,
                         identifier: identifierRule, money: money != nil, pattern: pattern, path: path)
    }
}
