import CTally

/// Scores every person of a record stream in memory that grows with the number of people, not
/// of records: per person, a key, a count and a small list of per-kind sums; for kinds that
/// harm, the `reasonRecords` most harmful record ids, which the score names as evidence.
///
/// Feed it corrections first (`corrections`), then records (`add`), in any order; `finish`
/// gives the scores ordered by person key. The same records in any order give the same bytes.
public final class Scorer {
    /// How many record ids each reason names: the two most harmful (tally-explain lists them all).
    /// Each id kept costs 22 bytes; a kind with one harmful record keeps one slot, not two. Not a
    /// setting: the slots are kept as one or a pair (`keepIfHarmful`).
    public static let reasonRecords = 2

    public let rules: Rules
    public let asOf: CivilDate
    let asOfEnd: Int64
    let asOfDay: Int
    public var corrections: CorrectionBook
    public var sources = SourceNames()

    /// Counts for the stage's summary.
    public struct Counts: Sendable {
        public var records = 0, counted = 0, expired = 0, future = 0, unscored = 0, retracted = 0, disputed = 0
        /// Records under a dispute left undecided past the deadline: not counted.
        public var lapsed = 0
        /// Corrections read (set by `finish`, which lets the corrections go).
        public var corrections = 0
        /// Of those, how many were decided after the as-of day and not applied.
        public var correctionsAfterAsOf = 0
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

    /// The people themselves are the hash table (open addressing, at most 75% full; a row with
    /// a zero count is empty): finding a person is one cache miss, where a table of indices in
    /// front of the rows made it two (perf showed both as most of `add`'s time). The table grows
    /// by 1.5 and 4/3 in turn, not by doubling, so it is between 37% and 75% full rather than
    /// between 35% and 70% (24 B a row: 32 to 64 B a person instead of 34 to 69).
    var people_: UnsafeMutablePointer<PersonRow>
    var peopleCapacity: Int
    var peopleCount = 0
    struct PersonKey: Hashable { var hi: UInt64; var lo: UInt64 }
    var entries = PagedArray<EntryRow>()
    // The most harmful records of a harmful entry, in parallel arrays of slots: 22 bytes a slot
    // instead of a 32-byte struct. One record's part fits in 32 bits (the rules cannot give a
    // record more than ±2,147 points: `Rules.maximumPoints`). An entry's `top` is one slot while
    // it has one harmful record, and two adjacent slots (`pair` set) from its second on; a slot
    // left by an entry that moved to a pair is reused by the next entry that needs one (a list
    // through `topHi`). On the benchmark's data, 37% of harmful kinds hold one record only.
    var topMicro = PagedArray<Int32>(), topHi = PagedArray<UInt64>(), topLo = PagedArray<UInt64>(), topSource = PagedArray<UInt16>()
    var freeSlot = Scorer.none
    static let pair: UInt32 = 0x8000_0000

    var retractedIDs: [PersonKey: [RecordKey]] = [:]
    var disputedIDs: [PersonKey: [RecordKey]] = [:]
    var lapsedIDs: [PersonKey: [RecordKey]] = [:]
    var kindCache: [(bytes: [UInt8], index: Int)] = []
    static let none = UInt32.max

    deinit {
        LargeMemory.deallocate(people_, count: peopleCapacity)
        entries.deallocate()
        topMicro.deallocate(); topHi.deallocate(); topLo.deallocate(); topSource.deallocate()
    }

    /// - Parameter today: the day the program runs (China time), for refusing corrections dated
    ///   past it (see `CorrectionBook`); the as-of day when not given.
    public init(rules: Rules, asOf: CivilDate, today: CivilDate? = nil) {
        self.rules = rules
        self.asOf = asOf
        corrections = CorrectionBook(asOf: asOf, today: today ?? asOf, deadlineDays: rules.disputeDeadlineDays)
        asOfEnd = Rules.asOfEnd(asOf)
        asOfDay = asOf.daysSinceEpoch
        // Zeroed rows are empty ones (a zero count), so fresh mappings need no filling.
        peopleCapacity = 1 << 16
        people_ = LargeMemory.allocateZeroed(PersonRow.self, count: peopleCapacity)
    }

