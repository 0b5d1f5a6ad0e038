import Foundation
import Testing

/// The ledger detects damage when it is read, keeps the newest truth, knows a file delivered
/// again with other bytes, and can be read on a read-only file system.
@Suite(.serialized) struct LedgerTrustTests {
    @Test func aChangedLineOrADamagedPageIsFoundWhenRead() throws {
        let r = try LinkedRun(people: 1500, days: 2, seed: 4)
        defer { r.run.remove() }
        let db = r.run.dir + "/ledger.db"
        #expect(try Harness.run("tally-store", ["ingest", db, r.linked]).status == 0)
        let whole = try Harness.run("tally-store", ["check", db])
        #expect(whole.status == 0 && whole.stderr.contains(": ok: ") && whole.stderr.contains("every record verified"), "\(whole.stderr)")

        // A line changed behind tally's back (a lower amount, say): dump and check name its row.
        let tampered = r.run.dir + "/tampered.db"
        try FileManager.default.copyItem(atPath: db, toPath: tampered)
        let seq = try sqlite(tampered, """
            row = db.execute("select seq, line from records where correction = 0 and line like '%\\"amount_fen\\":%' order by seq limit 1").fetchone()
            import re
            db.execute('update records set line = ? where seq = ?', (re.sub('"amount_fen":[0-9]+', '"amount_fen":1', row[1]), row[0]))
            db.commit()
            print(row[0])
            """)
        let dump = try Harness.run("tally-store", ["dump", tampered])
        #expect(dump.status == 65 && dump.stderr.contains("row \(seq) ") && dump.stderr.contains("changed outside tally"), "\(dump.stderr)")
        let check = try Harness.run("tally-store", ["check", tampered])
        #expect(check.status == 65 && check.stderr.contains("row \(seq) ") && check.stderr.contains("DAMAGED"), "\(check.stderr)")

        // A line replaced by one that is not a valid record.
        let invalid = r.run.dir + "/invalid.db"
        try FileManager.default.copyItem(atPath: db, toPath: invalid)
        _ = try sqlite(invalid, "db.execute(\"update records set line = replace(line, '\\\"person\\\":\\\"p_', '\\\"person\\\":\\\"P_') where seq = 7\"); db.commit()")
        let invalidDump = try Harness.run("tally-store", ["dump", invalid])
        #expect(invalidDump.status == 65 && invalidDump.stderr.contains("row 7 ") && invalidDump.stderr.contains("not a valid record"), "\(invalidDump.stderr)")

        // Pages overwritten with noise: an error (65), never a crash and never a quiet short dump.
        let noisy = r.run.dir + "/noisy.db"
        try FileManager.default.copyItem(atPath: db, toPath: noisy)
        let handle = try FileHandle(forUpdating: URL(fileURLWithPath: noisy))
        let size = try handle.seekToEnd()
        var rng = TestRandom.seeded("LedgerTrustTests noise")
        try handle.seek(toOffset: size / 2)
        try handle.write(contentsOf: Data((0..<16384).map { _ in UInt8.random(in: 0...255, using: &rng) }))
        try handle.close()
        let noisyCheck = try Harness.run("tally-store", ["check", noisy])
        #expect(noisyCheck.status == 65, "\(noisyCheck.stderr)")
        let noisyDump = try Harness.run("tally-store", ["dump", noisy])
        #expect(noisyDump.status == 65, "\(noisyDump.stderr)")
    }

