import Foundation
import Testing

/// Runs pipelines/nightly.sh with the debug binaries, as cron would.
func nightly(_ incoming: String, _ db: String, _ out: String, asOf: String, secret: String) throws -> Harness.Result {
    let env = "TALLY_BIN=\(Harness.binaries) TALLY_SECRET_FILE=\(secret) TALLY_AS_OF=\(asOf)"
    return try Harness.run("/bin/bash", ["-c", "\(env) bash \(Harness.root)/pipelines/nightly.sh \(incoming) \(db) \(out)"])
}

@Suite(.serialized) struct NightlyTests {
    func setUp(people: Int = 1500, days: Int = 3) throws -> (dir: String, secret: String) {
        let dir = Harness.scratch()
        #expect(try Harness.run("tally-synth", ["--people", "\(people)", "--days", "\(days)", "--dirty", "0.01", "--out", dir + "/feeds"]).status == 0)
        try FileManager.default.createDirectory(atPath: dir + "/in", withIntermediateDirectories: true)
        let secret = dir + "/tally.secret"
        _ = FileManager.default.createFile(atPath: secret, contents: Data("nightly test secret, synthetic only".utf8), attributes: [.posixPermissions: 0o600])
        return (dir, secret)
    }

    func deliver(_ dir: String, day: String) throws {
        for f in Harness.files(in: dir + "/feeds") where f.contains("-\(day).") {
            try FileManager.default.moveItem(atPath: dir + "/feeds/" + f, toPath: dir + "/in/" + f)
        }
    }

    @Test func nightsAddUpToTheSameScoresAsOneRunAndNothingIsTakenTwice() throws {
        let (dir, secret) = try setUp()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for (i, day) in ["20261101", "20261102", "20261103"].enumerated() {
            try deliver(dir, day: day)
            let r = try nightly(dir + "/in", dir + "/ledger.db", dir + "/out", asOf: "2026-11-0\(i + 1)", secret: secret)
            #expect(r.status == 0, "\(r.stderr)")
            #expect(r.stderr.isEmpty, "silent but for its summary: \(r.stderr)")
            let lines = r.text.split(separator: "\n")
            #expect(lines.count == 7 && lines.allSatisfy { $0.hasPrefix("nightly: ") }, "\(r.text)")
        }
        #expect(Harness.files(in: dir + "/in").isEmpty)
        // What holds identifiers is private to the owner.
        for path in Harness.files(in: dir + "/out/crosswalk").map({ dir + "/out/crosswalk/" + $0 }) + Harness.files(in: dir + "/out/rejects").map({ dir + "/out/rejects/" + $0 }) {
            let mode = (try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as! NSNumber).intValue
            #expect(mode & 0o077 == 0, "\(path) is mode \(String(mode, radix: 8))")
        }
        let scores = dir + "/out/scores-2026-11-03.jsonl"
        #expect(FileManager.default.fileExists(atPath: scores))
        #expect(!Harness.files(in: dir + "/out").contains { $0.hasSuffix(".tmp") })

        // The same night again: nothing new, the same scores.
        let before = try Data(contentsOf: URL(fileURLWithPath: scores))
        let again = try nightly(dir + "/in", dir + "/ledger.db", dir + "/out", asOf: "2026-11-03", secret: secret)
        #expect(again.status == 0 && again.text.split(separator: "\n").count == 1)
        #expect(try Data(contentsOf: URL(fileURLWithPath: scores)) == before)

        // A file delivered again under another name is recognised by its hash.
        try FileManager.default.copyItem(atPath: dir + "/out/done/tax-20261102.csv", toPath: dir + "/in/tax-20261199.csv")
        let renamed = try nightly(dir + "/in", dir + "/ledger.db", dir + "/out", asOf: "2026-11-03", secret: secret)
        #expect(renamed.text.contains("tax-20261199.csv: already taken"), "\(renamed.text)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: scores)) == before)

        // The scores equal one tally-score over every record, parsed and linked in one go.
        let all = try ParsedRunFrom(feeds: dir + "/out/done", crosswalkDir: dir + "/out/crosswalk", secret: secret)
        let direct = try Harness.run("tally-score", ["--rules", LinkedRun.rules, "--as-of", "2026-11-03", all.linked])
        #expect(direct.stdout == before)
    }

