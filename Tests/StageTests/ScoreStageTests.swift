import Foundation
import Testing

/// A parsed synth run linked: records (corrections first) in one file.
struct LinkedRun {
    let run: ParsedRun
    let secret: String
    var linked: String { run.dir + "/linked.jsonl" }
    var corrections: String { run.dir + "/corrections.jsonl" }
    var events: String { run.dir + "/events.jsonl" }
    static let rules = Harness.root + "/pipelines/rules/default.yaml"

    init(people: Int, days: Int, seed: Int = 1, historyDays: Int = 0) throws {
        run = try ParsedRun(people: people, days: days, seed: seed, historyDays: historyDays)
        secret = try run.secret()
        let link = try Harness.run("tally-link", ["--crosswalk", run.crosswalk, "--secret-file", secret, run.records])
        precondition(link.status == 0, link.stderr)
        let lines = link.text.split(separator: "\n", omittingEmptySubsequences: true)
        let corr = lines.filter { $0.contains("\"kind\":\"correction.") }, rest = lines.filter { !$0.contains("\"kind\":\"correction.") }
        try (corr.joined(separator: "\n") + "\n").write(toFile: corrections, atomically: true, encoding: .utf8)
        try (rest.joined(separator: "\n") + "\n").write(toFile: events, atomically: true, encoding: .utf8)
        try ((corr + rest).joined(separator: "\n") + "\n").write(toFile: linked, atomically: true, encoding: .utf8)
    }
}

@Suite(.serialized) struct ScoreStageTests {
    @Test func scoresMatchAnIndependentComputationAndExplanationsAddUp() throws {
        let r = try LinkedRun(people: 8000, days: 12, seed: 7)
        defer { r.run.remove() }
        let asOf = "2026-11-12"
        let score = try Harness.run("tally-score", ["--rules", LinkedRun.rules, "--as-of", asOf, "--stats", r.run.dir + "/stats.json", r.linked])
        #expect(score.status == 0, "\(score.stderr)")
        let scores = r.run.dir + "/scores.jsonl"
        _ = FileManager.default.createFile(atPath: scores, contents: score.stdout)
        let explain = try Harness.run("tally-explain", ["--all", "--rules", LinkedRun.rules, "--as-of", asOf, r.linked])
        #expect(explain.status == 0, "\(explain.stderr)")
        let explanations = r.run.dir + "/explain.jsonl"
        _ = FileManager.default.createFile(atPath: explanations, contents: explain.stdout)
        let check = try Harness.oracle("check_scores.py", [LinkedRun.rules, asOf, r.linked, scores, explanations])
        #expect(check.status == 0, "\(check.text)")
        print("tally-score on tally-synth (8000 people, 12 days) checked by Python, every explanation adding up: \(check.text)")
        let stats = try JSONSerialization.jsonObject(with: FileManager.default.contents(atPath: r.run.dir + "/stats.json")!) as! [String: Any]
        #expect(stats["corrections"] as! Int > 0 && stats["retracted"] as! Int > 0 && stats["disputed"] as! Int > 0, "\(stats)")
        let correctionLines = try String(contentsOfFile: r.corrections, encoding: .utf8).split(separator: "\n").count
        #expect(stats["corrections"] as? Int == correctionLines && score.stderr.contains("corrections \(correctionLines) (after --as-of 0),"), "\(stats)")
        let tiers = stats["tiers"] as! [String: Int]
        #expect(tiers["restricted"]! > 0 && tiers["standard"]! > 0, "\(tiers)")
        #expect(try Harness.oracle("validate_jsonl.py", [Harness.root + "/schemas/score.schema.json", scores]).status == 0)
    }

