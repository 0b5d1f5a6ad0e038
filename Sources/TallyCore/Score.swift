/// One person's score on one day: `tally.score` version 1, one JSON object a line.
///
/// `schemas/score.schema.json` is its contract. A sample line:
///
/// ```json
/// {"v":1,"person":"p_5d41402abc4b2a76b9719d911017c592","score":612,"tier":"standard","as_of":"2026-11-28","rules":"sha256:9f86d0…","records":7,"reasons":[{"code":"court.dishonest-debtor","points":-87,"records":["court:3f9c0d1e2a7b4c55e81f0a9d6c2b7e40"]}]}
/// ```
///
/// `reasons` are the principal reasons, most harmful first, as an adverse-action notice gives
/// them. `disputed`, `lapsed` and `retracted` list record ids apart, and are left out when empty.
public struct Score: Equatable, Sendable {
    /// The person key (`p_` and 32 hex digits).
    public var person: String
    /// The score, an integer within the rules' range.
    public var score: Int
    /// The tier's name.
    public var tier: String
    /// The day the score is for.
    public var asOf: CivilDate
    /// `sha256:` and the hex SHA-256 of the rules file.
    public var rules: String
    /// How many of the person's records were read (counted or not).
    public var records: Int
    /// The principal reasons.
    public var reasons: [Reason]
    /// Records under open dispute.
    public var disputed: [String]
    /// Records under a dispute their source left undecided past the rules' deadline: not
    /// counted until the source decides.
    public var lapsed: [String]
    /// Records retracted after a dispute or a court's revocation.
    public var retracted: [String]

    public init(person: String, score: Int, tier: String, asOf: CivilDate, rules: String, records: Int,
                reasons: [Reason] = [], disputed: [String] = [], lapsed: [String] = [], retracted: [String] = []) {
        self.person = person
        self.score = score
        self.tier = tier
        self.asOf = asOf
        self.rules = rules
        self.records = records
        self.reasons = reasons
        self.disputed = disputed
        self.lapsed = lapsed
        self.retracted = retracted
    }

    /// One principal reason: an event kind, its points (rounded), and the records behind it.
    public struct Reason: Equatable, Sendable {
        public var code: String
        public var points: Int
        public var records: [String]

        public init(code: String, points: Int, records: [String]) {
            self.code = code
            self.points = points
            self.records = records
        }
    }
}

extension Score {
    /// Appends this score as one JSON line (with the trailing newline).
    public func encode(into out: ByteBuffer) {
        ScoreLine.open(out)
        out.appendJSONString(person)
        ScoreLine.score(out, score)
        ScoreLine.middle(out, tier: tier, asOf: asOf, rules: rules)
        ScoreLine.records(out, records)
        for (i, reason) in reasons.enumerated() {
            ScoreLine.reason(out, index: i, code: reason.code, points: reason.points)
            out.appendJSONStringArray(reason.records)
            ScoreLine.reasonEnd(out)
        }
        ScoreLine.close(out, disputed: disputed, lapsed: lapsed, retracted: retracted)
    }
}

/// The text of a score line around its values, in order: `Score.encode` and the scorer's
/// writer (which writes keys and ids from their numbers, without making a `Score`) both build
/// lines from these, so the two cannot disagree on the format.
enum ScoreLine {
    /// Up to the person key.
    @inline(__always)
    static func open(_ out: ByteBuffer) { out.append("{\"v\":1,\"person\":") }

    @inline(__always)
    static func score(_ out: ByteBuffer, _ score: Int) {
        out.append(",\"score\":")
        out.appendDecimal(Int64(score))
    }

    /// Tier, day and rules: the same for everyone of a tier in one run.
    static func middle(_ out: ByteBuffer, tier: String, asOf: CivilDate, rules: String) {
        out.append(",\"tier\":")
        out.appendJSONString(tier)
        out.append(",\"as_of\":\"")
        out.appendDate(asOf)
        out.append("\",\"rules\":")
        out.appendJSONString(rules)
    }

    /// The record count, and the opening of the reasons.
    @inline(__always)
    static func records(_ out: ByteBuffer, _ records: Int) {
        out.append(",\"records\":")
        out.appendDecimal(Int64(records))
        out.append(",\"reasons\":[")
    }

    /// A reason up to its array of record ids.
    @inline(__always)
    static func reason(_ out: ByteBuffer, index: Int, code: String, points: Int) {
        if index > 0 { out.append(UInt8(ascii: ",")) }
        reasonHead(out, code: code)
        reasonTail(out, points: points)
    }

    /// A reason up to its points: the same for every reason of a kind.
    static func reasonHead(_ out: ByteBuffer, code: String) {
        out.append("{\"code\":")
        out.appendJSONString(code)
        out.append(",\"points\":")
    }

    /// A reason's points, up to its array of record ids.
    @inline(__always)
    static func reasonTail(_ out: ByteBuffer, points: Int) {
        out.appendDecimal(Int64(points))
        out.append(",\"records\":")
    }

    @inline(__always)
    static func reasonEnd(_ out: ByteBuffer) { out.append(UInt8(ascii: "}")) }

