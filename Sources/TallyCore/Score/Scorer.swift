/// Scores every person of a record stream in memory that grows with the number of people, not
/// of records: per person, a key, a count and a small list of per-kind sums; for kinds that
/// harm, the `reasonRecords` most harmful record ids, which the score names as evidence.
///
/// Feed it corrections first (`corrections`), then records (`add`), in any order; `finish`
/// gives the scores ordered by person key. The same records in any order give the same bytes.
public final class Scorer {
    /// How many record ids each reason names: the two most harmful (tally-explain lists them all).
    /// Each id kept costs 22 bytes per harmful kind per person; two keep a person near 200 bytes.
    public static let reasonRecords = 2

    public let rules: Rules
    public let asOf: CivilDate
    let asOfEnd: Int64
    public var corrections = CorrectionBook()
    public var sources = SourceNames()

    /// Counts for the stage's summary.
    public struct Counts: Sendable {
        public var records = 0, counted = 0, expired = 0, future = 0, unscored = 0, retracted = 0, disputed = 0
    }
    public private(set) var counts = Counts()

    // People, struct-of-arrays, indexed by person number.
    var keyHi: [UInt64] = [], keyLo: [UInt64] = []
    var recordCount: [UInt32] = []
    var firstEntry: [UInt32] = []
    var canReachLowest: [Bool] = []
    var slots: [UInt32]            // open addressing over person numbers + 1 (0 = empty)
    var slotMask: Int

    // Kind entries, a linked list per person.
    var entryNext: [UInt32] = [], entryKind: [UInt16] = [], entrySum: [Int64] = [], entryTop: [UInt32] = []
    // The most harmful records per harmful entry, `reasonRecords` slots each (micro 0 = empty),
    // in parallel arrays: 22 bytes a slot instead of a 32-byte struct. One record's part fits in
    // 32 bits (the rules cannot give a record more than ±2,147 points: `Rules.maximumPoints`).
    var topMicro: [Int32] = [], topHi: [UInt64] = [], topLo: [UInt64] = [], topSource: [UInt16] = []

    var retractedIDs: [UInt32: [RecordKey]] = [:]
    var disputedIDs: [UInt32: [RecordKey]] = [:]
    var decisionGrade: [Bool] = []   // per source number
    var kindCache: [(bytes: [UInt8], index: Int)] = []
    static let none = UInt32.max

    public init(rules: Rules, asOf: CivilDate) {
        self.rules = rules
        self.asOf = asOf
        asOfEnd = Rules.asOfEnd(asOf)
        slots = [UInt32](repeating: 0, count: 1 << 16)
        slotMask = (1 << 16) - 1
    }

    /// Bytes held per person at the end (for the stage's stats; array capacities included).
    public var memoryBytes: Int {
        keyHi.capacity * 8 + keyLo.capacity * 8 + recordCount.capacity * 4 + firstEntry.capacity * 4 + canReachLowest.capacity
            + slots.capacity * 4 + entryNext.capacity * 4 + entryKind.capacity * 2 + entrySum.capacity * 8 + entryTop.capacity * 4
            + topMicro.capacity * 4 + topHi.capacity * 8 + topLo.capacity * 8 + topSource.capacity * 2
    }

    /// The number of people seen.
    public var people: Int { keyHi.count }

    /// Why a record could not be scored.
    public enum Fault: Error, Equatable {
        case notLinked, badPerson, badID
        public var reason: String {
            switch self {
            case .notLinked: return "the record has no person key (run tally-link first)"
            case .badPerson: return "person is not p_ and 32 lower-case hex digits"
            case .badID: return "id is not SOURCE: and 32 lower-case hex digits"
            }
        }
    }