    @Test func aSecondRunExitsAtOnceWhileOneIsGoing() throws {
        let (dir, secret) = try setUp(people: 300, days: 1)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let holder = Process()
        holder.executableURL = URL(fileURLWithPath: "/usr/bin/flock")
        holder.arguments = [dir + "/ledger.db.lock", "sleep", "20"]
        try holder.run()
        defer { holder.terminate() }
        usleep(300_000)
        let start = Date()
        let r = try nightly(dir + "/in", dir + "/ledger.db", dir + "/out", asOf: "2026-11-01", secret: secret)
        #expect(r.status == 75 && r.stderr.contains("another run holds") && Date().timeIntervalSince(start) < 5, "\(r.status) \(r.stderr)")
    }

    @Test func aFailingFileStaysForTheNextNightAndTheRestGoesOn() throws {
        let (dir, secret) = try setUp(people: 800, days: 1)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try deliver(dir, day: "20261101")
        // Cut the transit file short: a truncated gzip stream.
        let transit = dir + "/in/transit-20261101.csv.gz"
        let bytes = try Data(contentsOf: URL(fileURLWithPath: transit))
        try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: transit))
        let r = try nightly(dir + "/in", dir + "/ledger.db", dir + "/out", asOf: "2026-11-01", secret: secret)
        #expect(r.status == 1)
        #expect(r.stderr.contains("transit-20261101.csv.gz: parsing failed; the file stays in") && r.stderr.contains("truncated"), "\(r.stderr)")
        #expect(Harness.files(in: dir + "/in").filter { $0.hasPrefix("transit-") || $0.hasPrefix("tax-") || $0.hasPrefix("court-") } == ["transit-20261101.csv.gz"])
        #expect(r.text.contains("tax-20261101.csv: read") && r.text.contains("scores-2026-11-01.jsonl"))
        // Mended, but with the secret gone: linking fails, loudly, and the file stays again.
        try bytes.write(to: URL(fileURLWithPath: transit))
        try FileManager.default.removeItem(atPath: secret)
        let noSecret = try nightly(dir + "/in", dir + "/ledger.db", dir + "/out", asOf: "2026-11-01", secret: secret)
        #expect(noSecret.status == 1 && noSecret.stderr.contains("transit-20261101.csv.gz: linking failed") && noSecret.stderr.contains("cannot open the secret file"), "\(noSecret.stderr)")
        #expect(FileManager.default.fileExists(atPath: transit))
    }
}

/// Parses and links every feed file in a directory in one go (the single-run reference).
struct ParsedRunFrom {
    let linked: String
    init(feeds: String, crosswalkDir: String, secret: String) throws {
        let dir = Harness.scratch()
        var records = Data()
        for feed in ["court", "tax", "transit", "commerce", "corrections"] {
            let files = Harness.files(in: feeds).filter { $0.hasPrefix(feed + "-") && !$0.contains("-2026119") }.map { feeds + "/" + $0 }
            if files.isEmpty { continue }
            records.append(try Harness.run("tally-parse", ["--feed", feed] + files).stdout)
        }
        _ = FileManager.default.createFile(atPath: dir + "/records.jsonl", contents: records)
        let crosswalks = Harness.files(in: crosswalkDir).map { crosswalkDir + "/" + $0 }
        let link = try Harness.run("tally-link", ["--crosswalk"] + crosswalks + ["--secret-file", secret, dir + "/records.jsonl"])
        // Corrections first, as the ledger's dump gives them.
        let lines = link.text.split(separator: "\n")
        let ordered = lines.filter { $0.contains("\"kind\":\"correction.") } + lines.filter { !$0.contains("\"kind\":\"correction.") }
        linked = dir + "/linked.jsonl"
        try (ordered.joined(separator: "\n") + "\n").write(toFile: linked, atomically: true, encoding: .utf8)
    }
}
