import Foundation
import Testing

/// pipelines/spark/nightly.py in Spark's local mode, against the single-machine pipeline.
@Suite(.serialized) struct SparkTests {
    /// Runs spark-submit local[2]; a machine where Spark cannot start fails the test, saying so.
    func sparkSubmit(_ arguments: [String], killAfter: Double? = nil) throws -> Harness.Result? {
        let probe = try Harness.run("/bin/sh", ["-c", "command -v spark-submit && command -v java"])
        guard probe.status == 0 else {
            Issue.record("Spark cannot start here: spark-submit or java is not on PATH (pip install pyspark; Java 17). This test does not pass without Spark.")
            return nil
        }
        let submit = ["spark-submit", "--master", "local[2]", "--conf", "spark.ui.enabled=false", Harness.root + "/pipelines/spark/nightly.py"] + arguments
        guard let killAfter else { return try Harness.run("/usr/bin/env", submit) }
        // Its own process group (setsid), all of it killed with SIGKILL: the JVM, Spark's Python
        // workers and the stages they run.
        let quoted = submit.map { "'" + $0.replacingOccurrences(of: "'", with: "'\\''") + "'" }.joined(separator: " ")
        return try Harness.run("/bin/bash", ["-c", "setsid \(quoted) & pid=$!; sleep \(killAfter); kill -9 -- -$pid 2>/dev/null; wait $pid"])
    }

    @Test func sparkGivesTheSameScoresAsOneMachine() throws {
        let r = try ParsedRun(people: 3000, days: 4, seed: 9)
        defer { r.remove() }
        let secret = try r.secret()
        let out = r.dir + "/spark-scores.jsonl"
        guard let spark = try sparkSubmit(["--feeds", r.feeds, "--bin", Harness.binaries, "--rules", LinkedRun.rules, "--secret", secret,
                                           "--as-of", "2026-11-04", "--out", out, "--partitions", "3"]) else { return }
        #expect(spark.status == 0, "\(spark.stderr.suffix(3000))")
        // One machine: everything parsed and linked at once, corrections first, one tally-score.
        let link = try Harness.run("tally-link", ["--crosswalk", r.crosswalk, "--secret-file", secret, r.records])
        let lines = link.text.split(separator: "\n")
        let ordered = lines.filter { $0.contains("\"kind\":\"correction.") } + lines.filter { !$0.contains("\"kind\":\"correction.") }
        let single = try Harness.run("tally-score", ["--rules", LinkedRun.rules, "--as-of", "2026-11-04"], stdin: Data((ordered.joined(separator: "\n") + "\n").utf8))
        let sparkLines = try String(contentsOfFile: out, encoding: .utf8).split(separator: "\n").sorted()
        let singleLines = single.text.split(separator: "\n").sorted()
        #expect(singleLines.count > 300)
        #expect(sparkLines == singleLines, "Spark's scores, sorted, equal one machine's byte for byte")
    }

