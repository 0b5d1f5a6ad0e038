import Foundation
import Synchronization
import Testing

/// What a person is told about their future: tally-explain's forecast against tally-score run
/// for every day of the rules' horizon.
@Suite(.serialized) struct NoticeTests {
    @Test func theForecastIsWhatTallyScoreSaysOnEveryDayAhead() throws {
        // Two years of history, 45 days of feeds (so some disputes are still open on the as-of
        // day and pass their deadline in the forecast).
        let r = try LinkedRun(people: 300, days: 45, seed: 5, historyDays: 730)
        defer { r.run.remove() }
        let asOf = "2026-12-15"
        let explain = try Harness.run("tally-explain", ["--all", "--json", "--rules", LinkedRun.rules, "--as-of", asOf, r.linked])
        #expect(explain.status == 0, "\(explain.stderr)")
        struct Change: Equatable, CustomStringConvertible {
            var date: String, score: Int, tier: String
            var description: String { "\(date) \(score) \(tier)" }
        }
        var forecast: [String: [Change]] = [:]
        var tierToday: [String: String] = [:]
        var causes: [String: Int] = [:]
        for line in explain.text.split(separator: "\n") {
            let e = try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
            let person = e["person"] as! String, tier = e["tier"] as! String
            // The default tier is the one the base score is in: everyone else is checked.
            guard tier != "standard" else { continue }
            tierToday[person] = tier
            let changes = e["changes"] as! [[String: Any]]
            forecast[person] = changes.map { Change(date: $0["date"] as! String, score: $0["score"] as! Int, tier: $0["tier"] as! String) }
            for c in changes { causes[c["because"] as! String, default: 0] += 1 }
            let next = e["next_tier_change"] as? [String: Any]
            #expect((next?["date"] as? String) == forecast[person]!.first?.date)
        }
        #expect(tierToday.count > 40, "\(tierToday.count) people outside the standard tier")
        // Their records and every correction, known on the as-of day.
        let lines = try String(contentsOfFile: r.linked, encoding: .utf8).split(separator: "\n")
        let wanted = lines.filter { line in
            line.contains("\"kind\":\"correction.") || tierToday.keys.contains { line.contains("\"person\":\"\($0)\"") }
        }
        let input = r.run.dir + "/outside.jsonl"
        try (wanted.joined(separator: "\n") + "\n").write(toFile: input, atomically: true, encoding: .utf8)
        // Every day to the longest expiry in the rules, and one more: by then every record known
        // today has expired.
        let rules = try String(contentsOfFile: LinkedRun.rules, encoding: .utf8)
        let horizon = rules.split(separator: "\n").compactMap { line -> Int? in
            guard let r = line.range(of: "expire_days: ") else { return nil }
            return Int(line[r.upperBound...].prefix { $0.isNumber })
        }.max()! + 1
        let formatter = DateFormatter()
        formatter.dateFormat = "yyyy-MM-dd"
        formatter.timeZone = TimeZone(identifier: "UTC")
        let first = formatter.date(from: asOf)!
        // tally-score for each day, two at a time (the days are independent).
        let days = (1...horizon).map { formatter.string(from: first.addingTimeInterval(Double($0) * 86_400)) }
        let results = Mutex([Harness.Result?](repeating: nil, count: horizon))
        DispatchQueue.concurrentPerform(iterations: 2) { worker in
            for n in stride(from: worker, to: horizon, by: 2) {
                let score = try? Harness.run("tally-score", ["--rules", LinkedRun.rules, "--as-of", days[n], input])
                results.withLock { $0[n] = score }
            }
        }
        var previous = tierToday
        var actual: [String: [Change]] = [:]
        for (n, day) in days.enumerated() {
            guard let score = results.withLock({ $0[n] }) else { Issue.record("tally-score did not run for \(day)"); return }
            #expect(score.status == 0, "\(score.stderr)")
            for line in score.text.split(separator: "\n") {
                let s = try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
                let person = s["person"] as! String, tier = s["tier"] as! String
                guard let before = previous[person] else { continue }
                if tier != before { actual[person, default: []].append(Change(date: day, score: s["score"] as! Int, tier: tier)) }
                previous[person] = tier
            }
        }
        var mismatched = 0
        for person in tierToday.keys.sorted() where forecast[person] ?? [] != actual[person] ?? [] {
            mismatched += 1
            if mismatched <= 5 { Issue.record("\(person): explain says \(forecast[person] ?? []), tally-score day by day \(actual[person] ?? [])") }
        }
        #expect(mismatched == 0)
        let changed = actual.values.filter { !$0.isEmpty }.count
        #expect(changed > 20 && (causes["fading"] ?? 0) > 0, "\(changed) people change tier; causes \(causes)")
        print("forecast checked against tally-score on \(horizon) days for \(tierToday.count) people outside the standard tier: \(changed) change tier, causes \(causes)")
    }
}

