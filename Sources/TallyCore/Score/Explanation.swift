/// Why one person has their score on one day, record by record: what a notice to that person
/// would say. Made by `Explanation.make`, which applies the same rules, in the same integer
/// micro-points, as `Scorer`, so its parts add up to the score exactly.
public struct Explanation: Sendable {
    /// One record and what it does to the score today.
    public struct Item: Sendable {
        public enum Standing: String, Sendable {
            /// Counted.
            case counted
            /// Counted, but under open dispute: it cannot by itself put anyone in the lowest tier.
            case disputed
            /// Under a dispute its source left undecided past the rules' deadline: not counted
            /// until the source decides.
            case lapsed
            /// Taken out by a correction (or a court's revocation).
            case retracted
            /// Past its kind's expiry.
            case expired
            /// A kind the rules do not score.
            case unscored
        }
        public var record: Record
        public var standing: Standing
        /// Nil for unscored kinds.
        public var contribution: Contribution?
        /// What the record adds after its kind's cap, in micro-points (0 unless counted).
        public var allocatedMicro: Int64
        /// The natural key to quote when contesting the record, as the corrections feed wants it.
        public var naturalKey: String?
        /// The latest decision on the record, if any: action, when, correction id.
        public var decision: (action: String, at: Timestamp, id: String)?
        /// Every correction of the record up to the as-of day, in the order applied.
        public var corrections: [(action: String, at: Timestamp, id: String)] = []
        /// For a record under open dispute, the first day on which it stops counting unless its
        /// source decides before.
        public var disputeLapsesOn: CivilDate?
    }

    /// One scored kind: its sum, its cap, and what it adds.
    public struct KindTotal: Sendable {
        public var kind: String
        public var sumMicro: Int64
        public var capMicro: Int64
        public var cappedMicro: Int64
    }

    /// A coming day on which the tier changes, if no new record or correction arrives: the score
    /// and tier from that day, and why.
    public struct Change: Sendable, Equatable {
        public enum Cause: String, Sendable {
            /// Records fade day by day.
            case fading
            /// Records stop counting at their expiry.
            case expiry
            /// A dispute's deadline passes without a decision from the source.
            case disputeDeadline = "dispute-deadline"
        }
        public var date: CivilDate
        public var score: Int
        public var tier: String
        public var cause: Cause
        /// The records that expire, or whose dispute lapses, that day (none for fading).
        public var records: [String]
    }

    /// At most this many tier changes are forecast.
    public static let maximumChanges = 50

    public var person: String
    public var asOf: CivilDate
    public var rules: String
    public var base: Int
    /// base + every allocated contribution, in micro-points, before rounding.
    public var totalMicro: Int64
    public var score: Int
    public var tier: Rules.Tier
    /// True when the score lies in the lowest tier's range but no counted, undisputed
    /// decision-grade record supports it, so the next tier applies.
    public var liftedFromLowest: Bool
    public var kinds: [KindTotal]
    /// Counted records first (most harmful first), then disputed, retracted, expired, unscored.
    public var items: [Item]
    /// Every coming day on which the tier changes (at most `maximumChanges`), fading, expiries
    /// and dispute deadlines included, each with the score and tier tally-score gives that day:
    /// until the last record known on the as-of day has expired, after which nothing changes.
    public var changes: [Change]
    /// The first of them.
    public var nextTierChange: Change? { changes.first }

    /// The score and tier on each of `days` (after the as-of day), if no new record or decision
    /// arrives: what tally-score would give on that day, from the same per-record arithmetic as
    /// `changes` (for a chart of the coming months).
    public func forecast(on days: [CivilDate], rules: Rules) -> [(score: Int, tier: String)] {
        let f = Forecast(items: items, rules: rules, asOf: asOf)
        return days.map { day in
            let d = f.on(day.daysSinceEpoch)
            return (rules.score(totalMicro: f.total(d)), rules.tiers[f.tier(d)].name)
        }
    }

    /// Explains `records` (all of one person's, any order) under `rules` on `asOf`.
    ///
    /// - Parameter naturalKeys: per source, the attribute names whose values make the natural
    ///   key (from the feed declarations; see `NaturalKey.quote`).
    public static func make(person: String, records: [Record], corrections: CorrectionBook, sources: inout SourceNames,
                            rules: Rules, asOf: CivilDate, naturalKeys: [String: [String]]) -> Explanation {
        let result = evaluate(records: records, corrections: corrections, sources: &sources, rules: rules, asOf: asOf, naturalKeys: naturalKeys)
        var forecast = Forecast(items: result.items, rules: rules, asOf: asOf)
        return Explanation(person: person, asOf: asOf, rules: rules.digest, base: rules.base, totalMicro: result.total,
                           score: result.score, tier: result.tier, liftedFromLowest: result.lifted, kinds: result.kinds,
                           items: result.items, changes: forecast.changes(from: rules.tiers.firstIndex(of: result.tier)!))
    }

