import Foundation
import Testing

/// A resident number with its check character (ISO 7064 MOD 11-2), from 17 digits.
func residentNumber(_ first17: String) -> String {
    let weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    let sum = zip(first17, weights).reduce(0) { $0 + Int(String($1.0))! * $1.1 }
    return first17 + String(Array("10X98765432")[sum % 11])
}

/// Record lines written by hand, as tally-parse writes them (no escapes needed here).
enum Lines {
    static let sha = String(repeating: "ef", count: 32)

    static func hex32(_ n: Int, _ salt: UInt64) -> String {
        let a = UInt64(n) &* 0x9E37_79B9_7F4A_7C15 ^ salt, b = UInt64(n) ^ (salt << 7)
        return String(format: "%016llx%016llx", a, b)
    }

    static func record(id: String, kind: String, scheme: String, subject: String, at: String, amount: Int?, file: String, line: Int) -> String {
        let source = String(id.prefix { $0 != ":" })
        let money = amount.map { ",\"amount_fen\":\($0)" } ?? ""
        return "{\"v\":1,\"id\":\"\(id)\",\"source\":\"\(source)\",\"kind\":\"\(kind)\",\"subject\":{\"scheme\":\"\(scheme)\",\"id\":\"\(subject)\"},\"at\":\"\(at)\"\(money),\"attrs\":{\"n\":\"\(line)\"},\"prov\":{\"file\":\"\(file)\",\"sha256\":\"\(sha)\",\"line\":\(line)}}"
    }

    static func correction(id: String, action: String, target: String, at: String, file: String, line: Int) -> String {
        "{\"v\":1,\"id\":\"\(id)\",\"source\":\"corrections\",\"kind\":\"correction.\(action)\",\"subject\":{\"scheme\":\"record\",\"id\":\"\(target)\"},\"at\":\"\(at)\",\"target\":\"\(target)\",\"attrs\":{\"source\":\"\(target.prefix { $0 != ":" })\",\"natural_key\":\"K\(line)\",\"reason\":\"test\"},\"prov\":{\"file\":\"\(file)\",\"sha256\":\"\(sha)\",\"line\":\(line)}}"
    }

    static func crosswalk(_ n: Int, scheme: String, id: String, person: String, file: String) -> String {
        "{\"v\":1,\"id\":\"crosswalk:\(hex32(n, 0xC0FFEE))\",\"source\":\"crosswalk\",\"kind\":\"crosswalk.link\",\"subject\":{\"scheme\":\"\(scheme)\",\"id\":\"\(id)\"},\"at\":\"2026-11-01T00:00:00Z\",\"attrs\":{\"person\":\"\(person)\"},\"prov\":{\"file\":\"\(file)\",\"sha256\":\"\(sha)\",\"line\":\(n + 2)}}"
    }
}

/// The scoring store (tally-store update-scoring, tally-link --store, tally-score --store)
/// against the path it replaces: the ledger's dump, relinked and scored.
@Suite(.serialized) struct ScoringStoreTests {
    static let people = 240
    static func person(_ i: Int) -> String { residentNumber("99010119800101" + String(format: "%03d", i % 1000)) }
    static func card(_ i: Int) -> String { "8" + String(format: "%015d", i) }
    static func account(_ i: Int) -> String { "A" + String(format: "%010d", i) }

    let dir = Harness.scratch()
    var db: String { dir + "/ledger.db" }
    var store: String { dir + "/ledger.db.scoring" }
    var secret: String { dir + "/tally.secret" }
    var fold: String { dir + "/crosswalk.fold" }
    var crosswalks: [String] { Harness.files(in: dir).filter { $0.hasPrefix("crosswalk-") }.map { dir + "/" + $0 } }

    /// How many keys each night's link from the night before's persons file kept.
    final class Kept { var nights: [Int] = [] }
    let keptBox = Kept()
    var previousKept: [Int] {
        get { keptBox.nights }
        nonmutating set { keptBox.nights = newValue }
    }

