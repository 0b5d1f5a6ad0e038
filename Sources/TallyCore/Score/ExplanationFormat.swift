/// Writes explanations for people (text) and for machines (one JSON object a line).
public enum ExplanationFormat {
    /// Micro-points as a decimal with six places.
    static func decimal(_ micro: Int64) -> String { scaled(micro, places: 6) }

    /// `v` rounded half to even to `places` decimals.
    static func fixed(_ v: Double, _ places: Int) -> String {
        var scale = 1.0
        for _ in 0..<places { scale *= 10 }
        return scaled(Int64((v * scale).rounded(.toNearestOrEven)), places: places)
    }

    /// An integer count of 10^-places units, written as a decimal with `places` decimals.
    public static func scaled(_ units: Int64, places: Int) -> String {
        let sign = units < 0 ? "-" : ""
        let m = units.magnitude
        guard places > 0 else { return sign + String(m) }
        var p: UInt64 = 1
        for _ in 0..<places { p *= 10 }
        let frac = String(m % p)
        return sign + String(m / p) + "." + String(repeating: "0", count: places - frac.count) + frac
    }

    public static func text(_ e: Explanation, rules: Rules) -> String {
        var t = "Person \(e.person): score \(e.score), tier \(e.tier.name), as of \(e.asOf) (rules \(e.rules))\n"
        t += "What the tier means: \(e.tier.means)\n"
        if e.liftedFromLowest {
            t += "The score lies in the lowest tier's range, but no counted, undisputed decision-grade record (\(rules.decisionGrade.joined(separator: ", "))) supports it, so the next tier applies.\n"
        }
        t += "\nHow the score is made (points):\n"
        t += "  base score                                           \(e.base)\n"
        for k in e.kinds.sorted(by: { $0.cappedMicro < $1.cappedMicro }) {
            let capNote = k.sumMicro == k.cappedMicro ? "" : " (sum \(decimal(k.sumMicro)), capped at \(decimal(k.capMicro)))"
            t += "  \(k.kind)\(capNote): \(decimal(k.cappedMicro))\n"
            for item in e.items where item.record.kind == k.kind && (item.standing == .counted || item.standing == .disputed) {
                let c = item.contribution!
                let rule = rules.kinds[rules.index(of: item.record.kind)!]
                t += "    \(item.record.id)  \(item.record.at.chinaDate)  \(item.record.prov.file):\(item.record.prov.line)\(item.standing == .disputed ? "  [under dispute]" : "")\n"
                t += "      \(fixed(c.points, 2)) points × \(fixed(c.decay, 4)) (age \(fixed(c.ageDays, 1)) days, half-life \(fixed(rule.halfLifeDays, 0))) = \(decimal(c.micro))"
                if item.allocatedMicro != c.micro { t += ", \(decimal(item.allocatedMicro)) after the cap" }
                t += "; counts until \(c.expiresOn.adding(days: -1))\n"
            }
        }
        t += "  total \(decimal(e.totalMicro)) → rounded half to even and clamped to \(rules.minimum)–\(rules.maximum): \(e.score)\n"
        let others: [(Explanation.Item.Standing, String)] = [
            (.lapsed, "Disputed, and the source did not decide within \(rules.disputeDeadlineDays) days (not counted until it decides)"),
            (.retracted, "Retracted (not counted)"), (.expired, "Expired (no longer counted)"), (.unscored, "Read but not scored by these rules")]
        func corrections(_ item: Explanation.Item) -> String {
            item.corrections.isEmpty ? "" : "  (" + item.corrections.map { "\($0.action) \($0.at.chinaDate)" }.joined(separator: ", ") + ")"
        }
        for (standing, title) in others {
            let items = e.items.filter { $0.standing == standing }
            guard !items.isEmpty else { continue }
            t += "\n\(title):\n"
            for item in items {
                t += "  \(item.record.id)  \(item.record.kind)  \(item.record.at.chinaDate)  \(item.record.prov.file):\(item.record.prov.line)\(corrections(item))\n"
            }
        }
        let disputed = e.items.filter { $0.standing == .disputed }
        if !disputed.isEmpty {
            t += "\nUnder open dispute (still counted, but none of them can by itself put you in the lowest tier):\n"
            for item in disputed {
                t += "  \(item.record.id)  \(item.record.kind)\(corrections(item))"
                if let lapse = item.disputeLapsesOn { t += "; if the source has not decided by \(lapse.adding(days: -1)), it stops counting from \(lapse)" }
                t += "\n"
            }
        }
        t += "\nWhen the tier changes, if no new record or decision arrives (records fade day by day, expire, and disputes pass their deadline):\n"
        if e.changes.isEmpty { t += "  never: the tier stays \(e.tier.name) until the last record expires\n" }
        for c in e.changes {
            let why: String
            switch c.cause {
            case .fading: why = "as the records fade"
            case .expiry: why = "when \(c.records.joined(separator: ", ")) no longer count\(c.records.count == 1 ? "s" : "")"
            case .disputeDeadline: why = "when the dispute of \(c.records.joined(separator: ", ")) passes its deadline"
            }
            t += "  from \(c.date), \(why): score \(c.score), tier \(c.tier)\n"
        }
        t += "\nHow to contest a record: file a dispute with its source, quoting the source and natural key:\n"
        let contestable = e.items.filter { $0.standing == .counted || $0.standing == .disputed }.filter { $0.allocatedMicro < 0 }
        if contestable.isEmpty { t += "  nothing counts against this person\n" }
        for item in contestable {
            t += "  \(item.record.id): source \(item.record.source), natural key \"\(item.naturalKey ?? "(not carried in the record; quote the id)")\"\n"
        }
        return t
    }

