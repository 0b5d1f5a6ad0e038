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
        var o = JSONObjectWriter(into: b)
        o.member("v", 1)
        o.member("person", e.person)
        o.member("as_of", e.asOf)
        o.member("rules", e.rules)
        o.member("score", e.score)
        o.member("tier", e.tier.name)
        o.member("means", e.tier.means)
        o.member("lifted_from_lowest", e.liftedFromLowest)
        o.member("base", e.base)
        o.member("total", number: decimal(e.totalMicro))
        o.objects("kinds", e.kinds) { o, k in
            o.member("kind", k.kind)
            o.member("sum", number: decimal(k.sumMicro))
            o.member("cap", number: decimal(k.capMicro))
            o.member("points", number: decimal(k.cappedMicro))
        }
        o.objects("records", e.items) { o, item in
            let r = item.record
            o.member("id", r.id)
            o.member("kind", r.kind)
            o.member("at", r.at)
            o.member("standing", item.standing.rawValue)
            o.member("file", r.prov.file)
            o.member("line", r.prov.line)
            if let c = item.contribution {
                o.member("points", number: fixed(c.points, 6))
                o.member("age_days", number: fixed(c.ageDays, 6))
                o.member("decay", number: fixed(c.decay, 9))
                o.member("contribution", number: decimal(c.micro))
                o.member("after_cap", number: decimal(item.allocatedMicro))
                o.member("expires_on", c.expiresOn)
            }
            if let key = item.naturalKey { o.member("natural_key", key) }
            if let d = item.decision {
                o.object("decision") { o in
                    o.member("action", d.action)
                    o.member("at", d.at)
                    o.member("id", d.id)
                }
                o.objects("corrections", item.corrections) { o, c in
                    o.member("action", c.action)
                    o.member("at", c.at)
                    o.member("id", c.id)
                }
            }
            if let lapse = item.disputeLapsesOn { o.member("dispute_lapses_on", lapse) }
        }
        func change(_ o: inout JSONObjectWriter, _ c: Explanation.Change) {
            o.member("date", c.date)
            o.member("score", c.score)
            o.member("tier", c.tier)
            o.member("because", c.cause.rawValue)
            o.member("records", c.records)
        }
        o.objects("changes", e.changes, change)
        if let n = e.nextTierChange { o.object("next_tier_change") { change(&$0, n) } } else { o.null("next_tier_change") }
        o.end()
        b.append(UInt8(ascii: "\n"))
    }
}