    init() {
        _ = FileManager.default.createFile(atPath: secret, contents: Data("scoring store test secret, synthetic".utf8), attributes: [.posixPermissions: 0o600])
    }

    func write(_ lines: [String], to name: String) throws -> String {
        let path = dir + "/" + name
        try (lines.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// One night: the crosswalk file (if any) joins the others, the records are linked with
    /// every crosswalk so far and ingested, as nightly.sh does.
    func night(_ day: Int, crosswalk: [String], records: [String]) throws {
        if !crosswalk.isEmpty { _ = try write(crosswalk, to: "crosswalk-202611\(String(format: "%02d", day)).jsonl") }
        let input = try write(records, to: "records-\(day).jsonl")
        var arguments = ["--secret-file", secret, input]
        if !crosswalks.isEmpty { arguments = ["--crosswalk"] + crosswalks + arguments } else { arguments = ["--crosswalk", "/dev/null"] + arguments }
        let linked = try Harness.run("tally-link", arguments)
        #expect(linked.status == 0, "\(linked.stderr)")
        try linked.stdout.write(to: URL(fileURLWithPath: input + ".linked"))
        // Through the crosswalk's fold, as nightly.sh links: the same lines, only tonight's file read.
        let folded = try Harness.run("tally-link", ["--fold", fold] + arguments)
        #expect(folded.status == 0 && folded.stdout == linked.stdout, "\(folded.stderr)")
        let ingest = try Harness.run("tally-store", ["ingest", db, input + ".linked"])
        #expect(ingest.status == 0, "\(ingest.stderr)")
    }

    /// Scores from the store and from the dump; they must be the same bytes. Returns the
    /// update's messages.
    /// With `order`, the store's rows are copied in person order before scoring (tally-store
    /// order-scoring); a copy made on an earlier night stays until the next, so later nights
    /// score it with the rows appended, rewritten and relinked since. Whenever there is a copy,
    /// the scores are also made without it, and must be the same bytes.
    @discardableResult
    func compare(asOf: String, order: Bool = false) throws -> String {
        let update = try Harness.run("tally-store", ["update-scoring", db])
        #expect(update.status == 0, "\(update.stderr)")
        let cw = crosswalks.isEmpty ? ["/dev/null"] : crosswalks
        let persons = dir + "/persons.bin"
        let link = try Harness.run("tally-link", ["--store", store, "--output", persons, "--crosswalk"] + cw + ["--secret-file", secret])
        #expect(link.status == 0, "\(link.stderr)")
        // Linked again from the night before's persons file: only what tonight's new crosswalk
        // files name, and what is new to the store, is linked; the file is the same bytes.
        let previous = dir + "/persons-previous.bin"
        if FileManager.default.fileExists(atPath: previous) {
            let again = try Harness.run("tally-link", ["--store", store, "--output", dir + "/persons-again.bin", "--previous", previous, "--crosswalk"] + cw + ["--secret-file", secret])
            #expect(again.status == 0, "\(again.stderr)")
            let kept = Int(again.stderr.firstMatch(of: /; ([0-9]+) kept from/)?.1 ?? "") ?? -1
            // And with the crosswalk's fold, searched for what is to be linked: the same bytes.
            let folded = try Harness.run("tally-link", ["--store", store, "--output", dir + "/persons-folded.bin", "--previous", previous, "--fold", fold, "--crosswalk"] + cw + ["--secret-file", secret])
            #expect(folded.status == 0 && folded.stderr.contains("0 read from files, the rest from \(fold), searched)"), "\(folded.stderr)")
            #expect(FileManager.default.contents(atPath: dir + "/persons-folded.bin") == FileManager.default.contents(atPath: persons), "\(folded.stderr)")
            // A fold made again from the files alone is the bytes of the one kept night by night.
            let remade = dir + "/again.fold"
            #expect(try Harness.run("tally-link", ["--fold", remade, "--fold-only", "--crosswalk"] + cw).status == 0)
            #expect(FileManager.default.contents(atPath: remade) == FileManager.default.contents(atPath: fold))
            try FileManager.default.removeItem(atPath: remade)
            #expect(kept > 0, "keys kept from the night before: \(again.stderr)")
            #expect(FileManager.default.contents(atPath: dir + "/persons-again.bin") == FileManager.default.contents(atPath: persons),
                    "linking from the night before's persons file gives the same bytes: \(again.stderr)")
            previousKept.append(kept)
            try FileManager.default.removeItem(atPath: previous)
        }
        try FileManager.default.copyItem(atPath: persons, toPath: previous)
        if order {
            let ordered = try Harness.run("tally-store", ["order-scoring", db, "--persons", persons])
            #expect(ordered.status == 0 && ordered.stderr.contains("ordered copy made"), "\(ordered.stderr)")
        }
        let fromStore = try Harness.run("tally-score", ["--store", store, "--persons", persons, "--as-of", asOf, "--threads", "2"])
        #expect(fromStore.status == 0, "\(fromStore.stderr)")
        let oneThread = try Harness.run("tally-score", ["--store", store, "--persons", persons, "--as-of", asOf, "--threads", "1"])
        #expect(oneThread.stdout == fromStore.stdout && oneThread.stderr == fromStore.stderr, "one thread and two give the same scores")
        if FileManager.default.fileExists(atPath: store + "/ordered") {
            #expect(!fromStore.stderr.contains("ordered"), "the copy is used: \(fromStore.stderr)")
            try FileManager.default.moveItem(atPath: store + "/ordered", toPath: dir + "/ordered-aside")
            let plain = try Harness.run("tally-score", ["--store", store, "--persons", persons, "--as-of", asOf, "--threads", "2"])
            try FileManager.default.moveItem(atPath: dir + "/ordered-aside", toPath: store + "/ordered")
            #expect(plain.stdout == fromStore.stdout && plain.stderr == fromStore.stderr, "the ordered copy changes no score on \(asOf)")
        }
        // Through files: Harness writes standard input whole before it reads the output.
        let dump = try Harness.run("tally-store", ["dump", db])
        try dump.stdout.write(to: URL(fileURLWithPath: dir + "/dump.jsonl"))
        let relinked = try Harness.run("tally-link", ["--relink", "--crosswalk"] + cw + ["--secret-file", secret, dir + "/dump.jsonl"])
        #expect(relinked.status == 0, "\(relinked.stderr)")
        try relinked.stdout.write(to: URL(fileURLWithPath: dir + "/relinked.jsonl"))
        let fromDump = try Harness.run("tally-score", ["--corrections-first", "--as-of", asOf, dir + "/relinked.jsonl"])
        #expect(fromDump.status == 0, "\(fromDump.stderr)")
        #expect(!fromStore.stdout.isEmpty)
        #expect(fromStore.stdout == fromDump.stdout, "scores from the store differ from the dump's on \(asOf)")
        // The counts agree too (read differs: the dump's lines against the store's rows, the same number).
        #expect(fromStore.stderr == fromDump.stderr, "\(fromStore.stderr.prefix(300)) vs \(fromDump.stderr.prefix(300))")
        try expectRebuildGivesTheSameBytes()
        return update.stderr
    }

    /// A store made again from the ledger alone is the same bytes as the one updated night by night.
    func expectRebuildGivesTheSameBytes() throws {
        let again = dir + "/rebuilt"
        let rebuild = try Harness.run("tally-store", ["rebuild-scoring", "--store", again, db])
        #expect(rebuild.status == 0, "\(rebuild.stderr)")
        for file in ["rows", "identifiers", "names", "corrections.jsonl", "state"] {
            let a = FileManager.default.contents(atPath: store + "/" + file), b = FileManager.default.contents(atPath: again + "/" + file)
            #expect(a != nil && a == b, "\(file) differs from the rebuilt store's")
        }
        try FileManager.default.removeItem(atPath: again)
    }

    func at(_ n: Int, day: Int) -> String { String(format: "2026-%02d-%02dT%02d:%02d:00Z", 1 + n % 10, 1 + n % 28, n % 24, n % 60) + "" }

    @Test func nightsOfRecordsCorrectionsAmendmentsAndNewCrosswalkEntriesScoreAsTheDumpDoes() throws {
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var rng = TestRandom.seeded("ScoringStoreTests nights")
        let kinds = ["transit.fare-evasion", "transit.no-tap-out", "commerce.on-time", "commerce.late", "tax.late", "court.dishonest-debtor", "transit.ride"]
        func subject(_ i: Int) -> (String, String) {
            switch i % 3 {
            case 0: return ("transit-card", Self.card(i % Self.people))
            case 1: return ("shop-account", Self.account(i % Self.people))
            default: return ("cn-rid", Self.person(i % Self.people))
            }
        }
        var records: [Int: (kind: String, scheme: String, subject: String, at: String, amount: Int?)] = [:]
        func make(_ n: Int, day: Int) -> String {
            let s = subject(Int.random(in: 0..<(3 * Self.people), using: &rng))
            let kind = kinds[Int.random(in: 0..<(kinds.count - 1), using: &rng)]
            let amount = kind.hasPrefix("court") || kind.hasPrefix("tax") ? Int.random(in: 0..<9_000_000, using: &rng) : nil
            records[n] = (kind, s.0, s.1, at(n, day: day), amount)
            return line(n, day: day)
        }
        func line(_ n: Int, day: Int) -> String {
            let r = records[n]!
            return Lines.record(id: "\(r.kind.prefix { $0 != "." }):\(Lines.hex32(n, 1))", kind: r.kind, scheme: r.scheme, subject: r.subject, at: r.at,
                                amount: r.amount, file: "\(r.kind.prefix { $0 != "." })-202611\(String(format: "%02d", day)).csv", line: n + 2)
        }
        func id(_ n: Int) -> String { "\(records[n]!.kind.prefix { $0 != "." }):\(Lines.hex32(n, 1))" }

        // Night 1: cards of the first 160 people in the crosswalk; no shop account yet.
        let night1 = (0..<1500).map { make($0, day: 1) }
        try night(1, crosswalk: (0..<160).map { Lines.crosswalk($0, scheme: "transit-card", id: Self.card($0), person: Self.person($0), file: "crosswalk-20261101.csv") },
                  records: night1)
        try compare(asOf: "2026-11-01", order: true)

        // Night 2: the other cards and half the accounts join the crosswalk (relinking night 1's
        // records of them); new records; corrections of night 1's; restated records, some with
        // another subject (a new identifier), time, amount or kind.
        var lines2 = (1500..<2500).map { make($0, day: 2) }
        for (k, n) in stride(from: 3, to: 1500, by: 37).enumerated() {
            lines2.append(Lines.correction(id: "corrections:\(Lines.hex32(k, 2))", action: ["dispute", "retract", "uphold"][k % 3], target: id(n),
                                           at: "2026-10-\(String(format: "%02d", 1 + k % 28))T08:00:00Z", file: "corrections-20261102.csv", line: k + 2))
        }
        for n in stride(from: 5, to: 1500, by: 53) {
            var r = records[n]!
            switch n % 4 {
            case 0: r.subject = n % 2 == 0 ? Self.card(1000 + n) : Self.person(n % Self.people); r.scheme = n % 2 == 0 ? "transit-card" : "cn-rid"
            case 1: r.at = "2026-10-31T12:00:00Z"
            case 2: r.amount = r.amount.map { $0 + 1 }
            default: break
            }
            records[n] = r
            lines2.append(line(n, day: 2))
        }
        let cw2 = (160..<Self.people).map { Lines.crosswalk($0, scheme: "transit-card", id: Self.card($0), person: Self.person($0), file: "crosswalk-20261102.csv") }
            + (0..<(Self.people / 2)).map { Lines.crosswalk(1000 + $0, scheme: "shop-account", id: Self.account($0), person: Self.person($0), file: "crosswalk-20261102.csv") }
        try night(2, crosswalk: cw2, records: lines2)
        let second = try compare(asOf: "2026-11-02")
        // The rows rewritten in place are in the copy's log, which the scorer reads them from.
        let log = FileManager.default.contents(atPath: store + "/ordered-amended")?.count ?? 0
        let rewritten = Int(second.firstMatch(of: /([0-9]+) rewritten/)!.1)!
        #expect(log > 65 && (log - 65) % 8 == 0 && (log - 65) / 8 == rewritten, "\(log) bytes of log for \(rewritten) rows rewritten")
        #expect(second.contains("rewritten (amended)") && !second.contains(" 0 rewritten"), "\(second)")
        #expect(second.contains("tables made again"), "an amended subject makes the tables again: \(second)")

        // Night 3: an account mapped to a second person (a conflict: it is unlinked again), a
        // kind first met through a restatement, and a correction restated.
        var lines3 = (2500..<3000).map { make($0, day: 3) }
        var r = records[7]!
        r.kind = "transit.turnstile-jump"
        records[7] = r
        lines3.append(line(7, day: 3))
        lines3.append(Lines.correction(id: "corrections:\(Lines.hex32(0, 2))", action: "reinstate", target: id(3), at: "2026-11-02T08:00:00Z",
                                       file: "corrections-20261103.csv", line: 2))
        try night(3, crosswalk: [Lines.crosswalk(5000, scheme: "shop-account", id: Self.account(3), person: Self.person(4), file: "crosswalk-20261103.csv")], records: lines3)
        try compare(asOf: "2026-11-03")
        let third = try compare(asOf: "2026-11-03", order: true)

        // Night 4: records of cards never seen before, some of them named twice, and nothing
        // restated: the new identifiers are merged into the committed ones, in hash order,
        // without the tables being made again, and the store is still the rebuilt one's bytes.
        let before = try Harness.run("tally-store", ["update-scoring", db])
        let known = Int(before.stderr.firstMatch(of: /rows, ([0-9]+) identifiers/)!.1)!
        let lines4 = (3000..<3300).map { n -> String in
            records[n] = ("transit.fare-evasion", "transit-card", Self.card(7000 + n % 150), at(n, day: 4), nil)
            return line(n, day: 4)
        }
        try night(4, crosswalk: [], records: lines4)
        let fourth = try compare(asOf: "2026-11-04")
        #expect(fourth.contains("300 rows added, 0 rewritten") && fourth.contains("\(known + 150) identifiers") && !fourth.contains("tables made again"), "\(fourth)")

        // Night 5: nothing new; later as-of days.
        let quiet = try compare(asOf: "2026-11-05")
        #expect(quiet.contains("0 rows added, 0 rewritten"), "\(quiet)")
        // Nothing new in the crosswalk or the store: every key was kept from the night before.
        let identifiers = Int(quiet.firstMatch(of: /rows, ([0-9]+) identifiers/)!.1)!
        #expect(previousKept.count == 5 && previousKept.last == identifiers, "\(previousKept) of \(identifiers)")
        // A persons file that cannot be trusted for tonight is not used, and the link says why.
        let cw = crosswalks
        let otherSecret = dir + "/other.secret"
        _ = FileManager.default.createFile(atPath: otherSecret, contents: Data("another secret for the same store, synthetic".utf8), attributes: [.posixPermissions: 0o600])
        #expect(try Harness.run("tally-link", ["--store", store, "--output", dir + "/other.bin", "--crosswalk"] + cw + ["--secret-file", otherSecret]).status == 0)
        let full = try Harness.run("tally-link", ["--store", store, "--output", dir + "/full.bin", "--crosswalk"] + cw + ["--secret-file", secret])
        let foreignSecret = try Harness.run("tally-link", ["--store", store, "--output", dir + "/again.bin", "--previous", dir + "/other.bin", "--crosswalk"] + cw + ["--secret-file", secret])
        #expect(foreignSecret.stderr.contains("made with another secret (or by an older tally): every identifier is linked"), "\(foreignSecret.stderr)")
        #expect(FileManager.default.contents(atPath: dir + "/again.bin") == FileManager.default.contents(atPath: dir + "/full.bin"))
        let fewer = Array(cw.dropLast())
        let withFewer = try Harness.run("tally-link", ["--store", store, "--output", dir + "/fewer.bin", "--crosswalk"] + fewer + ["--secret-file", secret])
        let dropped = try Harness.run("tally-link", ["--store", store, "--output", dir + "/again.bin", "--previous", dir + "/full.bin", "--crosswalk"] + fewer + ["--secret-file", secret])
        #expect(full.status == 0 && withFewer.status == 0 && dropped.status == 0)
        #expect(dropped.stderr.contains("linked with crosswalk files not given now (or not known): every identifier is linked"), "\(dropped.stderr)")
        #expect(FileManager.default.contents(atPath: dir + "/again.bin") == FileManager.default.contents(atPath: dir + "/fewer.bin"))
        let full2 = try Data(contentsOf: URL(fileURLWithPath: dir + "/full.bin"))
        try full2.prefix(full2.count - 7).write(to: URL(fileURLWithPath: dir + "/cut.bin"))
        let cut = try Harness.run("tally-link", ["--store", store, "--output", dir + "/again.bin", "--previous", dir + "/cut.bin", "--crosswalk"] + cw + ["--secret-file", secret])
        #expect(cut.status == 0 && cut.stderr.contains("cut.bin: not a persons file, or cut short: every identifier is linked"), "\(cut.stderr)")
        #expect(FileManager.default.contents(atPath: dir + "/again.bin") == full2)
        // Night 4's 300 rows are all the copy made on night 3 leaves to the store.
        func rows(_ update: String) -> Int { Int(update.firstMatch(of: /; ([0-9]+) rows,/)!.1)! }
        let (held, now) = (rows(third), rows(quiet))
        #expect(now == held + 300)
        let share = 100 * 300 / Double(now)
        let persons = dir + "/persons.bin"
        let kept = try Harness.run("tally-store", ["order-scoring", db, "--persons", persons, "--when-behind", String(share + 0.1)])
        #expect(kept.status == 0 && kept.stderr.contains("ordered copy kept: the copy before held \(held) rows and left 300 to the store"), "\(kept.stderr)")
        let remade = try Harness.run("tally-store", ["order-scoring", db, "--persons", persons, "--when-behind", String(share - 0.1)])
        #expect(remade.status == 0 && remade.stderr.contains("ordered copy made: \(now) rows"), "\(remade.stderr)")
        // A copy whose log is not its own is not read, and says so; the scores are the same.
        let good = try Harness.run("tally-score", ["--store", store, "--persons", persons, "--as-of", "2026-11-05"])
        try Data("tally-scoring-ordered-amended 1 00000000000000000000000000000000\n".utf8).write(to: URL(fileURLWithPath: store + "/ordered-amended"))
        let foreign = try Harness.run("tally-score", ["--store", store, "--persons", persons, "--as-of", "2026-11-05"])
        #expect(foreign.status == 0 && foreign.stdout == good.stdout, "\(foreign.stderr)")
        #expect(foreign.stderr.contains("ordered-amended is not the one made with it; scoring from the rows in ledger order"), "\(foreign.stderr)")
        // rebuild-scoring removes the copy with the rest.
        #expect(try Harness.run("tally-store", ["rebuild-scoring", db]).status == 0)
        #expect(!FileManager.default.fileExists(atPath: store + "/ordered") && !FileManager.default.fileExists(atPath: store + "/ordered-amended"))
        try compare(asOf: "2027-06-30")
    }

    @Test func aStoreThatDoesNotFollowItsLedgerOrItsPersonsFileIsRefused() throws {
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let lines = (0..<50).map { Lines.record(id: "transit:\(Lines.hex32($0, 9))", kind: "transit.fare-evasion", scheme: "cn-rid", subject: Self.person($0),
                                                at: "2026-10-01T00:00:00Z", amount: nil, file: "transit-20261101.csv", line: $0 + 2) }
        try night(1, crosswalk: [], records: lines)
        try compare(asOf: "2026-11-01")
        let persons = dir + "/persons.bin"

        // A persons file made before the store took new identifiers.
        try night(2, crosswalk: [], records: [Lines.record(id: "transit:\(Lines.hex32(99, 9))", kind: "transit.fare-evasion", scheme: "transit-card",
                                                           subject: Self.card(7), at: "2026-10-02T00:00:00Z", amount: nil, file: "transit-20261102.csv", line: 2)])
        #expect(try Harness.run("tally-store", ["update-scoring", db]).status == 0)
        let stale = try Harness.run("tally-score", ["--store", store, "--persons", persons, "--as-of", "2026-11-02"])
        #expect(stale.status == 65 && stale.stderr.contains("run tally-link --store again"), "\(stale.stderr)")

        // Another ledger: refused, and made again from it on request.
        let other = dir + "/other.db"
        let otherLines = try write(lines.reversed(), to: "other.jsonl")
        let ingest = try Harness.run("tally-store", ["ingest", other, otherLines])
        #expect(ingest.status == 0)
        let foreign = try Harness.run("tally-store", ["update-scoring", "--store", store, other])
        #expect(foreign.status == 65 && foreign.stderr.contains("does not follow the ledger"), "\(foreign.stderr)")
        #expect(try Harness.run("tally-store", ["rebuild-scoring", "--store", store, other]).status == 0)

        // A changed identifiers file, and a missing store.
        var identifiers = try Data(contentsOf: URL(fileURLWithPath: store + "/identifiers"))
        identifiers[identifiers.count - 1] ^= 1
        try identifiers.write(to: URL(fileURLWithPath: store + "/identifiers"))
        let changed = try Harness.run("tally-link", ["--store", store, "--output", persons, "--crosswalk", "/dev/null", "--secret-file", secret])
        #expect(changed.status == 65 && changed.stderr.contains("identifiers"), "\(changed.stderr)")
        let missing = try Harness.run("tally-score", ["--store", dir + "/nowhere", "--persons", persons, "--as-of", "2026-11-02"])
        #expect(missing.status == 66, "\(missing.stderr)")

        // One update at a time.
        #expect(try Harness.run("tally-store", ["rebuild-scoring", db]).status == 0)
        let holder = Process()
        holder.executableURL = URL(fileURLWithPath: "/usr/bin/flock")
        holder.arguments = [store + "/lock", "sleep", "30"]
        try holder.run()
        defer { holder.terminate() }
        usleep(300_000)
        let busy = try Harness.run("tally-store", ["update-scoring", db])
        #expect(busy.status == 75 && busy.stderr.contains("another update"), "\(busy.stderr)")
    }

    /// Runs tally-store with `arguments` and kills it (SIGKILL) after a random wait of
    /// `within` microseconds; whether it was still running to be killed.
    func killedAtRandom(_ arguments: [String], within: ClosedRange<UInt32>, _ rng: inout TestRandom) throws -> Bool {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Harness.binaries + "/tally-store")
        p.arguments = arguments
        p.standardError = FileHandle.nullDevice
        try p.run()
        // The point of the test is a kill at a random moment: the wait picks it.
        usleep(UInt32.random(in: within, using: &rng))
        defer { p.waitUntilExit() }
        guard p.isRunning else { return false }
        kill(p.processIdentifier, SIGKILL)
        return true
    }