/// The lowest tier's precondition is by kind: what the default rules call decision-grade.
@Suite struct LowestTierTests {
    static func line(_ n: Int, _ kind: String, daysBefore: Int) -> String {
        let source = String(kind.prefix { $0 != "." })
        let day = 28 - daysBefore
        return #"{"v":1,"id":"\#(source):\#(String(format: "%032x", n))","source":"\#(source)","kind":"\#(kind)","subject":{"scheme":"cn-rid","id":"990106199001011232"},"at":"2026-11-\#(String(format: "%02d", day))T02:00:00Z","attrs":{},"prov":{"file":"\#(source)-202611\#(String(format: "%02d", day)).csv","sha256":"\#(String(repeating: "a", count: 64))","line":\#(n + 2)},"person":"p_\#(String(repeating: "7", count: 32))","link":"direct"}"#
    }

    @Test func minorMarksAndLateTaxNeverBlacklistADecisionGradeRecordDoes() throws {
        let dir = Harness.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // Every minor kind at its cap, tax paid late and arrears included: far below the lowest
        // tier's top, but no decision-grade record.
        var lines: [String] = []
        var n = 0
        for (kind, count) in [("transit.fare-evasion", 10), ("transit.turnstile-jump", 10), ("transit.no-tap-out", 20), ("commerce.late", 10),
                              ("commerce.default", 6), ("commerce.chargeback", 8), ("tax.late", 6), ("tax.arrears", 4)] {
            for _ in 0..<count { n += 1; lines.append(Self.line(n, kind, daysBefore: n % 5)) }
        }
        let minor = dir + "/minor.jsonl"
        try (lines.joined(separator: "\n") + "\n").write(toFile: minor, atomically: true, encoding: .utf8)
        let score = try Harness.run("tally-score", ["--rules", LinkedRun.rules, "--as-of", "2026-11-28", minor])
        #expect(score.status == 0, "\(score.stderr)")
        #expect(score.text.contains(#""score":350,"tier":"watch""#), "\(score.text)")
        let explain = try Harness.run("tally-explain", ["--person", "p_" + String(repeating: "7", count: 32), "--rules", LinkedRun.rules, "--as-of", "2026-11-28", minor])
        #expect(explain.text.contains("tier watch") && explain.text.contains("no counted, undisputed decision-grade record"), "\(explain.text)")
        // One tax evasion assessment, a decision-grade kind, does.
        let graded = dir + "/graded.jsonl"
        try ((lines + [Self.line(999, "tax.evasion", daysBefore: 1)]).joined(separator: "\n") + "\n").write(toFile: graded, atomically: true, encoding: .utf8)
        let restricted = try Harness.run("tally-score", ["--rules", LinkedRun.rules, "--as-of", "2026-11-28", graded])
        #expect(restricted.text.contains(#""score":350,"tier":"restricted""#), "\(restricted.text)")
    }
}

extension LowestTierTests {
    /// The old default caps (tax.paid 60, commerce.on-time 30) could never lift anyone past 690:
    /// such a file is refused, naming the tier and the reachable range.
    @Test func aRulesFileWithATierNobodyCanReachIsRefused() throws {
        let dir = Harness.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var rules = try String(contentsOfFile: LinkedRun.rules, encoding: .utf8)
        rules = rules.replacingOccurrences(of: "    cap: 200\n", with: "    cap: 60\n").replacingOccurrences(of: "    cap: 100\n", with: "    cap: 30\n")
        try rules.write(toFile: dir + "/old.yaml", atomically: true, encoding: .utf8)
        let score = try Harness.run("tally-score", ["--rules", dir + "/old.yaml", "--as-of", "2026-11-28"], stdin: Data())
        #expect(score.status == 65 && score.stderr.contains("tier good (700–799) cannot be reached") && score.stderr.contains("350–690"), "\(score.stderr)")
    }
}