    struct Evaluation {
        var items: [Item]
        var kinds: [KindTotal]
        var total: Int64
        var score: Int
        var tier: Rules.Tier
        var lifted: Bool
    }

    static func evaluate(records: [Record], corrections: CorrectionBook, sources: inout SourceNames, rules: Rules, asOf: CivilDate,
                         naturalKeys: [String: [String]]) -> Evaluation {
        let asOfEnd = Rules.asOfEnd(asOf)
        var items: [Item] = []
        var byKind: [Int: [Int]] = [:]
        var canReachLowest = false
        for record in records where record.at.seconds < asOfEnd {
            let key = sources.key(record.id)
            var item = Item(record: record, standing: .unscored, contribution: nil, allocatedMicro: 0,
                            naturalKey: naturalKeys[record.source].flatMap { NaturalKey.quote(record, names: $0) })
            if let key, let d = corrections.decision(key) {
                item.decision = (d.action.rawValue, d.at, d.id)
                item.corrections = corrections.history(key).map { ($0.action.rawValue, $0.at, $0.id) }
            }
            let standing = key.map(corrections.standing) ?? .normal
            if standing == .retracted {
                item.standing = .retracted
                if let kind = rules.index(of: record.kind) {
                    item.contribution = rules.contribution(kind: kind, at: record.at, amountFen: record.amountFen, asOf: asOf, asOfEnd: asOfEnd)
                }
            } else if let kind = rules.index(of: record.kind) {
                let c = rules.contribution(kind: kind, at: record.at, amountFen: record.amountFen, asOf: asOf, asOfEnd: asOfEnd)
                item.contribution = c
                if standing == .disputed, let key { item.disputeLapsesOn = corrections.lapsesOn(key) }
                if standing == .lapsed {
                    item.standing = .lapsed
                } else if c.expired {
                    item.standing = .expired
                } else {
                    item.standing = standing == .disputed ? .disputed : .counted
                    byKind[kind, default: []].append(items.count)
                    if rules.supportsLowest(kind: kind, micro: c.micro, disputed: standing == .disputed) { canReachLowest = true }
                }
            }
            items.append(item)
        }
        var cappedSum: Int64 = 0
        var kinds: [KindTotal] = []
        for (kind, members) in byKind.sorted(by: { $0.key < $1.key }) {
            let sum = members.reduce(Int64(0)) { $0 + items[$1].contribution!.micro }
            let capped = rules.capped(sum, kind: kind)
            // The cap is filled by the records with the largest parts first (ties by id), so the
            // parts after the cap add up to the capped sum exactly.
            let ordered = members.sorted {
                let a = abs(items[$0].contribution!.micro), b = abs(items[$1].contribution!.micro)
                return a != b ? a > b : items[$0].record.id < items[$1].record.id
            }
            var left = abs(capped)
            for i in ordered {
                let part = min(abs(items[i].contribution!.micro), left)
                left -= part
                items[i].allocatedMicro = capped < 0 ? -part : part
            }
            kinds.append(KindTotal(kind: rules.kinds[kind].kind, sumMicro: sum, capMicro: rules.capped(Int64.max / 2, kind: kind), cappedMicro: capped))
            cappedSum += capped
        }
        let total = rules.total(cappedSum: cappedSum)
        let score = rules.score(totalMicro: total)
        let (tier, lifted) = rules.tier(score: score, supportsLowest: canReachLowest)
        let rank: [Item.Standing: Int] = [.counted: 0, .disputed: 0, .lapsed: 1, .retracted: 1, .expired: 2, .unscored: 3]
        items.sort { a, b in
            if rank[a.standing]! != rank[b.standing]! { return rank[a.standing]! < rank[b.standing]! }
            if a.allocatedMicro != b.allocatedMicro { return a.allocatedMicro < b.allocatedMicro }
            return a.record.id < b.record.id
        }
        return Evaluation(items: items, kinds: kinds, total: total, score: score, tier: rules.tiers[tier], lifted: lifted)
    }
}

/// The days ahead on which a person's tier changes, if no new record or correction arrives:
/// found without scoring every day. Between two events (a record's expiry, a dispute's
/// deadline) the same records count, and each kind's capped sum only fades towards zero, so
/// the favourable total `P` and the harmful one `N` only fall: on the days from `lo` to `hi`
/// the total lies between base + P(hi) − N(lo) and base + P(lo) − N(hi). Where both ends of
/// that range are in one tier (and the lowest tier's precondition is the same at both days) no
/// day between changes tier; elsewhere the stretch is halved. Each day scored is scored as
/// tally-score would score it, so every change found is exact.
struct Forecast {
    struct Counted {
        var kind: Int
        var at: Timestamp
        var amountFen: Int64?
        var id: String
        /// The first day it no longer counts: its expiry, or its dispute's deadline.
        var endsOn: Int
        var lapses: Bool
        /// Under open dispute (so it cannot support the lowest tier) until it lapses.
        var disputed: Bool
    }

    struct Day {
        var favourable: Int64
        var harmful: Int64
        var supportsLowest: Bool
    }