    @Test func aStageFailingInsideATaskFailsTheJobWithItsMessage() throws {
        let dir = Harness.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(try Harness.run("tally-synth", ["--people", "500", "--days", "1", "--out", dir + "/feeds"]).status == 0)
        let transit = dir + "/feeds/transit-20261101.csv.gz"
        let bytes = try Data(contentsOf: URL(fileURLWithPath: transit))
        try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: transit))
        _ = FileManager.default.createFile(atPath: dir + "/secret", contents: Data("spark failure test secret, synthetic".utf8), attributes: [.posixPermissions: 0o600])
        guard let spark = try sparkSubmit(["--feeds", dir + "/feeds", "--bin", Harness.binaries, "--rules", LinkedRun.rules, "--secret", dir + "/secret",
                                           "--as-of", "2026-11-01", "--out", dir + "/scores.jsonl"]) else { return }
        #expect(spark.status != 0)
        #expect(spark.stderr.contains("transit-20261101.csv.gz: truncated gzip stream"), "the stage's own message is visible")
        #expect(!FileManager.default.fileExists(atPath: dir + "/scores.jsonl"), "no scores from a partial job")
    }

    /// Four nights kept in --state against one ledger fed the same nights, its dump relinked and
    /// scored, byte for byte each night. The synthetic feeds are given the cases that cross
    /// partitions: identifiers the crosswalk links for the first time and then puts in conflict
    /// (their records move), a record restated onto another person, a restatement from an
    /// older-dated file that must lose, a correction before its record, and corrections of
    /// records that move. Night 3 is first killed at a random moment, and night 4 fails after
    /// its commit began; each is run again and gives one machine's bytes.
    @Test func nightsKeptInStateScoreAsOneLedgersDump() throws {
        let dir = Harness.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // The driver's own lines come on spark-submit's standard output; Spark's on its error.
        func said(_ r: Harness.Result) -> String { r.text + r.stderr }
        let feeds = dir + "/feeds"
        #expect(try Harness.run("tally-synth", ["--people", "2000", "--days", "4", "--seed", "9", "--out", feeds]).status == 0)
        func rows(_ name: String) throws -> [String] { try String(contentsOfFile: feeds + "/" + name, encoding: .utf8).split(separator: "\n").map(String.init) }
        func append(_ name: String, _ lines: [String]) throws {
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: feeds + "/" + name))
            try handle.seekToEnd()
            try handle.write(contentsOf: Data(lines.map { $0 + "\n" }.joined().utf8))
            try handle.close()
        }
        func fields(_ row: String) -> [String] { row.split(separator: ",", maxSplits: 3, omittingEmptySubsequences: false).map(String.init) }
        let orders1 = try rows("commerce-20261101.csv").dropFirst().map(fields), orders3 = try rows("commerce-20261103.csv").dropFirst().map(fields)
        let crosswalk2 = try rows("crosswalk-20261102.csv").dropFirst().map(fields)
        // An account first seen on night 1 and first linked on night 2; on night 3 the crosswalk
        // gives it a second person, a conflict, so it is unlinked again.
        guard let moving = orders1.first(where: { o in crosswalk2.contains { $0[0] == "shop-account" && $0[1] == o[1] } }),
              let stranger = orders3.first(where: { !$0[2].isEmpty }) else {
            Issue.record("the synthetic feeds lack an account linked late, or an order with a resident")
            return
        }
        try append("crosswalk-20261103.csv", ["shop-account,\(moving[1]),\(stranger[2])"])
        try append("corrections-20261101.csv", ["commerce,\(moving[0]),dispute,\"not mine\",2026-11-01T20:00:00+08:00"])
        // An order of night 1 restated on night 3 onto another account (another person), and
        // disputed on night 4; a correction on night 2 of an order that comes on night 3.
        let restated = orders1.first { $0[2].isEmpty && $0[1] != moving[1] }!
        try append("commerce-20261103.csv", [[restated[0], stranger[1], "", restated[3]].joined(separator: ",")])
        try append("corrections-20261104.csv", ["commerce,\(restated[0]),dispute,\"not me either\",2026-11-04T09:00:00+08:00"])
        try append("corrections-20261102.csv", ["commerce,\(orders3[1][0]),retract,\"not me\",2026-11-02T20:00:00+08:00"])
        // Delivered on night 4 but dated night 2: older than night 3's version, so it loses.
        let late = dir + "/late/commerce-20261102.csv"
        try FileManager.default.createDirectory(atPath: dir + "/late", withIntermediateDirectories: true)
        try ([try rows("commerce-20261101.csv")[0], [restated[0], moving[1], "", restated[3]].joined(separator: ",")].joined(separator: "\n") + "\n")
            .write(toFile: late, atomically: true, encoding: .utf8)

        let secret = dir + "/tally.secret"
        _ = FileManager.default.createFile(atPath: secret, contents: Data("spark state test secret, synthetic".utf8), attributes: [.posixPermissions: 0o600])
        let one = dir + "/one", state = dir + "/state"
        try FileManager.default.createDirectory(atPath: one, withIntermediateDirectories: true)
        var crosswalks: [String] = []
        var seconds: Double = 10
        for day in 1...4 {
            let asOf = "2026-11-0\(day)", night = dir + "/night\(day)"
            try FileManager.default.createDirectory(atPath: night, withIntermediateDirectories: true)
            for f in Harness.files(in: feeds) where f.contains("-2026110\(day).") {
                try FileManager.default.copyItem(atPath: feeds + "/" + f, toPath: night + "/" + f)
            }
            if day == 4 { try FileManager.default.copyItem(atPath: late, toPath: night + "/commerce-20261102.csv") }
            // One machine: the night's files parsed, linked with every crosswalk so far, into one ledger.
            var records = Data()
            for f in Harness.files(in: night) {
                let feed = String(f.prefix { $0 != "-" })
                let parsed = try Harness.run("tally-parse", ["--feed", feed, night + "/" + f])
                #expect(parsed.status == 0, "\(parsed.stderr)")
                if feed == "crosswalk" {
                    crosswalks.append(one + "/" + f + ".jsonl")
                    try parsed.stdout.write(to: URL(fileURLWithPath: crosswalks.last!))
                } else {
                    records.append(parsed.stdout)
                }
            }
            let linked = try Harness.run("tally-link", ["--crosswalk"] + crosswalks + ["--secret-file", secret], stdin: records)
            try linked.stdout.write(to: URL(fileURLWithPath: one + "/night\(day).jsonl"))
            #expect(try Harness.run("tally-store", ["ingest", one + "/ledger.db", one + "/night\(day).jsonl"]).status == 0)
            try Harness.run("tally-store", ["dump", one + "/ledger.db"]).stdout.write(to: URL(fileURLWithPath: one + "/dump.jsonl"))
            let relinked = try Harness.run("tally-link", ["--relink", "--crosswalk"] + crosswalks + ["--secret-file", secret, one + "/dump.jsonl"])
            try relinked.stdout.write(to: URL(fileURLWithPath: one + "/relinked.jsonl"))
            let expected = try Harness.run("tally-score", ["--rules", LinkedRun.rules, "--corrections-first", "--as-of", asOf, one + "/relinked.jsonl"])
            #expect(expected.status == 0 && !expected.stdout.isEmpty)

            let out = dir + "/scores-\(day).jsonl"
            let arguments = ["--state", state, "--feeds", night, "--bin", Harness.binaries, "--rules", LinkedRun.rules, "--secret", secret,
                             "--as-of", asOf, "--out", out, "--partitions", "3"]
            if day == 3 {
                // Killed at a random moment of the night (the nights before took about `seconds`),
                // then night 4 is refused until night 3 is run again with the same feeds.
                let at = Double.random(in: (0.4 * seconds)...(0.95 * seconds))
                _ = try sparkSubmit(arguments, killAfter: at)
                let started = FileManager.default.fileExists(atPath: state + "/nights/\(asOf)")
                if started {
                    let early = try sparkSubmit(["--state", state, "--feeds", dir + "/night2", "--bin", Harness.binaries, "--rules", LinkedRun.rules,
                                                 "--secret", secret, "--as-of", "2026-11-04", "--out", dir + "/x.jsonl", "--partitions", "3"])!
                    #expect(early.status != 0 && said(early).contains("the night of 2026-11-03 was not finished"), "killed after \(at) s: \(said(early).suffix(500))")
                    let other = try sparkSubmit(arguments.map { $0 == night ? dir + "/night2" : $0 })!
                    #expect(other.status != 0 && said(other).contains("was started with other feeds"), "\(said(other).suffix(500))")
                }
                print("SparkTests: night 3 killed after \(String(format: "%.1f", at)) s (\(started ? "it had started" : "before it started"))")
            }
            if day == 4 {
                // The commit fails after its mark (the scores cannot be written there): run again,
                // it finishes the commit without doing the night again.
                let failed = try sparkSubmit(arguments.map { $0 == out ? dir + "/no-such-dir/scores.jsonl" : $0 })!
                #expect(failed.status != 0 && FileManager.default.fileExists(atPath: state + "/nights/\(asOf)/committing"), "\(said(failed).suffix(1500))")
            }
            if FileManager.default.fileExists(atPath: state + "/nights/\(asOf)/done") {
                // The kill came after the night had finished.
                #expect(try Data(contentsOf: URL(fileURLWithPath: out)) == expected.stdout)
                continue
            }
            let began = Date()
            guard let spark = try sparkSubmit(arguments) else { return }
            if day < 3 { seconds = Date().timeIntervalSince(began) }
            #expect(spark.status == 0, "\(said(spark).suffix(3000))")
            let got = try? Data(contentsOf: URL(fileURLWithPath: out))
            #expect(got == expected.stdout, "night \(day): Spark's scores from the kept state equal one ledger's dump, byte for byte")
            func counted(_ name: String) -> Int { Int(said(spark).firstMatch(of: try! Regex("\(name) ([0-9]+)"))?.output[1].substring ?? "-1") ?? -1 }
            switch day {
            case 2:
                #expect(counted("identifiers moved") > 0 && counted("records handed on") > 0 && counted("corrections handed on") > 0, "\(said(spark).suffix(800))")
                #expect(counted("corrections waiting") == 1, "\(said(spark).suffix(800))")
            case 3:
                #expect(counted("identifiers moved") > 0 && counted("versions to other partitions") > 0 && counted("corrections waiting") == 0, "\(said(spark).suffix(800))")
            case 4:
                #expect(said(spark).contains("finished committing"), "\(said(spark).suffix(800))")
            default:
                #expect(counted("identifiers new") > 100 && counted("identifiers moved") == 0, "\(said(spark).suffix(800))")
            }
        }
        // A night done is not done again, nor one before it.
        let again = try sparkSubmit(["--state", state, "--feeds", dir + "/night4", "--bin", Harness.binaries, "--rules", LinkedRun.rules, "--secret", secret,
                                     "--as-of", "2026-11-04", "--out", dir + "/x.jsonl", "--partitions", "3"])!
        #expect(again.status != 0 && said(again).contains("the night of 2026-11-04 is done"), "\(said(again).suffix(500))")
        let other = try sparkSubmit(["--state", state, "--feeds", dir + "/night4", "--bin", Harness.binaries, "--rules", LinkedRun.rules, "--secret", secret,
                                     "--as-of", "2026-11-05", "--out", dir + "/x.jsonl", "--partitions", "4"])!
        #expect(other.status != 0 && said(other).contains("keeps 3 person partitions, not --partitions 4"), "\(said(other).suffix(500))")
    }
}
