import Testing
import TallyCore

@Suite struct RulesTests {
    @Test func loadsTheFixture() throws {
        let rules = try loadRules()
        #expect(rules.kinds.map(\.kind) == ["court.dishonest-debtor", "tax.paid", "transit.fare-evasion"])
        #expect(rules.tiers.map(\.name) == ["low", "mid", "high"] && rules.decisionGrade == ["court.dishonest-debtor"])
        #expect(rules.disputeDeadlineDays == 30 && rules.reachable == 250...900)
        #expect(rules.kinds[0].pointsPerYuan == -0.01 && rules.kinds[0].perYuanLimit == 20)
    }

    /// The lowest-tier rule's one statement, which the scorer, the explanation and the forecast
    /// all call: only a counted, harmful, undisputed decision-grade record allows the lowest tier.
    @Test func theLowestTierNeedsAnUndisputedHarmfulDecisionGradeRecord() throws {
        let rules = try loadRules()
        let court = rules.index(of: "court.dishonest-debtor")!, transit = rules.index(of: "transit.fare-evasion")!
        let tax = rules.index(of: "tax.paid")!
        #expect(rules.supportsLowest(kind: court, micro: -1, disputed: false))
        #expect(!rules.supportsLowest(kind: court, micro: -1, disputed: true))
        #expect(!rules.supportsLowest(kind: court, micro: 0, disputed: false))
        #expect(!rules.supportsLowest(kind: transit, micro: -40_000_000, disputed: false))
        #expect(!rules.supportsLowest(kind: tax, micro: 10_000_000, disputed: false))
        // Tiers: low 100–399, mid 400–699, high 700–900.
        #expect(rules.tier(score: 250, supportsLowest: true) == (0, false))
        #expect(rules.tier(score: 250, supportsLowest: false) == (1, true))
        #expect(rules.tier(score: 399, supportsLowest: false) == (1, true))
        #expect(rules.tier(score: 400, supportsLowest: false) == (1, false))
        #expect(rules.tier(score: 800, supportsLowest: true) == (2, false))
        #expect(rules.total(cappedSum: -3_000_000) == 497_000_000)
    }

    /// Each fault, as a replacement in the fixture text, with the line and words of its error.
    static let faults: [(String, String, Int, String)] = [
        ("transit.fare-evasion: {", "transit.fare-evasin: {", 7, "unknown kind \"transit.fare-evasin\""),
        ("points: -40, half_life_days: 10", "points: -40, half_life_days: -10", 7, "half_life_days must lie between 0.01 and 36500"),
        ("points: -40, half_life_days: 10", "points: -40, half_life_days: 0", 7, "half_life_days must lie between 0.01 and 36500"),
        ("expire_days: 30, cap: 100}", "expire_days: 30, cap: -1}", 7, "cap is a magnitude"),
        ("expire_days: 30, cap: 100}", "expire_days: 9223372036854775807, cap: 100}", 7, "expire_days must lie between 1 and 36500"),
        ("expire_days: 30, cap: 100}", "expire_days: 99999999999999999999999, cap: 100}", 7, "expire_days must lie between 1 and 36500"),
        ("points: -40, half_life_days: 10", "points: -40, half_life_days: 1e308", 7, "half_life_days must lie between"),
        ("points: -40,", "points: -1e300,", 7, "points must lie between -2000 and 2000"),
        ("score: {base: 500", "score: {base: 99999999999999999999", 2, "score.base must lie between"),
        ("expire_days: 30, cap: 100}", "expire_days: 30, cap: 100, decay: 2}", 7, "unknown key \"decay\""),
        ("expire_days: 30, cap: 100}", "expire_days: 30, cap: 2500}", 7, "cap may be at most 2000 points"),
        ("{name: mid, from: 400", "{name: mid, from: 390", 11, "overlaps tier low"),
        ("{name: mid, from: 400", "{name: mid, from: 410", 11, "leaves a gap"),
        ("{name: high, from: 700, to: 900", "{name: high, from: 150, to: 900", 12, "out of order"),
        ("{name: low, from: 100, to: 399", "{name: low, from: 399, to: 100", 10, "is above to"),
        ("{name: high, from: 700, to: 900", "{name: high, from: 700, to: 800", 12, "must end at score.max"),
        ("score: {base: 500", "score: {base: 50", 2, "between min and max"),
        ("decision_grade: [court.dishonest-debtor]", "decision_grade: [court]", 4, "name kinds, not a source"),
        ("decision_grade: [court.dishonest-debtor]", "decision_grade: [court.consumption-restriction]", 4, "not one of the kinds these rules score"),
        ("decision_grade: [court.dishonest-debtor]", "decision_grade: [tax.paid]", 4, "is not harmful"),
        ("decision_grade: [court.dishonest-debtor]", "decision_grade: []", 4, "at least one decision-grade kind"),
        ("decision_grade: [court.dishonest-debtor]", "requires_decision_grade: [court]", 4, "named sources"),
        ("tax.paid: {points: 10, half_life_days: 10, expire_days: 30, cap: 1000}", "tax.paid: {points: 10, half_life_days: 10, expire_days: 30, cap: 100}",
         12, "tier high (700–900) cannot be reached: with every kind at its cap, scores lie only in 250–600"),
        ("score: {base: 500", "score: {base: 690", 10, "tier low (100–399) cannot be reached: with every kind at its cap, scores lie only in 440–900"),
        ("tally_rules: 1", "tally_rules: 1\ndispute_deadline_days: 0", 2, "dispute_deadline_days must lie between 1 and 3650"),
        ("tally_rules: 1", "tally_rules: 1\ndispute_deadline_days: ten", 2, "dispute_deadline_days must be a whole number"),
        ("tally_rules: 1", "tally_rules: 2", 1, "version 1"),
        ("tally_rules: 1", "tally_rules: 1\nextra: true", 2, "unknown key \"extra\""),
        ("{name: low, from: 100, to: 399", "{name: low, means_zh: [a], from: 100, to: 399", 10, "tier means_zh"),
        ("{name: low, from: 100, to: 399", "{name: low, means_cn: x, from: 100, to: 399", 10, "unknown key \"means_cn\""),
        ("points: -40,", "points: lots,", 7, "points must be a number"),
        ("per_yuan: -0.01, per_yuan_limit: 20}", "per_yuan: -0.01}", 6, "needs per_yuan_limit"),
        ("per_yuan: -0.01,", "per_yuan: 0.01,", 6, "same sign as points"),
        ("kinds:\n", "kinds:\n  tax.paid: {points: 1, half_life_days: 1, expire_days: 1, cap: 1}\n", 0, "duplicated key(s): 'tax.paid'"),
        ("tiers:\n", "tiers: [\n", 0, "not valid YAML"),
    ]

