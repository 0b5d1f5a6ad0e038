import Foundation
import Testing

/// Runs pipelines/nightly.sh with the debug binaries, as cron would (no settle time unless
/// `env` sets one: the test's files are whole when written).
func nightly(_ incoming: String, _ db: String, _ out: String, asOf: String, secret: String, env more: [String: String] = [:]) throws -> Harness.Result {
    var env = ["TALLY_BIN": Harness.binaries, "TALLY_SECRET_FILE": secret, "TALLY_AS_OF": asOf, "TALLY_SETTLE_SECONDS": "0"]
    env.merge(more) { $1 }
    let assignments = env.sorted { $0.key < $1.key }.map { "\($0.key)='\($0.value)'" }.joined(separator: " ")
    return try Harness.run("/bin/bash", ["-c", "\(assignments) bash \(Harness.root)/pipelines/nightly.sh '\(incoming)' '\(db)' '\(out)'"])
}

/// The lines a night printed, without their timestamp and run id (each is checked to have them).
func messages(_ text: String) -> [String] {
    text.split(separator: "\n").map { line in
        let parts = line.split(separator: " ", maxSplits: 2)
        #expect(parts.count == 3 && parts[0].range(of: #"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$"#, options: .regularExpression) != nil
                && parts[1].range(of: #"^[0-9]{8}T[0-9]{6}Z-[0-9]+$"#, options: .regularExpression) != nil, "no timestamp and run id: \(line)")
        return parts.count == 3 ? String(parts[2]) : String(line)
    }
}

/// The run summary the last night wrote (OUTDIR/last-run.json).
func lastRun(_ out: String) throws -> [String: Any] {
    try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out + "/last-run.json"))) as! [String: Any]
}

/// A directory of the stages for TALLY_BIN: links to the real ones, but `tool`, which runs the
/// shell `script` (its arguments are the stage's).
func binariesWrapping(_ tool: String, in dir: String, script: String) throws -> String {
    let wrapped = dir + "/bin"
    try FileManager.default.createDirectory(atPath: wrapped, withIntermediateDirectories: true)
    for t in ["tally-validate", "tally-parse", "tally-link", "tally-store", "tally-score", "tally-report", "tally-explain"] where t != tool {
        try FileManager.default.createSymbolicLink(atPath: wrapped + "/" + t, withDestinationPath: Harness.binaries + "/" + t)
    }
    _ = FileManager.default.createFile(atPath: wrapped + "/" + tool, contents: Data(("#!/bin/sh\n" + script).utf8), attributes: [.posixPermissions: 0o755])
    return wrapped
}

