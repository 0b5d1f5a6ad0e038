import CTally

/// The rules of `schemas/record.schema.json` beyond a line's shape, and the few it cannot say,
/// checked on every record any stage reads.
///
/// `RecordViewScanner.view` applies them after either path has read the line, so the fast and
/// the general reader give the same verdicts by construction; a record that breaks one is refused
/// with the column of the value at fault, like any other malformed line. The rules:
/// - `source` is a name (`[a-z][a-z0-9-]*`); `id` is that source, `:` and 32 lower-case hex digits;
/// - `kind` is `NAME.NAME`; a `correction.` kind is one of the four actions, carries `target` (a
///   record id) and has subject scheme `record`; no other kind carries a target or that scheme;
/// - the subject's scheme is one of the five; its id, when present, is valid for the scheme:
///   a `cn-rid` has a real birth date and its MOD 11-2 check character (upper-case `X`), a
///   `cn-uscc` its MOD 31 check character, a card 16 digits, an account `A` and 10 digits;
/// - `at` lies in the supported range, 1899-12-31T16:00:00Z (midnight of 1900-01-01 in China)
///   to 2199-12-31T23:59:59Z;
/// - `amount_fen` is not negative;
/// - `prov.file` is not empty and `prov.sha256` is 64 lower-case hex digits;
/// - `person` is `p_` and 32 lower-case hex digits, and comes with `link` (and `link` with it).
extension RecordView {
    /// The first rule this record breaks, or nil.
    @inline(never)
    public func schemaFault() -> JSONSyntaxError? {
        // Values written with escapes are decoded and checked as what they say; tally never
        // writes escapes in these fields, so that is the general reader's slow path only.
        if id.escaped || source.escaped || kind.escaped || scheme.escaped || (subjectID?.escaped ?? false)
            || (target?.escaped ?? false) || file.escaped || sha256.escaped || (person?.escaped ?? false) {
            return escapedSchemaFault()
        }
        guard let (field, message) = RecordRules.fault(
            source: source.content, id: id.content, kind: kind.content, correction: isCorrection, scheme: scheme.content,
            subjectID: subjectID?.content, target: target?.content, at: at, amountFen: amountFen, file: file.content,
            sha256: sha256.content, person: person?.content, hasLink: link != nil) else { return nil }
        return JSONSyntaxError(column: column(of: field), message: message)
    }

    /// The 1-based column where `field`'s value starts.
    func column(of field: RecordRules.Field) -> Int {
        let ref: JSONStringRef?
        switch field {
        case .source: ref = source
        case .id: ref = id
        case .kind: ref = kind
        case .scheme: ref = scheme
        case .subjectID: ref = subjectID
        case .target: ref = target
        case .file: ref = file
        case .sha256: ref = sha256
        case .person: ref = person
        case .link: return (linkMember?.lowerBound ?? 0) + 1
        case .record: return closingBrace + 1
        case .at, .amount: ref = nil
        }
        guard let ref, let p = ref.quoted.baseAddress, let b = bytes.baseAddress else { return 1 }
        return p - b + 1
    }

    /// `schemaFault` for a view with escaped values: each decoded into one buffer, then checked
    /// as plain bytes.
    @inline(never)
    func escapedSchemaFault() -> JSONSyntaxError? {
        var all: [UInt8] = []
        var places: [Range<Int>] = []
        for value in [source, id, kind, scheme, subjectID, target, file, sha256, person] {
            let start = all.count
            if let value { all += value.string.utf8 }
            places.append(start..<all.count)
        }
        return all.withUnsafeBytes { b in
            let f = places.map { UnsafeRawBufferPointer(rebasing: b[$0]) }
            guard let (field, message) = RecordRules.fault(
                source: f[0], id: f[1], kind: f[2], correction: f[2].count > 11 && f[2].starts(with: "correction.".utf8), scheme: f[3],
                subjectID: subjectID == nil ? nil : f[4], target: target == nil ? nil : f[5], at: at, amountFen: amountFen,
                file: f[6], sha256: f[7], person: person == nil ? nil : f[8], hasLink: link != nil) else { return nil }
            return JSONSyntaxError(column: column(of: field), message: message)
        }
    }
}

/// The byte-level rules of a record's fields (see `RecordView.schemaFault`).
public enum RecordRules {
    /// A field a rule is about (for the column of a fault).
    public enum Field: Sendable { case source, id, kind, scheme, subjectID, target, at, amount, file, sha256, person, link, record }

