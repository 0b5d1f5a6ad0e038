import Foundation
import Testing

/// What a partition of the history needs of the stages (pipelines/spark/nightly.py --state):
/// `tally-store extract`, which hands on an identifier's or a record's current lines with their
/// corrections, and `tally-score --skip-identifiers`, which leaves the rows of identifiers that
/// moved on out of the scores.
@Suite(.serialized) struct PartitionedHistoryTests {
    let dir = Harness.scratch()
    var db: String { dir + "/ledger.db" }
    var secret: String { dir + "/tally.secret" }

    init() {
        _ = FileManager.default.createFile(atPath: secret, contents: Data("partitioned history test secret, synthetic".utf8), attributes: [.posixPermissions: 0o600])
    }

    func write(_ lines: [String], to name: String) throws -> String {
        let path = dir + "/" + name
        try (lines.joined(separator: "\n") + (lines.isEmpty ? "" : "\n")).write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func identifier(_ scheme: String, _ id: String) -> String { "{\"scheme\":\"\(scheme)\",\"id\":\"\(id)\"}" }

    static func record(_ n: Int, scheme: String, subject: String, day: Int, amount: Int? = nil, kind: String = "tax.late") -> String {
        Lines.record(id: "tax:\(Lines.hex32(n, 5))", kind: kind, scheme: scheme, subject: subject, at: "2026-10-\(String(format: "%02d", 1 + n % 28))T08:00:00Z",
                     amount: amount ?? 1000 * (n + 1), file: "tax-202611\(String(format: "%02d", day)).csv", line: n + 2)
    }

    static func correction(_ k: Int, target n: Int, action: String, day: Int) -> String {
        Lines.correction(id: "corrections:\(Lines.hex32(k, 6))", action: action, target: "tax:\(Lines.hex32(n, 5))",
                         at: "2026-11-\(String(format: "%02d", day))T09:00:00Z", file: "corrections-202611\(String(format: "%02d", day)).csv", line: k + 2)
    }

    @Test func extractHandsOnTheCurrentLinesOfAnIdentifiersRecordsThenTheirCorrections() throws {
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let card = ScoringStoreTests.card(1), other = ScoringStoreTests.card(2), rid = ScoringStoreTests.person(3)
        // Records 0–5 of one card, 6–9 of another, 10–11 of a resident; corrections of 1, 7 and 10.
        var lines = (0..<6).map { Self.record($0, scheme: "transit-card", subject: card, day: 1) }
        lines += (6..<10).map { Self.record($0, scheme: "transit-card", subject: other, day: 1) }
        lines += (10..<12).map { Self.record($0, scheme: "cn-rid", subject: rid, day: 1) }
        lines += [Self.correction(0, target: 1, action: "dispute", day: 1), Self.correction(1, target: 7, action: "retract", day: 1),
                  Self.correction(2, target: 10, action: "dispute", day: 1)]
        #expect(try Harness.run("tally-store", ["ingest", db, try write(lines, to: "night1.jsonl")]).status == 0)
        // Night 2: record 2 restated with another amount, record 3 restated to the other card
        // (its subject changed), record 6 restated to the first card.
        let restated = [Self.record(2, scheme: "transit-card", subject: card, day: 2, amount: 7),
                        Self.record(3, scheme: "transit-card", subject: other, day: 2),
                        Self.record(6, scheme: "transit-card", subject: card, day: 2)]
        #expect(try Harness.run("tally-store", ["ingest", db, try write(restated, to: "night2.jsonl")]).status == 0)
        let moving = try write([identifier("transit-card", card)], to: "moving.jsonl")

        // Identifiers are found through the scoring store's rows: a store behind the ledger is refused.
        #expect(try Harness.run("tally-store", ["update-scoring", db]).status == 0)
        #expect(try Harness.run("tally-store", ["ingest", db, try write([Self.record(20, scheme: "transit-card", subject: card, day: 3)], to: "night3.jsonl")]).status == 0)
        let behind = try Harness.run("tally-store", ["extract", db, "--identifiers", moving])
        #expect(behind.status == 65 && behind.stdout.isEmpty && behind.stderr.contains("the scoring store is behind the ledger"), "\(behind.stderr)")
        #expect(try Harness.run("tally-store", ["update-scoring", db]).status == 0)

        let out = try Harness.run("tally-store", ["extract", db, "--identifiers", moving])
        #expect(out.status == 0, "\(out.stderr)")
        let got = out.text.split(separator: "\n").map(String.init)
        // The card's records now: 0, 1, 2 (its restated line), 4, 5, 6 (restated to it) and 20, in
        // the ledger's order (6 was stored before 20), then the correction of 1; not 3, which
        // left it, nor the other identifiers' records or corrections.
        let expected = [lines[0], lines[1], restated[0], lines[4], lines[5], restated[2], Self.record(20, scheme: "transit-card", subject: card, day: 3), lines[12]]
        #expect(got == expected, "\(out.text)")
        #expect(out.stderr.contains("extracted 7 records and 1 corrections (1 identifiers, 0 ids asked for)"), "\(out.stderr)")

        // By id: the current version, whatever its subject, with its corrections; ids the ledger
        // lacks, and corrections' own ids, give nothing.
        let ids = try write(["tax:\(Lines.hex32(3, 5))", "tax:\(Lines.hex32(7, 5))", "tax:\(Lines.hex32(99, 5))", "corrections:\(Lines.hex32(0, 6))"], to: "ids.txt")
        let byID = try Harness.run("tally-store", ["extract", db, "--ids", ids])
        #expect(byID.status == 0 && byID.text.split(separator: "\n").map(String.init) == [restated[1], lines[7], lines[13]], "\(byID.text)")
        // Both at once: each record once.
        let both = try Harness.run("tally-store", ["extract", db, "--identifiers", moving, "--ids", try write(["tax:\(Lines.hex32(0, 5))", "tax:\(Lines.hex32(11, 5))"], to: "ids2.txt")])
        #expect(both.status == 0 && both.text.split(separator: "\n").count == expected.count + 1, "\(both.text)")
        #expect(both.text.contains(lines[11]))

        // What is handed on, ingested into another ledger, is the same records.
        let other2 = dir + "/other.db"
        #expect(try Harness.run("tally-store", ["ingest", other2, try write(got, to: "handed.jsonl")]).status == 0)
        #expect(try Harness.run("tally-store", ["dump", other2]).text.split(separator: "\n").map(String.init).sorted() == got.sorted())
    }

    @Test func badListsAndMissingLedgersAreRefused() throws {
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(try Harness.run("tally-store", ["ingest", db, try write([Self.record(0, scheme: "cn-rid", subject: ScoringStoreTests.person(1), day: 1)], to: "r.jsonl")]).status == 0)
        #expect(try Harness.run("tally-store", ["update-scoring", db]).status == 0)
        for (name, text, why) in [("notjson.jsonl", "transit-card\t8000000000000001\n", "not an identifier"),
                                  ("extra.jsonl", "{\"scheme\":\"a\",\"id\":\"b\",\"person\":\"c\"}\n", "only \"scheme\" and \"id\""),
                                  ("empty-id.jsonl", "{\"scheme\":\"transit-card\",\"id\":\"\"}\n", "non-empty"),
                                  ("cut.jsonl", "{\"scheme\":\"a\",\"id\":\"b\"}\n{\"scheme\":\"a\",\"id\"\n", "cut.jsonl:2")] {
            try text.write(toFile: dir + "/" + name, atomically: true, encoding: .utf8)
            let extract = try Harness.run("tally-store", ["extract", db, "--identifiers", dir + "/" + name])
            #expect(extract.status == 65 && extract.stdout.isEmpty && extract.stderr.contains(why), "\(name): \(extract.stderr)")
        }
        let missing = try Harness.run("tally-store", ["extract", dir + "/none.db", "--ids", try write(["x"], to: "ids.txt")])
        #expect(missing.status == 66, "\(missing.stderr)")
        let unreadable = try Harness.run("tally-store", ["extract", db, "--identifiers", dir + "/no-such-list.jsonl"])
        #expect(unreadable.status == 66 && unreadable.stdout.isEmpty, "\(unreadable.stderr)")
        #expect(try Harness.run("tally-store", ["extract", db]).status == 64)
        let notStore = try Harness.run("tally-score", ["--skip-identifiers", dir + "/cut.jsonl", "--as-of", "2026-11-01", dir + "/r.jsonl"])
        #expect(notStore.status == 64 && notStore.stderr.contains("--skip-identifiers goes with --store"), "\(notStore.stderr)")
        // A bad list stops the scoring too: half a list would score people who moved on.
        #expect(try Harness.run("tally-link", ["--store", db + ".scoring", "--output", dir + "/persons.bin", "--crosswalk", "/dev/null", "--secret-file", secret]).status == 0)
        let bad = try Harness.run("tally-score", ["--store", db + ".scoring", "--persons", dir + "/persons.bin", "--skip-identifiers", dir + "/cut.jsonl", "--as-of", "2026-11-01"])
        #expect(bad.status == 65 && bad.stdout.isEmpty && bad.stderr.contains("cut.jsonl:2"), "\(bad.stderr)")
    }

    /// Scores from the store skipping some identifiers are the scores of the ledger's dump
    /// without those identifiers' records: from the rows in ledger order, and from a copy in
    /// person order with rows appended and rewritten since.
    @Test func skippedIdentifiersScoreAsIfTheirRecordsWereElsewhere() throws {
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var rng = TestRandom.seeded("PartitionedHistoryTests skip")
        let kinds = ["tax.late", "transit.fare-evasion", "commerce.late", "court.dishonest-debtor"]
        func subject(_ i: Int) -> (String, String) {
            i % 2 == 0 ? ("transit-card", ScoringStoreTests.card(i % 60)) : ("cn-rid", ScoringStoreTests.person(i % 60))
        }
        func line(_ n: Int, day: Int) -> String {
            let s = subject(Int.random(in: 0..<120, using: &rng))
            return Self.record(n, scheme: s.0, subject: s.1, day: day, kind: kinds[n % kinds.count])
        }
        let crosswalk = try write((0..<30).map { Lines.crosswalk($0, scheme: "transit-card", id: ScoringStoreTests.card($0), person: ScoringStoreTests.person($0), file: "crosswalk-20261101.csv") },
                                  to: "crosswalk-20261101.jsonl")
        func ingest(_ lines: [String], _ name: String) throws {
            let linked = try Harness.run("tally-link", ["--crosswalk", crosswalk, "--secret-file", secret, try write(lines, to: name)])
            #expect(linked.status == 0)
            try linked.stdout.write(to: URL(fileURLWithPath: dir + "/" + name + ".linked"))
            #expect(try Harness.run("tally-store", ["ingest", db, dir + "/" + name + ".linked"]).status == 0)
        }
        // Cards 0, 2 and 44 (two of them linked to residents who keep other records) and one
        // resident skipped; each also holds ten records of its own beside the random ones.
        let skipped = [("transit-card", ScoringStoreTests.card(0)), ("transit-card", ScoringStoreTests.card(2)), ("transit-card", ScoringStoreTests.card(44)),
                       ("cn-rid", ScoringStoreTests.person(5))]
        let theirs = (0..<40).map { Self.record(600 + $0, scheme: skipped[$0 % 4].0, subject: skipped[$0 % 4].1, day: 1, kind: kinds[$0 % kinds.count]) }
        try ingest((0..<400).map { line($0, day: 1) } + theirs + (0..<20).map { Self.correction($0, target: $0 * 7, action: ["dispute", "retract"][$0 % 2], day: 1) }, "n1.jsonl")
        let skip = try write(skipped.map { identifier($0.0, $0.1) }, to: "skip.jsonl")
        let store = db + ".scoring", persons = dir + "/persons.bin"
        func expectSameAsTheDumpWithout(asOf: String) throws {
            #expect(try Harness.run("tally-store", ["update-scoring", db]).status == 0)
            #expect(try Harness.run("tally-link", ["--store", store, "--output", persons, "--crosswalk", crosswalk, "--secret-file", secret]).status == 0)
            let fromStore = try Harness.run("tally-score", ["--store", store, "--persons", persons, "--skip-identifiers", skip, "--as-of", asOf])
            #expect(fromStore.status == 0, "\(fromStore.stderr)")
            let dump = try Harness.run("tally-store", ["dump", db]).text.split(separator: "\n").map(String.init)
            let kept = dump.filter { l in !skipped.contains { l.contains("\"subject\":{\"scheme\":\"\($0.0)\",\"id\":\"\($0.1)\"}") } }
            #expect(kept.count <= dump.count - 40, "the skipped identifiers hold records")
            let relinked = try Harness.run("tally-link", ["--relink", "--crosswalk", crosswalk, "--secret-file", secret, try write(kept, to: "kept.jsonl")])
            #expect(relinked.status == 0, "\(relinked.stderr)")
            try relinked.stdout.write(to: URL(fileURLWithPath: dir + "/relinked.jsonl"))
            let fromDump = try Harness.run("tally-score", ["--corrections-first", "--as-of", asOf, dir + "/relinked.jsonl"])
            #expect(fromDump.status == 0, "\(fromDump.stderr)")
            #expect(!fromStore.stdout.isEmpty && fromStore.stdout == fromDump.stdout, "scores skipping identifiers on \(asOf)")
            let all = try Harness.run("tally-score", ["--store", store, "--persons", persons, "--as-of", asOf])
            #expect(all.stdout != fromStore.stdout, "skipping changes the scores")
        }
        try expectSameAsTheDumpWithout(asOf: "2026-11-01")
        #expect(try Harness.run("tally-store", ["order-scoring", db, "--persons", persons]).status == 0)
        // Night 2: new rows, and restatements (some onto a skipped card), read beside the copy.
        try ingest((400..<500).map { line($0, day: 2) } + [Self.record(3, scheme: "transit-card", subject: ScoringStoreTests.card(2), day: 2),
                                                            Self.record(8, scheme: "cn-rid", subject: ScoringStoreTests.person(9), day: 2)], "n2.jsonl")
        try expectSameAsTheDumpWithout(asOf: "2026-11-02")
        #expect(FileManager.default.fileExists(atPath: store + "/ordered"))
    }
}
