/// How one field of a feed is checked: its type and constraints from the feed's Table Schema (CSV)
/// or feed file (XML), plus tally's own checks that a Table Schema cannot express.
public struct FieldSpec: Sendable {
    /// The value types tally checks. Dates and times must be real calendar values.
    public enum ValueType: Sendable, Equatable {
        case string
        /// A decimal integer, no sign unless a negative minimum allows one.
        case integer
        /// `YYYY-MM-DD`.
        case date
        /// `YYYY-MM`.
        case yearMonth
        /// `YYYY-MM-DDTHH:MM:SS`, local time in China (Table Schema format `%Y-%m-%dT%H:%M:%S`).
        case localDateTime
        /// RFC 3339 with a mandatory offset (`%Y-%m-%dT%H:%M:%S%z`).
        case offsetDateTime
        /// `YYYY-MM-DDTHH:MM:SSZ` (Table Schema's default datetime format).
        case utcDateTime
    }

    /// Which identifier scheme a field's value must satisfy.
    public enum IdentifierRule: Sendable {
        /// Always this scheme.
        case fixed(IdentifierScheme)
        /// The scheme depends on another field's value (`taxpayer_kind`: person → cn-rid).
        case by(field: Int, schemes: ByteMap<IdentifierScheme>)
    }

    public var name: String
    public var type: ValueType
    public var required: Bool
    /// Allowed values (as UTF-8), when the field is an enumeration.
    public var allowed: [[UInt8]]?
    public var minimum: Int64?
    public var maximum: Int64?
    public var maxLength: Int?
    /// A `tally:identifier` check (checksums, structure).
    public var identifier: IdentifierRule?
    /// A `tally:money` check: yuan with at most two decimals.
    public var money: Bool
    /// A Table Schema `pattern` constraint.
    public var pattern: Pattern?
    /// For XML feeds: where the value is, relative to the record element (`debtor/id/@scheme`).
    public var path: String?

    public init(name: String, type: ValueType = .string, required: Bool = false, allowed: [String]? = nil,
                minimum: Int64? = nil, maximum: Int64? = nil, maxLength: Int? = nil,
                identifier: IdentifierRule? = nil, money: Bool = false, pattern: Pattern? = nil, path: String? = nil) {
        self.pattern = pattern
        self.name = name
        self.type = type
        self.required = required
        self.allowed = allowed.map { $0.map { Array($0.utf8) } }
        self.minimum = minimum
        self.maximum = maximum
        self.maxLength = maxLength
        self.identifier = identifier
        self.money = money
        self.path = path
    }
}

/// One problem with one row: which field (empty for the row as a whole) and what is wrong, under
/// a code in Frictionless's vocabulary where one fits (`type-error`, `constraint-error`,
/// `missing-cell`, `extra-cell`, `blank-row`, `encoding-error`) or tally's own
/// (`identifier-error`, `schema-error` for XSD, `structure-error` for broken CSV quoting).
public struct RowFault: Error, Equatable, Sendable, CustomStringConvertible {
    public var code: String
    /// The field's name, or "" when the fault is the row's.
    public var field: String
    /// The 1-based field position, or 0.
    public var fieldNumber: Int
    public var reason: String

    public init(code: String, field: String, fieldNumber: Int, reason: String) {
        self.code = code
        self.field = field
        self.fieldNumber = fieldNumber
        self.reason = reason
    }

    public var description: String { field.isEmpty ? reason : "\(field): \(reason)" }
}

extension FieldSpec.IdentifierRule {
    /// Whether the field holds a resident identity number in `row` (whose lower-case check `x`
    /// records carry upper-cased): always for `.fixed(.cnRid)`, or when the scheme field says so.
    @inline(__always)
    public func holdsResidentID(in row: Row) -> Bool {
        switch self {
        case .fixed(let scheme): return scheme == .cnRid
        case .by(let field, let schemes): return schemes[row.field(field)] == .cnRid
        }
    }
}