    /// Adds one (non-correction) record.
    public func add(_ v: RecordView) throws(Fault) {
        guard let person = v.person else { throw .notLinked }
        let p = person.content
        guard !person.escaped, p.count == 34, p[0] == UInt8(ascii: "p"), p[1] == UInt8(ascii: "_"),
              let hi = SourceNames.hex(p, from: 2), let lo = SourceNames.hex(p, from: 18) else { throw .badPerson }
        guard !v.id.escaped, let key = sources.key(v.id.content) else { throw .badID }
        counts.records += 1
        if v.at.seconds >= asOfEnd { counts.future += 1; return }
        let who = personNumber(hi: hi, lo: lo)
        recordCount[who] &+= 1
        let standing = corrections.standing(key)
        if standing == .retracted {
            retractedIDs[UInt32(who), default: []].append(key)
            counts.retracted += 1
            return
        }
        guard let kind = kindIndex(v.kind) else { counts.unscored += 1; return }
        if standing == .disputed {
            disputedIDs[UInt32(who), default: []].append(key)
            counts.disputed += 1
        }
        let c = rules.contribution(kind: kind, at: v.at, amountFen: v.amountFen, asOf: asOf, asOfEnd: asOfEnd)
        if c.expired { counts.expired += 1; return }
        counts.counted += 1
        let entry = entryFor(who, kind: kind)
        entrySum[entry] &+= c.micro
        if c.micro < 0 {
            keepIfHarmful(entry, micro: c.micro, key: key)
            if standing != .disputed && isDecisionGrade(key.source) { canReachLowest[who] = true }
        }
    }

    /// The scores, ordered by person key.
    public func finish() -> [Score] {
        var out: [Score] = []
        finish { out.append($0) }
        return out
    }

    /// Hands out the scores one by one, ordered by person key, without holding them all.
    public func finish(_ body: (Score) throws -> Void) rethrows {
        var order = [UInt32](0..<UInt32(people))
        order.sort { keyHi[Int($0)] != keyHi[Int($1)] ? keyHi[Int($0)] < keyHi[Int($1)] : keyLo[Int($0)] < keyLo[Int($1)] }
        for who in order { try body(score(Int(who))) }
    }

    /// One person's score.
    func score(_ who: Int) -> Score {
        var total = Int64(rules.base) * microPerPoint
        var harms: [(kind: Int, micro: Int64, entry: Int)] = []
        var e = firstEntry[who]
        while e != Self.none {
            let entry = Int(e)
            let kind = Int(entryKind[entry])
            let capped = rules.capped(entrySum[entry], kind: kind)
            total += capped
            if capped < 0 { harms.append((kind, capped, entry)) }
            e = entryNext[entry]
        }
        let value = rules.score(totalMicro: total)
        var tier = rules.tierIndex(for: value)
        if tier == 0 && !canReachLowest[who] { tier = 1 }
        harms.sort { $0.micro != $1.micro ? $0.micro < $1.micro : rules.kinds[$0.kind].kind < rules.kinds[$1.kind].kind }
        var reasons: [Score.Reason] = []
        for h in harms where reasons.count < 4 {
            let points = Rules.points(h.micro)
            guard points < 0 else { continue }
            reasons.append(Score.Reason(code: rules.kinds[h.kind].kind, points: points, records: harmful(h.entry)))
        }
        func texts(_ keys: [RecordKey]?) -> [String] { (keys ?? []).map(sources.text).sorted() }
        return Score(person: "p_" + SourceNames.hex16(keyHi[who]) + SourceNames.hex16(keyLo[who]), score: value,
                     tier: rules.tiers[tier].name, asOf: asOf, rules: rules.digest, records: Int(recordCount[who]),
                     reasons: reasons, disputed: texts(disputedIDs[UInt32(who)]), retracted: texts(retractedIDs[UInt32(who)]))
    }

    func harmful(_ entry: Int) -> [String] {
        let base = Int(entryTop[entry]) * Self.reasonRecords
        var kept: [(Int32, RecordKey)] = []
        for i in base..<(base + Self.reasonRecords) where topMicro[i] != 0 { kept.append((topMicro[i], topKey(i))) }
        kept.sort { $0.0 != $1.0 ? $0.0 < $1.0 : sources.precedes($0.1, $1.1) }
        return kept.map { sources.text($0.1) }
    }

    // MARK: Tables

