/// A scoring rules file, checked: what each event kind is worth, how fast it fades, when it
/// expires, how much of it one person can accumulate, and what the tiers mean.
///
/// Written in YAML (see `pipelines/rules/default.yaml`, which comments every number) and loaded
/// by `Rules.load(yaml:sha256:knownKinds:)`, which names the line of every fault.
public struct Rules: Sendable {
    /// How one event kind is scored.
    public struct KindRule: Sendable, Equatable {
        /// `SOURCE.EVENT`.
        public var kind: String
        /// Points each record is worth on its day (negative for a bad mark).
        public var points: Double
        /// Points per yuan of the record's amount, added to `points` (same sign), if any.
        public var pointsPerYuan: Double?
        /// The largest magnitude the per-yuan part may reach for one record.
        public var perYuanLimit: Double?
        /// Days after which a record counts half as much.
        public var halfLifeDays: Double
        /// Days after which a record no longer counts at all.
        public var expireDays: Int
        /// The largest magnitude the kind's sum may reach for one person.
        public var cap: Double
    }

    /// One tier: a range of scores, inclusive, and what it means for the person.
    public struct Tier: Sendable, Equatable {
        public var name: String
        public var from: Int
        public var to: Int
        public var means: String
        /// What the tier means, in Chinese, for the people scored (`means_zh`; optional).
        public var meansZh: String? = nil
    }

    /// A kind's numbers only, for the per-record arithmetic: reading them copies no `String`
    /// (a `KindRule` copy retains its name, which perf showed on every record).
    public struct KindNumbers: Sendable {
        public var points: Double
        public var pointsPerYuan: Double
        public var perYuanLimit: Double
        public var hasPerYuan: Bool
        public var halfLifeDays: Double
        public var expireDays: Int
        /// The cap in micro-points.
        public var capMicro: Int64
        /// Whether a record of this kind is decision-grade: counted, harmful and not under
        /// dispute, it allows the lowest tier.
        public var decisionGrade: Bool
    }

    public let base: Int
    public let minimum: Int
    public let maximum: Int
    /// Kinds by name, sorted; a kind's index here is its number in the scoring engine.
    public let kinds: [KindRule]
    /// `kinds`' numbers, index for index.
    public let numbers: [KindNumbers]
    /// Tiers from the lowest scores to the highest, contiguous, covering minimum...maximum.
    public let tiers: [Tier]
    /// The kinds whose records are decision-grade (a court's listing or restriction order, a tax
    /// bureau's evasion assessment), sorted: only such a record, counted, harmful and not under
    /// open dispute, can put a person in the lowest tier.
    public let decisionGrade: [String]
    /// Days the source has to decide on a dispute: one left open longer stops its record
    /// counting until the source upholds it.
    public let disputeDeadlineDays: Int
    /// The lowest and the highest score any conduct can reach: the base with every harmful
    /// kind, or every favourable one, at its cap, rounded and clamped to minimum...maximum.
    public var reachable: ClosedRange<Int> {
        let harm = kinds.filter { $0.points < 0 || ($0.pointsPerYuan ?? 0) < 0 }.reduce(Int64(0)) { $0 + Self.capMicro($1.cap) }
        let good = kinds.filter { $0.points > 0 || ($0.pointsPerYuan ?? 0) > 0 }.reduce(Int64(0)) { $0 + Self.capMicro($1.cap) }
        return score(totalMicro: total(cappedSum: -harm))...score(totalMicro: total(cappedSum: good))
    }
    /// `sha256:` and the hex SHA-256 of the file's bytes.
    public let digest: String

    /// The default `disputeDeadlineDays`: the 30 days a US credit bureau has to verify a
    /// disputed item or delete it.
    public static let defaultDisputeDeadlineDays = 30

    public init(base: Int, minimum: Int, maximum: Int, kinds: [KindRule], tiers: [Tier], decisionGrade: [String],
                disputeDeadlineDays: Int = Rules.defaultDisputeDeadlineDays, digest: String) {
        self.base = base
        self.minimum = minimum
        self.maximum = maximum
        self.kinds = kinds
        self.tiers = tiers
        self.decisionGrade = decisionGrade.sorted()
        self.disputeDeadlineDays = disputeDeadlineDays
        self.digest = digest
        numbers = kinds.map {
            KindNumbers(points: $0.points, pointsPerYuan: $0.pointsPerYuan ?? 0, perYuanLimit: $0.perYuanLimit ?? 0, hasPerYuan: $0.pointsPerYuan != nil,
                        halfLifeDays: $0.halfLifeDays, expireDays: $0.expireDays, capMicro: Self.capMicro($0.cap),
                        decisionGrade: decisionGrade.contains($0.kind))
        }
    }

    /// The most points one record may be worth either way (points plus the per-yuan limit), and
    /// the largest cap, so that a record's part and a kind's capped sum fit in 32 bits of
    /// micro-points (the scorer keeps them so).
    public static let maximumPoints = 2_000.0

    /// Where score.base, min and max may lie: far beyond any scale in use, and small enough that
    /// no sum of capped kinds in micro-points comes near 64 bits.
    public static let scoreRange = -1_000_000...1_000_000
    /// Half-lives from about a quarter of an hour to a century.
    public static let halfLifeRange = 0.01...36_500.0
    /// Expiries from a day to a century (a record's expiry day must be a calendar day).
    public static let expireRange = 1...36_500

    /// A cap in micro-points.
    static func capMicro(_ cap: Double) -> Int64 { Int64((cap * Double(microPerPoint)).rounded(.toNearestOrEven)) }

    /// Dispute deadlines from a day to ten years.
    public static let disputeDeadlineRange = 1...3650

    /// The index of `kind` in `kinds`, or nil when the rules do not score it.
    public func index(of kind: String) -> Int? {
        var lo = 0, hi = kinds.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if kinds[mid].kind < kind { lo = mid + 1 } else { hi = mid }
        }
        return lo < kinds.count && kinds[lo].kind == kind ? lo : nil
    }

    /// The tier a score falls in, by its range alone.
    public func tierIndex(for score: Int) -> Int {
        tiers.firstIndex { score >= $0.from && score <= $0.to } ?? 0
    }

    // The lowest-tier rule, stated once for the scorer, the explanation and the forecast: a
    // score in the lowest tier's range puts a person there only when a counted record of a
    // decision-grade kind harms them and is not under open dispute; otherwise they stand in the
    // tier above.

    /// Whether a counted record (its part `micro` on the day scored) supports the lowest tier.
    @inline(__always)
    public func supportsLowest(kind: Int, micro: Int64, disputed: Bool) -> Bool {
        micro < 0 && !disputed && numbers[kind].decisionGrade
    }

    /// A person's tier from their score, and whether the lowest-tier rule lifted them out of the
    /// lowest tier, whose range the score lies in.
    @inline(__always)
    public func tier(score: Int, supportsLowest: Bool) -> (index: Int, lifted: Bool) {
        let t = tierIndex(for: score)
        return t == 0 && !supportsLowest ? (1, true) : (t, false)
    }

    /// The total of a person's kinds, each already capped, in micro-points: the base and the sum.
    @inline(__always)
    public func total(cappedSum: Int64) -> Int64 { Int64(base) * microPerPoint + cappedSum }
}

/// A fault in a rules file, with the line it is on.
public struct RulesError: Error, CustomStringConvertible, Equatable {
    public var line: Int
    public var message: String
    public init(line: Int, _ message: String) {
        self.line = line
        self.message = message
    }
    public var description: String { line > 0 ? "line \(line): \(message)" : message }
}
