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

    /// One person: key, record count, the lowest-tier flag and the head of their kind entries,
    /// in one 24-byte row, so a record costs one cache miss here rather than one per field
    /// (perf: the separate arrays' misses were a fifth of the time).
    struct PersonRow {
        var hi: UInt64
        var lo: UInt64
        var firstEntry: UInt32
        /// The record count in the low 31 bits; the top bit says a counted, undisputed
        /// decision-grade record harms the person (the lowest tier's precondition).
        var countAndFlag: UInt32
        var records: Int { Int(countAndFlag & 0x7FFF_FFFF) }
        var canReachLowest: Bool { countAndFlag & 0x8000_0000 != 0 }
    }

    /// One kind's sum for one person, and the next entry of the same person: 16 bytes. The sum
    /// saturates at 32 bits, which is exact after the cap: a kind's records all have the sign of
    /// its points, so the sum only moves one way, and caps are at most 2,000 points
    /// (`Rules.maximumPoints`), within 32 bits of micro-points.
    struct EntryRow {
        var sum: Int32
        var next: UInt32
        var top: UInt32
        var kind: UInt16
    }

    /// The people themselves are the hash table (open addressing, at most 70% full; a row with
    /// a zero count is empty): finding a person is one cache miss, where a table of indices in
    /// front of the rows made it two (perf showed both as most of `add`'s time).
    var people_: [PersonRow]
    var slotMask: Int
    var peopleCount = 0
    struct PersonKey: Hashable { var hi: UInt64; var lo: UInt64 }
    var entries = PagedArray<EntryRow>()
    // The most harmful records per harmful entry, `reasonRecords` slots each (micro 0 = empty),
    // in parallel arrays: 22 bytes a slot instead of a 32-byte struct. One record's part fits in
    // 32 bits (the rules cannot give a record more than ±2,147 points: `Rules.maximumPoints`).
    var topMicro = PagedArray<Int32>(), topHi = PagedArray<UInt64>(), topLo = PagedArray<UInt64>(), topSource = PagedArray<UInt16>()

    var retractedIDs: [PersonKey: [RecordKey]] = [:]
    var disputedIDs: [PersonKey: [RecordKey]] = [:]
    var decisionGrade: [Bool] = []   // per source number
    var kindCache: [(bytes: [UInt8], index: Int)] = []
    static let none = UInt32.max

    deinit {
        entries.deallocate()
        topMicro.deallocate(); topHi.deallocate(); topLo.deallocate(); topSource.deallocate()
    }

    public init(rules: Rules, asOf: CivilDate) {
        self.rules = rules
        self.asOf = asOf
        asOfEnd = Rules.asOfEnd(asOf)
        people_ = [PersonRow](repeating: PersonRow(hi: 0, lo: 0, firstEntry: Scorer.none, countAndFlag: 0), count: 1 << 16)
        slotMask = (1 << 16) - 1
    }

    /// Bytes held per person at the end (for the stage's stats; array capacities included).
    public var memoryBytes: Int {
        people_.capacity * MemoryLayout<PersonRow>.stride + entries.memoryBytes
            + topMicro.memoryBytes + topHi.memoryBytes + topLo.memoryBytes + topSource.memoryBytes
    }

    /// The number of people seen.
    public var people: Int { peopleCount }

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
        people_[who].countAndFlag &+= 1
        let standing = corrections.standing(key)
        if standing == .retracted {
            retractedIDs[PersonKey(hi: hi, lo: lo), default: []].append(key)
            counts.retracted += 1
            return
        }
        guard let kind = kindIndex(v.kind) else { counts.unscored += 1; return }
        if standing == .disputed {
            disputedIDs[PersonKey(hi: hi, lo: lo), default: []].append(key)
            counts.disputed += 1
        }
        let c = rules.contribution(kind: kind, at: v.at, amountFen: v.amountFen, asOf: asOf, asOfEnd: asOfEnd)
        if c.expired { counts.expired += 1; return }
        counts.counted += 1
        let entry = entryFor(who, kind: kind)
        entries[entry].sum = Int32(clamping: Int64(entries[entry].sum) + c.micro)
        if c.micro < 0 {
            keepIfHarmful(entry, micro: c.micro, key: key)
            if standing != .disputed && isDecisionGrade(key.source) { people_[who].countAndFlag |= 0x8000_0000 }
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
        // Sort the keys themselves (with their row), not indices into the table: comparing
        // indices went back to the table at random for every comparison.
        var order: [(hi: UInt64, lo: UInt64, row: UInt32)] = []
        order.reserveCapacity(peopleCount)
        for i in people_.indices where people_[i].countAndFlag != 0 { order.append((people_[i].hi, people_[i].lo, UInt32(i))) }
        order.sort { $0.hi != $1.hi ? $0.hi < $1.hi : $0.lo < $1.lo }
        for entry in order { try body(score(Int(entry.row))) }
    }

    /// One person's score.
    func score(_ who: Int) -> Score {
        var total = Int64(rules.base) * microPerPoint
        var harms: [(kind: Int, micro: Int64, entry: Int)] = []
        let row = people_[who]
        var e = row.firstEntry
        while e != Self.none {
            let entry = Int(e)
            let kind = Int(entries[entry].kind)
            let capped = rules.capped(Int64(entries[entry].sum), kind: kind)
            total += capped
            if capped < 0 { harms.append((kind, capped, entry)) }
            e = entries[entry].next
        }
        let value = rules.score(totalMicro: total)
        var tier = rules.tierIndex(for: value)
        if tier == 0 && !row.canReachLowest { tier = 1 }
        harms.sort { $0.micro != $1.micro ? $0.micro < $1.micro : rules.kinds[$0.kind].kind < rules.kinds[$1.kind].kind }
        var reasons: [Score.Reason] = []
        for h in harms where reasons.count < 4 {
            let points = Rules.points(h.micro)
            guard points < 0 else { continue }
            reasons.append(Score.Reason(code: rules.kinds[h.kind].kind, points: points, records: harmful(h.entry)))
        }
        func texts(_ keys: [RecordKey]?) -> [String] { (keys ?? []).map(sources.text).sorted() }
        return Score(person: "p_" + SourceNames.hex16(row.hi) + SourceNames.hex16(row.lo), score: value,
                     tier: rules.tiers[tier].name, asOf: asOf, rules: rules.digest, records: row.records,
                     reasons: reasons, disputed: texts(disputedIDs[PersonKey(hi: row.hi, lo: row.lo)]), retracted: texts(retractedIDs[PersonKey(hi: row.hi, lo: row.lo)]))
    }

    func harmful(_ entry: Int) -> [String] {
        let base = Int(entries[entry].top) * Self.reasonRecords
        var kept: [(Int32, RecordKey)] = []
        for i in base..<(base + Self.reasonRecords) where topMicro[i] != 0 { kept.append((topMicro[i], topKey(i))) }
        kept.sort { $0.0 != $1.0 ? $0.0 < $1.0 : sources.precedes($0.1, $1.1) }
        return kept.map { sources.text($0.1) }
    }

    // MARK: Tables

    @inline(__always)
    func personNumber(hi: UInt64, lo: UInt64) -> Int {
        if (peopleCount + 1) * 10 > people_.count * 7 { grow() }
        let i = row(hi: hi, lo: lo)
        if people_[i].countAndFlag == 0 {
            people_[i] = PersonRow(hi: hi, lo: lo, firstEntry: Self.none, countAndFlag: 0)
            peopleCount += 1
        }
        return i
    }

    /// The row holding the person `hi`/`lo`, or the empty row where they would go.
    @inline(__always)
    func row(hi: UInt64, lo: UInt64) -> Int {
        var i = Int(truncatingIfNeeded: (hi ^ lo) &* 0x9E37_79B9_7F4A_7C15 >> 20) & slotMask
        while people_[i].countAndFlag != 0 && !(people_[i].hi == hi && people_[i].lo == lo) { i = (i + 1) & slotMask }
        return i
    }

    func grow() {
        let old = people_
        people_ = [PersonRow](repeating: PersonRow(hi: 0, lo: 0, firstEntry: Self.none, countAndFlag: 0), count: old.count * 2)
        slotMask = people_.count - 1
        for person in old where person.countAndFlag != 0 {
            people_[row(hi: person.hi, lo: person.lo)] = person
        }
    }

    @inline(__always)
    func entryFor(_ who: Int, kind: Int) -> Int {
        var e = people_[who].firstEntry
        while e != Self.none {
            if Int(entries[Int(e)].kind) == kind { return Int(e) }
            e = entries[Int(e)].next
        }
        let entry = entries.count
        entries.append(EntryRow(sum: 0, next: people_[who].firstEntry, top: Self.none, kind: UInt16(kind)))
        people_[who].firstEntry = UInt32(entry)
        return entry
    }

    @inline(__always)
    func topKey(_ i: Int) -> RecordKey { RecordKey(hi: topHi[i], lo: topLo[i], source: UInt32(topSource[i])) }

    @inline(__always)
    func keepIfHarmful(_ entry: Int, micro wide: Int64, key: RecordKey) {
        let micro = Int32(clamping: wide)
        if entries[entry].top == Self.none {
            entries[entry].top = UInt32(topMicro.count / Self.reasonRecords)
            for _ in 0..<Self.reasonRecords {
                topMicro.append(0); topHi.append(0); topLo.append(0); topSource.append(0)
            }
        }
        let base = Int(entries[entry].top) * Self.reasonRecords
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