    /// A later-dated file's version of a record wins; an older file's version, or one already
    /// replaced, is stale: counted, named, never applied.
    @Test func anOlderVersionNeverReplacesANewerAmendment() throws {
        let r = try LinkedRun(people: 600, days: 1, seed: 6)
        defer { r.run.remove() }
        let db = r.run.dir + "/ledger.db"
        let line = try String(contentsOfFile: r.events, encoding: .utf8).split(separator: "\n").first { $0.contains("\"file\":\"tax-") }!
        let file = try #require(line.range(of: #""file":"tax-[0-9]{8}\.csv""#, options: .regularExpression))
        func version(_ date: String, _ note: String) -> String {
            line.replacingCharacters(in: file, with: "\"file\":\"tax-\(date).csv\"").replacingOccurrences(of: "\"attrs\":{", with: "\"attrs\":{\"note\":\"\(note)\",")
        }
        func ingest(_ lines: String...) throws -> Harness.Result {
            let path = r.run.dir + "/in.jsonl"
            try (lines.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
            return try Harness.run("tally-store", ["ingest", db, path])
        }
        let old = version("20261101", "first"), new = version("20261103", "amended")
        #expect(try ingest(new).stderr.contains("inserted 1"))
        let late = try ingest(old)
        #expect(late.status == 0 && late.stderr.contains("amended 0, stale 1") && late.stderr.contains("tax-20261101.csv"), "\(late.stderr)")
        #expect(try Harness.run("tally-store", ["dump", db]).text == new + "\n")
        // Forward in time it amends; the version it replaced cannot come back, even from a file
        // of the same date.
        let newer = version("20261104", "again")
        #expect(try ingest(newer).stderr.contains("amended 1, stale 0"))
        let replayed = try ingest(new.replacingOccurrences(of: "tax-20261103.csv", with: "tax-20261104.csv"))
        #expect(replayed.stderr.contains("amended 0, stale 1") && replayed.stderr.contains("replaced by a later amendment"), "\(replayed.stderr)")
        #expect(try Harness.run("tally-store", ["dump", db]).text == newer + "\n")
        #expect(try Harness.run("tally-store", ["check", db]).status == 0)
    }

    /// The same records delivered again with other bytes (gzipped after plain) are known as
    /// already taken.
    @Test func aFileDeliveredAgainWithOtherBytesIsKnown() throws {
        let r = try LinkedRun(people: 600, days: 1, seed: 6)
        defer { r.run.remove() }
        let tax = r.run.feeds + "/" + Harness.files(in: r.run.feeds).first { $0.hasPrefix("tax-") }!
        let gz = r.run.dir + "/" + (tax as NSString).lastPathComponent + ".gz"
        #expect(try Harness.run("/bin/sh", ["-c", "gzip -c \"$0\" > \"$1\"", tax, gz]).status == 0)
        let db = r.run.dir + "/ledger.db"
        for path in [tax, gz] {
            let parsed = try Harness.run("tally-parse", ["--feed", "tax", path])
            let records = r.run.dir + "/records.jsonl"
            _ = FileManager.default.createFile(atPath: records, contents: parsed.stdout)
            let linked = try Harness.run("tally-link", ["--crosswalk", r.run.crosswalk, "--secret-file", r.secret, records])
            let file = r.run.dir + "/linked-one.jsonl"
            _ = FileManager.default.createFile(atPath: file, contents: linked.stdout)
            let ingest = try Harness.run("tally-store", ["ingest", db, file])
            #expect(ingest.status == 0)
            if path == gz { #expect(ingest.stderr.contains("already taken, delivered again with other bytes"), "\(ingest.stderr)") }
        }
        let files = try Harness.run("tally-store", ["files", db]).text.split(separator: "\n")
        #expect(files.count == 2 && files[1].contains("\"same_as\":"), "\(files)")
    }

    /// On a read-only file system the ledger is still dumped, listed and checked; an ingest is
    /// 74 with the reason. (A private mount namespace makes the directory read-only.)
    @Test func aLedgerOnAReadOnlyFileSystemIsStillRead() throws {
        let r = try LinkedRun(people: 600, days: 1, seed: 6)
        defer { r.run.remove() }
        let dir = r.run.dir + "/ro"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let db = dir + "/ledger.db"
        #expect(try Harness.run("tally-store", ["ingest", db, r.linked]).status == 0)
        let expected = try Harness.run("tally-store", ["dump", db]).stdout
        let script = """
            mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" || exit 99
            "$0/tally-store" dump "$1/ledger.db" > "$2/dump.jsonl"; echo "dump $?"
            "$0/tally-store" files "$1/ledger.db" > /dev/null; echo "files $?"
            "$0/tally-store" check "$1/ledger.db"; echo "check $?"
            "$0/tally-store" ingest "$1/ledger.db" "$3"; echo "ingest $?"
            """
        let out = try Harness.run("/usr/bin/unshare", ["-m", "/bin/sh", "-c", script, Harness.binaries, dir, r.run.dir, r.linked])
        try #require(out.status != 99 && !out.text.isEmpty, "no private mount namespace here: \(out.stderr)")
        #expect(out.text == "dump 0\nfiles 0\ncheck 0\ningest 74\n", "\(out.text) \(out.stderr)")
        #expect(out.stderr.contains("read-only file system"))
        #expect(FileManager.default.contents(atPath: r.run.dir + "/dump.jsonl") == expected)

        // Records an ingest left in the write-ahead log (--no-checkpoint) are read there too, or
        // the dump is refused; never a dump without them.
        let late = r.run.dir + "/late"
        try FileManager.default.createDirectory(atPath: late, withIntermediateDirectories: true)
        let lines = try String(contentsOfFile: r.linked, encoding: .utf8).split(separator: "\n")
        try (lines.prefix(lines.count / 2).joined(separator: "\n") + "\n").write(toFile: r.run.dir + "/first.jsonl", atomically: true, encoding: .utf8)
        #expect(try Harness.run("tally-store", ["ingest", late + "/ledger.db", r.run.dir + "/first.jsonl"]).status == 0)
        #expect(try Harness.run("tally-store", ["ingest", "--no-checkpoint", late + "/ledger.db", r.linked]).status == 0)
        let readOnly = """
            mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" || exit 99
            "$0/tally-store" dump "$1/ledger.db" > "$2/late.jsonl"; echo "dump $?"
            """
        let inLog = try Harness.run("/usr/bin/unshare", ["-m", "/bin/sh", "-c", readOnly, Harness.binaries, late, r.run.dir])
        if inLog.text == "dump 0\n" {
            #expect(FileManager.default.contents(atPath: r.run.dir + "/late.jsonl") == expected)
        } else {
            #expect(inLog.text == "dump 74\n" && inLog.stderr.contains("write-ahead log"), "\(inLog.text) \(inLog.stderr)")
        }
    }
}