    public static func json(_ e: Explanation, rules: Rules, into b: ByteBuffer) {
        b.append("{\"v\":1,\"person\":"); b.appendJSONString(e.person)
        b.append(",\"as_of\":\""); b.appendDate(e.asOf)
        b.append("\",\"rules\":"); b.appendJSONString(e.rules)
        b.append(",\"score\":"); b.appendDecimal(Int64(e.score))
        b.append(",\"tier\":"); b.appendJSONString(e.tier.name)
        b.append(",\"means\":"); b.appendJSONString(e.tier.means)
        b.append(",\"lifted_from_lowest\":"); b.append(e.liftedFromLowest ? "true" : "false")
        b.append(",\"base\":"); b.appendDecimal(Int64(e.base))
        b.append(",\"total\":"); b.append(decimal(e.totalMicro))
        b.append(",\"kinds\":[")
        for (i, k) in e.kinds.enumerated() {
            if i > 0 { b.append(",") }
            b.append("{\"kind\":"); b.appendJSONString(k.kind)
            b.append(",\"sum\":"); b.append(decimal(k.sumMicro))
            b.append(",\"cap\":"); b.append(decimal(k.capMicro))
            b.append(",\"points\":"); b.append(decimal(k.cappedMicro)); b.append("}")
        }
        b.append("],\"records\":[")
        for (i, item) in e.items.enumerated() {
            if i > 0 { b.append(",") }
            let r = item.record
            b.append("{\"id\":"); b.appendJSONString(r.id)
            b.append(",\"kind\":"); b.appendJSONString(r.kind)
            b.append(",\"at\":\""); b.appendTimestamp(r.at)
            b.append("\",\"standing\":\""); b.append(item.standing.rawValue)
            b.append("\",\"file\":"); b.appendJSONString(r.prov.file)
            b.append(",\"line\":"); b.appendDecimal(Int64(r.prov.line))
            if let c = item.contribution {
                b.append(",\"points\":"); b.append(fixed(c.points, 6))
                b.append(",\"age_days\":"); b.append(fixed(c.ageDays, 6))
                b.append(",\"decay\":"); b.append(fixed(c.decay, 9))
                b.append(",\"contribution\":"); b.append(decimal(c.micro))
                b.append(",\"after_cap\":"); b.append(decimal(item.allocatedMicro))
                b.append(",\"expires_on\":\""); b.appendDate(c.expiresOn); b.append("\"")
            }
            if let key = item.naturalKey { b.append(",\"natural_key\":"); b.appendJSONString(key) }
            if let d = item.decision {
                b.append(",\"decision\":{\"action\":"); b.appendJSONString(d.action)
                b.append(",\"at\":\""); b.appendTimestamp(d.at)
                b.append("\",\"id\":"); b.appendJSONString(d.id); b.append("}")
                b.append(",\"corrections\":[")
                for (k, c) in item.corrections.enumerated() {
                    if k > 0 { b.append(",") }
                    b.append("{\"action\":"); b.appendJSONString(c.action)
                    b.append(",\"at\":\""); b.appendTimestamp(c.at)
                    b.append("\",\"id\":"); b.appendJSONString(c.id); b.append("}")
                }
                b.append("]")
            }
            if let lapse = item.disputeLapsesOn { b.append(",\"dispute_lapses_on\":\""); b.appendDate(lapse); b.append("\"") }
            b.append("}")
        }
        b.append("],\"changes\":[")
        func change(_ c: Explanation.Change) {
            b.append("{\"date\":\""); b.appendDate(c.date)
            b.append("\",\"score\":"); b.appendDecimal(Int64(c.score))
            b.append(",\"tier\":"); b.appendJSONString(c.tier)
            b.append(",\"because\":\""); b.append(c.cause.rawValue)
            b.append("\",\"records\":"); b.appendJSONStringArray(c.records); b.append("}")
        }
        for (i, c) in e.changes.enumerated() {
            if i > 0 { b.append(",") }
            change(c)
        }
        b.append("],\"next_tier_change\":")
        if let n = e.nextTierChange { change(n) } else { b.append("null") }
        b.append("}\n")
    }
}
