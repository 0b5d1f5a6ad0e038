import Crypto

/// A feed's natural key: the one definition of how a row names the event it reports, and of
/// the record id made from it. tally-parse gives records their ids with it, tally-validate and
/// tally-parse find repeated XML records with it, a corrections row reaches its record with it,
/// and a notice tells the person which key to quote with it.
///
/// The key is its fields' values joined by `|` (court: `COURTCODE|CASE`), a resident identity
/// number's lower-case check `x` made upper-case; a revocation's key adds `|` and the retraction
/// value. The record id is `SOURCE:` and the first 32 hex digits of the key's SHA-256.
///
/// Joined by `|`, two different lists of values could make the same key ("A|B","C" and
/// "A","B|C"), and so one record id. So one field only, the key's `free` field, may hold a `|`;
/// a row with one in any other key field has a fault (`constraint-error`). The free field is the
/// last one whose values the declaration does not already keep free of `|` (an enumeration
/// without one, a date, a time, a number, an identifier).
public struct NaturalKey: Sendable {
    /// The key's fields, in order.
    public let fields: [Int]
    /// The one key field whose values may hold a `|`, if any may.
    public let free: Int?
    /// For each key field, its identifier rule if it can hold a resident number (whose `x` is
    /// upper-cased), else nil.
    let residentID: [FieldSpec.IdentifierRule?]
    let retraction: (field: Int, value: String)?

    public init(spec: FeedSpec) {
        fields = spec.naturalKey
        retraction = spec.retraction.map { (field: $0.0, value: $0.1) }
        residentID = spec.naturalKey.map { i in
            switch spec.fields[i].identifier {
            case .fixed(let s)? where s == .cnRid: return spec.fields[i].identifier
            case .by(_, let schemes)? where schemes.allValues.contains(.cnRid): return spec.fields[i].identifier
            default: return nil
            }
        }
        free = spec.naturalKey.last { i in
            let f = spec.fields[i]
            if f.identifier != nil { return false }
            if let allowed = f.allowed { return allowed.contains { $0.contains(UInt8(ascii: "|")) } }
            switch f.type {
            case .string: return true
            default: return false
            }
        }
    }

    /// The key field (its index) of `row` that holds a `|` it may not, if any.
    public func misplacedBar(_ row: Row) -> Int? {
        guard fields.count > 1 else { return nil }
        for i in fields where i != free && i < row.count && row.field(i).contains(UInt8(ascii: "|")) { return i }
        return nil
    }

    /// Whether the row is a revocation: it retracts the earlier entry with the same key.
    @inline(__always)
    public func isRevocation(_ row: Row) -> Bool {
        guard let (field, value) = retraction else { return false }
        return row.field(field).equals(text: value)
    }

    /// Appends `row`'s key (without a revocation's suffix) to `out`.
    public func append(_ row: Row, to out: ByteBuffer) {
        for (n, i) in fields.enumerated() {
            if n > 0 { out.append(UInt8(ascii: "|")) }
            let v = row.field(i)
            if v.last == UInt8(ascii: "x"), residentID[n]?.holdsResidentID(in: row) == true {
                out.append(UnsafeRawBufferPointer(rebasing: v.dropLast()))
                out.append(UInt8(ascii: "X"))
            } else {
                out.append(v)
            }
        }
    }

    /// Appends the suffix that makes a revocation's own key from the key it revokes.
    public func appendRevocationSuffix(to out: ByteBuffer) {
        guard let (_, value) = retraction else { return }
        out.append(UInt8(ascii: "|"))
        out.append(value)
    }

    /// The record id for a key: `SOURCE:` and the first 32 hex digits of its SHA-256.
    public static func recordID(source: String, key: UnsafeRawBufferPointer) -> String {
        let digest = SHA256.hash(data: key)
        let out = ByteBuffer(capacity: 64)
        out.append(source)
        out.append(UInt8(ascii: ":"))
        digest.withUnsafeBytes { out.appendHex(UnsafeRawBufferPointer(rebasing: $0[0..<16])) }
        return out.string
    }

    /// The record id for a key given as text (`COURTCODE|CASE` for court).
    public static func recordID(source: String, key: String) -> String {
        var k = key
        return k.withUTF8 { recordID(source: source, key: UnsafeRawBufferPointer($0)) }
    }

    /// The key to quote when contesting `record`, from the values its attributes keep of the key
    /// fields `names`: nil unless it leads to the record's own id, so that a notice never tells
    /// anyone to quote a key that would reach no record (an attribute missing, or a resident
    /// number written with a lower-case `x`, which the record's key upper-cased).
    public static func quote(_ record: Record, names: [String]) -> String? {
        let values = names.compactMap { record.attrs[$0] }
        guard values.count == names.count, !values.isEmpty else { return nil }
        let plain = values.joined(separator: "|")
        if recordID(source: record.source, key: plain) == record.id { return plain }
        let upper = values.map { v in v.utf8.count == 18 && v.hasSuffix("x") ? String(v.dropLast()) + "X" : v }.joined(separator: "|")
        if upper != plain, recordID(source: record.source, key: upper) == record.id { return upper }
        return nil
    }
}
