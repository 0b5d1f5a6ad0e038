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
    }

    /// One scored kind: its sum, its cap, and what it adds.
    public struct KindTotal: Sendable {
        public var kind: String
        public var sumMicro: Int64
        public var capMicro: Int64
        public var cappedMicro: Int64
    }

    /// A coming day on which a record expires, and the score from that day.
    public struct Change: Sendable {
        public var date: CivilDate
        public var recordID: String
        public var kind: String
        public var score: Int
        public var tier: String
    }

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
    /// The next expiries (up to ten), each with the score from that day.
    public var changes: [Change]
    /// The first coming day on which the tier changes through an expiry, if any.
    public var nextTierChange: Change?

    /// Explains `records` (all of one person's, any order) under `rules` on `asOf`.
    ///
    /// - Parameter naturalKeys: per source, the attribute names whose values, joined by `|`,
    ///   make the natural key (from the feed declarations).
    public static func make(person: String, records: [Record], corrections: CorrectionBook, sources: inout SourceNames,
                            rules: Rules, asOf: CivilDate, naturalKeys: [String: [String]]) -> Explanation {
        let result = evaluate(records: records, corrections: corrections, sources: &sources, rules: rules, asOf: asOf, naturalKeys: naturalKeys)
        // What the coming expiries do: the score on each day a counted record stops counting.
        var upcoming: [(date: CivilDate, item: Item)] = []
        for item in result.items where item.standing == .counted || item.standing == .disputed {
            if let c = item.contribution { upcoming.append((c.expiresOn, item)) }
        }
        upcoming.sort { $0.date != $1.date ? $0.date < $1.date : $0.item.record.id < $1.item.record.id }
        var changes: [Change] = []
        for (date, item) in upcoming.prefix(10) {
            let later = evaluate(records: records, corrections: corrections, sources: &sources, rules: rules, asOf: date, naturalKeys: naturalKeys)
            changes.append(Change(date: date, recordID: item.record.id, kind: item.record.kind, score: later.score, tier: later.tier.name))
        }
        let explanation = Explanation(person: person, asOf: asOf, rules: rules.digest, base: rules.base, totalMicro: result.total,
                                      score: result.score, tier: result.tier, liftedFromLowest: result.lifted, kinds: result.kinds,
                                      items: result.items, changes: changes, nextTierChange: changes.first { $0.tier != result.tier.name })
        return explanation
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
                            naturalKey: naturalKeys[record.source].flatMap { names in
                                let values = names.compactMap { record.attrs[$0] }
                                return values.count == names.count ? values.joined(separator: "|") : nil
                            })
            if let key, let d = corrections.decision(key) { item.decision = (d.action.rawValue, d.at, d.id) }
            let standing = key.map(corrections.standing) ?? .normal
            if standing == .retracted {
                item.standing = .retracted
                if let kind = rules.index(of: record.kind) {
                    item.contribution = rules.contribution(kind: kind, at: record.at, amountFen: record.amountFen, asOf: asOf, asOfEnd: asOfEnd)
                }
            } else if let kind = rules.index(of: record.kind) {
                let c = rules.contribution(kind: kind, at: record.at, amountFen: record.amountFen, asOf: asOf, asOfEnd: asOfEnd)
                item.contribution = c
                if c.expired {
                    item.standing = .expired
                } else {
                    item.standing = standing == .disputed ? .disputed : .counted
                    byKind[kind, default: []].append(items.count)
                    if c.micro < 0 && standing != .disputed && rules.decisionGrade.contains(record.source) { canReachLowest = true }
                }
            }
            items.append(item)
        }
        var total = Int64(rules.base) * microPerPoint
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
            total += capped
        }
        let score = rules.score(totalMicro: total)
        var tier = rules.tierIndex(for: score)
        let lifted = tier == 0 && !canReachLowest
        if lifted { tier = 1 }
        let rank: [Item.Standing: Int] = [.counted: 0, .disputed: 0, .retracted: 1, .expired: 2, .unscored: 3]
        items.sort { a, b in
            if rank[a.standing]! != rank[b.standing]! { return rank[a.standing]! < rank[b.standing]! }
            if a.allocatedMicro != b.allocatedMicro { return a.allocatedMicro < b.allocatedMicro }
            return a.record.id < b.record.id
        }
        return Evaluation(items: items, kinds: kinds, total: total, score: score, tier: rules.tiers[tier], lifted: lifted)
    }
}
