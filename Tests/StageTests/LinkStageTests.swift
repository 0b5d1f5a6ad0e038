import Foundation
import Testing

/// A tally-synth run parsed feed by feed: the scratch directory, the records of the event feeds
/// and corrections (one file), and the crosswalk records (another).
struct ParsedRun {
    let dir: String
    var feeds: String { dir + "/feeds" }
    var records: String { dir + "/records.jsonl" }
    var crosswalk: String { dir + "/crosswalk.jsonl" }

    init(people: Int, days: Int, seed: Int = 1, historyDays: Int = 0) throws {
        dir = Harness.scratch()
        let synth = try Harness.run("tally-synth", ["--people", "\(people)", "--days", "\(days)", "--seed", "\(seed)", "--history-days", "\(historyDays)",
                                                    "--out", dir + "/feeds"])
        precondition(synth.status == 0, synth.stderr)
        var records = Data()
        for feed in ["court", "tax", "transit", "commerce", "corrections", "crosswalk"] {
            let files = Harness.files(in: feeds).filter { $0.hasPrefix(feed + "-") }.map { feeds + "/" + $0 }
            let run = try Harness.run("tally-parse", ["--feed", feed] + files)
            precondition(run.status == 0, run.stderr)
            if feed == "crosswalk" {
                _ = FileManager.default.createFile(atPath: crosswalk, contents: run.stdout)
            } else {
                records.append(run.stdout)
            }
        }
        _ = FileManager.default.createFile(atPath: self.records, contents: records)
    }

    /// Writes a secret file with `mode` and returns its path.
    func secret(_ text: String = "a synthetic secret for tests only", mode: Int = 0o600, name: String = "secret") throws -> String {
        let path = dir + "/" + name
        _ = FileManager.default.createFile(atPath: path, contents: Data((text + "\n").utf8), attributes: [.posixPermissions: mode])
        try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: path)
        return path
    }

    func remove() { try? FileManager.default.removeItem(atPath: dir) }
}

