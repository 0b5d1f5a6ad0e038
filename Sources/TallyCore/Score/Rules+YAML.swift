import Yams

extension Rules {
    /// Parses and checks a rules file.
    ///
    /// - Parameters:
    ///   - knownKinds: the event kinds the feed declarations can produce; a rule for any other
    ///     kind is a fault (a typo would otherwise silently score nothing).
    public static func load(yaml: String, digest: String, knownKinds: Set<String>) throws(RulesError) -> Rules {
        let root: Node
        do {
            guard let node = try Yams.compose(yaml: yaml) else { throw RulesError(line: 1, "the rules file is empty") }
            root = node
        } catch let error as RulesError {
            throw error
        } catch let error as YamlError {
            throw RulesError(line: Self.line(of: error), "not valid YAML: \(error)")
        } catch {
            throw RulesError(line: 0, "not valid YAML: \(error)")
        }
        var reader = RulesReader()
        return try reader.rules(root, digest: digest, knownKinds: knownKinds)
    }

    static func line(of error: YamlError) -> Int {
        switch error {
        case .scanner(_, _, let mark, _), .parser(_, _, let mark, _), .composer(_, _, let mark, _): return mark.line
        default: return 0
        }
    }
}

/// Walks the YAML tree, refusing unknown keys and naming the line of every fault.
struct RulesReader {
    func line(_ node: Node) -> Int { node.mark?.line ?? 0 }

    func mapping(_ node: Node, _ what: String, allowed: Set<String>, required: Set<String>) throws(RulesError) -> [String: Node] {
        guard case .mapping(let m) = node else { throw RulesError(line: line(node), "\(what) must be a mapping") }
        var out: [String: Node] = [:]
        for (k, v) in m {
            guard let key = k.string else { throw RulesError(line: line(k), "\(what): keys must be strings") }
            guard allowed.contains(key) else {
                throw RulesError(line: line(k), "\(what): unknown key \"\(key)\" (allowed: \(allowed.sorted().joined(separator: ", ")))")
            }
            guard out[key] == nil else { throw RulesError(line: line(k), "\(what): \"\(key)\" appears twice") }
            out[key] = v
        }
        for key in required.sorted() where out[key] == nil {
            throw RulesError(line: line(node), "\(what): \"\(key)\" is required")
        }
        return out
    }

    func number(_ node: Node, _ what: String) throws(RulesError) -> Double {
        guard case .scalar(let s) = node, s.style == .plain, let v = Double(s.string), v.isFinite else {
            throw RulesError(line: line(node), "\(what) must be a number")
        }
        return v
    }

    func integer(_ node: Node, _ what: String) throws(RulesError) -> Int {
        guard case .scalar(let s) = node, s.style == .plain, let v = Int(s.string) else {
            throw RulesError(line: line(node), "\(what) must be a whole number")
        }
        return v
    }

    /// `number`, within `range` (every number the scorer computes with has one, so that no
    /// value, however large, reaches an arithmetic trap).
    func number(_ node: Node, _ what: String, in range: ClosedRange<Double>) throws(RulesError) -> Double {
        let v = try number(node, what)
        guard range.contains(v) else { throw RulesError(line: line(node), "\(what) must lie between \(Self.plain(range.lowerBound)) and \(Self.plain(range.upperBound)), not \(Self.plain(v))") }
        return v
    }

    /// `integer`, within `range`; a whole number too large for 64 bits is out of range too.
    func integer(_ node: Node, _ what: String, in range: ClosedRange<Int>) throws(RulesError) -> Int {
        if case .scalar(let s) = node, s.style == .plain, Int(s.string) == nil, let d = Double(s.string), d.rounded() == d {
            throw RulesError(line: line(node), "\(what) must lie between \(range.lowerBound) and \(range.upperBound), not \(s.string)")
        }
        let v = try integer(node, what)
        guard range.contains(v) else { throw RulesError(line: line(node), "\(what) must lie between \(range.lowerBound) and \(range.upperBound), not \(v)") }
        return v
    }

    static func plain(_ v: Double) -> String { v == v.rounded() && abs(v) < 1e15 ? String(Int64(v)) : String(v) }

    func text(_ node: Node, _ what: String) throws(RulesError) -> String {
        guard case .scalar(let s) = node, !s.string.isEmpty else { throw RulesError(line: line(node), "\(what) must be text") }
        return s.string
    }

