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
        var points = rule.points
        if rule.hasPerYuan, let amountFen {
            let part = Double(amountFen) / 100 * rule.pointsPerYuan
            points += min(max(part, -rule.perYuanLimit), rule.perYuanLimit)
        }
        let ageDays = Double(asOfEnd - at.seconds) / 86_400
        let expiresOn = at.chinaDate.adding(days: rule.expireDays)
        let expired = asOf >= expiresOn
        let decay = Self.halfPower(ageDays / rule.halfLifeDays)
        let micro = expired ? 0 : Int64((points * decay * Double(microPerPoint)).rounded(.toNearestOrEven))
        return Contribution(points: points, ageDays: ageDays, decay: decay, micro: micro, expired: expired, expiresOn: expiresOn)
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

#if canImport(Glibc)
import Glibc
@inline(__always) func exp2Double(_ x: Double) -> Double { Glibc.exp2(x) }
#elseif canImport(Darwin)
import Darwin
@inline(__always) func exp2Double(_ x: Double) -> Double { Darwin.exp2(x) }
#endif