    @inline(__always)
    func personNumber(hi: UInt64, lo: UInt64) -> Int {
        var i = Int(truncatingIfNeeded: (hi ^ lo) &* 0x9E37_79B9_7F4A_7C15 >> 20) & slotMask
        while true {
            let s = slots[i]
            if s == 0 { break }
            let who = Int(s - 1)
            if keyHi[who] == hi && keyLo[who] == lo { return who }
            i = (i + 1) & slotMask
        }
        let who = keyHi.count
        keyHi.append(hi); keyLo.append(lo)
        recordCount.append(0); firstEntry.append(Self.none); canReachLowest.append(false)
        slots[i] = UInt32(who + 1)
        if keyHi.count * 2 > slots.count { growSlots() }
        return who
    }

    func growSlots() {
        slots = [UInt32](repeating: 0, count: slots.count * 2)
        slotMask = slots.count - 1
        for who in 0..<keyHi.count {
            var i = Int(truncatingIfNeeded: (keyHi[who] ^ keyLo[who]) &* 0x9E37_79B9_7F4A_7C15 >> 20) & slotMask
            while slots[i] != 0 { i = (i + 1) & slotMask }
            slots[i] = UInt32(who + 1)
        }
    }

    @inline(__always)
    func entryFor(_ who: Int, kind: Int) -> Int {
        var e = firstEntry[who]
        while e != Self.none {
            if Int(entryKind[Int(e)]) == kind { return Int(e) }
            e = entryNext[Int(e)]
        }
        let entry = entrySum.count
        entryNext.append(firstEntry[who]); entryKind.append(UInt16(kind)); entrySum.append(0); entryTop.append(Self.none)
        firstEntry[who] = UInt32(entry)
        return entry
    }

    @inline(__always)
    func topKey(_ i: Int) -> RecordKey { RecordKey(hi: topHi[i], lo: topLo[i], source: UInt32(topSource[i])) }

    @inline(__always)
    func keepIfHarmful(_ entry: Int, micro wide: Int64, key: RecordKey) {
        let micro = Int32(clamping: wide)
        if entryTop[entry] == Self.none {
            entryTop[entry] = UInt32(topMicro.count / Self.reasonRecords)
            topMicro.append(contentsOf: repeatElement(0, count: Self.reasonRecords))
            topHi.append(contentsOf: repeatElement(0, count: Self.reasonRecords))
            topLo.append(contentsOf: repeatElement(0, count: Self.reasonRecords))
            topSource.append(contentsOf: repeatElement(0, count: Self.reasonRecords))
        }
        let base = Int(entryTop[entry]) * Self.reasonRecords
        // Replace an empty slot, or the least harmful kept record if this one is more harmful.
        var worst = base
        for i in base..<(base + Self.reasonRecords) {
            if topMicro[i] == 0 { worst = i; break }
            if topMicro[i] > topMicro[worst] || (topMicro[i] == topMicro[worst] && sources.precedes(topKey(worst), topKey(i))) { worst = i }
        }
        if topMicro[worst] == 0 || micro < topMicro[worst] || (micro == topMicro[worst] && sources.precedes(key, topKey(worst))) {
            topMicro[worst] = micro
            topHi[worst] = key.hi
            topLo[worst] = key.lo
            topSource[worst] = UInt16(key.source)
        }
    }

    @inline(__always)
    func kindIndex(_ kind: JSONStringRef) -> Int? {
        let b = kind.content
        for entry in kindCache where entry.bytes.count == b.count {
            if entry.bytes.withUnsafeBytes({ $0.elementsEqual(b) }) { return entry.index < 0 ? nil : entry.index }
        }
        let index = rules.index(of: kind.string) ?? -1
        kindCache.append((Array(b), index))
        return index < 0 ? nil : index
    }

    @inline(__always)
    func isDecisionGrade(_ source: UInt32) -> Bool {
        while decisionGrade.count < sources.names.count {
            decisionGrade.append(rules.decisionGrade.contains(sources.names[decisionGrade.count]))
        }
        return decisionGrade[Int(source)]
    }
}