    mutating func rules(_ root: Node, digest: String, knownKinds: Set<String>) throws(RulesError) -> Rules {
        let top = try mapping(root, "the rules", allowed: ["tally_rules", "score", "lowest_tier", "dispute_deadline_days", "kinds", "tiers"],
                              required: ["tally_rules", "score", "lowest_tier", "kinds", "tiers"])
        guard try integer(top["tally_rules"]!, "tally_rules") == 1 else {
            throw RulesError(line: line(top["tally_rules"]!), "tally_rules: this tally reads version 1")
        }
        let score = try mapping(top["score"]!, "score", allowed: ["base", "min", "max"], required: ["base", "min", "max"])
        let base = try integer(score["base"]!, "score.base", in: Rules.scoreRange), minimum = try integer(score["min"]!, "score.min", in: Rules.scoreRange)
        let maximum = try integer(score["max"]!, "score.max", in: Rules.scoreRange)
        guard minimum < maximum else { throw RulesError(line: line(score["max"]!), "score.max must be above score.min") }
        guard base >= minimum && base <= maximum else { throw RulesError(line: line(score["base"]!), "score.base must lie between min and max") }

        guard case .mapping(let kindMap) = top["kinds"]! else { throw RulesError(line: line(top["kinds"]!), "kinds must be a mapping of kind to rule") }
        var kinds: [Rules.KindRule] = []
        for (k, v) in kindMap {
            let name = try text(k, "a kind")
            guard knownKinds.contains(name) else {
                throw RulesError(line: line(k), "unknown kind \"\(name)\": no feed declares it (known: \(knownKinds.sorted().joined(separator: ", ")))")
            }
            guard !kinds.contains(where: { $0.kind == name }) else { throw RulesError(line: line(k), "kind \"\(name)\" appears twice") }
            let r = try mapping(v, name, allowed: ["points", "half_life_days", "expire_days", "cap", "per_yuan", "per_yuan_limit"],
                                required: ["points", "half_life_days", "expire_days", "cap"])
            let halfLife = try number(r["half_life_days"]!, "\(name).half_life_days", in: Rules.halfLifeRange)
            let expire = try integer(r["expire_days"]!, "\(name).expire_days", in: Rules.expireRange)
            let cap = try number(r["cap"]!, "\(name).cap")
            guard cap >= 0 else { throw RulesError(line: line(r["cap"]!), "\(name).cap is a magnitude and must not be negative") }
            guard cap <= Rules.maximumPoints else { throw RulesError(line: line(r["cap"]!), "\(name).cap may be at most \(Int(Rules.maximumPoints)) points") }
            var rule = Rules.KindRule(kind: name, points: try number(r["points"]!, "\(name).points", in: -Rules.maximumPoints...Rules.maximumPoints),
                                      halfLifeDays: halfLife, expireDays: expire, cap: cap)
            if let perYuan = r["per_yuan"] {
                rule.pointsPerYuan = try number(perYuan, "\(name).per_yuan", in: -Rules.maximumPoints...Rules.maximumPoints)
                guard let limit = r["per_yuan_limit"] else { throw RulesError(line: line(perYuan), "\(name).per_yuan needs per_yuan_limit") }
                rule.perYuanLimit = try number(limit, "\(name).per_yuan_limit")
                guard rule.perYuanLimit! >= 0 else { throw RulesError(line: line(limit), "\(name).per_yuan_limit is a magnitude and must not be negative") }
                rule.perYuanLimit = try number(limit, "\(name).per_yuan_limit", in: 0...Rules.maximumPoints)
                guard rule.points == 0 || (rule.points < 0) == (rule.pointsPerYuan! < 0) else {
                    throw RulesError(line: line(perYuan), "\(name).per_yuan must have the same sign as points")
                }
            } else if let limit = r["per_yuan_limit"] {
                throw RulesError(line: line(limit), "\(name).per_yuan_limit without per_yuan")
            }
            guard abs(rule.points) + (rule.perYuanLimit ?? 0) <= Rules.maximumPoints else {
                throw RulesError(line: line(k), "\(name): one record may be worth at most \(Int(Rules.maximumPoints)) points (points plus per_yuan_limit)")
            }
            kinds.append(rule)
        }
        kinds.sort { $0.kind < $1.kind }

        let lowest = try mapping(top["lowest_tier"]!, "lowest_tier", allowed: ["decision_grade", "requires_decision_grade"], required: [])
        if let old = lowest["requires_decision_grade"] {
            throw RulesError(line: line(old), "lowest_tier.requires_decision_grade named sources, which let any harmful record of a source blacklist: name the decision-grade kinds in lowest_tier.decision_grade instead")
        }
        guard let gradeNode = lowest["decision_grade"] else { throw RulesError(line: line(top["lowest_tier"]!), "lowest_tier: \"decision_grade\" is required") }
        guard case .sequence(let gradeKinds) = gradeNode else {
            throw RulesError(line: line(gradeNode), "lowest_tier.decision_grade must be a list of kinds")
        }
        var decisionGrade: [String] = []
        for node in gradeKinds {
            let name = try text(node, "a decision-grade kind")
            guard let rule = kinds.first(where: { $0.kind == name }) else {
                let hint = name.contains(".") ? "" : ": name kinds, not a source, so that a minor event of a source never blacklists"
                throw RulesError(line: line(node), "decision-grade kind \"\(name)\" is not one of the kinds these rules score\(hint) (scored: \(kinds.map(\.kind).joined(separator: ", ")))")
            }
            guard rule.points < 0 || (rule.pointsPerYuan ?? 0) < 0 else {
                throw RulesError(line: line(node), "decision-grade kind \"\(name)\" is not harmful (its points are not negative): it cannot support the lowest tier")
            }
            guard !decisionGrade.contains(name) else { throw RulesError(line: line(node), "decision-grade kind \"\(name)\" appears twice") }
            decisionGrade.append(name)
        }
        guard !decisionGrade.isEmpty else { throw RulesError(line: line(gradeNode), "name at least one decision-grade kind") }
        var deadline = Rules.defaultDisputeDeadlineDays
        if let node = top["dispute_deadline_days"] {
            deadline = try integer(node, "dispute_deadline_days", in: Rules.disputeDeadlineRange)
        }

        guard case .sequence(let tierNodes) = top["tiers"]!, !tierNodes.isEmpty else {
            throw RulesError(line: line(top["tiers"]!), "tiers must be a list, lowest scores first")
        }
        var tiers: [Rules.Tier] = []
        for node in tierNodes {
            let t = try mapping(node, "a tier", allowed: ["name", "from", "to", "means", "means_zh"], required: ["name", "from", "to", "means"])
            var tier = Rules.Tier(name: try text(t["name"]!, "tier name"), from: try integer(t["from"]!, "tier from"),
                                  to: try integer(t["to"]!, "tier to"), means: try text(t["means"]!, "tier means"))
            if let zh = t["means_zh"] { tier.meansZh = try text(zh, "tier means_zh") }
            guard tier.from <= tier.to else { throw RulesError(line: line(node), "tier \(tier.name): from \(tier.from) is above to \(tier.to)") }
            if let previous = tiers.last {
                if tier.from <= previous.to {
                    throw RulesError(line: line(node), tier.from < previous.from
                        ? "tier \(tier.name) is out of order: list tiers from the lowest scores up"
                        : "tier \(tier.name) overlaps tier \(previous.name) (\(previous.from)–\(previous.to))")
                }
                guard tier.from == previous.to + 1 else {
                    throw RulesError(line: line(node), "tier \(tier.name) leaves a gap after tier \(previous.name): scores \(previous.to + 1)–\(tier.from - 1) have no tier")
                }
            } else if tier.from != minimum {
                throw RulesError(line: line(node), "the lowest tier must start at score.min (\(minimum))")
            }
            guard !tiers.contains(where: { $0.name == tier.name }) else { throw RulesError(line: line(node), "tier \(tier.name) appears twice") }
            tiers.append(tier)
        }
        guard tiers.last!.to == maximum else { throw RulesError(line: line(tierNodes.last!), "the highest tier must end at score.max (\(maximum))") }
        guard tiers.count >= 2 else { throw RulesError(line: line(top["tiers"]!), "give at least two tiers") }
        let rules = Rules(base: base, minimum: minimum, maximum: maximum, kinds: kinds, tiers: tiers, decisionGrade: decisionGrade,
                          disputeDeadlineDays: deadline, digest: digest)
        // A tier that no conduct can reach describes a promise the rules cannot keep.
        let reach = rules.reachable
        for (tier, node) in zip(tiers, tierNodes) where tier.to < reach.lowerBound || tier.from > reach.upperBound {
            throw RulesError(line: line(node), "tier \(tier.name) (\(tier.from)–\(tier.to)) cannot be reached: with every kind at its cap, scores lie only in \(reach.lowerBound)–\(reach.upperBound)")
        }
        return rules
    }
}
