import Foundation
import Testing

/// Runs a Python snippet with the ledger path as argv[1] (Python's sqlite3 is the oracle).
func sqlite(_ db: String, _ code: String) throws -> String {
    let r = try Harness.run("/usr/bin/env", ["python3", "-c", "import sqlite3, sys\ndb = sqlite3.connect(sys.argv[1])\n" + code, db])
    precondition(r.status == 0, r.stderr)
    return r.text.trimmingCharacters(in: .whitespacesAndNewlines)
}

/// `tally-bench score-data` records for `people`, cut at `cuts` into files `dir/part0.jsonl`,
/// `part1.jsonl`, …; their paths.
func recordParts(_ dir: String, people: Int, records: Int, cuts: [Int]) throws -> [String] {
    let all = dir + "/records.jsonl"
    let made = try Harness.run("tally-bench", ["score-data", "--people", "\(people)", "--records", "\(records)", "--out", all, "--corrections", dir + "/c.jsonl"])
    precondition(made.status == 0, made.stderr)
    let lines = try String(contentsOfFile: all, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: true)
    let bounds = [0] + cuts + [lines.count]
    return try zip(bounds, bounds.dropFirst()).enumerated().map { i, range in
        let path = dir + "/part\(i).jsonl"
        try (lines[range.0..<range.1].joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }
}

@Suite(.serialized) struct StoreStageTests {
    @Test func ingestIsIdempotentKeepsAmendmentsAndDumpsCorrectionsFirst() throws {
        let r = try LinkedRun(people: 2000, days: 3)
        defer { r.run.remove() }
        let db = r.run.dir + "/ledger.db"
        let first = try Harness.run("tally-store", ["ingest", "--stats", r.run.dir + "/s1.json", db, r.events, r.corrections])
        #expect(first.status == 0, "\(first.stderr)")
        let n = try String(contentsOfFile: r.linked, encoding: .utf8).split(separator: "\n").count
        #expect(first.stderr.contains("read \(n), inserted \(n), skipped 0, amended 0, stale 0, rejected 0"), "\(first.stderr)")
        let again = try Harness.run("tally-store", ["ingest", db, r.linked])
        #expect(again.stderr.contains("read \(n), inserted 0, skipped \(n), amended 0"), "\(again.stderr)")
        var mode = stat()
        #expect(stat(db, &mode) == 0 && mode.st_mode & 0o777 == 0o600)

        // The same records delivered in a file of another name: prov differs, content does not.
        let renamed = r.run.dir + "/renamed.jsonl"
        try String(contentsOfFile: r.events, encoding: .utf8).replacingOccurrences(of: "\"file\":\"transit-", with: "\"file\":\"again-transit-")
            .write(toFile: renamed, atomically: true, encoding: .utf8)
        let renamedRun = try Harness.run("tally-store", ["ingest", db, renamed])
        #expect(renamedRun.stderr.contains("inserted 0,") && renamedRun.stderr.contains("amended 0"), "\(renamedRun.stderr)")

        // A changed record is an amendment; its earlier line is kept.
        let events = try String(contentsOfFile: r.events, encoding: .utf8).split(separator: "\n")
        let changed = events[0].replacingOccurrences(of: "\"attrs\":{", with: "\"attrs\":{\"amended\":\"yes\",")
        let amend = r.run.dir + "/amend.jsonl"
        try (changed + "\n").write(toFile: amend, atomically: true, encoding: .utf8)
        let amended = try Harness.run("tally-store", ["ingest", db, amend])
        #expect(amended.stderr.contains("inserted 0, skipped 0, amended 1"), "\(amended.stderr)")
        let history = try sqlite(db, "print(db.execute('select count(*), min(version) from amendments').fetchone(), db.execute('select version from records where line like ?', ('%\"amended\":\"yes\"%',)).fetchone())")
        #expect(history == "(1, 1) (2,)")

        // dump: corrections first, then the rest, every record once.
        let dump = try Harness.run("tally-store", ["dump", db])
        let lines = dump.text.split(separator: "\n")
        #expect(lines.count == n)
        let firstRecord = lines.firstIndex { !$0.contains("\"kind\":\"correction.") }!
        #expect(firstRecord > 0 && !lines[firstRecord...].contains { $0.contains("\"kind\":\"correction.") })
        #expect(lines.contains { $0 == changed })

        // files: one line per feed file, by SHA-256; --sha256 says whether a file was taken.
        let files = try Harness.run("tally-store", ["files", db])
        let manifest = files.text.split(separator: "\n")
        let feedFiles = Set(try String(contentsOfFile: r.linked, encoding: .utf8).split(separator: "\n").map {
            (try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any])["prov"] as! [String: Any] }.map { $0["sha256"] as! String })
        #expect(manifest.count == feedFiles.count)
        #expect(try Harness.run("tally-store", ["files", db, "--sha256", feedFiles.first!]).status == 0)
        #expect(try Harness.run("tally-store", ["files", db, "--sha256", String(repeating: "0", count: 64)]).status == 1)
        #expect(try sqlite(db, "print(db.execute('pragma integrity_check').fetchone()[0])") == "ok")
    }

    @Test func oldLedgersAreMigratedNewerOnesAndStrangersRefused() throws {
        let dir = Harness.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let record = #"{"v":1,"id":"tax:00000000000000000000000000000001","source":"tax","kind":"tax.paid","subject":{"scheme":"cn-rid","id":"990106199001011232"},"at":"2026-11-01T16:00:00Z","attrs":{},"prov":{"file":"tax-20261102.csv","sha256":"\#(String(repeating: "ab", count: 32))","line":2}}"#
        // A version-1 ledger, as tally wrote it then: no records.version, no amendments.
        let v1 = dir + "/v1.db"
        _ = try sqlite(v1, """
            db.executescript('''
            CREATE TABLE records(seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, correction INTEGER NOT NULL, content BLOB NOT NULL, line TEXT NOT NULL);
            CREATE INDEX records_corrections ON records(seq) WHERE correction = 1;
            CREATE TABLE files(sha256 TEXT PRIMARY KEY, name TEXT NOT NULL, records INTEGER NOT NULL, ingested_at TEXT NOT NULL);
            PRAGMA user_version = 1;''')
            db.execute("INSERT INTO records(id, correction, content, line) VALUES ('tax:00000000000000000000000000000001', 0, x'00', ?)", (sys.argv[2] if len(sys.argv) > 2 else '',))
            db.commit()
            """)
        // Its content hash as tally computed it: SHA-256 of the line without the prov object.
        _ = try sqlite(v1, """
            import hashlib
            line = '\(record.replacingOccurrences(of: "'", with: "\\'"))'
            i = line.index('"prov":') + 7
            j = line.index('}', i) + 1
            db.execute('update records set line = ?, content = ?', (line, hashlib.sha256((line[:i] + line[j:]).encode()).digest()))
            db.commit()
            """)
        let dump = try Harness.run("tally-store", ["dump", v1])
        #expect(dump.status == 0 && dump.text == record + "\n", "\(dump.stderr)")
        // Reading leaves it as it is; the next ingest migrates it.
        #expect(try sqlite(v1, "print(db.execute('pragma user_version').fetchone()[0])") == "1")
        #expect(try Harness.run("tally-store", ["ingest", v1, "/dev/null"]).status == 0)
        #expect(try sqlite(v1, "print(db.execute('pragma user_version').fetchone()[0], db.execute(\"select count(*) from sqlite_master where name = 'amendments'\").fetchone()[0])") == "3 1")
        #expect(try Harness.run("tally-store", ["check", v1]).status == 0)

        let v4 = dir + "/v4.db"
        _ = try sqlite(v4, "db.execute('create table records(x)'); db.execute('pragma user_version = 4'); db.commit()")
        let newer = try Harness.run("tally-store", ["dump", v4])
        #expect(newer.status == 65 && newer.stderr.contains("schema version 4, written by a newer tally"), "\(newer.stderr)")

        let stranger = dir + "/other.db"
        _ = try sqlite(stranger, "db.execute('create table t(x)'); db.commit()")
        let refused = try Harness.run("tally-store", ["ingest", stranger, "/dev/null"])
        #expect(refused.status == 65 && refused.stderr.contains("not a tally ledger"))
        try "not sqlite at all".write(toFile: dir + "/text.db", atomically: true, encoding: .utf8)
        #expect(try Harness.run("tally-store", ["dump", dir + "/text.db"]).status == 65)
        #expect(try Harness.run("tally-store", ["dump", dir + "/missing.db"]).status == 66)
    }

    @Test func anIngestKilledAtRandomLeavesEveryRecordExactlyOnceWhenRunAgain() throws {
        let dir = Harness.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let records = dir + "/records.jsonl"
        #expect(try Harness.run("tally-bench", ["score-data", "--people", "20000", "--records", "400000", "--out", records, "--corrections", dir + "/c.jsonl"]).status == 0)
        let db = dir + "/ledger.db"
        var kills = 0
        var rng = TestRandom.seeded("StoreStageTests kill points")
        for round in 0..<6 {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: Harness.binaries + "/tally-store")
            p.arguments = ["ingest", db, records]
            p.standardError = FileHandle.nullDevice
            try p.run()
            // The point of the test is a kill at a random moment: the wait picks it.
            usleep(UInt32.random(in: 150_000...(round < 3 ? 900_000 : 2_500_000), using: &rng))
            if p.isRunning {
                kill(p.processIdentifier, SIGKILL)
                kills += 1
            }
            p.waitUntilExit()
        }
        let last = try Harness.run("tally-store", ["ingest", db, records])
        #expect(last.status == 0, "\(last.stderr)")
        let expected = 400_000
        #expect(try sqlite(db, "print(db.execute('select count(*), count(distinct id) from records').fetchone())") == "(\(expected), \(expected))")
        #expect(try sqlite(db, "print(db.execute('pragma integrity_check').fetchone()[0])") == "ok")
        #expect(try sqlite(db, "print(db.execute('select sum(records) from files').fetchone()[0])") == "\(expected)")
        print("tally-store ingest of 400,000 records killed with SIGKILL \(kills) times at random points, then run again: every record present once")
        #expect(kills >= 3, "the ingest ran long enough to be killed mid-way")
    }

    /// `ingest --no-checkpoint` leaves its commits in the write-ahead log, where every reader
    /// sees them and a killed process loses none; `checkpoint` copies them into the ledger's file
    /// and empties the log, and a checkpoint killed at any point loses nothing either.
    @Test func aCheckpointLeftForLaterLosesNothingAndAKilledOneNeither() throws {
        let dir = Harness.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let parts = try recordParts(dir, people: 20_000, records: 300_000, cuts: [100_000])
        let db = dir + "/ledger.db", wal = db + "-wal"
        func walBytes() -> Int { (try? FileManager.default.attributesOfItem(atPath: wal)[.size] as? Int) ?? 0 }
        // Python's sqlite3 is the oracle, read-only: a connection that may write would copy the
        // log into the file when it closes, which is what is under test.
        func readOnly(_ code: String) throws -> String {
            let r = try Harness.run("/usr/bin/env", ["python3", "-c", "import sqlite3, sys\ndb = sqlite3.connect('file:' + sys.argv[1] + '?mode=ro', uri=True)\n" + code, db])
            precondition(r.status == 0, r.stderr)
            return r.text.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        func count() throws -> String { try readOnly("print(db.execute('select count(*), count(distinct id) from records').fetchone())") }

        #expect(try Harness.run("tally-store", ["ingest", db, parts[0]]).status == 0)
        #expect(walBytes() == 0, "a plain ingest copies its log into the ledger's file before it exits")
        let deferred = try Harness.run("tally-store", ["ingest", "--no-checkpoint", db, parts[1]])
        #expect(deferred.status == 0, "\(deferred.stderr)")
        let logged = walBytes()
        #expect(logged > 20_000_000, "the second ingest's pages are still in the log: \(logged) bytes")
        // Read as ever, by tally and by SQLite itself, with the log beside the file.
        #expect(try count() == "(300000, 300000)")
        #expect(try Harness.run("tally-store", ["dump", db]).text.split(separator: "\n").count == 300_000)
        #expect(walBytes() == logged, "reading copied nothing")

        // How long a checkpoint of this log takes here, on a copy; then the ledger's own
        // checkpoints killed at random points within that time.
        let probe = dir + "/probe.db"
        try FileManager.default.copyItem(atPath: db, toPath: probe)
        try FileManager.default.copyItem(atPath: db + "-wal", toPath: probe + "-wal")
        let began = Date()
        #expect(try Harness.run("tally-store", ["checkpoint", probe]).status == 0)
        let takes = Date().timeIntervalSince(began)
        var kills = 0
        var rng = TestRandom.seeded("StoreStageTests checkpoint kill points")
        for _ in 0..<5 {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: Harness.binaries + "/tally-store")
            p.arguments = ["checkpoint", db]
            p.standardError = FileHandle.nullDevice
            try p.run()
            usleep(UInt32(takes * Double.random(in: 0.1...0.6, using: &rng) * 1_000_000))
            if p.isRunning {
                kill(p.processIdentifier, SIGKILL)
                kills += 1
            }
            p.waitUntilExit()
            #expect(try count() == "(300000, 300000)")
            #expect(try readOnly("print(db.execute('pragma integrity_check').fetchone()[0])") == "ok")
        }
        let done = try Harness.run("tally-store", ["checkpoint", db])
        #expect(done.status == 0, "\(done.stderr)")
        #expect(done.stderr.contains("checkpointed:") || done.stderr.contains("was empty"), "\(done.stderr)")
        #expect(walBytes() == 0, "the log is emptied")
        #expect(try count() == "(300000, 300000)")
        #expect(try Harness.run("tally-store", ["check", db]).status == 0)
        let again = try Harness.run("tally-store", ["checkpoint", db])
        #expect(again.status == 0 && again.stderr.contains("the write-ahead log was empty"), "\(again.stderr)")
        #expect(try Harness.run("tally-store", ["checkpoint", dir + "/missing.db"]).status == 66)
        #expect(kills >= 1, "a checkpoint was killed mid-way (one takes \(takes) s here)")
        print("tally-store checkpoint of \(logged) bytes of log (\(takes) s) killed with SIGKILL \(kills) times at random points: every record present once, the ledger whole")
    }

    /// `checkpoint --follow` copies what ingests commit while they run, holding the ledger open,
    /// and once its input ends copies the rest and empties the log.
    @Test func aFollowingCheckpointCopiesWhatIngestsCommitUntilItsInputEnds() throws {
        let dir = Harness.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let parts = try recordParts(dir, people: 5_000, records: 60_000, cuts: [20_000, 40_000])
        let db = dir + "/ledger.db"
        #expect(try Harness.run("tally-store", ["ingest", db, parts[0]]).status == 0)
        let before = (try FileManager.default.attributesOfItem(atPath: db)[.size] as? Int) ?? 0
        let follower = Process()
        follower.executableURL = URL(fileURLWithPath: Harness.binaries + "/tally-store")
        follower.arguments = ["checkpoint", "--follow", db]
        let input = Pipe(), errors = Pipe()
        follower.standardInput = input
        follower.standardError = errors
        try follower.run()
        for i in 1...2 {
            let r = try Harness.run("tally-store", ["ingest", "--no-checkpoint", db, parts[i]])
            #expect(r.status == 0, "\(r.stderr)")
        }
        usleep(300_000)
        #expect(follower.isRunning, "it follows until its input ends")
        // What the ingests committed has been copied already (ingests with --no-checkpoint
        // write only to the log): the ledger's file has grown.
        let grown = (try FileManager.default.attributesOfItem(atPath: db)[.size] as? Int) ?? 0
        try input.fileHandleForWriting.close()
        follower.waitUntilExit()
        let said = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(follower.terminationStatus == 0, "\(said)")
        #expect(said.contains("and the log emptied"), "\(said)")
        #expect(((try? FileManager.default.attributesOfItem(atPath: db + "-wal")[.size] as? Int) ?? 0) == 0)
        let final = (try FileManager.default.attributesOfItem(atPath: db)[.size] as? Int) ?? 0
        #expect(grown > before && final >= grown, "\(before) \(grown) \(final)")
        #expect(try sqlite(db, "print(db.execute('select count(*), count(distinct id) from records').fetchone())") == "(60000, 60000)")
        #expect(try Harness.run("tally-store", ["check", db]).status == 0)
    }
}