@Suite(.serialized) struct LinkStageTests {
    @Test func everyRecordLinksToItsOwnPersonAndNoTwoPeopleShareAKey() throws {
        let run = try ParsedRun(people: 6000, days: 4, seed: 3)
        defer { run.remove() }
        let secret = try run.secret()
        let link = try Harness.run("tally-link", ["--crosswalk", run.crosswalk, "--secret-file", secret, "--stats", run.dir + "/stats.json", run.records])
        #expect(link.status == 0, "\(link.stderr)")
        let out = run.dir + "/linked.jsonl"
        _ = FileManager.default.createFile(atPath: out, contents: link.stdout)
        let check = try Harness.oracle("check_links.py", [run.feeds + "/people.csv", secret, run.feeds, out])
        #expect(check.status == 0, "\(check.text)")
        print("tally-link on tally-synth (6000 people, 4 days), counts by link: \(check.text)")
        let stats = try JSONSerialization.jsonObject(with: FileManager.default.contents(atPath: run.dir + "/stats.json")!) as! [String: Any]
        let read = stats["read"] as! Int
        #expect(read > 1000 && read == stats["written"] as! Int + (stats["rejected"] as! Int))
        for kind in ["direct", "crosswalk", "unlinked", "corrections"] { #expect(stats[kind] as! Int > 0, "\(kind)") }
        // A person's key is made once and written again from the memo (the oracle above has
        // checked every key written): at least one HMAC per distinct key, fewer than one a record.
        let distinctKeys = Set(link.text.split(separator: "\n").compactMap { line in line.range(of: "\"person\":\"p_").map { line[$0.upperBound...].prefix(32) } }).count
        let linked = (stats["written"] as! Int) - (stats["corrections"] as! Int)
        let made = stats["keys_made"] as! Int
        #expect(made >= distinctKeys && made < linked, "keys made \(made), distinct \(distinctKeys), records linked \(linked)")
        print("tally-link made \(made) keys for \(linked) records (\(distinctKeys) distinct)")
        // Correction lines come through byte for byte.
        let input = try String(contentsOfFile: run.records, encoding: .utf8).split(separator: "\n").filter { $0.contains("\"kind\":\"correction.") }
        let output = link.text.split(separator: "\n").filter { $0.contains("\"kind\":\"correction.") }
        #expect(!input.isEmpty && input == output)
        let schema = try Harness.oracle("validate_jsonl.py", [Harness.root + "/schemas/record.schema.json", out])
        #expect(schema.status == 0, "\(schema.text)")
    }

    @Test func keysAreStableAcrossRunsAndDependOnTheSecret() throws {
        let run = try ParsedRun(people: 1500, days: 2)
        defer { run.remove() }
        let a = try run.secret("first secret, thirty-two bytes.", name: "a")
        let b = try run.secret("second secret, not the first one", name: "b")
        let args = { (s: String) in ["--crosswalk", run.crosswalk, "--secret-file", s, run.records] }
        let one = try Harness.run("tally-link", args(a)), two = try Harness.run("tally-link", args(a)), other = try Harness.run("tally-link", args(b))
        #expect(one.status == 0 && !one.stdout.isEmpty)
        #expect(one.stdout == two.stdout)
        func keys(_ r: Harness.Result) -> [String] {
            r.text.split(separator: "\n").compactMap { line in line.range(of: "\"person\":\"p_").map { String(line[$0.upperBound...].prefix(32)) } }
        }
        let ka = keys(one), kb = keys(other)
        #expect(ka.count == kb.count && ka.count > 100)
        #expect(Set(ka).isDisjoint(with: Set(kb)), "no key survives a change of secret")
    }

    @Test func aConflictingCrosswalkIsReportedAndNothingIsGuessed() throws {
        let run = try ParsedRun(people: 2000, days: 2)
        defer { run.remove() }
        // Give a card that the first day's crosswalk maps to one person to another, valid, person.
        let day1 = try String(contentsOfFile: run.feeds + "/crosswalk-20261101.csv", encoding: .utf8).split(separator: "\n")
        let rows = day1.dropFirst().map { $0.split(separator: ",").map(String.init) }
        let card = rows.first { $0[0] == "transit-card" }!
        let stranger = rows.first { $0[2] != card[2] }![2]
        let forged = run.dir + "/crosswalk-20261103.csv"
        try "scheme,id,person\ntransit-card,\(card[1]),\(stranger)\n".write(toFile: forged, atomically: true, encoding: .utf8)
        let parsed = try Harness.run("tally-parse", ["--feed", "crosswalk", forged])
        #expect(parsed.status == 0, "\(parsed.stderr)")
        let both = run.dir + "/crosswalk-both.jsonl"
        _ = FileManager.default.createFile(atPath: both, contents: try Data(contentsOf: URL(fileURLWithPath: run.crosswalk)) + parsed.stdout)
        let secret = try run.secret()
        let originalLine = day1.firstIndex { $0.hasPrefix("transit-card,\(card[1]),") }! + 1

        let link = try Harness.run("tally-link", ["--crosswalk", both, "--secret-file", secret, "--stats", run.dir + "/stats.json", run.records])
        #expect(link.status == 0)
        #expect(link.stderr.contains("crosswalk conflict: transit-card:\(card[1])"), "\(link.stderr)")
        #expect(link.stderr.contains("crosswalk-20261101.csv:\(originalLine) ") && link.stderr.contains("crosswalk-20261103.csv:2 "), "both lines named: \(link.stderr)")
        let stats = try JSONSerialization.jsonObject(with: FileManager.default.contents(atPath: run.dir + "/stats.json")!) as! [String: Any]
        #expect(stats["conflicts"] as? Int == 1)
        // The card's records stay unlinked, checked independently.
        let out = run.dir + "/linked.jsonl"
        _ = FileManager.default.createFile(atPath: out, contents: link.stdout)
        let check = try Harness.oracle("check_links.py", [run.feeds + "/people.csv", secret, run.feeds, out, "--conflict", "transit-card:\(card[1])"])
        #expect(check.status == 0, "\(check.text)")
        let strict = try Harness.run("tally-link", ["--strict", "--crosswalk", both, "--secret-file", secret, run.records])
        #expect(strict.status == 65)
    }

    @Test func unsafeOrMissingSecretsAreRefused() throws {
        let run = try ParsedRun(people: 300, days: 1)
        defer { run.remove() }
        let readable = try run.secret(mode: 0o644, name: "readable")
        let groupReadable = try run.secret(mode: 0o640, name: "group")
        let short = try run.secret("too short", name: "short")
        for (path, status, message) in [(readable, Int32(64), "chmod 600"), (groupReadable, 64, "chmod 600"),
                                        (short, 64, "at least 16"), (run.dir + "/absent", 66, "cannot open the secret file")] {
            let r = try Harness.run("tally-link", ["--crosswalk", run.crosswalk, "--secret-file", path, run.records])
            #expect(r.status == status && r.stderr.contains(message) && r.stdout.isEmpty, "\(path): \(r.status) \(r.stderr)")
        }
        let none = try Harness.run("tally-link", ["--crosswalk", run.crosswalk, run.records])
        #expect(none.status == 64)
    }

    @Test func redactionDropsIdentifiersButKeepsKeysAndSchemes() throws {
        let run = try ParsedRun(people: 1000, days: 1)
        defer { run.remove() }
        let secret = try run.secret()
        let plain = try Harness.run("tally-link", ["--crosswalk", run.crosswalk, "--secret-file", secret, run.records])
        let redacted = try Harness.run("tally-link", ["--redact", "--crosswalk", run.crosswalk, "--secret-file", secret, run.records])
        #expect(redacted.status == 0)
        let a = plain.text.split(separator: "\n"), b = redacted.text.split(separator: "\n")
        #expect(a.count == b.count && a.count > 50)
        for (x, y) in zip(a, b) {
            let ox = try JSONSerialization.jsonObject(with: Data(x.utf8)) as! [String: Any]
            var oy = try JSONSerialization.jsonObject(with: Data(y.utf8)) as! [String: Any]
            let sx = ox["subject"] as! [String: String], sy = oy["subject"] as! [String: String]
            if (ox["kind"] as! String).hasPrefix("correction.") { #expect(x == y); continue }
            #expect(sy == ["scheme": sx["scheme"]!], "only the scheme is left")
            oy["subject"] = sx
            #expect(NSDictionary(dictionary: ox).isEqual(to: oy), "nothing else changes")
        }
        let out = run.dir + "/redacted.jsonl"
        _ = FileManager.default.createFile(atPath: out, contents: redacted.stdout)
        #expect(try Harness.oracle("validate_jsonl.py", [Harness.root + "/schemas/record.schema.json", out]).status == 0)
        // Redacted records cannot be linked again: there is nothing left to link on.
        let again = try Harness.run("tally-link", ["--crosswalk", run.crosswalk, "--secret-file", secret, out])
        #expect(again.status == 65 && again.stderr.contains("already linked"))
    }

    /// tally-link looks its lines up in batches; what comes out is still every good line in the
    /// order it came, whatever the mix of feeds, corrections and rejected lines between them.
    @Test func linesComeOutInTheOrderTheyCameIn() throws {
        let run = try ParsedRun(people: 20000, days: 1)
        defer { run.remove() }
        let secret = try run.secret()
        let day = try String(contentsOfFile: run.records, encoding: .utf8).split(separator: "\n").map(String.init)
        var rng = TestRandom.seeded("LinkStageTests.linesComeOutInTheOrderTheyCameIn")
        // The day eight times over, each copy in its own order (linking does not look for repeats).
        var lines = (0..<8).flatMap { _ in day.shuffled(using: &rng) }
        // Two records longer than tally-link's 1 MiB space for --relink copies.
        let big = String(repeating: "0123456789abcdef", count: 96 << 10)
        let long = day.first { !$0.contains("\"kind\":\"correction.") }!.replacingOccurrences(of: "\"attrs\":{", with: "\"attrs\":{\"zz_padding\":\"\(big)\",")
        lines.insert(long, at: 1000)
        lines.insert(long, at: 5000)
        for k in stride(from: 7, to: lines.count, by: 37) { lines.insert("not a record \(k)", at: k) }
        let good = lines.filter { !$0.hasPrefix("not a record") }
        let input = run.dir + "/mixed.jsonl"
        try (lines.joined(separator: "\n") + "\n").write(toFile: input, atomically: true, encoding: .utf8)
        // Staged lines stay in the reader's 1 MiB buffer until linked: the input must be long
        // enough for the buffer to be refilled, many times, with batches part full.
        let size = try FileManager.default.attributesOfItem(atPath: input)[.size] as! Int
        #expect(size > 4 << 20, "\(size) bytes")
        let r = try Harness.run("tally-link", ["--keep-going", "--crosswalk", run.crosswalk, "--secret-file", secret, input])
        #expect(r.status == 0)
        let out = r.text.split(separator: "\n").map(String.init)
        #expect(out.count == good.count && good.count > 1000)
        var corrections = 0, mismatched = 0
        for (o, g) in zip(out, good) {
            if g.contains("\"kind\":\"correction.") {
                corrections += 1
                if o != g { mismatched += 1 }
            } else if !(o.hasPrefix(String(g.dropLast())) && o.contains("\"link\":\"")) {
                mismatched += 1
            }
        }
        #expect(mismatched == 0 && corrections > 0)
        // Linking its own output again (--relink, another secret) gives what linking the input
        // with that secret gives: the unlinked copy of each line is linked before it is reused.
        let linked = run.dir + "/linked.jsonl"
        _ = FileManager.default.createFile(atPath: linked, contents: r.stdout)
        let other = try run.secret("another secret, for linking again", name: "other")
        let again = try Harness.run("tally-link", ["--relink", "--crosswalk", run.crosswalk, "--secret-file", other, linked])
        let fresh = try Harness.run("tally-link", ["--keep-going", "--crosswalk", run.crosswalk, "--secret-file", other, input])
        #expect(again.status == 0 && fresh.status == 0)
        #expect(again.stdout == fresh.stdout && !again.stdout.isEmpty)
    }

    /// Bad lines are rejected with their line and counted; tally-link reads tally's own output,
    /// so any of them makes the exit status 65 unless --keep-going says to carry on.
    @Test func badLinesAreRejectedAndCountedAndFatalUnlessKeepGoing() throws {
        let run = try ParsedRun(people: 300, days: 1)
        defer { run.remove() }
        let secret = try run.secret()
        var lines = try String(contentsOfFile: run.records, encoding: .utf8).split(separator: "\n").map(String.init)
        let good = lines.count
        lines.insert("{\"v\":1,\"id\":\"x\"", at: 1)                        // cut short
        lines.insert("not json at all", at: 3)
        lines.insert(lines[0].replacingOccurrences(of: "\"subject\":{", with: "\"subject\":{\"bogus\":1,"), at: 5)  // unknown key in subject
        let bad = run.dir + "/bad.jsonl"
        try (lines.joined(separator: "\n") + "\n").write(toFile: bad, atomically: true, encoding: .utf8)
        let r = try Harness.run("tally-link", ["--keep-going", "--crosswalk", run.crosswalk, "--secret-file", secret, "--rejects", run.dir + "/rej.jsonl", "--stats", run.dir + "/st.json", bad])
        #expect(r.status == 0)
        let rejects = try String(contentsOfFile: run.dir + "/rej.jsonl", encoding: .utf8).split(separator: "\n")
        #expect(rejects.count == 3)
        #expect(rejects[0].contains("\"line\":2") && rejects[0].contains("line ends inside an object"))
        #expect(rejects[1].contains("\"line\":4") && rejects[1].contains("expected '{'"))
        #expect(rejects[2].contains("\"line\":6") && rejects[2].contains("unexpected key \\\"bogus\\\" in subject"))
        let stats = try JSONSerialization.jsonObject(with: FileManager.default.contents(atPath: run.dir + "/st.json")!) as! [String: Any]
        #expect(stats["read"] as? Int == good + 3 && stats["written"] as? Int == good && stats["rejected"] as? Int == 3)
        #expect(try Harness.run("tally-link", ["--crosswalk", run.crosswalk, "--secret-file", secret, bad]).status == 65)
        // A crosswalk that is not crosswalk records stops the stage before anything is written.
        let wrong = try Harness.run("tally-link", ["--crosswalk", run.records, "--secret-file", secret, run.records])
        #expect(wrong.status == 65 && wrong.stdout.isEmpty && wrong.stderr.contains("not a crosswalk.link record"))
    }

    /// --output-dir: each input's records in a file of their own, the bytes linking that input
    /// alone writes; an input not read to its end leaves no file; outputs that would replace
    /// an input or each other, or that have no name (standard input), are refused.
    @Test func eachInputLinkedIntoAFileOfItsOwnWithOneCrosswalkLoad() throws {
        let run = try ParsedRun(people: 3000, days: 1)
        defer { run.remove() }
        let secret = try run.secret()
        let lines = try String(contentsOfFile: run.records, encoding: .utf8).split(separator: "\n").map(String.init)
        let inputs = try (0..<3).map { k -> String in
            let path = run.dir + "/part-\(k).jsonl"
            try (lines.enumerated().filter { $0.offset % 3 == k }.map(\.element).joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
            return path
        }
        let out = run.dir + "/linked"
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        let together = try Harness.run("tally-link", ["--crosswalk", run.crosswalk, "--secret-file", secret, "--stats", run.dir + "/st.json", "--output-dir", out] + inputs)
        #expect(together.status == 0 && together.stdout.isEmpty, "\(together.stderr)")
        for input in inputs {
            let alone = try Harness.run("tally-link", ["--crosswalk", run.crosswalk, "--secret-file", secret, input])
            let written = FileManager.default.contents(atPath: out + "/" + (input as NSString).lastPathComponent)
            #expect(alone.status == 0 && !alone.stdout.isEmpty && written == alone.stdout, "\(input)")
            let mode = try FileManager.default.attributesOfItem(atPath: out + "/" + (input as NSString).lastPathComponent)[.posixPermissions] as? Int
            #expect(mode == 0o600)
        }
        let stats = try JSONSerialization.jsonObject(with: FileManager.default.contents(atPath: run.dir + "/st.json")!) as! [String: Any]
        #expect(stats["read"] as? Int == lines.count && stats["written"] as? Int == lines.count)
        #expect(Harness.files(in: out).sorted() == ["part-0.jsonl", "part-1.jsonl", "part-2.jsonl"], "no temporary files left")

        // A missing input: the others are written, it is not, and the status says so.
        let again = run.dir + "/again"
        try FileManager.default.createDirectory(atPath: again, withIntermediateDirectories: true)
        let missing = try Harness.run("tally-link", ["--crosswalk", run.crosswalk, "--secret-file", secret, "--output-dir", again, inputs[0], run.dir + "/nowhere.jsonl", inputs[2]])
        #expect(missing.status == 66, "\(missing.stderr)")
        #expect(Harness.files(in: again).sorted() == ["part-0.jsonl", "part-2.jsonl"], "\(Harness.files(in: again))")

        // Refused before anything is written.
        let over = try Harness.run("tally-link", ["--crosswalk", run.crosswalk, "--secret-file", secret, "--output-dir", run.dir, inputs[0]])
        #expect(over.status == 64 && over.stderr.contains("over it"), "\(over.stderr)")
        #expect(FileManager.default.contents(atPath: inputs[0]).map { String(decoding: $0, as: UTF8.self).contains("\"person\"") } == false, "the input is left as it was")
        try FileManager.default.createDirectory(atPath: run.dir + "/sub", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: inputs[0], toPath: run.dir + "/sub/part-0.jsonl")
        let twice = try Harness.run("tally-link", ["--crosswalk", run.crosswalk, "--secret-file", secret, "--output-dir", again, inputs[0], run.dir + "/sub/part-0.jsonl"])
        #expect(twice.status == 64 && twice.stderr.contains("one base name"), "\(twice.stderr)")
        let stdin = try Harness.run("tally-link", ["--crosswalk", run.crosswalk, "--secret-file", secret, "--output-dir", again])
        #expect(stdin.status == 64 && stdin.stderr.contains("not standard input"), "\(stdin.stderr)")
    }

    /// `--fold`: the crosswalk folded into one file on earlier runs, and only the files it does
    /// not hold read. The links, the counts and the conflict reports are those of reading every
    /// file; the fold is the same bytes as one made at once from all of them; a fold that cannot
    /// be trusted (damaged, cut short, holding a file not given or changed since) is made again.
    @Test func aFoldedCrosswalkLinksAsEveryFileDoesAndIsMadeAgainWhenItCannotBeTrusted() throws {
        let run = try ParsedRun(people: 2500, days: 3, seed: 11)
        defer { run.remove() }
        let secret = try run.secret()
        let days = try Harness.files(in: run.feeds).filter { $0.hasPrefix("crosswalk-") }.sorted().map { name -> String in
            let parsed = try Harness.run("tally-parse", ["--feed", "crosswalk", run.feeds + "/" + name])
            let path = run.dir + "/" + name.replacingOccurrences(of: ".csv", with: ".jsonl")
            try parsed.stdout.write(to: URL(fileURLWithPath: path))
            return path
        }
        #expect(days.count == 3)
        // Two more files: a card of the first day's given to another person (a conflict with an
        // entry the fold holds), and a new card given to two persons by the two files (a conflict
        // between files read on the same run).
        let day1 = try String(contentsOfFile: run.feeds + "/crosswalk-20261101.csv", encoding: .utf8).split(separator: "\n").dropFirst().map { $0.split(separator: ",").map(String.init) }
        let card = day1.first { $0[0] == "transit-card" }!
        let stranger = day1.first { $0[2] != card[2] }![2]
        func crosswalkFile(_ name: String, _ rows: String) throws -> String {
            try ("scheme,id,person\n" + rows).write(toFile: run.dir + "/" + name + ".csv", atomically: true, encoding: .utf8)
            let parsed = try Harness.run("tally-parse", ["--feed", "crosswalk", run.dir + "/" + name + ".csv"])
            #expect(parsed.status == 0, "\(parsed.stderr)")
            try parsed.stdout.write(to: URL(fileURLWithPath: run.dir + "/" + name + ".jsonl"))
            return run.dir + "/" + name + ".jsonl"
        }
        let forged = try crosswalkFile("crosswalk-20261104", "transit-card,\(card[1]),\(stranger)\ntransit-card,8999000011112222,\(card[2])\n")
        let forged2 = try crosswalkFile("crosswalk-20261105", "transit-card,8999000011112222,\(stranger)\n")
        let fold = run.dir + "/crosswalk.fold"

        func link(_ crosswalk: [String], fold: String? = nil, lookups: String = "auto", stats: String = "st") throws -> (Harness.Result, [String: Any]) {
            var arguments = ["--crosswalk"] + crosswalk + ["--secret-file", secret, "--stats", run.dir + "/" + stats + ".json", run.records]
            if let fold { arguments += ["--fold", fold, "--fold-lookups", lookups] }
            let r = try Harness.run("tally-link", arguments)
            #expect(r.status == 0, "\(r.stderr)")
            let counts = try JSONSerialization.jsonObject(with: FileManager.default.contents(atPath: run.dir + "/" + stats + ".json")!) as! [String: Any]
            return (r, counts)
        }
        func conflictLines(_ r: Harness.Result) -> [Substring] { r.stderr.split(separator: "\n").filter { $0.contains("crosswalk conflict:") } }
        /// The fold made at once from `files` is the incremental one's bytes.
        func expectFoldIsMadeAgainTheSame(_ files: [String]) throws {
            let again = run.dir + "/again.fold"
            try? FileManager.default.removeItem(atPath: again)
            let made = try Harness.run("tally-link", ["--crosswalk"] + files + ["--fold", again, "--fold-only"])
            #expect(made.status == 0 && made.stdout.isEmpty, "\(made.stderr)")
            #expect(FileManager.default.contents(atPath: fold) == FileManager.default.contents(atPath: again), "the fold is the bytes of one made from \(files.count) files at once")
        }

        var given: [String] = []
        for (night, added) in [[days[0]], [days[1], days[2]], [forged, forged2]].enumerated() {
            given += added
            let (plain, plainCounts) = try link(given)
            let before = FileManager.default.contents(atPath: fold)
            // Searched in the fold, and from one table of it, each from the fold as the night
            // found it: the same lines either way.
            for lookups in ["search", "table"] {
                try? FileManager.default.removeItem(atPath: fold)
                if let before { try before.write(to: URL(fileURLWithPath: fold)) }
                let (folded, counts) = try link(given, fold: fold, lookups: lookups, stats: "fold")
                #expect(folded.stdout == plain.stdout && !plain.stdout.isEmpty, "night \(night), \(lookups): the links of reading every file")
                // (The first night has no fold yet: every entry is read into the table.)
                #expect(folded.stderr.contains(lookups == "search" && night > 0 ? ", searched)" : ", in one table)"), "\(folded.stderr)")
                #expect(conflictLines(folded) == conflictLines(plain), "night \(night): \(folded.stderr)")
                for key in ["read", "written", "direct", "crosswalk", "unlinked", "crosswalk_lines", "crosswalk_identifiers", "conflicts"] {
                    #expect(counts[key] as? Int == plainCounts[key] as? Int, "night \(night) \(lookups): \(key)")
                }
                let lines = try added.reduce(0) { $0 + (try String(contentsOfFile: $1, encoding: .utf8)).split(separator: "\n").count }
                #expect(counts["crosswalk_lines_read"] as? Int == lines, "night \(night): only the files the fold did not hold are read")
            }
            try expectFoldIsMadeAgainTheSame(given)
        }
        let (plain, plainCounts) = try link(given)
        #expect(plainCounts["conflicts"] as? Int == 2 && conflictLines(plain).count == 2)
        let good = try #require(FileManager.default.contents(atPath: fold))

        // Nothing new: nothing read from files, and the fold left as it is.
        let (quiet, quietCounts) = try link(given, fold: fold, stats: "fold")
        #expect(quiet.stdout == plain.stdout && quietCounts["crosswalk_lines_read"] as? Int == 0 && conflictLines(quiet) == conflictLines(plain))
        #expect(FileManager.default.contents(atPath: fold) == good)

        // Faults in the fold itself: it is not used, the links are those of every file, and it
        // is made again, the same bytes.
        var damaged = good
        damaged[damaged.count / 2] ^= 0x40
        let swapped = try Self.foldWithFirstTwoIdentifiersSwapped(good)   // the CRC made to match: refused for its order
        let cut = good.prefix(good.count - 5)
        for (what, bytes, message) in [("damaged", damaged, "its CRC does not match its contents (damaged)"), ("cut short", Data(cut), "cut short"),
                                       ("not a fold", Data("tally-persons 2 x\n".utf8), "not a crosswalk fold"), ("empty", Data(), "not a crosswalk fold"),
                                       ("out of order", swapped, "its identifiers are not in ascending order")] {
            try bytes.write(to: URL(fileURLWithPath: fold))
            let (r, counts) = try link(given, fold: fold, stats: "fold")
            #expect(r.stdout == plain.stdout && r.stderr.contains(message) && r.stderr.contains("it is made again from every crosswalk file"), "\(what): \(r.stderr)")
            #expect(counts["crosswalk_lines_read"] as? Int == plainCounts["crosswalk_lines"] as? Int, "\(what)")
            #expect(FileManager.default.contents(atPath: fold) == good, "\(what): made again")
        }

        // A file the fold holds, touched (a new stamp, the same bytes): read again (a CRC can be
        // made to match; a stamp cannot), the links the same, and stamped anew in the fold.
        try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSinceNow: -3600)], ofItemAtPath: days[1])
        let (touched, touchedCounts) = try link(given, fold: fold, stats: "fold")
        let day2Lines = try String(contentsOfFile: days[1], encoding: .utf8).split(separator: "\n").count
        #expect(touched.stdout == plain.stdout && conflictLines(touched) == conflictLines(plain), "\(touched.stderr)")
        #expect(touchedCounts["crosswalk_lines_read"] as? Int == day2Lines && touchedCounts["crosswalk_lines"] as? Int == plainCounts["crosswalk_lines"] as? Int)
        #expect(FileManager.default.contents(atPath: fold) != good, "the new stamp is written")
        try expectFoldIsMadeAgainTheSame(given)
        let (after, afterCounts) = try link(given, fold: fold, stats: "fold")
        #expect(after.stdout == plain.stdout && afterCounts["crosswalk_lines_read"] as? Int == 0, "read once, then held")

        // A file the fold holds, changed (a line taken away) or no longer given: the fold holds a
        // file not given now, so it is made again from the files given.
        var lines = try String(contentsOfFile: days[1], encoding: .utf8).split(separator: "\n")
        let gone = lines.removeFirst()
        try (lines.joined(separator: "\n") + "\n").write(toFile: days[1], atomically: false, encoding: .utf8)
        for files in [given, given.filter { $0 != forged2 }] {
            let (expected, _) = try link(files)
            let (r, counts) = try link(files, fold: fold, stats: "fold")
            #expect(r.stdout == expected.stdout && conflictLines(r) == conflictLines(expected), "\(r.stderr)")
            #expect(r.stderr.contains("holds a crosswalk file not given now (one changed or was taken away); it is made again from every crosswalk file"), "\(r.stderr)")
            #expect(counts["crosswalk_lines_read"] as? Int == counts["crosswalk_lines"] as? Int)
            try expectFoldIsMadeAgainTheSame(files)
        }
        #expect(gone.contains("crosswalk"))

        // A crosswalk from a stream: the fold is neither used nor written.
        let before = FileManager.default.contents(atPath: fold)
        let stream = try Harness.run("tally-link", ["--crosswalk", "-", "--fold", fold, "--secret-file", secret, run.records],
                                     stdin: try Data(contentsOf: URL(fileURLWithPath: days[0])))
        #expect(stream.stderr.contains("--fold: - is not a regular file, so the crosswalk is read whole"), "\(stream.stderr)")
        #expect(FileManager.default.contents(atPath: fold) == before)
        // Refused before anything is read.
        let noFold = try Harness.run("tally-link", ["--crosswalk", days[0], "--fold-only"])
        #expect(noFold.status == 64 && noFold.stderr.contains("--fold-only goes with --fold"), "\(noFold.stderr)")
        let onIt = try Harness.run("tally-link", ["--crosswalk", days[0], "--fold", days[0], "--fold-only"])
        #expect(onIt.status == 64 && onIt.stderr.contains("--fold names one of the --crosswalk files"), "\(onIt.stderr)")
        let noSecret = try Harness.run("tally-link", ["--crosswalk", days[0], "--fold", fold, run.records])
        #expect(noSecret.status == 64 && noSecret.stderr.contains("--secret-file"), "\(noSecret.stderr)")
    }

