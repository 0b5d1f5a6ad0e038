import Foundation
import Testing
import TallyCore

/// A correction of `target` decided at `day` (China time), `second` seconds after midnight.
func decision(_ n: Int, _ action: CorrectionBook.Action, _ target: Record, day: CivilDate, second: Int64 = 36_000) -> Record {
    Record(id: "corrections:" + hex32(5000 + n), source: "corrections", kind: "correction." + action.rawValue, subject: Subject(scheme: "record", id: target.id),
           at: Timestamp(chinaMidnightOf: day).adding(seconds: second), target: target.id,
           prov: Provenance(file: "corrections-x.csv", sha256: String(repeating: "5", count: 64), line: n + 2))
}

/// One person's score on `asOf` from `records` and `corrections`, through the real scanner and
/// scorer (run on a later day, so that no correction is refused as lying in the future).
func score(_ rules: Rules, _ records: [Record], _ corrections: [Record], asOf: CivilDate) throws -> Score {
    try fed(rules, records, corrections: corrections, asOf: asOf, today: CivilDate(year: 2030, month: 1, day: 1)!).finish()[0]
}

/// A court listing (decision-grade) filed `day`.
func listing(_ day: CivilDate) -> Record {
    Record(id: "court:" + hex32(77), source: "court", kind: "court.dishonest-debtor", subject: Subject(scheme: "cn-rid", id: "990106199001011232"),
           at: Timestamp(chinaMidnightOf: day), prov: Provenance(file: "court-x.xml", sha256: String(repeating: "5", count: 64), line: 3),
           person: "p_" + hex32(1), link: .direct)
}

/// Rules under which a court listing stays heavy for months, so its effect is plain.
let slowRules = """
tally_rules: 1
score: {base: 500, min: 100, max: 900}
lowest_tier: {decision_grade: [court.dishonest-debtor]}
kinds:
  court.dishonest-debtor: {points: -200, half_life_days: 365, expire_days: 730, cap: 400}
  transit.fare-evasion: {points: -40, half_life_days: 60, expire_days: 365, cap: 100}
  tax.paid: {points: 10, half_life_days: 365, expire_days: 730, cap: 1000}
tiers:
  - {name: low, from: 100, to: 399, means: "restricted"}
  - {name: mid, from: 400, to: 699, means: "standard"}
  - {name: high, from: 700, to: 900, means: "green lane"}
"""

@Suite struct CorrectionsTests {
    typealias State = CorrectionBook.State
    typealias Action = CorrectionBook.Action

    /// The table the README gives, written out once more here on purpose: the test is that the
    /// code, this table and the README's agree.
    static let table: [State: [Action: State]] = [
        .counting: [.dispute: .disputed, .uphold: .counting, .retract: .retracted, .reinstate: .counting],
        .disputed: [.dispute: .disputed, .uphold: .counting, .retract: .retracted, .reinstate: .counting],
        .retracted: [.dispute: .retracted, .uphold: .counting, .retract: .retracted, .reinstate: .counting],
    ]

