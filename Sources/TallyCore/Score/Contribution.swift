import CTally

/// One record's worth on the as-of day, before the kind's cap.
///
/// Points are carried as integers in millionths of a point ("micro-points"): each record's
/// contribution is rounded once, half to even, and every later step adds integers, so the
/// same records in any order give the same sums to the last digit.
public struct Contribution: Equatable, Sendable {
    /// The record's points on its own day: the kind's points plus the per-yuan part.
    public var points: Double
    /// Days from the record to the end of the as-of day (China time).
    public var ageDays: Double
    /// 0.5^(age / half-life).
    public var decay: Double
    /// points × decay in micro-points, rounded half to even; 0 when expired.
    public var micro: Int64
    /// Whether the record is past its kind's expiry.
    public var expired: Bool
    /// The first day (China time) on which the record no longer counts.
    public var expiresOn: CivilDate
}

/// Micro-points per point.
public let microPerPoint: Int64 = 1_000_000

extension Rules {
    /// The end of `asOf` (midnight after it, China time), in seconds: records before it count.
    public static func asOfEnd(_ asOf: CivilDate) -> Int64 {
        Timestamp(chinaMidnightOf: asOf.adding(days: 1)).seconds
    }

    /// What a record of kind number `kind` at `at`, with `amountFen`, is worth on `asOf`
    /// (measured to `asOfEnd`, the end of that day). The record must be before `asOfEnd`.
    /// A record counts on the days before `expiresOn` = its China date + `expire_days`.
    @inline(__always)
    public func contribution(kind: Int, at: Timestamp, amountFen: Int64?, asOf: CivilDate, asOfEnd: Int64) -> Contribution {
        let rule = numbers[kind]
        let points = Self.recordPoints(rule, amountFen: amountFen)
        let ageDays = Double(asOfEnd - at.seconds) / 86_400
        let expiresDay = at.chinaDay + rule.expireDays
        let expired = asOf.daysSinceEpoch >= expiresDay
        let decay = Self.halfPower(ageDays / rule.halfLifeDays)
        let micro = expired ? 0 : Self.micro(points, decay)
        return Contribution(points: points, ageDays: ageDays, decay: decay, micro: micro, expired: expired,
                            expiresOn: CivilDate(daysSinceEpoch: expiresDay))
    }

    /// `contribution(…).micro`, or nil when the record has expired, computed the same way but
    /// without what only explanations need (calendar dates; the power of a record that no longer
    /// counts): tally-score's per-record path, where the dates were 4% of the time (perf).
    /// `asOfDay` is `asOf.daysSinceEpoch`.
    @inline(__always)
    public func countedMicro(kind: Int, at: Timestamp, amountFen: Int64?, asOfDay: Int, asOfEnd: Int64) -> Int64? {
        let rule = numbers[kind]
        guard asOfDay < at.chinaDay + rule.expireDays else { return nil }
        let ageDays = Double(asOfEnd - at.seconds) / 86_400
        return Self.micro(Self.recordPoints(rule, amountFen: amountFen), Self.halfPower(ageDays / rule.halfLifeDays))
    }

    /// The record's points on its own day: the kind's points plus the per-yuan part.
    @inline(__always)
    static func recordPoints(_ rule: KindNumbers, amountFen: Int64?) -> Double {
        var points = rule.points
        if rule.hasPerYuan, let amountFen {
            let part = Double(amountFen) / 100 * rule.pointsPerYuan
            points += min(max(part, -rule.perYuanLimit), rule.perYuanLimit)
        }
        return points
    }

    /// points × decay in micro-points, rounded half to even.
    @inline(__always)
    static func micro(_ points: Double, _ decay: Double) -> Int64 {
        Int64((points * decay * Double(microPerPoint)).rounded(.toNearestOrEven))
    }

    /// 0.5^x. The result is rounded to micro-points at once, so only a libm that differs in the
    /// last bits of exp2 right at a rounding boundary could change a contribution.
    @inline(__always)
    static func halfPower(_ x: Double) -> Double { exp2Double(-x) }

    /// The kind's sum after its cap (a magnitude), in micro-points.
    @inline(__always)
    public func capped(_ sum: Int64, kind: Int) -> Int64 {
        let cap = numbers[kind].capMicro
        return min(max(sum, -cap), cap)
    }

    /// The score for a total in micro-points: rounded half to even once, then clamped.
    public func score(totalMicro: Int64) -> Int {
        min(max(Self.points(totalMicro), minimum), maximum)
    }

    /// Micro-points rounded half to even to whole points.
    public static func points(_ micro: Int64) -> Int {
        let q = micro.floorDiv(microPerPoint)
        let r = micro - q * microPerPoint
        if r * 2 > microPerPoint || (r * 2 == microPerPoint && q % 2 != 0) { return Int(q + 1) }
        return Int(q)
    }
}

@inline(__always) func exp2Double(_ x: Double) -> Double { tally_exp2(x) }