@Suite(.serialized) struct NightlyTests {
    func setUp(people: Int = 1500, days: Int = 3, dirty: String = "0.01") throws -> (dir: String, secret: String) {
        let dir = Harness.scratch()
        #expect(try Harness.run("tally-synth", ["--people", "\(people)", "--days", "\(days)", "--dirty", dirty, "--out", dir + "/feeds"]).status == 0)
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

    /// Clean feeds (a faulty row can put a small file past the quality gate, which has tests of
    /// its own): every night is "ok".
    @Test func nightsAddUpToTheSameScoresAsOneRunAndNothingIsTakenTwice() throws {
        let (dir, secret) = try setUp(dirty: "0")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for (i, day) in ["20261101", "20261102", "20261103"].enumerated() {
            try deliver(dir, day: day)
            let r = try nightly(dir + "/in", dir + "/ledger.db", dir + "/out", asOf: "2026-11-0\(i + 1)", secret: secret)
            #expect(r.status == 0, "\(r.stderr)")
            #expect(r.stderr.isEmpty, "silent but for its summary: \(r.stderr)")
            let lines = messages(r.text)
            #expect(lines.count == 10 && lines.allSatisfy { $0.hasPrefix("nightly: ") }, "\(r.text)")
            #expect(lines.first!.hasPrefix("nightly: start: ") && lines.last!.hasPrefix("nightly: end: status ok, exit 0"))
            let run = try lastRun(dir + "/out")
            #expect(run["status"] as? String == "ok" && run["exit"] as? Int == 0 && (run["tally_version"] as? String)?.hasPrefix("0.8.0 (commit ") == true, "\(run)")
            let files = run["files"] as! [[String: Any]]
            #expect(files.count == 6 && files.allSatisfy { $0["status"] as? String == "ingested" && $0["read"] != nil && $0["seconds"] != nil }, "\(files)")
            #expect((run["scores"] as? [String: Any])?["file"] as? String == "scores-2026-11-0\(i + 1).jsonl")
            // The ingests left their pages in the ledger's log; the night's one checkpoint copied
            // them into the ledger's file and emptied it before the run ended.
            let wal = (try? FileManager.default.attributesOfItem(atPath: dir + "/ledger.db-wal")[.size] as? Int) ?? 0
            #expect(wal == 0, "the ledger's write-ahead log holds \(wal) bytes after the night")
            let runID = try #require(run["run"] as? String)
            let checkpoint = try String(contentsOfFile: dir + "/out/logs/\(runID)/checkpoint.log", encoding: .utf8)
            #expect(checkpoint.contains("checkpointed: ") && checkpoint.contains("and the log emptied"), "\(checkpoint)")
        }
        #expect(Harness.files(in: dir + "/in").isEmpty)
        // What holds identifiers is private to the owner.
        for path in Harness.files(in: dir + "/out/crosswalk").map({ dir + "/out/crosswalk/" + $0 }) + Harness.files(in: dir + "/out/rejects").map({ dir + "/out/rejects/" + $0 }) {
            let mode = (try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as! NSNumber).intValue
            #expect(mode & 0o077 == 0, "\(path) is mode \(String(mode, radix: 8))")
        }
        let scores = dir + "/out/scores-2026-11-03.jsonl"
        #expect(FileManager.default.fileExists(atPath: scores))
        // Each night's new rows were more than 5% of the store: its ordered copy was made again
        // after each night's scores, and the next night scored it (the scores are checked below).
        let copy = FileManager.default.contents(atPath: dir + "/ledger.db.scoring/ordered")
        let state = try String(contentsOfFile: dir + "/ledger.db.scoring/state", encoding: .utf8)
        let rows = Int(state.firstMatch(of: /\nrows ([0-9]+)\n/)!.1)!
        #expect(rows > 100 && copy?.count == 4096 + 64 * rows, "the copy holds every row of the store (\(rows))")
        // Each night after the first linked the store's identifiers from the night before's
        // persons file (kept private), keeping the keys of those no new crosswalk file names.
        let previous = dir + "/out/work/persons.previous"
        let mode = (try FileManager.default.attributesOfItem(atPath: previous)[.posixPermissions] as! NSNumber).intValue
        #expect(mode == 0o600, "persons.previous is mode \(String(mode, radix: 8))")
        let logs = Harness.files(in: dir + "/out/logs").compactMap { try? String(contentsOfFile: dir + "/out/logs/\($0)/scores.log", encoding: .utf8) }
        #expect(logs.filter { $0.contains("kept from \(previous)") }.count == 2, "\(logs)")
        // Each night after the first read only its own crosswalk file: the others came from the
        // crosswalk's fold (private too), which is the bytes of one made from every file at once.
        let fold = dir + "/out/work/crosswalk.fold"
        let foldMode = (try FileManager.default.attributesOfItem(atPath: fold)[.posixPermissions] as! NSNumber).intValue
        #expect(foldMode == 0o600, "crosswalk.fold is mode \(String(foldMode, radix: 8))")
        let linkLogs = Harness.files(in: dir + "/out/logs").compactMap { try? String(contentsOfFile: dir + "/out/logs/\($0)/link.log", encoding: .utf8) }
        let fromFold = linkLogs.compactMap { $0.firstMatch(of: #/from ([0-9]+) lines \(([0-9]+) read from files, the rest from /#) }.map { (Int($0.1)!, Int($0.2)!) }
        #expect(fromFold.count == 3 && fromFold.filter { $0.1 < $0.0 / 2 }.count == 2, "\(linkLogs)")
        let crosswalkFiles = Harness.files(in: dir + "/out/crosswalk").sorted().map { dir + "/out/crosswalk/" + $0 }
        #expect(try Harness.run("tally-link", ["--fold", dir + "/again.fold", "--fold-only", "--crosswalk"] + crosswalkFiles).status == 0)
        #expect(FileManager.default.contents(atPath: dir + "/again.fold") == FileManager.default.contents(atPath: fold))
        #expect(!Harness.files(in: dir + "/out").contains { $0.hasSuffix(".tmp") })

        // The same night again: nothing new, the same scores.
        let before = try Data(contentsOf: URL(fileURLWithPath: scores))
        let again = try nightly(dir + "/in", dir + "/ledger.db", dir + "/out", asOf: "2026-11-03", secret: secret)
        #expect(again.status == 0 && messages(again.text).count == 4, "\(again.text)")
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
        // The holder says when it has the lock; the run starts only then (no sleep to win the race).
        holder.arguments = [dir + "/ledger.db.lock", "sh", "-c", "echo held; exec sleep 20"]
        let said = Pipe()
        holder.standardOutput = said
        try holder.run()
        defer { holder.terminate() }
        #expect(said.fileHandleForReading.availableData == Data("held\n".utf8))
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
        #expect(r.stderr.contains("transit-20261101.csv.gz: parsing failed; the file stays") && r.stderr.contains("truncated"), "\(r.stderr)")
        // Only that file's own messages: not the lines the other files' stages wrote.
        #expect(!r.stderr.contains("tax-20261101") && !r.stderr.contains("court-20261101"), "\(r.stderr)")
        #expect(try lastRun(dir + "/out")["status"] as? String == "failed")
        #expect(Harness.files(in: dir + "/in").filter { $0.hasPrefix("transit-") || $0.hasPrefix("tax-") || $0.hasPrefix("court-") } == ["transit-20261101.csv.gz"])
        #expect(r.text.contains("tax-20261101.csv: read") && r.text.contains("scores-2026-11-01.jsonl"))
        // Mended, but with the secret gone: linking fails, loudly, and the file stays again.
        try bytes.write(to: URL(fileURLWithPath: transit))
        try FileManager.default.removeItem(atPath: secret)
        let noSecret = try nightly(dir + "/in", dir + "/ledger.db", dir + "/out", asOf: "2026-11-01", secret: secret)
        // A missing secret is a configuration fault, found before anything moves.
        #expect(noSecret.status == 78 && noSecret.stderr.contains("configuration:") && noSecret.stderr.contains("cannot open the secret file"), "\(noSecret.stderr)")
        #expect(FileManager.default.fileExists(atPath: transit))
    }
}

extension NightlyTests {
    /// The night's files are linked by one tally-link; when that run fails, each file is
    /// linked alone, so a failure stays with its own file and the others go on. The failures
    /// are made by a tally-link in front of the real one (the files tally-parse writes give
    /// tally-link nothing to refuse).
    @Test func whenLinkingTheFilesTogetherFailsEachIsLinkedAlone() throws {
        let (dir, secret) = try setUp(people: 600, days: 1, dirty: "0")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try deliver(dir, day: "20261101")
        let wrapper = """
        for a in "$@"; do
            case "$a" in
                --output-dir) echo "tally-link: injected failure of the night's files together" >&2; exit 70 ;;
                *tax-2026*) echo "tally-link: injected failure for $a" >&2; exit 65 ;;
            esac
        done
        exec '\(Harness.binaries)/tally-link' "$@"

        """
        let bin = try binariesWrapping("tally-link", in: dir, script: wrapper)
        let r = try nightly(dir + "/in", dir + "/ledger.db", dir + "/out", asOf: "2026-11-01", secret: secret, env: ["TALLY_BIN": bin])
        #expect(r.status == 1, "\(r.stderr)")
        #expect(r.text.contains("linking the night's files together failed") && r.text.contains("linking them one by one"), "\(r.text)")
        #expect(r.stderr.contains("tax-20261101.csv: linking failed; the file stays") && r.stderr.contains("injected failure for"), "\(r.stderr)")
        #expect(Harness.files(in: dir + "/in") == ["tax-20261101.csv"])
        let files = try lastRun(dir + "/out")["files"] as! [[String: Any]]
        let status = Dictionary(uniqueKeysWithValues: files.map { ($0["file"] as! String, $0["status"] as! String) })
        #expect(status["tax-20261101.csv"] == "failed" && status.filter { $0.value == "ingested" }.count == files.count - 1, "\(status)")
        #expect(FileManager.default.fileExists(atPath: dir + "/out/scores-2026-11-01.jsonl"))
        #expect(!FileManager.default.fileExists(atPath: dir + "/out/work/linked"))
    }
}

/// What an operator sees when a night cannot be good: pre-flight faults, files that are not
/// feed files, files still arriving or changing, and files that fail the quality gate.
@Suite(.serialized) struct NightlyGuardTests {
    func setUp(people: Int = 600) throws -> (dir: String, secret: String) {
        let dir = Harness.scratch()
        #expect(try Harness.run("tally-synth", ["--people", "\(people)", "--days", "1", "--out", dir + "/feeds"]).status == 0)
        try FileManager.default.createDirectory(atPath: dir + "/in", withIntermediateDirectories: true)
        for f in Harness.files(in: dir + "/feeds") where f.contains("-20261101.") {
            try FileManager.default.moveItem(atPath: dir + "/feeds/" + f, toPath: dir + "/in/" + f)
        }
        let secret = dir + "/tally.secret"
        _ = FileManager.default.createFile(atPath: secret, contents: Data("nightly test secret, synthetic only".utf8), attributes: [.posixPermissions: 0o600])
        return (dir, secret)
    }

    /// Every configuration fault is one message and exit 78, before anything moves.
    @Test(arguments: ["schemas", "binaries", "rules", "secret", "ledger", "order"])
    func aConfigurationFaultIsOneMessageAndNothingMoves(fault: String) throws {
        let (dir, secret) = try setUp(people: 200)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var env: [String: String] = [:]
        var db = dir + "/ledger.db"
        var expected = ""
        switch fault {
        case "schemas": env["TALLY_SCHEMAS"] = dir + "/no-schemas"; expected = "no feed declarations"
        case "binaries": env["TALLY_BIN"] = dir + "/no-bin"; expected = "no executable tally-parse"
        case "rules": env["TALLY_RULES"] = dir + "/no-rules.yaml"; expected = "the rules file"
        case "secret":
            try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: secret)
            expected = "chmod 600"
        case "order": env["TALLY_ORDER_WHEN_BEHIND"] = "half"; expected = "TALLY_ORDER_WHEN_BEHIND=half is not a percentage"
        default: db = dir + "/no-such-dir/ledger.db"; expected = "does not exist"
        }
        let before = Harness.files(in: dir + "/in")
        let r = try nightly(dir + "/in", db, dir + "/out", asOf: "2026-11-01", secret: secret, env: env)
        #expect(r.status == 78, "\(fault): \(r.status) \(r.stderr)")
        let lines = messages(r.stderr)
        #expect(lines.count == 1 && lines[0].contains("configuration: ") && lines[0].contains(expected), "\(fault): \(r.stderr)")
        #expect(Harness.files(in: dir + "/in") == before, "nothing moved")
        #expect(!FileManager.default.fileExists(atPath: dir + "/out/done"))
        #expect(try lastRun(dir + "/out")["exit"] as? Int == 78)
    }

    /// Files still arriving by convention are left alone without a word; anything else that is
    /// not a feed file is reported by name and left in place, and the night needs attention.
    @Test func onlyFeedFilesAreTakenAndTheRestIsReportedByName() throws {
        let (dir, secret) = try setUp()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let tax = dir + "/in/tax-20261101.csv"
        for name in ["tax-20261102.csv.part", "tax-20261102.csv.tmp", ".tax-20261102.csv"] {
            try FileManager.default.copyItem(atPath: tax, toPath: dir + "/in/" + name)
        }
        try FileManager.default.copyItem(atPath: tax, toPath: dir + "/in/Tax-20261122.csv")
        try FileManager.default.copyItem(atPath: tax, toPath: dir + "/in/parking-20261101.csv")
        try FileManager.default.createSymbolicLink(atPath: dir + "/in/tax-20261103.csv", withDestinationPath: tax)
        #expect(mkfifo(dir + "/in/court-20261104.xml", 0o600) == 0)
        try FileManager.default.createDirectory(atPath: dir + "/in/transit-20261105.csv.gz", withIntermediateDirectories: true)
        let r = try nightly(dir + "/in", dir + "/ledger.db", dir + "/out", asOf: "2026-11-01", secret: secret)
        #expect(r.status == 2, "\(r.stderr)")
        for name in ["Tax-20261122.csv", "parking-20261101.csv", "tax-20261103.csv", "court-20261104.xml", "transit-20261105.csv.gz"] {
            #expect(r.stderr.contains(name + ": not a"), "\(name) is reported: \(r.stderr)")
        }
        #expect(!r.stderr.contains(".part") && !r.stderr.contains(".tmp") && !r.stderr.contains(".tax-"), "arriving files are left alone")
        let left = Set(Harness.files(in: dir + "/in"))
        #expect(left == ["tax-20261102.csv.part", "tax-20261102.csv.tmp", ".tax-20261102.csv", "Tax-20261122.csv", "parking-20261101.csv",
                         "tax-20261103.csv", "court-20261104.xml", "transit-20261105.csv.gz"], "\(left)")
        #expect(messages(r.text).contains { $0.hasPrefix("nightly: tax-20261101.csv: read") }, "the feed files were taken")
        let run = try lastRun(dir + "/out")
        #expect(run["status"] as? String == "attention" && run["exit"] as? Int == 2)
        #expect((run["files"] as! [[String: Any]]).filter { $0["status"] as? String == "unknown" }.count == 5)
    }