    /// The ordered copy is a cache: `order-scoring` killed at any point leaves either the old
    /// copy with its own log, or a copy the scorer does not read; the scores never change.
    @Test func anOrderingKilledAtRandomNeverChangesAScore() throws {
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let records = dir + "/records.jsonl", corrections = dir + "/c.jsonl", persons = dir + "/persons.bin"
        #expect(try Harness.run("tally-bench", ["score-data", "--people", "5000", "--records", "150000", "--out", records, "--corrections", corrections]).status == 0)
        #expect(try Harness.run("tally-store", ["ingest", db, corrections, records]).status == 0)
        #expect(try Harness.run("tally-store", ["update-scoring", db]).status == 0)
        let link = try Harness.run("tally-link", ["--store", store, "--output", persons, "--crosswalk", "/dev/null", "--secret-file", secret])
        #expect(link.status == 0, "\(link.stderr)")
        func score() throws -> Harness.Result { try Harness.run("tally-score", ["--store", store, "--persons", persons, "--as-of", "2026-11-28"]) }
        let good = try score()
        #expect(good.status == 0 && good.stdout.count > 100_000, "\(good.stderr)")
        // The kill points are drawn from within how long an ordering takes here (a fixed range
        // outlasted it on a fast run and killed too few).
        let started = Date()
        #expect(try Harness.run("tally-store", ["order-scoring", db, "--persons", persons]).status == 0)
        let lasted = UInt32(min(400_000, max(20_000, Date().timeIntervalSince(started) * 900_000)))
        var rng = TestRandom.seeded("ScoringStoreTests ordering kill points")
        var kills = 0, unread = 0
        for _ in 0..<6 {
            if try killedAtRandom(["order-scoring", db, "--persons", persons], within: 5_000...lasted, &rng) { kills += 1 }
            let after = try score()
            #expect(after.status == 0 && after.stdout == good.stdout, "\(after.stderr)")
            if after.stderr.contains("scoring from the rows in ledger order") { unread += 1 }
        }
        let last = try Harness.run("tally-store", ["order-scoring", db, "--persons", persons])
        #expect(last.status == 0 && last.stderr.contains("ordered copy made: 150000 rows"), "\(last.stderr)")
        let final = try score()
        #expect(final.stdout == good.stdout && !final.stderr.contains("ordered"), "\(final.stderr)")
        print("tally-store order-scoring killed with SIGKILL \(kills) times at random points (\(unread) times leaving a copy not read): every score the same")
        #expect(kills >= 2, "the ordering ran long enough to be killed mid-way")
    }