    /// CRC-64/XZ (ECMA-182, reflected), as ISA-L's crc64_ecma_refl with seed 0 computes it.
    static func crc64(_ bytes: Data) -> UInt64 {
        var crc = UInt64.max
        for b in bytes {
            crc ^= UInt64(b)
            for _ in 0..<8 { crc = crc & 1 != 0 ? (crc >> 1) ^ 0xC96C_5795_D787_0F42 : crc >> 1 }
        }
        return ~crc
    }

    /// A fold file (format 1) with its first two packed identifiers (and their values) swapped,
    /// and its CRC made again to match: only the order can tell it is wrong.
    static func foldWithFirstTwoIdentifiersSwapped(_ fold: Data) throws -> Data {
        var b = [UInt8](fold)
        func u64(_ o: Int) -> Int { (0..<8).reduce(0) { $0 | Int(b[o + $1]) << (8 * $1) } }
        func u32(_ o: Int) -> Int { (0..<4).reduce(0) { $0 | Int(b[o + $1]) << (8 * $1) } }
        #expect(CrosswalkFoldCheck.stored(b) == crc64(Data(b.dropLast(8))), "the test's CRC is the tool's")
        var o = "tally-crosswalk-fold 1\n".utf8.count
        let files = u64(o), packed = u64(o + 8)
        o += 32
        for _ in 0..<files { o += 4 + u32(o) + 7 * 8 + 8 }
        try #require(packed >= 2)
        let keys = o, values = o + 8 * packed
        for base in [keys, values] {
            for k in 0..<8 { b.swapAt(base + k, base + 8 + k) }
        }
        let crc = crc64(Data(b.dropLast(8)))
        for k in 0..<8 { b[b.count - 8 + k] = UInt8(truncatingIfNeeded: crc >> (8 * UInt64(k))) }
        return Data(b)
    }
}

enum CrosswalkFoldCheck {
    static func stored(_ b: [UInt8]) -> UInt64 { (0..<8).reduce(UInt64(0)) { $0 | UInt64(b[b.count - 8 + $1]) << (8 * UInt64($1)) } }
}