    /// The first rule that these field values break, with the field it is about, or nil.
    /// `correction` says whether `kind` starts with `correction.` (the caller knows it cheaply).
    @inline(__always)
    public static func fault(source: UnsafeRawBufferPointer, id: UnsafeRawBufferPointer, kind: UnsafeRawBufferPointer, correction: Bool,
                             scheme: UnsafeRawBufferPointer, subjectID: UnsafeRawBufferPointer?, target: UnsafeRawBufferPointer?,
                             at: Timestamp, amountFen: Int64?, file: UnsafeRawBufferPointer, sha256: UnsafeRawBufferPointer,
                             person: UnsafeRawBufferPointer?, hasLink: Bool) -> (Field, String)? {
        guard isName(source) else { return (.source, "source is not a name [a-z][a-z0-9-]*: \(InertText.quoted(source))") }
        guard isRecordID(id, source: source) else { return (.id, "id is not the source, \":\" and 32 lower-case hex digits: \(InertText.quoted(id))") }
        guard isKind(kind) else { return (.kind, "kind is not SOURCE.EVENT: \(InertText.quoted(kind))") }
        guard let known = Self.scheme(scheme) else {
            return (.scheme, "subject.scheme is not one of cn-rid, cn-uscc, transit-card, shop-account, record: \(InertText.quoted(scheme))")
        }
        if correction {
            guard isCorrectionKind(kind) else {
                return (.kind, "kind is not one of correction.dispute, correction.uphold, correction.retract, correction.reinstate: \(InertText.quoted(kind))")
            }
            guard let target else { return (.record, "a correction needs a target") }
            guard isRecordID(target, source: nil) else { return (.target, "target is not a record id SOURCE:32 lower-case hex digits: \(InertText.quoted(target))") }
            guard known == .record else { return (.scheme, "a correction's subject.scheme must be record") }
        } else {
            if target != nil { return (.target, "only corrections carry a target") }
            guard known != .record else { return (.scheme, "subject.scheme record is for corrections only") }
        }
        if let subjectID, let problem = identifierFault(known, subjectID) {
            return (.subjectID, "subject.id is not a valid \(known.rawValue): \(problem): \(InertText.quoted(subjectID))")
        }
        guard supported.contains(at.seconds) else {
            return (.at, "at: \(at) is outside the supported range \(Timestamp(seconds: supported.lowerBound)) to \(Timestamp(seconds: supported.upperBound))")
        }
        if let amountFen, amountFen < 0 { return (.amount, "amount_fen must not be negative: \(amountFen)") }
        guard file.count > 0 else { return (.file, "prov.file must not be empty") }
        guard isHex(sha256, digits: 64) else { return (.sha256, "prov.sha256 is not 64 lower-case hex digits: \(InertText.quoted(sha256))") }
        if let person {
            guard isPersonKey(person) else { return (.person, "person is not p_ and 32 lower-case hex digits: \(InertText.quoted(person))") }
            guard hasLink else { return (.person, "person without link") }
        } else if hasLink {
            return (.link, "link without person")
        }
        return nil
    }

    /// A subject's scheme.
    public enum Scheme: String, Sendable {
        case cnRid = "cn-rid", cnUscc = "cn-uscc", transitCard = "transit-card", shopAccount = "shop-account", record
    }

    /// The instants a record's `at` may hold: from midnight of 1900-01-01 in China
    /// (1899-12-31T16:00:00Z) to the last second of 2199 in UTC.
    public static let supported: ClosedRange<Int64> =
        Timestamp(chinaMidnightOf: CivilDate(year: 1900, month: 1, day: 1)!).seconds...(Timestamp(chinaMidnightOf: CivilDate(year: 2200, month: 1, day: 1)!).seconds + Timestamp.chinaOffsetSeconds - 1)

    /// The years a date in a feed may have.
    public static let supportedYears: ClosedRange<Int> = 1900...2199

    /// The latest birth date a resident number in a record may carry: records are checked
    /// against the calendar, not today (tally-parse checks against today).
    static let latestBirth = CivilDate(year: latestBirthYear, month: 12, day: 31)!
    /// Its year, a plain constant the per-record path reads without a call.
    static let latestBirthYear = 2199

    @inline(__always)
    static func isNameByte(_ b: UInt8, first: Bool) -> Bool {
        (b &- 0x61) < 26 || (!first && ((b &- 0x30) < 10 || b == UInt8(ascii: "-")))
    }

    /// `[a-z][a-z0-9-]*`.
    @inline(__always)
    public static func isName(_ b: UnsafeRawBufferPointer) -> Bool {
        guard b.count > 0, let p = b.baseAddress?.assumingMemoryBound(to: UInt8.self), isNameByte(p[0], first: true) else { return false }
        var i = 1
        while i < b.count {
            guard isNameByte(p[i], first: false) else { return false }
            i &+= 1
        }
        return true
    }

