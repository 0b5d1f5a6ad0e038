import Foundation
import Testing

/// pipelines/spark/nightly.py in Spark's local mode, against the single-machine pipeline.
@Suite(.serialized) struct SparkTests {
    /// Runs spark-submit local[2]; a machine where Spark cannot start fails the test, saying so.
    func sparkSubmit(_ arguments: [String]) throws -> Harness.Result? {
        let probe = try Harness.run("/bin/sh", ["-c", "command -v spark-submit && command -v java"])
        guard probe.status == 0 else {
            Issue.record("Spark cannot start here: spark-submit or java is not on PATH (pip install pyspark; Java 17). This test does not pass without Spark.")
            return nil
        }
        return try Harness.run("/usr/bin/env", ["spark-submit", "--master", "local[2]", "--conf", "spark.ui.enabled=false",
                                                Harness.root + "/pipelines/spark/nightly.py"] + arguments)
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
}