    /// Bytes held per person at the end (for the stage's stats; array capacities included).
    public var memoryBytes: Int {
        peopleCapacity * MemoryLayout<PersonRow>.stride + entries.memoryBytes
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

    /// A record reduced to what scoring needs, waiting in `pending`.
    struct Pending {
        var hi: UInt64, lo: UInt64
        var key: RecordKey
        var at: Timestamp
        var amountFen: Int64?
        var kind: Int32   // -1: not in the rules
    }

    /// Records are summed in batches of this many, in two steps a batch apart. Each record's
    /// person row and kind entry are random places in tables of hundreds of megabytes. A row is
    /// prefetched when its record is added; when the batch is full its rows are claimed (by
    /// then they have arrived, while the batch's lines were read) and each person's first entry
    /// is prefetched; the batch is summed when the next one is full, its entries having arrived
    /// in the meantime. (Claiming and summing a batch at once, loads waited on prefetches made
    /// a moment before: a quarter of the summing pass by perf.)
    static let batch = 32
    var pending: [Pending] = []
    var claimed: [Pending] = []
    var claimedRows = [Int](repeating: 0, count: Scorer.batch)
    /// The row of the person `addInOrder` last took a record of (-1 for none): rows move only
    /// when the table grows.
    var lastInOrder = -1

    /// Adds one (non-correction) record. A record's faults are found here, at once; its sums
    /// are made later, and all made by `finish`.
    public func add(_ v: RecordView) throws(Fault) {
        guard let person = v.person else { throw .notLinked }
        let p = person.content
        guard !person.escaped, p.count == 34, p[0] == UInt8(ascii: "p"), p[1] == UInt8(ascii: "_"),
              let hi = SourceNames.hex(p, from: 2), let lo = SourceNames.hex(p, from: 18) else { throw .badPerson }
        guard !v.id.escaped, let key = sources.key(v.id.content) else { throw .badID }
        add(personHi: hi, personLo: lo, key: key, at: v.at, amountFen: v.amountFen, kind: kindIndex(v.kind) ?? -1)
    }

    /// Adds one record already taken apart (a scoring store's row): the person key's two
    /// halves, the record's key (its source numbered in `sources`), and its kind's index in the
    /// rules (-1 for a kind they do not score).
    @inline(__always)
    public func add(personHi hi: UInt64, personLo lo: UInt64, key: RecordKey, at: Timestamp, amountFen: Int64?, kind: Int) {
        tally_prefetch_write(people_ + homeRow(hi: hi, lo: lo))
        pending.append(Pending(hi: hi, lo: lo, key: key, at: at, amountFen: amountFen, kind: Int32(kind)))
        if pending.count == Self.batch {
            sumClaimed()
            claimPending()
        }
    }

    /// `add(personHi:…)` for records that come person after person (a store's copy in person
    /// order): summed at once, with no batch. The batches hide the cache misses of people met at
    /// random; here a person's row and entries are already in the cache from their last record.
    @inline(__always)
    public func addInOrder(personHi hi: UInt64, personLo lo: UInt64, key: RecordKey, at: Timestamp, amountFen: Int64?, kind: Int) {
        // Rows a batch still holds must be summed before a row can move.
        if !pending.isEmpty || !claimed.isEmpty { drain() }
        counts.records += 1
        if at.seconds >= asOfEnd { counts.future += 1; return }
        // Most records are the last one's person's: their row is found without a probe (a row
        // in use with their key is theirs, wherever the table has grown since).
        var who = lastInOrder
        if who < 0 || people_[who].countAndFlag == 0 || people_[who].hi != hi || people_[who].lo != lo {
            if (peopleCount + 1) * 4 > peopleCapacity * 3 { grow() }
            who = personNumber(hi: hi, lo: lo)
            lastInOrder = who
        }
        people_[who].countAndFlag &+= 1
        sum(Pending(hi: hi, lo: lo, key: key, at: at, amountFen: amountFen, kind: Int32(kind)), who: who)
    }

    /// Sums every record added so far.
    func drain() {
        sumClaimed()
        claimPending()
        sumClaimed()
    }

    /// Finds (or makes) the rows of the pending records' people and counts the records there;
    /// the batch becomes the claimed one. The claimed batch must have been summed: a table that
    /// grows moves rows.
    func claimPending() {
        precondition(claimed.isEmpty)
        let n = pending.count
        guard n > 0 else { return }
        // Room for every person of the batch, so that no row moves until it is summed (at most
        // 75% full).
        while (peopleCount + n) * 4 > peopleCapacity * 3 { grow() }
        for j in 0..<n {
            let r = pending[j]
            counts.records += 1
            if r.at.seconds >= asOfEnd { counts.future += 1; claimedRows[j] = -1; continue }
            let who = personNumber(hi: r.hi, lo: r.lo)
            // Counted here, not when summed: a claimed row must stop looking empty at once, or
            // the next person of the batch probing past it would take it.
            people_[who].countAndFlag &+= 1
            claimedRows[j] = who
            // Prefetch the person's first kind entry (the kind they last had a record of). Walking
            // on to the record's own kind here was slower, 14.2 s against 12.2 s on 10M records,
            // interleaved: each hop waits on the last.
            let first = people_[who].firstEntry
            if first != Self.none { tally_prefetch_write(entries.address(Int(first))) }
        }
        swap(&pending, &claimed)
    }

    /// Sums the claimed batch.
    func sumClaimed() {
        // The first entries have arrived; where one is not the record's kind, prefetch the next,
        // so that the batch's second hops miss together rather than one after another.
        for j in claimed.indices where claimedRows[j] >= 0 && claimed[j].kind >= 0 {
            let first = people_[claimedRows[j]].firstEntry
            guard first != Self.none else { continue }
            let entry = entries[Int(first)]
            if Int32(entry.kind) != claimed[j].kind && entry.next != Self.none { tally_prefetch_write(entries.address(Int(entry.next))) }
        }
        for j in claimed.indices where claimedRows[j] >= 0 { sum(claimed[j], who: claimedRows[j]) }
        claimed.removeAll(keepingCapacity: true)
    }

    /// Adds one record to its person's sums.
    @inline(__always)
    func sum(_ r: Pending, who: Int) {
        let standing = corrections.standing(r.key)
        if standing == .retracted {
            retractedIDs[PersonKey(hi: r.hi, lo: r.lo), default: []].append(r.key)
            counts.retracted += 1
            return
        }
        guard r.kind >= 0 else { counts.unscored += 1; return }
        let kind = Int(r.kind)
        if standing == .disputed {
            disputedIDs[PersonKey(hi: r.hi, lo: r.lo), default: []].append(r.key)
            counts.disputed += 1
        } else if standing == .lapsed {
            lapsedIDs[PersonKey(hi: r.hi, lo: r.lo), default: []].append(r.key)
            counts.lapsed += 1
            return
        }
        guard let micro = rules.countedMicro(kind: kind, at: r.at, amountFen: r.amountFen, asOfDay: asOfDay, asOfEnd: asOfEnd) else {
            counts.expired += 1
            return
        }
        counts.counted += 1
        let entry = entryFor(who, kind: kind)
        entries[entry].sum = Int32(clamping: Int64(entries[entry].sum) + micro)
        if micro < 0 {
            keepIfHarmful(entry, micro: micro, key: r.key)
            if rules.supportsLowest(kind: kind, micro: micro, disputed: standing == .disputed) { people_[who].countAndFlag |= 0x8000_0000 }
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
        let order = keyOrder()
        try forEach(order, 0..<order.count) { who in try body(score(who)) }
    }

    /// Appends every score line to `out`, ordered by person key, calling `each` with the tier
    /// of each line once it is appended (the caller counts tiers and flushes `out`).
    public func finish(into out: ByteBuffer, each: (_ tier: Int) throws -> Void) rethrows {
        let lines = finishLines()
        try appendLines(lines, 0..<lines.count, into: out, each: each)
    }

    /// A finished scorer's people in key order, and the bytes their lines share, for
    /// `appendLines`: ranges of it can be written on several threads at once.
    public final class Lines: @unchecked Sendable {
        /// How many people, so lines.
        public var count: Int { order.count }
        let order: [UInt32]
        /// Each tier's middle (tier, day, rules), each source's id head (`"SOURCE:`, escaped as
        /// JSON once) and each kind's reason head (`{"code":"KIND","points":`), one after another
        /// in one array, read through one pointer a range: a line then retains nothing (the
        /// arrays of arrays this was, and each reason's code escaped anew, were a tenth of
        /// writing the lines, perf).
        let bytes: [UInt8]
        let tiers: [Range<Int>], idHeads: [Range<Int>], reasonHeads: [Range<Int>]

        init(order: [UInt32], scorer: Scorer) {
            self.order = order
            let b = ByteBuffer(capacity: 4096)
            func part(_ write: () -> Void) -> Range<Int> { let start = b.count; write(); return start..<b.count }
            let rules = scorer.rules
            tiers = rules.tiers.map { tier in part { ScoreLine.middle(b, tier: tier.name, asOf: scorer.asOf, rules: rules.digest) } }
            idHeads = scorer.sources.names.map { name in
                part {
                    b.appendJSONString(name + ":")
                    b.removeLast(1)
                }
            }
            reasonHeads = rules.kinds.map { kind in part { ScoreLine.reasonHead(b, code: kind.kind) } }
            bytes = b.bytes
        }
    }

    /// Sums what is left and orders the people by key: the scorer takes no more records.
    public func finishLines() -> Lines { Lines(order: keyOrder(), scorer: self) }

    /// Appends the lines of the people at `range` of `lines` (positions in key order) to `out`,
    /// calling `each` with each line's tier once it is appended. The lines are those
    /// `Score.encode` writes, made without a `Score` (its strings and arrays were a tenth of
    /// tally-score's time): keys and ids go out as hex straight from their numbers. Ranges may be
    /// written on several threads at once, each into its own `out`: nothing here is changed.
    public func appendLines(_ lines: Lines, _ range: Range<Int>, into out: ByteBuffer, each: (_ tier: Int) throws -> Void) rethrows {
        var principal: [(kind: Int, micro: Int64, entry: Int)] = []
        principal.reserveCapacity(8)
        try lines.bytes.withUnsafeBytes { shared in
            @inline(__always) func put(_ r: Range<Int>) { out.append(UnsafeRawBufferPointer(rebasing: shared[r])) }
            try forEach(lines.order, range) { who in
                let (value, tier) = assess(who, into: &principal)
                let row = people_[who]
                ScoreLine.open(out)
                out.append("\"p_")
                out.appendHex32(row.hi, row.lo)
                out.append(UInt8(ascii: "\""))
                ScoreLine.score(out, value)
                put(lines.tiers[tier])
                ScoreLine.records(out, row.records)
                for (i, h) in principal.enumerated() {
                    if i > 0 { out.append(UInt8(ascii: ",")) }
                    put(lines.reasonHeads[h.kind])
                    ScoreLine.reasonTail(out, points: Rules.points(h.micro))
                    out.append(UInt8(ascii: "["))
                    func id(_ slot: Int) {
                        put(lines.idHeads[Int(topSource[slot])])
                        out.appendHex32(topHi[slot], topLo[slot])
                        out.append(UInt8(ascii: "\""))
                    }
                    let (first, second) = keptSlots(h.entry)
                    if first >= 0 { id(first) }
                    if second >= 0 { out.append(UInt8(ascii: ",")); id(second) }
                    out.append(UInt8(ascii: "]"))
                    ScoreLine.reasonEnd(out)
                }
                let (disputed, lapsed, retracted) = setApart(row)
                ScoreLine.close(out, disputed: disputed, lapsed: lapsed, retracted: retracted)
                try each(tier)
            }
        }
    }

    /// Sums every record, lets the corrections go, and gives every person's row ordered by key.
    func keyOrder() -> [UInt32] {
        drain()
        // Every record is summed: the corrections have done their work, and their memory goes
        // back before the ordering takes its own (the run's peak is here).
        counts.corrections += corrections.count
        counts.correctionsAfterAsOf += corrections.afterAsOf
        corrections = CorrectionBook()
        pending = []
        claimed = []
        return rowsInKeyOrder()
    }

    /// Calls `body` with the rows at `range` of `order`, one by one.
    func forEach(_ order: [UInt32], _ range: Range<Int>, _ body: (Int) throws -> Void) rethrows {
        let end = range.upperBound
        // Rows come in key order, so each is a random place in the table, and so are the entries
        // and kept records behind it. Prefetch them in steps, each from what the last brought:
        // the row 16 people ahead, the first entry 8 ahead, and 4 ahead the second entry and the
        // first entry's kept records, so their misses overlap with this person's work.
        for k in range {
            if k + 16 < end { tally_prefetch(people_ + Int(order[k + 16])) }
            if k + 8 < end {
                let first = people_[Int(order[k + 8])].firstEntry
                if first != Self.none { tally_prefetch(entries.address(Int(first))) }
            }
            if k + 4 < end {
                let first = people_[Int(order[k + 4])].firstEntry
                if first != Self.none {
                    let entry = entries[Int(first)]
                    if entry.next != Self.none { tally_prefetch(entries.address(Int(entry.next))) }
                    if entry.top != Self.none {
                        let slot = Int(entry.top & ~Self.pair)
                        tally_prefetch(topMicro.address(slot)); tally_prefetch(topHi.address(slot))
                        tally_prefetch(topLo.address(slot)); tally_prefetch(topSource.address(slot))
                    }
                }
            }
            try body(Int(order[k]))
        }
    }

    /// Every person's row, ordered by person key: 4 bytes a person (an array of the keys
    /// themselves, as this was first, took 24 and the sort's buffer 12 more, a tenth of the
    /// scorer's peak). Keys are HMAC output, spread evenly, so a bucket sort on their top bits
    /// leaves a few people per bucket, each bucket then sorted by the whole key; keys that are
    /// not spread (hand-made ones) only make the buckets bigger.
    func rowsInKeyOrder() -> [UInt32] {
        let n = peopleCount
        let bits = max(1, min(22, Int.bitWidth - (n / 8).leadingZeroBitCount))   // 4 to 8 people a bucket
        @inline(__always) func bucket(_ row: Int) -> Int { Int(truncatingIfNeeded: people_[row].hi >> UInt64(64 - bits)) }
        var starts = [UInt32](repeating: 0, count: (1 << bits) + 1)
        for i in 0..<peopleCapacity where people_[i].countAndFlag != 0 { starts[bucket(i) + 1] += 1 }
        for b in 0..<(1 << bits) { starts[b + 1] += starts[b] }
        var order = [UInt32](repeating: 0, count: n)
        var fill = starts
        for i in 0..<peopleCapacity where people_[i].countAndFlag != 0 {
            let b = bucket(i)
            order[Int(fill[b])] = UInt32(i)
            fill[b] += 1
        }
        let people = people_
        order.withUnsafeMutableBufferPointer { all in
            for b in 0..<(1 << bits) where starts[b + 1] - starts[b] > 1 {
                var run = UnsafeMutableBufferPointer(rebasing: all[Int(starts[b])..<Int(starts[b + 1])])
                run.sort { x, y in
                    let p = people[Int(x)], q = people[Int(y)]
                    return p.hi != q.hi ? p.hi < q.hi : p.lo < q.lo
                }
            }
        }
        return order
    }

    /// A person's score and tier, with their principal reasons left in `principal`: at most four
    /// harmful kinds whose points round below zero, most harmful first (equal ones by kind name).
    /// What both forms of the score line are made from.
    func assess(_ who: Int, into principal: inout [(kind: Int, micro: Int64, entry: Int)]) -> (value: Int, tier: Int) {
        var sum: Int64 = 0
        principal.removeAll(keepingCapacity: true)
        let row = people_[who]
        var e = row.firstEntry
        while e != Self.none {
            let entry = Int(e)
            let kind = Int(entries[entry].kind)
            let capped = rules.capped(Int64(entries[entry].sum), kind: kind)
            sum += capped
            if capped < 0 { principal.append((kind, capped, entry)) }
            e = entries[entry].next
        }
        let value = rules.score(totalMicro: rules.total(cappedSum: sum))
        let tier = rules.tier(score: value, supportsLowest: row.canReachLowest).index
        if principal.count > 1 {
            principal.sort { $0.micro != $1.micro ? $0.micro < $1.micro : rules.kinds[$0.kind].kind < rules.kinds[$1.kind].kind }
        }
        // Sorted by harm, so the points (rounded, which keeps their order) fall below zero for a
        // leading run only.
        var n = 0
        while n < min(4, principal.count) && Rules.points(principal[n].micro) < 0 { n += 1 }
        principal.removeSubrange(n...)
        return (value, tier)
    }

    /// One person's score.
    func score(_ who: Int) -> Score {
        var principal: [(kind: Int, micro: Int64, entry: Int)] = []
        let (value, tier) = assess(who, into: &principal)
        let row = people_[who]
        let reasons = principal.map { h in
            let (first, second) = keptSlots(h.entry)
            return Score.Reason(code: rules.kinds[h.kind].kind, points: Rules.points(h.micro),
                                records: [first, second].filter { $0 >= 0 }.map { sources.text(topKey($0)) })
        }
        let (disputed, lapsed, retracted) = setApart(row)
        return Score(person: SourceNames.joined("p_", row.hi, row.lo), score: value, tier: rules.tiers[tier].name, asOf: asOf,
                     rules: rules.digest, records: row.records, reasons: reasons, disputed: disputed, lapsed: lapsed, retracted: retracted)
    }

    /// The person's disputed, lapsed and retracted record ids, each sorted.
    func setApart(_ row: PersonRow) -> (disputed: [String], lapsed: [String], retracted: [String]) {
        guard !disputedIDs.isEmpty || !lapsedIDs.isEmpty || !retractedIDs.isEmpty else { return ([], [], []) }
        let key = PersonKey(hi: row.hi, lo: row.lo)
        func texts(_ keys: [RecordKey]?) -> [String] { (keys ?? []).map(sources.text).sorted() }
        return (texts(disputedIDs[key]), texts(lapsedIDs[key]), texts(retractedIDs[key]))
    }

    /// The kept record slots of a harmful entry, most harmful first (equal ones by id); -1 for
    /// none.
    func keptSlots(_ entry: Int) -> (Int, Int) {
        let top = entries[entry].top
        guard top != Self.none else { return (-1, -1) }
        let a = Int(top & ~Self.pair)
        guard top & Self.pair != 0 else { return (a, -1) }
        let b = a + 1
        let bFirst = topMicro[b] < topMicro[a] || (topMicro[b] == topMicro[a] && sources.precedes(topKey(b), topKey(a)))
        return bFirst ? (b, a) : (a, b)
    }

    // MARK: Tables

    /// The row of the person `hi`/`lo`, claimed if new. The caller has made room
    /// (`claimPending`): growing here would move rows a batch still holds.
    @inline(__always)
    func personNumber(hi: UInt64, lo: UInt64) -> Int {
        let i = row(hi: hi, lo: lo)
        if people_[i].countAndFlag == 0 {
            people_[i] = PersonRow(hi: hi, lo: lo, firstEntry: Self.none, countAndFlag: 0)
            peopleCount += 1
        }
        return i
    }

    /// Where the search for a person's row begins.
    @inline(__always)
    func homeRow(hi: UInt64, lo: UInt64) -> Int {
        // The mixed key scaled to the capacity (the high half of the product), which need not
        // be a power of two.
        Int(truncatingIfNeeded: ((hi ^ lo) &* 0x9E37_79B9_7F4A_7C15).multipliedFullWidth(by: UInt64(peopleCapacity)).high)
    }

    /// The row holding the person `hi`/`lo`, or the empty row where they would go.
    @inline(__always)
    func row(hi: UInt64, lo: UInt64) -> Int {
        var i = homeRow(hi: hi, lo: lo)
        while people_[i].countAndFlag != 0 && !(people_[i].hi == hi && people_[i].lo == lo) {
            i += 1
            if i == peopleCapacity { i = 0 }
        }
        return i
    }

    func grow() {
        lastInOrder = -1
        let old = people_, oldCapacity = peopleCapacity
        // 2^k, 1.5 * 2^k, 2^(k+1), ...: every capacity a multiple of 2^15.
        peopleCapacity = oldCapacity & (oldCapacity - 1) == 0 ? oldCapacity + oldCapacity / 2 : (oldCapacity / 3) * 4
        people_ = LargeMemory.allocateZeroed(PersonRow.self, count: peopleCapacity)
        for j in 0..<oldCapacity where old[j].countAndFlag != 0 {
            people_[row(hi: old[j].hi, lo: old[j].lo)] = old[j]
        }
        LargeMemory.deallocate(old, count: oldCapacity)
    }

    /// The person's entry for `kind`, made if the person has none. An entry found down the
    /// chain moves to its front: a person's records are mostly of one or two kinds, and the
    /// batch has already touched the first entry, so the next record of that kind finds it
    /// without another cache miss. (The order of a person's entries changes no score.)
    @inline(__always)
    func entryFor(_ who: Int, kind: Int) -> Int {
        let first = people_[who].firstEntry
        var previous = Self.none, e = first
        while e != Self.none, Int(entries[Int(e)].kind) != kind {
            previous = e
            e = entries[Int(e)].next
        }
        if e != Self.none {
            if previous != Self.none {
                entries[Int(previous)].next = entries[Int(e)].next
                entries[Int(e)].next = first
                people_[who].firstEntry = e
            }
            return Int(e)
        }
        let entry = entries.count
        entries.append(EntryRow(sum: 0, next: first, top: Self.none, kind: UInt16(kind)))
        people_[who].firstEntry = UInt32(entry)
        return entry
    }

    @inline(__always)
    func topKey(_ i: Int) -> RecordKey { RecordKey(hi: topHi[i], lo: topLo[i], source: UInt32(topSource[i])) }

    @inline(__always)
    func keepIfHarmful(_ entry: Int, micro wide: Int64, key: RecordKey) {
        let micro = Int32(clamping: wide)
        let top = entries[entry].top
        if top == Self.none {
            entries[entry].top = UInt32(newSlot())
            setSlot(Int(entries[entry].top), micro: micro, key: key)
        } else if top & Self.pair == 0 {
            // The second harmful record: both go to a pair, and the single slot is freed.
            let pair = appendSlots(2)
            let single = Int(top)
            setSlot(pair, micro: topMicro[single], key: topKey(single))
            setSlot(pair + 1, micro: micro, key: key)
            topMicro[single] = 0
            topHi[single] = UInt64(freeSlot)
            freeSlot = UInt32(single)
            entries[entry].top = UInt32(pair) | Self.pair
        } else {
            // Replace the less harmful of the two if this one is more harmful (ties: the id
            // that sorts first is kept).
            let a = Int(top & ~Self.pair), b = a + 1
            let worst = topMicro[a] > topMicro[b] || (topMicro[a] == topMicro[b] && sources.precedes(topKey(b), topKey(a))) ? a : b
            if micro < topMicro[worst] || (micro == topMicro[worst] && sources.precedes(key, topKey(worst))) {
                setSlot(worst, micro: micro, key: key)
            }
        }
    }

    /// A free slot: one left by an entry that moved to a pair, or a new one.
    @inline(__always)
    func newSlot() -> Int {
        if freeSlot != Self.none {
            let slot = Int(freeSlot)
            freeSlot = UInt32(truncatingIfNeeded: topHi[slot])
            return slot
        }
        return appendSlots(1)
    }

    /// Appends `n` empty slots; returns the first. A slot number must stay below the `pair` bit.
    @inline(__always)
    func appendSlots(_ n: Int) -> Int {
        let first = topMicro.count
        precondition(first + n <= Int(Self.pair) - 1, "more harmful records kept than a slot number holds")
        for _ in 0..<n { topMicro.append(0); topHi.append(0); topLo.append(0); topSource.append(0) }
        return first
    }

    @inline(__always)
    func setSlot(_ i: Int, micro: Int32, key: RecordKey) {
        topMicro[i] = micro
        topHi[i] = key.hi
        topLo[i] = key.lo
        topSource[i] = UInt16(key.source)
    }

    @inline(__always)
    func kindIndex(_ kind: JSONStringRef) -> Int? {
        let b = kind.content
        for entry in kindCache where entry.bytes.count == b.count {
            if entry.bytes.count == 0 || entry.bytes.withUnsafeBufferPointer({ memcmpEqual($0.baseAddress!, b.baseAddress!.assumingMemoryBound(to: UInt8.self), b.count) }) {
                return entry.index < 0 ? nil : entry.index
            }
        }
        let index = rules.index(of: kind.string) ?? -1
        kindCache.append((Array(b), index))
        return index < 0 ? nil : index
    }
}