    @Test func anUpdateKilledAtRandomIsMadeGoodByTheNext() throws {
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let records = dir + "/records.jsonl", corrections = dir + "/c.jsonl"
        #expect(try Harness.run("tally-bench", ["score-data", "--people", "5000", "--records", "150000", "--out", records, "--corrections", corrections]).status == 0)
        #expect(try Harness.run("tally-store", ["ingest", db, corrections, records]).status == 0)
        var rng = TestRandom.seeded("ScoringStoreTests kill points")
        var kills = 0
        for round in 0..<6 {
            if round == 3 {
                // More records arrive between kills: the next update has old and new to do.
                // New ids: the first hex digit of each record id turned over (0 to f, 1 to e, ...).
                let flip = Dictionary(uniqueKeysWithValues: zip("0123456789abcdef", "fedcba9876543210"))
                let more = try String(contentsOfFile: records, encoding: .utf8).split(separator: "\n").prefix(20_000).map { line -> String in
                    let head = line.range(of: #""id":"[a-z]+:"#, options: .regularExpression)!
                    let digit = line[head.upperBound]
                    return line[..<head.upperBound] + String(flip[digit]!) + line[line.index(after: head.upperBound)...]
                }
                #expect(try Harness.run("tally-store", ["ingest", db, try write(more, to: "more.jsonl")]).status == 0)
            }
            if try killedAtRandom(["update-scoring", db], within: 20_000...900_000, &rng) { kills += 1 }
        }
        let last = try Harness.run("tally-store", ["update-scoring", db])
        #expect(last.status == 0, "\(last.stderr)")
        try expectRebuildGivesTheSameBytes()
        print("tally-store update-scoring killed with SIGKILL \(kills) times at random points, then run again: the store is the rebuilt one's bytes")
        #expect(kills >= 2, "the update ran long enough to be killed mid-way")
    }
}