    /// A file is taken only once it has settled; one that changes after it was read is not moved
    /// to done/ and the rest of it comes the next night.
    @Test func aFileStillChangingIsNotTakenOrNotMoved() throws {
        let (dir, secret) = try setUp()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let commerce = dir + "/in/commerce-20261101.csv"
        // Everything settled an hour ago but the commerce file, written just now.
        for f in Harness.files(in: dir + "/in") where !f.hasPrefix("commerce-") {
            try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSinceNow: -3600)], ofItemAtPath: dir + "/in/" + f)
        }
        let unsettled = try nightly(dir + "/in", dir + "/ledger.db", dir + "/out", asOf: "2026-11-01", secret: secret, env: ["TALLY_SETTLE_SECONDS": "600"])
        #expect(unsettled.status == 2 && unsettled.text.contains("commerce-20261101.csv: changed") && unsettled.text.contains("settle"), "\(unsettled.text)")
        #expect(FileManager.default.fileExists(atPath: commerce))
        #expect((try lastRun(dir + "/out")["files"] as! [[String: Any]]).contains { $0["file"] as? String == "commerce-20261101.csv" && $0["status"] as? String == "unsettled" })

        // Now it grows while the night runs: tally-store is wrapped to append a row after ingest.
        let row = "O2026110199999999,A0269440587,,2026-11-01T20:44:42+08:00,Home,12.00,late,web"
        let wrapped = try binariesWrapping("tally-store", in: dir, script: "\"\(Harness.binaries)/tally-store\" \"$@\"; s=$?\nif [ \"$1\" = ingest ]; then printf '%s\\n' '\(row)' >> '\(commerce)'; fi\nexit $s\n")
        let grew = try nightly(dir + "/in", dir + "/ledger.db", dir + "/out", asOf: "2026-11-01", secret: secret, env: ["TALLY_BIN": wrapped])
        #expect(grew.status == 2 && grew.stderr.contains("commerce-20261101.csv") && grew.stderr.contains("changed during the night"), "\(grew.stderr)")
        #expect(FileManager.default.fileExists(atPath: commerce), "left in INCOMING")
        // The next night takes the rest of it, and moves it.
        let next = try nightly(dir + "/in", dir + "/ledger.db", dir + "/out", asOf: "2026-11-01", secret: secret)
        #expect(next.status == 0 && next.text.contains("commerce-20261101.csv: read") && next.text.contains("1 new"), "\(next.text) \(next.stderr)")
        #expect(!FileManager.default.fileExists(atPath: commerce))
        #expect(try Harness.run("tally-store", ["dump", dir + "/ledger.db"]).text.contains("O2026110199999999"))
    }

    /// A file above its feed's tolerated share of rejected rows is quarantined, not ingested;
    /// once released by moving it to OUTDIR/released/, the next night takes it.
    /// A file that changes between its hash and tally-parse's reading of it is not taken: the
    /// hash tally-parse made of the bytes it read is not the one made before.
    @Test func aFileChangedBeforeItIsReadIsNotTaken() throws {
        let (dir, secret) = try setUp()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let commerce = dir + "/in/commerce-20261101.csv"
        // tally-parse wrapped to add a row to the commerce file just before it reads it.
        let row = "O2026110199999998,A0269440587,,2026-11-01T20:44:42+08:00,Home,12.00,late,web"
        let wrapped = try binariesWrapping("tally-parse", in: dir, script: "for a in \"$@\"; do if [ \"$a\" = '\(commerce)' ]; then printf '%s\\n' '\(row)' >> '\(commerce)'; fi; done\nexec \"\(Harness.binaries)/tally-parse\" \"$@\"\n")
        let r = try nightly(dir + "/in", dir + "/ledger.db", dir + "/out", asOf: "2026-11-01", secret: secret, env: ["TALLY_BIN": wrapped])
        #expect(r.status == 2 && r.stderr.contains("commerce-20261101.csv: changed while it was read"), "\(r.stderr)")
        #expect(FileManager.default.fileExists(atPath: commerce), "left in INCOMING")
        #expect((try lastRun(dir + "/out")["files"] as! [[String: Any]]).contains { $0["file"] as? String == "commerce-20261101.csv" && $0["status"] as? String == "changed" })
        let dump = try Harness.run("tally-store", ["dump", dir + "/ledger.db"]).text
        #expect(!dump.contains("\"source\":\"commerce\"") && dump.contains("\"source\":\"tax\""), "nothing of the file is taken, the rest is")
    }

    @Test func aFileOfRejectsIsQuarantinedUntilReleased() throws {
        let (dir, secret) = try setUp()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // Every row of the tax file rejected: amounts with three decimals.
        let tax = dir + "/in/tax-20261101.csv"
        let text = try String(contentsOfFile: tax, encoding: .isoLatin1)
        let broken = text.replacingOccurrences(of: #"(,[0-9]+\.[0-9]{2})(,[0-9.]*,(paid|late|arrears|evasion)\r)"#, with: "$1" + "5" + "$2", options: .regularExpression)
        #expect(broken != text)
        try broken.write(toFile: tax, atomically: true, encoding: .isoLatin1)
        let r = try nightly(dir + "/in", dir + "/ledger.db", dir + "/out", asOf: "2026-11-01", secret: secret)
        #expect(r.status == 2 && r.stderr.contains("tax-20261101.csv: ") && r.stderr.contains("quarantined"), "\(r.stderr)")
        #expect(FileManager.default.fileExists(atPath: dir + "/out/quarantine/tax-20261101.csv") && !FileManager.default.fileExists(atPath: tax))
        #expect(!(try Harness.run("tally-store", ["dump", dir + "/ledger.db"]).text.contains("\"source\":\"tax\"")), "nothing of it ingested")
        #expect((try lastRun(dir + "/out")["files"] as! [[String: Any]]).contains { $0["status"] as? String == "quarantined" && $0["rejected"] as? Int == $0["read"] as? Int })
        // The operator reviews it and releases it.
        try FileManager.default.moveItem(atPath: dir + "/out/quarantine/tax-20261101.csv", toPath: dir + "/out/released/tax-20261101.csv")
        let released = try nightly(dir + "/in", dir + "/ledger.db", dir + "/out", asOf: "2026-11-01", secret: secret)
        #expect(released.status == 0 && released.text.contains("tax-20261101.csv: read"), "\(released.text) \(released.stderr)")
        #expect(FileManager.default.fileExists(atPath: dir + "/out/done/tax-20261101.csv"))
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