    @Test(arguments: faults)
    func refusesFaultsNamingTheLine(find: String, replace: String, line: Int, message: String) {
        #expect(fixtureRules.contains(find))
        let yaml = fixtureRules.replacingOccurrences(of: find, with: replace)
        do throws(RulesError) {
            _ = try Rules.load(yaml: yaml, digest: "sha256:test", knownKinds: fixtureKinds)
            Issue.record("accepted: \(replace)")
        } catch {
            #expect(error.message.contains(message), "\(error)")
            if line > 0 { #expect(error.line == line, "\(error)") }
        }
    }

    @Test func theShippedRulesLoadAgainstTheShippedFeeds() throws {
        // Every kind the shipped feed declarations produce (they are checked again by the stage).
        let kinds: Set<String> = ["court.dishonest-debtor", "court.consumption-restriction", "tax.paid", "tax.late", "tax.arrears", "tax.evasion",
                                  "transit.fare-evasion", "transit.turnstile-jump", "transit.no-tap-out", "commerce.on-time", "commerce.late",
                                  "commerce.default", "commerce.chargeback", "crosswalk.link", "correction.dispute", "correction.uphold",
                                  "correction.retract", "correction.reinstate"]
        let root = String(#filePath.split(separator: "/Tests/").first!)
        let path = root + "/pipelines/rules/default.yaml"
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let rules = try Rules.load(yaml: text, digest: "sha256:x", knownKinds: kinds)
        #expect(rules.kinds.count == 13 && rules.tiers.first!.name == "restricted" && rules.tiers.last!.name == "green-lane")
        // Every tier says what it means in Chinese too, for the people scored.
        #expect(rules.tiers.allSatisfy { ($0.meansZh ?? "").unicodeScalars.contains { $0.value >= 0x4E00 && $0.value <= 0x9FFF } })
        // Minor kinds alone, at their caps, can reach the lowest tier's range: the precondition
        // is what keeps them out of it (documented here as the reason for it).
        var minor = 0.0
        for k in rules.kinds where k.points < 0 && !rules.decisionGrade.contains(k.kind) { minor += k.cap }
        #expect(Double(rules.base) - minor < Double(rules.tiers[0].to), "the precondition matters with these numbers")
        #expect(rules.decisionGrade == ["court.consumption-restriction", "court.dishonest-debtor", "tax.evasion"])
        #expect(rules.disputeDeadlineDays == 30)
        // Every tier reachable: the favourable caps lift the base 600 to 900, the harmful ones
        // take it to the floor.
        #expect(rules.reachable == 350...900)
        for tier in rules.tiers { #expect(tier.to >= rules.reachable.lowerBound && tier.from <= rules.reachable.upperBound, "\(tier.name)") }
    }
}