    @Test func shufflingTheRecordsChangesNoByte() throws {
        let r = try LinkedRun(people: 3000, days: 6)
        defer { r.run.remove() }
        let args = ["--rules", LinkedRun.rules, "--as-of", "2026-11-06", "--corrections", r.corrections]
        let a = try Harness.run("tally-score", args + [r.events])
        #expect(a.status == 0 && !a.stdout.isEmpty)
        var lines = try String(contentsOfFile: r.events, encoding: .utf8).split(separator: "\n")
        for i in 0..<3 {
            lines.shuffle()
            let path = r.run.dir + "/shuffled\(i).jsonl"
            try (lines.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
            let b = try Harness.run("tally-score", args + [path])
            #expect(b.stdout == a.stdout)
        }
        // The same with the corrections at the head of the stream, as tally-store dump gives them.
        let c = try Harness.run("tally-score", ["--rules", LinkedRun.rules, "--as-of", "2026-11-06", r.linked])
        #expect(c.stdout == a.stdout)
    }

    /// The obvious pipe: parse's output in any order, corrections among the records. Files,
    /// standard input and several inputs all give the bytes of the corrections-first order.
    @Test func correctionsAnywhereGiveTheSameBytes() throws {
        let r = try LinkedRun(people: 3000, days: 6, historyDays: 120)
        defer { r.run.remove() }
        let asOf = "2026-11-06"
        let args = ["--rules", LinkedRun.rules, "--as-of", asOf]
        let first = try Harness.run("tally-score", args + ["--stats", r.run.dir + "/first.json", r.linked])
        #expect(first.status == 0 && !first.stdout.isEmpty, "\(first.stderr)")
        // The corrections matter here, so a stage that lost them would be caught.
        let without = try Harness.run("tally-score", args + [r.events])
        #expect(without.status == 0 && without.stdout != first.stdout)
        let explained = try Harness.run("tally-explain", ["--all"] + args + [r.linked])

        let seed = UInt64(ProcessInfo.processInfo.environment["TALLY_SHUFFLE_SEED"] ?? "") ?? 2025
        print("correctionsAnywhereGiveTheSameBytes: seed \(seed) (TALLY_SHUFFLE_SEED to repeat)")
        var rng = TestRandom(state: seed)
        var lines = try String(contentsOfFile: r.linked, encoding: .utf8).split(separator: "\n")
        let correctionCount = lines.filter { $0.contains("\"kind\":\"correction.") }.count
        #expect(correctionCount >= 5, "a night with corrections: \(correctionCount)")
        lines.shuffle(using: &rng)
        let shuffled = r.run.dir + "/shuffled.jsonl"
        try (lines.joined(separator: "\n") + "\n").write(toFile: shuffled, atomically: true, encoding: .utf8)
        let fromFile = try Harness.run("tally-score", args + ["--stats", r.run.dir + "/shuffled.json", shuffled])
        #expect(fromFile.status == 0 && fromFile.stdout == first.stdout, "\(fromFile.stderr)")
        let counts = { (name: String) throws -> [String: Any] in
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: r.run.dir + "/" + name))) as! [String: Any]
        }
        for key in ["read", "records", "corrections", "counted", "retracted", "disputed", "people", "rejected"] {
            #expect(try counts("first.json")[key] as? Int == counts("shuffled.json")[key] as? Int, "\(key)")
        }
        // Standard input, with the temporary copy removed afterwards.
        let tmp = Harness.scratch()
        defer { try? FileManager.default.removeItem(atPath: tmp) }
        let fromStdin = try Harness.run("/usr/bin/env", ["TMPDIR=" + tmp, Harness.binaries + "/tally-score"] + args,
                                        stdin: try Data(contentsOf: URL(fileURLWithPath: shuffled)))
        #expect(fromStdin.status == 0 && fromStdin.stdout == first.stdout, "\(fromStdin.stderr)")
        #expect(Harness.files(in: tmp).isEmpty, "the copy of standard input is gone: \(Harness.files(in: tmp))")
        // With --corrections-first no copy is kept: the dump's order scores the same, and a late
        // correction on standard input stops the stage instead of being misapplied.
        let promised = try Harness.run("tally-score", args + ["--corrections-first"], stdin: try Data(contentsOf: URL(fileURLWithPath: r.linked)))
        #expect(promised.status == 0 && promised.stdout == first.stdout, "\(promised.stderr)")
        // (Through cat: tally-score stops before reading everything, which must not end this process
        // with SIGPIPE.)
        let broken = try Harness.run("/bin/sh", ["-c", "f=$1; b=$2; shift 2; cat \"$f\" | \"$b\" \"$@\"", "sh", shuffled, Harness.binaries + "/tally-score"]
                                     + ["--corrections-first"] + args)
        #expect(broken.status == 65 && broken.stdout.isEmpty && broken.stderr.contains("a correction after records, in a stream, with --corrections-first"), "\(broken.stderr)")
        // A late correction in a file, with standard input still to come and no copy of it kept:
        // refused, not scored without the stream's records.
        let after = try Harness.run("/bin/sh", ["-c", "f=$1; b=$2; shift 2; cat \"$f\" | \"$b\" \"$@\"", "sh", r.linked, Harness.binaries + "/tally-score"]
                                    + ["--corrections-first"] + args + [shuffled, "-"])
        #expect(after.status == 65 && after.stdout.isEmpty && after.stderr.contains("with --corrections-first"), "\(after.stderr)")
        // Several inputs, the late corrections in a later one and on standard input.
        let half = lines.count / 2
        let head = r.run.dir + "/head.jsonl"
        try (lines[..<half].joined(separator: "\n") + "\n").write(toFile: head, atomically: true, encoding: .utf8)
        let split = try Harness.run("tally-score", args + [head, "-"], stdin: Data((lines[half...].joined(separator: "\n") + "\n").utf8))
        #expect(split.status == 0 && split.stdout == first.stdout, "\(split.stderr)")
        // tally-explain holds each person's records anyway: the same bytes in any order too.
        let explainedShuffled = try Harness.run("tally-explain", ["--all"] + args + [shuffled])
        #expect(explained.status == 0 && explainedShuffled.stdout == explained.stdout)
    }

    /// A line rejected before the first late correction is reported once, not again when the
    /// records are read the second time; the counts equal the corrections-first order's.
    @Test func linesReadTwiceAreReportedOnce() throws {
        let r = try LinkedRun(people: 1500, days: 4, historyDays: 60)
        defer { r.run.remove() }
        let args = ["--rules", LinkedRun.rules, "--as-of", "2026-11-04", "--keep-going"]
        let events = try String(contentsOfFile: r.events, encoding: .utf8).split(separator: "\n")
        let corrections = try String(contentsOfFile: r.corrections, encoding: .utf8).split(separator: "\n")
        let garbage = ["not json", #"{"schema":"tally.record"}"#]
        let good = r.run.dir + "/good.jsonl", late = r.run.dir + "/late.jsonl"
        try ((corrections + [Substring(garbage[0])] + events + [Substring(garbage[1])]).joined(separator: "\n") + "\n").write(toFile: good, atomically: true, encoding: .utf8)
        try (([Substring(garbage[0])] + events + corrections + [Substring(garbage[1])]).joined(separator: "\n") + "\n").write(toFile: late, atomically: true, encoding: .utf8)
        let a = try Harness.run("tally-score", args + ["--rejects", r.run.dir + "/a.jsonl", good])
        let b = try Harness.run("tally-score", args + ["--rejects", r.run.dir + "/b.jsonl", late])
        #expect(a.status == 0 && b.status == 0 && a.stdout == b.stdout, "\(b.stderr)")
        let rejectsA = try String(contentsOfFile: r.run.dir + "/a.jsonl", encoding: .utf8).split(separator: "\n")
        let rejectsB = try String(contentsOfFile: r.run.dir + "/b.jsonl", encoding: .utf8).split(separator: "\n")
        #expect(rejectsA.count == 2 && rejectsB.count == 2, "\(rejectsB)")
        // Without --keep-going the rejects still make the exit status 65, whatever the order.
        let strict = try Harness.run("tally-score", ["--rules", LinkedRun.rules, "--as-of", "2026-11-04", late])
        #expect(strict.status == 65 && strict.stdout == a.stdout)
    }

    @Test func aBadRulesFileIsRefusedWithItsLine() throws {
        let dir = Harness.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let text = try String(contentsOfFile: LinkedRun.rules, encoding: .utf8).replacingOccurrences(of: "  transit.no-tap-out:", with: "  transit.no-tapout:")
        let lineNumber = text.split(separator: "\n", omittingEmptySubsequences: false).firstIndex { $0.contains("transit.no-tapout") }! + 1
        try text.write(toFile: dir + "/bad.yaml", atomically: true, encoding: .utf8)
        let s = try Harness.run("tally-score", ["--rules", dir + "/bad.yaml", "--as-of", "2026-11-04", "/dev/null"])
        #expect(s.status == 65 && s.stderr.contains("bad.yaml:\(lineNumber): unknown kind \"transit.no-tapout\""), "\(s.stderr)")
        let missing = try Harness.run("tally-score", ["--rules", dir + "/none.yaml", "--as-of", "2026-11-04", "/dev/null"])
        #expect(missing.status == 66)
        let usage = try Harness.run("tally-score", ["--rules", LinkedRun.rules, "--as-of", "2026-13-01", "/dev/null"])
        #expect(usage.status == 64)
        // No feed declarations where it looks: said as such, not as every kind being unknown.
        let none = try Harness.run("tally-score", ["--rules", LinkedRun.rules, "--as-of", "2026-11-04", "--schemas", dir, "/dev/null"])
        #expect(none.status == 66 && none.stderr.contains("no feed declarations (*.feed.json) found (looked in \(dir))"), "\(none.stderr)")
        let explain = try Harness.run("tally-explain", ["--person", "p_" + String(repeating: "0", count: 32), "--rules", LinkedRun.rules,
                                                        "--as-of", "2026-11-04", "--schemas", dir, "/dev/null"])
        #expect(explain.status == 66 && explain.stderr.contains("no feed declarations"), "\(explain.stderr)")
    }

    @Test func explainFindsAPersonByIdentifierAndSaysWhatANoticeWould() throws {
        let r = try LinkedRun(people: 6000, days: 8, seed: 11)
        defer { r.run.remove() }
        let asOf = "2026-11-08"
        let score = try Harness.run("tally-score", ["--rules", LinkedRun.rules, "--as-of", asOf, r.linked])
        let restricted = score.text.split(separator: "\n").first { $0.contains("\"tier\":\"restricted\"") }
        let line = try #require(restricted, "a tally-synth run of 6000 people over 8 days has someone in the lowest tier")
        let person = String(line.split(separator: "\"")[5])
        let text = try Harness.run("tally-explain", ["--person", person, "--rules", LinkedRun.rules, "--as-of", asOf, r.linked])
        #expect(text.status == 0)
        for phrase in ["tier restricted", "What the tier means: restricted: no air travel", "half-life", "counts until", "When the tier changes, if no new record or decision arrives",
                       "as the records fade: score", "How to contest a record", "natural key \""] {
            #expect(text.text.contains(phrase), "\(phrase) in:\n\(text.text)")
        }
        // The person's resident number, from the court record behind the score, finds the same key.
        let linked = try String(contentsOfFile: r.linked, encoding: .utf8).split(separator: "\n")
        let court = try #require(linked.first { $0.contains(person) && $0.contains("\"scheme\":\"cn-rid\"") })
        let rid = try JSONSerialization.jsonObject(with: Data(court.utf8)) as! [String: Any]
        let id = (rid["subject"] as! [String: String])["id"]!
        let byID = try Harness.run("tally-explain", ["--id", "cn-rid:" + id, "--secret-file", r.secret, "--rules", LinkedRun.rules, "--as-of", asOf, r.linked])
        #expect(byID.stdout == text.stdout)
        // Written with a lower-case x (when the number ends in X), it is the same person; a
        // mistyped number or an unknown scheme is refused, never explained as a clean record.
        let withX = try #require(linked.first { $0.contains("\"scheme\":\"cn-rid\",\"id\":\"") && $0.contains("X\"},\"at\"") },
                                 "6000 synthetic people include resident numbers ending in X")
        let xRecord = try JSONSerialization.jsonObject(with: Data(withX.utf8)) as! [String: Any]
        let xID = (xRecord["subject"] as! [String: String])["id"]!, xPerson = xRecord["person"] as! String
        let byPerson = try Harness.run("tally-explain", ["--person", xPerson, "--rules", LinkedRun.rules, "--as-of", asOf, r.linked])
        let lower = try Harness.run("tally-explain", ["--id", "cn-rid:" + xID.dropLast() + "x", "--secret-file", r.secret, "--rules", LinkedRun.rules, "--as-of", asOf, r.linked])
        #expect(lower.status == 0 && lower.stdout == byPerson.stdout && byPerson.text.contains(xPerson))
        let typo = String(id.prefix(17)) + (id.last == "0" ? "1" : "0")
        let mistyped = try Harness.run("tally-explain", ["--id", "cn-rid:" + typo, "--secret-file", r.secret, "--rules", LinkedRun.rules, "--as-of", asOf, r.linked])
        #expect(mistyped.status == 64 && mistyped.stderr.contains("is not a valid cn-rid") && mistyped.stdout.isEmpty, "\(mistyped.stderr)")
        let unknown = try Harness.run("tally-explain", ["--id", "passport:E1234567", "--secret-file", r.secret, "--rules", LinkedRun.rules, "--as-of", asOf, r.linked])
        #expect(unknown.status == 64 && unknown.stderr.contains("unknown scheme"), "\(unknown.stderr)")
        let json = try Harness.run("tally-explain", ["--json", "--person", person, "--rules", LinkedRun.rules, "--as-of", asOf, r.linked])
        let object = try JSONSerialization.jsonObject(with: json.stdout) as! [String: Any]
        #expect(object["person"] as? String == person && object["tier"] as? String == "restricted")
        // The forecast: each change a day with its score, tier and cause; the first is next_tier_change.
        let changes = try #require(object["changes"] as? [[String: Any]])
        #expect(!changes.isEmpty && changes.allSatisfy { ["fading", "expiry", "dispute-deadline"].contains($0["because"] as? String) })
        #expect((object["next_tier_change"] as? [String: Any])?["date"] as? String == changes.first?["date"] as? String)
        #expect(try Harness.run("tally-explain", ["--person", "p_nothex", "--rules", LinkedRun.rules, "--as-of", asOf]).status == 64)
    }
}
