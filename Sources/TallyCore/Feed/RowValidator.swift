/// Checks each row of a feed against its declaration: types, constraints, enumerations, real
/// calendar dates and times, identifier checksums, money with at most two decimals, and fields
/// that must agree. The one definition of "valid" that tally-parse and tally-validate share.
public final class RowValidator {
    public let spec: FeedSpec
    /// The latest birth date an identity number may carry (today in China, by default).
    public let today: CivilDate
    /// Each field's checks as plain values, so the per-cell loop copies no Strings or arrays.
    private let plans: [Plan]
    private let naturalKey: NaturalKey

    struct Plan {
        var type: FieldSpec.ValueType
        var required: Bool
        var hasAllowed: Bool
        var minimum: Int64?
        var maximum: Int64?
        var maxLength: Int?
        var money: Bool
        var hasIdentifier: Bool
        var hasPattern: Bool { pattern != nil }
        /// The field's pattern, as values that copy without reference counting.
        var pattern: Pattern.Matcher?
    }

    public init(spec: FeedSpec, today: CivilDate) {
        self.spec = spec
        self.today = today
        naturalKey = NaturalKey(spec: spec)
        plans = spec.fields.map {
            Plan(type: $0.type, required: $0.required, hasAllowed: $0.allowed != nil, minimum: $0.minimum, maximum: $0.maximum,
                 maxLength: $0.maxLength, money: $0.money, hasIdentifier: $0.identifier != nil, pattern: $0.pattern?.matcher)
        }
    }

    /// Replaces `faults` with every fault of `row` (none when it is valid), as Frictionless
    /// reports them: a blank row once; each missing cell (and, if required, its constraint) and
    /// each extra cell; then every cell present, at most one fault per cell. A fault found while
    /// reading (bad quoting, encoding, XSD) stops the cell checks, since the cells cannot be
    /// trusted. tally-parse rejects a row for its first fault.
    ///
    /// - Parameter expectedCells: how many cells a row should have: the header's label count
    ///   (tally-validate goes on past a header that does not match), else the field count.
    public func validate(_ row: Row, expectedCells: Int? = nil, into faults: inout [RowFault]) {
        faults.removeAll(keepingCapacity: true)
        if var f = row.readFault {
            if f.field.isEmpty, f.fieldNumber >= 1, f.fieldNumber <= spec.fields.count, f.code != "structure-error" {
                f.field = spec.fields[f.fieldNumber - 1].name
            }
            faults.append(f)
            faults.append(contentsOf: row.moreReadFaults)
            return
        }
        let n = row.count
        if n > 0, Self.allEmpty(row) {
            faults.append(RowFault(code: "blank-row", field: "", fieldNumber: 0, reason: "blank row"))
            return
        }
        let expected = expectedCells ?? spec.fields.count
        if n < expected {
            // Every label without a cell, the header's extra labels included (a header may have
            // more labels than the feed has fields: tally-validate goes on past it).
            for i in n..<expected {
                let named = i < spec.fields.count
                faults.append(RowFault(code: "missing-cell", field: named ? spec.fields[i].name : "", fieldNumber: i + 1,
                                       reason: "row has \(n) cells, the header \(expected)"))
                if named && spec.fields[i].required {
                    faults.append(fault(i, "constraint-error", "required value is missing"))
                }
            }
        } else if n > expected {
            for i in expected..<n {
                faults.append(RowFault(code: "extra-cell", field: "", fieldNumber: i + 1, reason: "row has \(n) cells, the header \(expected)"))
            }
        }
        let checked = min(n, expected, spec.fields.count)
        plans.withUnsafeBufferPointer { plans in
            for i in 0..<checked {
                if let fault = check(i, plans.baseAddress! + i, row) { faults.append(fault) }
            }
        }
        guard checked == spec.fields.count else { return }
        if let i = naturalKey.misplacedBar(row), !faults.contains(where: { $0.fieldNumber == i + 1 }) {
            faults.append(fault(i, "constraint-error", "holds a '|', which only \(naturalKey.free.map { spec.fields[$0].name } ?? "no field") of the natural key may: \(quoted(row.field(i)))"))
        }
        for a in spec.agreements {
            let value = row.field(a.field), other = row.field(a.with)
            guard !value.isEmpty, !other.isEmpty, let expected = a.pairs[value], !other.equals(text: expected) else { continue }
            if !faults.contains(where: { $0.fieldNumber == a.field + 1 || $0.fieldNumber == a.with + 1 }) {
                faults.append(RowFault(code: "agreement-error", field: spec.fields[a.field].name, fieldNumber: a.field + 1,
                                       reason: "\"\(value.text)\" does not agree with \(spec.fields[a.with].name) \"\(other.text)\""))
            }
        }
    }

    static func allEmpty(_ row: Row) -> Bool {
        for i in 0..<row.count where !row.field(i).isEmpty { return false }
        return true
    }