    @Test func theStateMachineIsTheTableAndTheReadmeSaysSo() throws {
        for state in State.allCases {
            for action in Action.allCases { #expect(CorrectionBook.next(state, action) == Self.table[state]![action]!, "\(state) × \(action)") }
        }
        // The README's table: a row per state, a column per action.
        let readme = try String(contentsOfFile: String(#filePath.split(separator: "/Tests/").first!) + "/README.md", encoding: .utf8)
        let rows = readme.split(separator: "\n").filter { $0.hasPrefix("| ") }
        guard let header = rows.firstIndex(where: { $0.contains("state \\ decision") }) else {
            Issue.record("README has no corrections table")
            return
        }
        let columns = rows[header].split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
        #expect(Array(columns) == ["state \\ decision", "dispute", "uphold", "retract", "reinstate"])
        var seen = 0
        for row in rows[(header + 1)...].prefix(3) {   // the |---| line is not a "| " row
            let cells = row.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
            guard let state = State(rawValue: cells[0]) else { Issue.record("unknown state \(cells[0])"); continue }
            for (i, action) in Action.allCases.enumerated() {
                let said = String(cells[i + 1].prefix { $0.isLetter })
                #expect(said == CorrectionBook.next(state, action).rawValue, "README: \(state) × \(action) says \(cells[i + 1])")
            }
            seen += 1
        }
        #expect(seen == 3)
    }

    /// Every state × decision pair, through the scorer: each state reached by a first decision
    /// (none for counting), then the second, both within the deadline.
    @Test(arguments: State.allCases, Action.allCases)
    func everyPairScores(state: State, action: Action) throws {
        let rules = try loadRules(slowRules)
        let asOf = CivilDate(year: 2026, month: 11, day: 28)!
        let court = listing(asOf.adding(days: -20))
        var corrections: [Record] = []
        switch state {
        case .counting: break
        case .disputed: corrections.append(decision(1, .dispute, court, day: asOf.adding(days: -10)))
        case .retracted: corrections.append(decision(1, .retract, court, day: asOf.adding(days: -10)))
        }
        corrections.append(decision(2, action, court, day: asOf.adding(days: -5)))
        let s = try score(rules, [court], corrections, asOf: asOf)
        switch Self.table[state]![action]! {
        case .counting:
            #expect(s.score < 400 && s.tier == "low" && s.disputed.isEmpty && s.retracted.isEmpty && s.lapsed.isEmpty, "\(s)")
        case .disputed:
            // Counted, but it cannot put anyone in the lowest tier.
            #expect(s.score < 400 && s.tier == "mid" && s.disputed == [court.id] && s.retracted.isEmpty, "\(s)")
        case .retracted:
            #expect(s.score == 500 && s.retracted == [court.id] && s.disputed.isEmpty, "\(s)")
        }
    }

    @Test func aDisputeTheSourceLeavesUnansweredStopsCountingAfterTheDeadline() throws {
        let rules = try loadRules(slowRules)   // dispute_deadline_days defaults to 30
        let filed = CivilDate(year: 2026, month: 11, day: 1)!
        let court = listing(filed.adding(days: -5))
        let dispute = decision(1, .dispute, court, day: filed)
        // The filing day and 30 more: still counted (under dispute).
        let onTime = try score(rules, [court], [dispute], asOf: filed.adding(days: 30))
        #expect(onTime.disputed == [court.id] && onTime.score < 400 && onTime.tier == "mid", "\(onTime)")
        // The day after: lapsed, not counted.
        let late = try score(rules, [court], [dispute], asOf: filed.adding(days: 31))
        #expect(late.lapsed == [court.id] && late.disputed.isEmpty && late.score == 500, "\(late)")
        // A second filing does not restart the clock.
        let again = try score(rules, [court], [dispute, decision(2, .dispute, court, day: filed.adding(days: 20))], asOf: filed.adding(days: 31))
        #expect(again.lapsed == [court.id] && again.score == 500, "\(again)")
        // The source upholds it later: it counts again, and can put the person in the lowest tier.
        let upheld = try score(rules, [court], [dispute, decision(3, .uphold, court, day: filed.adding(days: 40))], asOf: filed.adding(days: 40))
        #expect(upheld.lapsed.isEmpty && upheld.tier == "low", "\(upheld)")
        // A shorter deadline from the rules.
        let quick = try loadRules(slowRules.replacingOccurrences(of: "tally_rules: 1", with: "tally_rules: 1\ndispute_deadline_days: 7"))
        #expect(try score(quick, [court], [dispute], asOf: filed.adding(days: 7)).disputed == [court.id])
        #expect(try score(quick, [court], [dispute], asOf: filed.adding(days: 8)).lapsed == [court.id])
    }

    /// Random histories of the source's decisions; a dispute added anywhere in them, on any day
    /// scored, never lowers the score or the tier.
    @Test func aDisputeNeverMakesAScoreWorse() throws {
        let rules = try loadRules(slowRules)
        var rng = SystemRandomNumberGenerator()
        let start = CivilDate(year: 2026, month: 10, day: 1)!
        let court = listing(start)
        let fare = Record(id: "transit:" + hex32(78), source: "transit", kind: "transit.fare-evasion", subject: Subject(scheme: "cn-rid", id: "990106199001011232"),
                          at: Timestamp(chinaMidnightOf: start), prov: Provenance(file: "transit-x.csv", sha256: String(repeating: "5", count: 64), line: 2),
                          person: "p_" + hex32(1), link: .direct)
        var compared = 0
        for _ in 0..<150 {
            let target = Bool.random(using: &rng) ? court : fare
            var history: [Record] = []
            for n in 0..<Int.random(in: 0...4, using: &rng) {
                let action: Action = [.uphold, .retract, .reinstate, .dispute].randomElement(using: &rng)!
                history.append(decision(n, action, target, day: start.adding(days: Int.random(in: 0...50, using: &rng)), second: Int64(n)))
            }
            let filing = decision(9, .dispute, target, day: start.adding(days: Int.random(in: 0...50, using: &rng)), second: 30_000)
            for asOf in [10, 25, 40, 55, 70, 90].map({ start.adding(days: $0) }) {
                let without = try score(rules, [court, fare], history, asOf: asOf)
                let with = try score(rules, [court, fare], history + [filing], asOf: asOf)
                let rank = rules.tiers.map(\.name)
                #expect(with.score >= without.score && rank.firstIndex(of: with.tier)! >= rank.firstIndex(of: without.tier)!,
                        "a dispute made it worse on \(asOf): \(without.score) \(without.tier) → \(with.score) \(with.tier); history \(history.map { "\($0.kind) \($0.at)" })")
                compared += 1
            }
        }
        #expect(compared == 900)
    }

    /// Read out of time order, each correction runs the record's machine again: past 1,000 on one
    /// record the rest are refused, so a hostile feed cannot make scoring quadratic.
    @Test func aRecordTakesAtMostAThousandCorrections() throws {
        let asOf = CivilDate(year: 2026, month: 11, day: 28)!
        let court = listing(asOf.adding(days: -400))
        var book = CorrectionBook(asOf: asOf, today: asOf)
        var sources = SourceNames()
        var scanner = RecordViewScanner()
        // Newest first: retract and reinstate alternately, one a minute back from a day before as-of.
        var faults: [String?] = []
        for n in 0...CorrectionBook.maximumDecisions {
            let d = decision(n, n % 2 == 0 ? .retract : .reinstate, court, day: asOf.adding(days: -1), second: Int64(50_000 - 60 * n))
            try viewing(d, with: &scanner) { v in faults.append(book.add(v, sources: &sources)) }
        }
        #expect(faults.dropLast().allSatisfy { $0 == nil })
        #expect(faults.last!?.contains("more than 1000 corrections of court:") == true, "\(String(describing: faults.last!))")
        // The latest in time is the first read, a retraction.
        let key = sources.key(court.id)!
        #expect(book.standing(key) == .retracted)
        #expect(book.count == CorrectionBook.maximumDecisions + 1)
    }

    @Test func decisionsAtTheSameInstantFollowFileThenLineWhateverTheOrderRead() throws {
        let rules = try loadRules(slowRules)
        let asOf = CivilDate(year: 2026, month: 11, day: 28)!
        let court = listing(asOf.adding(days: -20))
        let day = asOf.adding(days: -3)
        var retract = decision(1, .retract, court, day: day)
        var reinstate = decision(2, .reinstate, court, day: day)
        retract.prov.line = 9     // the later line wins
        reinstate.prov.line = 4
        for order in [[retract, reinstate], [reinstate, retract]] {
            #expect(try score(rules, [court], order, asOf: asOf).retracted == [court.id])
        }
        reinstate.prov.file = "corrections-y.csv"   // a later file outranks any line of an earlier one
        for order in [[retract, reinstate], [reinstate, retract]] {
            #expect(try score(rules, [court], order, asOf: asOf).retracted.isEmpty)
        }
    }
}

@Suite struct ForecastTests {
    /// A person whose disputed court listing keeps them out of the top tier: when the dispute
    /// passes its deadline undecided, the listing stops counting and the tier changes that day.
    @Test func theForecastNamesTheDayADisputeLapses() throws {
        let rules = try loadRules(slowRules)
        let asOf = CivilDate(year: 2026, month: 11, day: 28)!
        let court = listing(asOf.adding(days: -10))
        let paid = (0..<25).map { n in
            Record(id: "tax:" + hex32(200 + n), source: "tax", kind: "tax.paid", subject: Subject(scheme: "cn-rid", id: "990106199001011232"),
                   at: Timestamp(chinaMidnightOf: asOf.adding(days: -n)), prov: Provenance(file: "tax-x.csv", sha256: String(repeating: "5", count: 64), line: n + 2),
                   person: "p_" + hex32(1), link: .direct)
        }
        let dispute = decision(1, .dispute, court, day: asOf.adding(days: -3))
        var book = CorrectionBook(asOf: asOf, today: asOf, deadlineDays: rules.disputeDeadlineDays)
        var sources = SourceNames()
        var scanner = RecordViewScanner()
        try viewing(dispute, with: &scanner) { v in #expect(book.add(v, sources: &sources) == nil) }
        let e = Explanation.make(person: "p_" + hex32(1), records: [court] + paid, corrections: book, sources: &sources, rules: rules, asOf: asOf, naturalKeys: [:])
        #expect(e.tier.name == "mid")
        let lapse = asOf.adding(days: -3 + 31)
        let first = try #require(e.changes.first)
        #expect(first.date == lapse && first.cause == .disputeDeadline && first.records == [court.id] && first.tier == "high", "\(e.changes)")
        // tally-score's engine agrees on that day and the day before.
        #expect(try score(rules, [court] + paid, [dispute], asOf: lapse.adding(days: -1)).tier == "mid")
        let then = try score(rules, [court] + paid, [dispute], asOf: lapse)
        #expect(then.tier == "high" && then.score == first.score && then.lapsed == [court.id])
        // The notice says when.
        #expect(e.items.first { $0.record.id == court.id }?.disputeLapsesOn == lapse)
    }
}