    /// `NAME.NAME`.
    public static func isKind(_ b: UnsafeRawBufferPointer) -> Bool {
        guard let p = b.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return false }
        var dot = -1
        for i in 0..<b.count where p[i] == UInt8(ascii: ".") { dot = i; break }
        guard dot > 0 else { return false }
        return isName(UnsafeRawBufferPointer(start: p, count: dot)) && isName(UnsafeRawBufferPointer(start: p + dot + 1, count: b.count - dot - 1))
    }

    static func isCorrectionKind(_ b: UnsafeRawBufferPointer) -> Bool {
        b.equals("correction.dispute") || b.equals("correction.uphold") || b.equals("correction.retract") || b.equals("correction.reinstate")
    }

    /// `NAME:` and 32 lower-case hex digits; with `source`, NAME must be it.
    @inline(__always)
    public static func isRecordID(_ b: UnsafeRawBufferPointer, source: UnsafeRawBufferPointer?) -> Bool {
        guard b.count > 33, b[b.count - 33] == UInt8(ascii: ":") else { return false }
        let prefix = UnsafeRawBufferPointer(rebasing: b[0..<(b.count - 33)])
        if let source {
            guard source.count == prefix.count, memcmpEqual(source.baseAddress!.assumingMemoryBound(to: UInt8.self), prefix.baseAddress!.assumingMemoryBound(to: UInt8.self), prefix.count) else { return false }
        } else if !isName(prefix) {
            return false
        }
        return tally_lower_hex32(b.baseAddress!.assumingMemoryBound(to: UInt8.self) + (b.count - 32)) != 0
    }

    /// Exactly `digits` lower-case hex digits (a multiple of 32).
    @inline(__always)
    public static func isHex(_ b: UnsafeRawBufferPointer, digits: Int) -> Bool {
        guard b.count == digits, let p = b.baseAddress else { return b.count == digits && digits == 0 }
        var i = 0
        while i < digits {
            guard tally_lower_hex32(p.assumingMemoryBound(to: UInt8.self) + i) != 0 else { return false }
            i += 32
        }
        return true
    }

    /// `p_` and 32 lower-case hex digits.
    @inline(__always)
    public static func isPersonKey(_ b: UnsafeRawBufferPointer) -> Bool {
        b.count == 34 && b[0] == UInt8(ascii: "p") && b[1] == UInt8(ascii: "_") && tally_lower_hex32(b.baseAddress!.assumingMemoryBound(to: UInt8.self) + 2) != 0
    }

    @inline(__always)
    static func scheme(_ b: UnsafeRawBufferPointer) -> Scheme? {
        switch b.count {
        case 6: return b.equals("cn-rid") ? .cnRid : (b.equals("record") ? .record : nil)
        case 7: return b.equals("cn-uscc") ? .cnUscc : nil
        case 12: return b.equals("transit-card") ? .transitCard : (b.equals("shop-account") ? .shopAccount : nil)
        default: return nil
        }
    }

    /// Why `id` is not a valid identifier of `scheme` in a record, or nil.
    @inline(__always)
    public static func identifierFault(_ scheme: Scheme, _ id: UnsafeRawBufferPointer) -> String? {
        switch scheme {
        case .cnRid:
            // Records carry the normalised form: an upper-case X.
            if id.count == 18, id[17] == UInt8(ascii: "x") { return "check character x is written X in records" }
            return Identifier.check(.cnRid, id, notAfter: latestBirth)?.description
        case .cnUscc: return Identifier.check(.cnUscc, id, notAfter: latestBirth)?.description
        case .transitCard: return Identifier.check(.transitCard, id, notAfter: latestBirth)?.description
        case .shopAccount: return Identifier.check(.shopAccount, id, notAfter: latestBirth)?.description
        case .record: return isRecordID(id, source: nil) ? nil : "not a record id SOURCE:32 lower-case hex digits"
        }
    }
}

/// Values a stream's lines repeat (sources, kinds, the file hash), kept once found valid, so
/// that a line holding the same bytes skips their checks. One per `RecordViewScanner`.
public final class SchemaMemo {
    /// Up to `places` values, each in a fixed space of `width` bytes. A class with raw memory,
    /// so that looking a value up copies and retains nothing.
    final class Values {
        let base: UnsafeMutablePointer<UInt8>
        let lengths: UnsafeMutablePointer<Int>
        let width: Int
        let places: Int
        var next = 0

        init(places: Int, width: Int) {
            self.width = width
            self.places = places
            base = .allocate(capacity: places * width)
            lengths = .allocate(capacity: places)
            lengths.initialize(repeating: -1, count: places)
        }