    /// The plan comes by pointer: passed by value, the plan (about 100 bytes) was copied with
    /// memcpy for every cell (perf: 2% of the consumer thread on transit).
    @inline(__always)
    func check(_ i: Int, _ f: UnsafePointer<Plan>, _ row: Row) -> RowFault? {
        let v = row.field(i)
        if v.isEmpty {
            return f.pointee.required ? fault(i, "constraint-error", "required value is missing") : nil
        }
        if let maxLength = f.pointee.maxLength, v.count > maxLength {
            return fault(i, "constraint-error", "longer than \(maxLength) bytes")
        }
        switch f.pointee.type {
        case .string:
            break
        case .integer:
            guard let n = Self.parseInteger(v) else { return fault(i, "type-error", "not an integer: \(quoted(v))") }
            if let min = f.pointee.minimum, n < min { return fault(i, "constraint-error", "\(n) is less than \(min)") }
            if let max = f.pointee.maximum, n > max { return fault(i, "constraint-error", "\(n) is more than \(max)") }
        case .date:
            guard let d = CivilDate.parse(v) else { return fault(i, "type-error", "not a calendar date YYYY-MM-DD: \(quoted(v))") }
            if !RecordRules.supportedYears.contains(d.year) { return outOfRange(i, v) }
        case .yearMonth:
            if !Self.isYearMonth(v) { return fault(i, "type-error", "not a year and month YYYY-MM: \(quoted(v))") }
            if let y = CivilDate.digits(v, 0, 4), !RecordRules.supportedYears.contains(y) { return outOfRange(i, v) }
        case .localDateTime:
            guard let t = Timestamp.parseLocal(v, offsetSeconds: Timestamp.chinaOffsetSeconds) else {
                return fault(i, "type-error", "not a local date and time YYYY-MM-DDTHH:MM:SS: \(quoted(v))")
            }
            if !RecordRules.supported.contains(t.seconds) { return outOfRange(i, v) }
        case .offsetDateTime:
            guard let t = Timestamp.parseRFC3339(v) else { return fault(i, "type-error", "not an RFC 3339 time with an offset: \(quoted(v))") }
            if !RecordRules.supported.contains(t.seconds) { return outOfRange(i, v) }
        case .utcDateTime:
            guard let t = Timestamp.parseUTC(v) else { return fault(i, "type-error", "not a UTC time YYYY-MM-DDTHH:MM:SSZ: \(quoted(v))") }
            if !RecordRules.supported.contains(t.seconds) { return outOfRange(i, v) }
        }
        if f.pointee.hasAllowed, let allowed = spec.fields[i].allowed, !allowed.contains(where: { Self.equal(v, $0) }) {
            return fault(i, "constraint-error", "not one of \(allowed.map { String(decoding: $0, as: UTF8.self) }.joined(separator: ", ")): \(quoted(v))")
        }
        // The plan's matcher: reading the pattern from the spec copied it (two retains a cell, 2%
        // of tally-parse on the wide export; perf).
        if let pattern = f.pointee.pattern, !pattern.matches(v) {
            return fault(i, "constraint-error", "does not match the pattern \(spec.fields[i].pattern!.source): \(quoted(v))")
        }
        if f.pointee.money, case .failure(let problem) = Yuan.parseFen(v) {
            return fault(i, "constraint-error", "not a yuan amount with at most two decimals (\(problem)): \(quoted(v))")
        }
        if f.pointee.hasIdentifier, let rule = spec.fields[i].identifier {
            let scheme: IdentifierScheme?
            switch rule {
            case .fixed(let s): scheme = s
            case .by(let field, let schemes): scheme = schemes[row.field(field)]
            }
            if let scheme, let problem = Identifier.check(scheme, v, notAfter: today) {
                switch problem {
                case .length where !f.pointee.hasPattern, .character where !f.pointee.hasPattern:
                    // Without a pattern to say so first, a malformed identifier is a constraint error.
                    return fault(i, "constraint-error", "not a \(scheme.rawValue): \(problem): \(quoted(v))")
                default:
                    return fault(i, "identifier-error", "not a valid \(scheme.rawValue): \(problem): \(quoted(v))")
                }
            }
        }
        return nil
    }

    func fault(_ i: Int, _ code: String, _ reason: String) -> RowFault {
        RowFault(code: code, field: spec.fields[i].name, fieldNumber: i + 1, reason: reason)
    }

    /// A date or time outside the years tally supports (1900 to 2199): a type error, so that no
    /// record carries a year that a later stage would have to refuse.
    func outOfRange(_ i: Int, _ v: UnsafeRawBufferPointer) -> RowFault {
        fault(i, "type-error", "outside the supported years 1900 to 2199: \(quoted(v))")
    }

    func quoted(_ v: UnsafeRawBufferPointer) -> String { InertText.quoted(v, limit: 64) }

    /// An optional `-` and decimal digits, in range.
    @inline(__always)
    public static func parseInteger(_ v: UnsafeRawBufferPointer) -> Int64? {
        var i = 0
        var negative = false
        if v.first == UInt8(ascii: "-") { negative = true; i = 1 }
        guard i < v.count, v.count - i <= 18 else { return nil }
        var n: Int64 = 0
        while i < v.count {
            let d = v[i] &- 0x30
            guard d < 10 else { return nil }
            n = n * 10 + Int64(d)
            i += 1
        }
        return negative ? -n : n
    }

    static func isYearMonth(_ v: UnsafeRawBufferPointer) -> Bool {
        guard v.count == 7, v[4] == UInt8(ascii: "-"), let y = CivilDate.digits(v, 0, 4), let m = CivilDate.digits(v, 5, 2) else { return false }
        return y >= 1 && (1...12).contains(m)
    }

    @inline(__always)
    static func equal(_ v: UnsafeRawBufferPointer, _ bytes: [UInt8]) -> Bool {
        v.count == bytes.count && bytes.withUnsafeBufferPointer { b in
            b.isEmpty || memcmpEqual(v.baseAddress!.assumingMemoryBound(to: UInt8.self), b.baseAddress!, b.count)
        }
    }
}