    /// The end of the reasons, the disputed, lapsed and retracted ids if any, and the newline.
    @inline(__always)
    static func close(_ out: ByteBuffer, disputed: [String], lapsed: [String], retracted: [String]) {
        out.append(UInt8(ascii: "]"))
        if !disputed.isEmpty {
            out.append(",\"disputed\":")
            out.appendJSONStringArray(disputed)
        }
        if !lapsed.isEmpty {
            out.append(",\"lapsed\":")
            out.appendJSONStringArray(lapsed)
        }
        if !retracted.isEmpty {
            out.append(",\"retracted\":")
            out.appendJSONStringArray(retracted)
        }
        out.append("}\n")
    }
}

/// Decodes `tally.score` lines.
public struct ScoreDecoder {
    /// Tiers, rules digests and reason codes repeat from line to line.
    let cache = StringCache()

    public init() {}

    /// Decodes one line (without its newline); the same strictness as `RecordDecoder`.
    public mutating func decode(_ line: UnsafeRawBufferPointer) throws(DecodeError) -> Score {
        try decodeThrowingSyntax(line)
    }

    /// Decodes a line given as a string.
    public mutating func decode(_ line: String) throws(DecodeError) -> Score {
        var line = line
        let result: Result<Score, DecodeError> = line.withUTF8 { u in
            do throws(DecodeError) { return .success(try decode(UnsafeRawBufferPointer(u))) } catch { return .failure(error) }
        }
        return try result.get()
    }

    private mutating func decodeThrowingSyntax(_ line: UnsafeRawBufferPointer) throws(JSONSyntaxError) -> Score {
        var s = JSONScanner(line)
        var seen: UInt32 = 0
        var score = Score(person: "", score: 0, tier: "", asOf: CivilDate(daysSinceEpoch: 0), rules: "", records: 0)
        try s.forEachMember { (s: inout JSONScanner, key: JSONKey) throws(JSONSyntaxError) in
            let bit: UInt32
            if key.equals("v") {
                bit = 1
                let column = s.column
                guard try s.int64() == 1 else { throw JSONSyntaxError(column: column, message: "unsupported score version (this is tally.score v1)") }
            } else if key.equals("person") {
                bit = 2; score.person = try s.string()
            } else if key.equals("score") {
                bit = 4; score.score = try s.int()
            } else if key.equals("tier") {
                bit = 8; score.tier = try s.string(cache: cache)
            } else if key.equals("as_of") {
                bit = 16
                let column = s.column
                var text = try s.string()
                guard let d = text.withUTF8({ CivilDate.parse(UnsafeRawBufferPointer($0)) }) else {
                    throw JSONSyntaxError(column: column, message: "as_of: not a date YYYY-MM-DD")
                }
                score.asOf = d
            } else if key.equals("rules") {
                bit = 32; score.rules = try s.string(cache: cache)
            } else if key.equals("records") {
                bit = 64; score.records = try s.int()
            } else if key.equals("reasons") {
                bit = 128
                try s.forEachElement { (s: inout JSONScanner) throws(JSONSyntaxError) in
                    score.reasons.append(try decodeReason(&s))
                }
            } else if key.equals("disputed") {
                bit = 256; score.disputed = try Self.stringArray(&s)
            } else if key.equals("lapsed") {
                bit = 1024; score.lapsed = try Self.stringArray(&s)
            } else if key.equals("retracted") {
                bit = 512; score.retracted = try Self.stringArray(&s)
            } else {
                throw s.fault("unknown key \"\(key.text)\" in a score")
            }
            if seen & bit != 0 { throw s.fault("key \"\(key.text)\" appears twice") }
            seen |= bit
        }
        try s.expectEnd()
        for (bit, name) in [(UInt32(1), "v"), (2, "person"), (4, "score"), (8, "tier"), (16, "as_of"), (32, "rules"), (64, "records"), (128, "reasons")]
        where seen & bit == 0 {
            throw JSONSyntaxError(column: 1, message: "score lacks \"\(name)\"")
        }
        return score
    }

    private mutating func decodeReason(_ s: inout JSONScanner) throws(JSONSyntaxError) -> Score.Reason {
        var reason = Score.Reason(code: "", points: 0, records: [])
        var seen = 0
        try s.forEachMember { (s: inout JSONScanner, key: JSONKey) throws(JSONSyntaxError) in
            if key.equals("code"), seen & 1 == 0 {
                reason.code = try s.string(cache: cache); seen |= 1
            } else if key.equals("points"), seen & 2 == 0 {
                reason.points = try s.int(); seen |= 2
            } else if key.equals("records"), seen & 4 == 0 {
                reason.records = try Self.stringArray(&s); seen |= 4
            } else {
                throw s.fault("unexpected key \"\(key.text)\" in a reason")
            }
        }
        guard seen == 7 else { throw s.fault("a reason needs code, points and records") }
        return reason
    }

    private static func stringArray(_ s: inout JSONScanner) throws(JSONSyntaxError) -> [String] {
        var out: [String] = []
        try s.forEachElement { (s: inout JSONScanner) throws(JSONSyntaxError) in out.append(try s.string()) }
        return out
    }
}