        deinit {
            base.deallocate()
            lengths.deallocate()
        }

        /// Where the last value found was: streams often repeat one value many lines running.
        var lastHit = 0

        @inline(__always)
        func holds(_ b: UnsafeRawBufferPointer) -> Bool {
            let n = b.count
            guard n > 0, let p = b.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return false }
            if lengths[lastHit] == n && memcmpEqual(base + lastHit &* width, p, n) { return true }
            var i = 0
            while i < places {
                if lengths[i] == n && memcmpEqual(base + i &* width, p, n) { lastHit = i; return true }
                i &+= 1
            }
            return false
        }

        /// Keeps `b`, in place of the oldest value when all places are taken.
        func keep(_ b: UnsafeRawBufferPointer) {
            guard b.count > 0, b.count <= width else { return }
            (base + next * width).update(from: b.baseAddress!.assumingMemoryBound(to: UInt8.self), count: b.count)
            lengths[next] = b.count
            next = (next + 1) % places
        }
    }

    let sources = Values(places: 8, width: 32)
    let kinds = Values(places: 16, width: 64)
    let sha256 = Values(places: 2, width: 64)

    public init() {}
}

extension RecordView {
    /// Whether the record keeps every rule `schemaFault` checks, for the common case: values
    /// without escapes. False means "not known to pass" (then `schemaFault` decides, and says
    /// why); it never passes a record that `schemaFault` refuses (tested on generated lines).
    @inline(never)
    public func passesSchema(memo: SchemaMemo) -> Bool {
        if id.escaped || source.escaped || kind.escaped || scheme.escaped || file.escaped || sha256.escaped { return false }
        let src = source.content
        if !memo.sources.holds(src) {
            guard RecordRules.isName(src) else { return false }
            memo.sources.keep(src)
        }
        guard RecordRules.isRecordID(id.content, source: src) else { return false }
        let correction = isCorrection
        let k = kind.content
        if !memo.kinds.holds(k) {
            guard RecordRules.isKind(k), !correction || RecordRules.isCorrectionKind(k) else { return false }
            memo.kinds.keep(k)
        }
        guard let known = RecordRules.scheme(scheme.content) else { return false }
        if correction {
            guard let target, !target.escaped, RecordRules.isRecordID(target.content, source: nil), known == .record else { return false }
        } else {
            guard target == nil, known != .record else { return false }
        }
        if let sid = subjectID {
            guard !sid.escaped, RecordRules.identifierPasses(known, sid.content) else { return false }
        }
        guard RecordRules.supported.contains(at.seconds), (amountFen ?? 0) >= 0, file.content.count > 0 else { return false }
        let sha = sha256.content
        if !memo.sha256.holds(sha) {
            guard RecordRules.isHex(sha, digits: 64) else { return false }
            memo.sha256.keep(sha)
        }
        if let person {
            return !person.escaped && link != nil && RecordRules.isPersonKey(person.content)
        }
        return link == nil
    }
}

extension RecordRules {
    /// `identifierFault(scheme, id) == nil`, without making the fault: digits and check
    /// characters compared in place for the schemes records carry most.
    @inline(__always)
    public static func identifierPasses(_ scheme: Scheme, _ id: UnsafeRawBufferPointer) -> Bool {
        switch scheme {
        case .cnRid: return residentIDPasses(id)
        case .transitCard: return id.count == 16 && Bytes.digits(id.baseAddress!, count: 16)
        case .shopAccount: return id.count == 11 && id[0] == UInt8(ascii: "A") && Bytes.digits(id.baseAddress! + 1, count: 10)
        default: return identifierFault(scheme, id) == nil
        }
    }

    /// A resident number as records carry it: 17 digits, a real birth date from 1850 on and not
    /// after `latestBirth`, and the MOD 11-2 check character (upper-case X).
    @inline(__always)
    static func residentIDPasses(_ b: UnsafeRawBufferPointer) -> Bool {
        guard b.count == 18, let p = b.baseAddress?.assumingMemoryBound(to: UInt8.self),
              Bytes.digits(UnsafeRawPointer(p), count: 17) else { return false }
        @inline(__always) func d(_ i: Int) -> Int { Int(p[i] &- 0x30) }
        let year = d(6) * 1000 + d(7) * 100 + d(8) * 10 + d(9), month = d(10) * 10 + d(11), day = d(12) * 10 + d(13)
        guard year >= 1850, year <= latestBirthYear, month >= 1, month <= 12, day >= 1,
              day <= 28 || day <= CivilDate.daysIn(month: month, year: year) else { return false }
        return p[17] == Identifier.residentIDCheck(UnsafeRawBufferPointer(start: p, count: 17))
    }
}