    let rules: Rules
    let asOfDay: Int
    var counted: [Counted] = []

    /// From the evaluation's items: those that count or are disputed on the as-of day go on
    /// counting until they expire or their dispute lapses, whichever comes first.
    init(items: [Explanation.Item], rules: Rules, asOf: CivilDate) {
        self.rules = rules
        asOfDay = asOf.daysSinceEpoch
        for item in items where item.standing == .counted || item.standing == .disputed {
            guard let kind = rules.index(of: item.record.kind), let contribution = item.contribution else { continue }
            var endsOn = contribution.expiresOn.daysSinceEpoch
            var lapses = false
            if let lapse = item.disputeLapsesOn?.daysSinceEpoch, lapse < endsOn {
                endsOn = lapse
                lapses = true
            }
            counted.append(Counted(kind: kind, at: item.record.at, amountFen: item.record.amountFen, id: item.record.id,
                                   endsOn: endsOn, lapses: lapses, disputed: item.standing == .disputed))
        }
    }

    /// The favourable and harmful totals on `day` (each after the kinds' caps, in micro-points),
    /// and whether a decision-grade record then supports the lowest tier.
    func on(_ day: Int) -> Day {
        let end = Rules.asOfEnd(CivilDate(daysSinceEpoch: day))
        var sums = [Int64](repeating: 0, count: rules.kinds.count)
        var supports = false
        for r in counted where day < r.endsOn {
            guard let micro = rules.countedMicro(kind: r.kind, at: r.at, amountFen: r.amountFen, asOfDay: day, asOfEnd: end) else { continue }
            sums[r.kind] += micro
            if rules.supportsLowest(kind: r.kind, micro: micro, disputed: r.disputed) { supports = true }
        }
        var d = Day(favourable: 0, harmful: 0, supportsLowest: supports)
        for k in sums.indices where sums[k] != 0 {
            let capped = rules.capped(sums[k], kind: k)
            if capped > 0 { d.favourable += capped } else { d.harmful -= capped }
        }
        return d
    }

    func tier(totalMicro: Int64, supportsLowest: Bool) -> Int {
        rules.tier(score: rules.score(totalMicro: totalMicro), supportsLowest: supportsLowest).index
    }

    func tier(_ d: Day) -> Int { tier(totalMicro: total(d), supportsLowest: d.supportsLowest) }
    func total(_ d: Day) -> Int64 { rules.total(cappedSum: d.favourable - d.harmful) }

    /// The tier changes after the as-of day, whose tier is `current`.
    mutating func changes(from current: Int) -> [Explanation.Change] {
        let events = Set(counted.map(\.endsOn)).sorted()
        guard let last = events.last else { return [] }
        var found: [Int] = []
        var scored: [Int: Day] = [:]
        func day(_ n: Int) -> Day {
            if let d = scored[n] { return d }
            let d = on(n)
            scored[n] = d
            return d
        }
        // Days lo < n <= hi, within one stretch between events, whose tier differs from the day before.
        func search(_ lo: Int, _ hi: Int) {
            guard found.count < Explanation.maximumChanges else { return }
            let a = day(lo), b = day(hi)
            if a.supportsLowest == b.supportsLowest {
                let low = tier(totalMicro: rules.total(cappedSum: b.favourable - a.harmful), supportsLowest: b.supportsLowest)
                let high = tier(totalMicro: rules.total(cappedSum: a.favourable - b.harmful), supportsLowest: b.supportsLowest)
                if low == high { return }
            }
            if hi == lo + 1 {
                if tier(a) != tier(b) { found.append(hi) }
                return
            }
            let mid = lo + (hi - lo) / 2
            search(lo, mid)
            search(mid, hi)
        }
        // Stretches of days with the same records counting: from the day after the as-of day to
        // the first event, from each event to the next, and the last event's day, after which
        // nothing counts any more and nothing changes.
        let starts = [asOfDay + 1] + events.filter { $0 > asOfDay + 1 }
        var previousTier = current
        for (i, start) in starts.enumerated() {
            let end = i + 1 < starts.count ? starts[i + 1] - 1 : start
            if tier(day(start)) != previousTier { found.append(start) }
            if end > start { search(start, end) }
            previousTier = tier(day(end))
        }
        return found.prefix(Explanation.maximumChanges).map { n in
            let d = day(n)
            let expiring = counted.filter { $0.endsOn == n && !$0.lapses }.map(\.id).sorted()
            let lapsing = counted.filter { $0.endsOn == n && $0.lapses }.map(\.id).sorted()
            let cause: Explanation.Change.Cause = !lapsing.isEmpty ? .disputeDeadline : (!expiring.isEmpty ? .expiry : .fading)
            return Explanation.Change(date: CivilDate(daysSinceEpoch: n), score: rules.score(totalMicro: total(d)), tier: rules.tiers[tier(d)].name,
                                      cause: cause, records: lapsing + expiring)
        }
    }
}
