import Foundation
import Testing

/// Every stage that reads tally.record checks what it reads: records that break the schema's
/// rules, corrections from the future, rules with extreme numbers, closed descriptors, FIFOs and
/// hostile text are refused or made harmless, never passed on.
@Suite(.serialized) struct TrustBoundaryTests {
    static let rules = Harness.root + "/pipelines/rules/default.yaml"

    /// A small parsed and linked run: a linked record line to damage, and its secret.
    struct Linked {
        let run: ParsedRun
        let secret: String
        let lines: [String]
        init() throws {
            run = try ParsedRun(people: 3000, days: 2, seed: 5)
            secret = try run.secret()
            let link = try Harness.run("tally-link", ["--crosswalk", run.crosswalk, "--secret-file", secret, run.records])
            precondition(link.status == 0, link.stderr)
            lines = link.text.split(separator: "\n").map(String.init)
        }
        /// A linked court record about a person, with an amount (per-yuan points apply to it).
        var court: String {
            lines.first { $0.contains("\"kind\":\"court.") && $0.contains("\"amount_fen\":") && $0.contains("\"scheme\":\"cn-rid\"") }!
        }
        func write(_ name: String, _ lines: [String]) -> String {
            let path = run.dir + "/" + name
            _ = FileManager.default.createFile(atPath: path, contents: Data((lines.joined(separator: "\n") + "\n").utf8))
            return path
        }
    }

    static func replacing(_ line: String, _ pattern: String, _ with: String) -> String {
        let r = try! NSRegularExpression(pattern: pattern)
        let out = r.stringByReplacingMatches(in: line, range: NSRange(line.startIndex..., in: line), withTemplate: with)
        precondition(out != line, "\(pattern) did not match \(line)")
        return out
    }

    /// One damaged record per rule of the schema that a line's shape does not show.
    static func damaged(_ good: String) -> [(String, String)] {
        [
            ("negative amount", replacing(good, #""amount_fen":[0-9]+"#, #""amount_fen":-500000000"#)),
            ("upper-case id", replacing(good, #""id":"court:([0-9a-f]{31})[0-9a-f]""#, #""id":"court:$1A""#)),
            ("id of another source", replacing(good, #""id":"court:"#, #""id":"tax:"#)),
            ("bad person key", replacing(good, #""person":"p_[0-9a-f]{32}""#, #""person":"p_XYZ""#)),
            ("unknown scheme", replacing(good, #""scheme":"cn-rid""#, #""scheme":"passport""#)),
            ("empty resident number", replacing(good, #""subject":\{"scheme":"cn-rid","id":"[0-9X]+"\}"#, #""subject":{"scheme":"cn-rid","id":""}"#)),
            ("wrong check character", replacing(good, #"("subject":\{"scheme":"cn-rid","id":"[0-9]{17})[0-9X]""#, "$1Y\"")),
            ("short sha256", replacing(good, #""sha256":"[0-9a-f]{64}""#, #""sha256":"abc""#)),
            ("empty file name", replacing(good, #""file":"[^"]+""#, #""file":"""#)),
            ("year 2300", replacing(good, #""at":"[0-9]{4}"#, #""at":"2300"#)),
            ("year 1000", replacing(good, #""at":"[0-9]{4}"#, #""at":"1000"#)),
            ("bad kind", replacing(good, #""kind":"court\.[a-z-]+""#, #""kind":"Court dishonest""#)),
            ("link without person", replacing(good, #","person":"p_[0-9a-f]{32}""#, "")),
        ]
    }

    @Test func everyStageThatReadsRecordsRefusesOnesThatBreakTheSchema() throws {
        let l = try Linked()
        defer { l.run.remove() }
        let good = l.court
        let unlinkedGood = Self.replacing(good, #","person":"p_[0-9a-f]{32}","link":"[a-z]+""#, "")
        for (what, bad) in Self.damaged(good) {
            let file = l.write("bad.jsonl", [good, bad])
            // tally-store: exit 65, the line named, and no ledger made from it.
            let db = l.run.dir + "/ledger-\(UUID().uuidString).db"
            let store = try Harness.run("tally-store", ["ingest", db, file])
            #expect(store.status == 65 && store.stderr.contains("bad.jsonl:2"), "store, \(what): \(store.stderr)")
            #expect(!FileManager.default.fileExists(atPath: db), "store, \(what): a ledger was left behind")
            // tally-score and tally-explain: exit 65, the line named; --keep-going scores the rest.
            let score = try Harness.run("tally-score", ["--rules", Self.rules, "--as-of", "2026-12-01", file])
            #expect(score.status == 65 && score.stderr.contains("bad.jsonl:2"), "score, \(what): \(score.stderr)")
            let kept = try Harness.run("tally-score", ["--keep-going", "--rules", Self.rules, "--as-of", "2026-12-01", file])
            #expect(kept.status == 0 && kept.text.split(separator: "\n").count == 1, "score --keep-going, \(what)")
            let explain = try Harness.run("tally-explain", ["--all", "--rules", Self.rules, "--as-of", "2026-12-01", file])
            #expect(explain.status == 65 && explain.stderr.contains("bad.jsonl:2"), "explain, \(what): \(explain.stderr)")
            // tally-link reads records before they are linked.
            if what != "bad person key" && what != "link without person" {
                let unlinked = Self.replacing(bad, #"(,"person":"p_[0-9a-f]{32}")?,"link":"[a-z]+""#, "")
                let linkFile = l.write("bad-unlinked.jsonl", [unlinkedGood, unlinked])
                let link = try Harness.run("tally-link", ["--crosswalk", l.run.crosswalk, "--secret-file", l.secret, linkFile])
                #expect(link.status == 65 && link.stderr.contains("bad-unlinked.jsonl:2"), "link, \(what): \(link.stderr)")
                #expect(link.text.split(separator: "\n").count == 1, "link, \(what): only the good line is written")
            }
        }
    }

    /// A negative amount would flip the sign of per-yuan points and lift a person out of the
    /// lowest tier; it never reaches the scorer.
    @Test func aNegativeAmountNeverLiftsAScore() throws {
        let l = try Linked()
        defer { l.run.remove() }
        let good = l.court
        let bad = Self.replacing(good, #""amount_fen":[0-9]+"#, #""amount_fen":-900000000"#)
        let honest = try Harness.run("tally-score", ["--rules", Self.rules, "--as-of", "2026-12-01", l.write("a.jsonl", [good])])
        let lifted = try Harness.run("tally-score", ["--keep-going", "--rules", Self.rules, "--as-of", "2026-12-01", l.write("b.jsonl", [good, bad])])
        #expect(honest.status == 0 && lifted.status == 0)
        #expect(honest.stdout == lifted.stdout, "the bad line changed nothing")
    }

    /// A correction decided after the as-of day does not apply on that day; one dated far past
    /// both the as-of day and today is refused with its line, and never outranks later decisions.
    @Test func correctionsRespectTime() throws {
        let l = try Linked()
        defer { l.run.remove() }
        let record = l.court
        let id = try #require(record.range(of: #"court:[0-9a-f]{32}"#, options: .regularExpression).map { String(record[$0]) })
        func correction(_ n: Int, _ action: String, _ at: String) -> String {
            #"{"v":1,"id":"corrections:\#(String(format: "%032x", n))","source":"corrections","kind":"correction.\#(action)","subject":{"scheme":"record","id":"\#(id)"},"at":"\#(at)","target":"\#(id)","attrs":{},"prov":{"file":"corrections-20261201.csv","sha256":"\#(String(repeating: "e", count: 64))","line":\#(n + 1)}}"#
        }
        let retract = correction(1, "retract", "2026-11-20T02:00:00Z")
        let file = l.write("in.jsonl", [retract, record])
        let before = try Harness.run("tally-score", ["--rules", Self.rules, "--as-of", "2026-11-19", "--stats", l.run.dir + "/st.json", file])
        let after = try Harness.run("tally-score", ["--rules", Self.rules, "--as-of", "2026-11-20", file])
        #expect(before.status == 0 && after.status == 0, "\(before.stderr) \(after.stderr)")
        #expect(!before.text.contains("\"retracted\""), "on the day before the retraction the record counts: \(before.text)")
        #expect(after.text.contains("\"retracted\":[\"\(id)\"]"), "from its day on it does not: \(after.text)")
        let stats = try JSONSerialization.jsonObject(with: FileManager.default.contents(atPath: l.run.dir + "/st.json")!) as! [String: Any]
        #expect(stats["corrections_after_as_of"] as? Int == 1)
        // A mistyped year: refused with its line, and the later real decision stands.
        let typo = correction(2, "reinstate", "2062-11-21T02:00:00Z")
        let typoFile = l.write("typo.jsonl", [retract, typo, record])
        let refused = try Harness.run("tally-score", ["--rules", Self.rules, "--as-of", "2026-11-25", typoFile])
        #expect(refused.status == 65 && refused.stderr.contains("typo.jsonl:2") && refused.stderr.contains("2062-11-21"), "\(refused.stderr)")
        let kept = try Harness.run("tally-score", ["--keep-going", "--rules", Self.rules, "--as-of", "2026-11-25", typoFile])
        #expect(kept.status == 0 && kept.text.contains("\"retracted\":[\"\(id)\"]"), "\(kept.text)")
        let explain = try Harness.run("tally-explain", ["--all", "--rules", Self.rules, "--as-of", "2026-11-25", typoFile])
        #expect(explain.status == 65 && explain.stderr.contains("typo.jsonl:2"), "\(explain.stderr)")
    }

    /// Every number of the rules file is range-checked on load with its line named; none, however
    /// large or small, reaches an arithmetic trap in score or explain.
    @Test(arguments: ["base", "min", "max", "points", "per_yuan", "per_yuan_limit", "half_life_days", "expire_days", "cap"])
    func extremeNumbersInTheRulesAreRefusedWithTheirLine(key: String) throws {
        let l = try Linked()
        defer { l.run.remove() }
        let text = try String(contentsOfFile: Self.rules, encoding: .utf8)
        let input = l.write("in.jsonl", l.lines.filter { !$0.contains("\"kind\":\"correction.") })
        for value in ["9223372036854775807", "99999999999999999999999", "-9223372036854775808", "1e308", "-1e308", "0.0000001", "0"] {
            // The first line with the key, its value replaced.
            var lines = text.components(separatedBy: "\n")
            let index = try #require(lines.firstIndex { $0.trimmingCharacters(in: .whitespaces).hasPrefix(key + ":") })
            let indent = lines[index].prefix { $0 == " " }
            lines[index] = indent + key + ": " + value
            let path = l.run.dir + "/rules.yaml"
            try lines.joined(separator: "\n").write(toFile: path, atomically: true, encoding: .utf8)
            for tool in ["tally-score", "tally-explain"] {
                let args = tool == "tally-score" ? ["--rules", path, "--as-of", "2026-12-01", input] : ["--all", "--rules", path, "--as-of", "2026-12-01", input]
                let r = try Harness.run(tool, args)
                #expect(r.status == 0 || r.status == 65, "\(tool) \(key): \(value): exit \(r.status) \(r.stderr)")
                // The fault names the rules file and a line: the value's own, or (for a score
                // range that no longer fits the tiers) the tier's.
                if r.status == 65 {
                    #expect(r.stderr.range(of: #"rules\.yaml:[0-9]+: "#, options: .regularExpression) != nil, "\(tool) \(key): \(value): \(r.stderr)")
                    if value.count > 12 { #expect(r.stderr.contains("rules.yaml:\(index + 1): "), "\(tool) \(key): \(value): \(r.stderr)") }
                }
            }
        }
    }

    /// With standard output closed, no file the program opens takes descriptor 1: records never
    /// land in the rejects file, and the failed write is exit 74.
    @Test func aClosedStandardOutputIsAWriteErrorNotAnotherFile() throws {
        let l = try Linked()
        defer { l.run.remove() }
        let input = l.write("in.jsonl", l.lines.filter { !$0.contains("\"kind\":\"correction.") })
        let rejects = l.run.dir + "/rejects.jsonl"
        let r = try Harness.run("/bin/sh", ["-c", "exec \"$0\" --keep-going --rules \"$1\" --as-of 2026-12-01 --rejects \"$2\" \"$3\" >&-",
                                             Harness.binaries + "/tally-score", Self.rules, rejects, input])
        #expect(r.status == 74, "\(r.stderr)")
        let written = FileManager.default.contents(atPath: rejects) ?? Data()
        #expect(written.isEmpty, "the rejects file holds \(written.count) bytes")
        let p = try Harness.run("/bin/sh", ["-c", "exec \"$0\" --feed transit --rejects \"$1\" \"$2\" >&-",
                                             Harness.binaries + "/tally-parse", rejects, l.run.feeds + "/" + Harness.files(in: l.run.feeds).first { $0.hasPrefix("transit-") }!])
        #expect(p.status == 74, "\(p.stderr)")
        let rejected = (try? String(contentsOfFile: rejects, encoding: .utf8)) ?? ""
        #expect(!rejected.contains("\"v\":1"), "no record in the rejects file")
    }

    /// A secret file that is a FIFO is refused at once (never opened to block), and so is a
    /// secret of white space only.
    @Test func aFIFOOrBlankSecretIsRefusedAtOnce() throws {
        let l = try Linked()
        defer { l.run.remove() }
        let fifo = l.run.dir + "/fifo-secret"
        #expect(mkfifo(fifo, 0o600) == 0)
        let started = Date()
        let r = try Harness.run("tally-link", ["--crosswalk", l.run.crosswalk, "--secret-file", fifo, l.run.records])
        #expect(r.status == 64 && r.stderr.contains("not a regular file"), "\(r.stderr)")
        #expect(Date().timeIntervalSince(started) < 20)
        let blank = try l.run.secret(String(repeating: " \t ", count: 12), name: "blank")
        let b = try Harness.run("tally-link", ["--crosswalk", l.run.crosswalk, "--secret-file", blank, l.run.records])
        #expect(b.status == 64 && b.stderr.contains("white space"), "\(b.stderr)")
    }

    /// A ledger or rejects file that others may read is narrowed to its owner, with a message.
    @Test func aLedgerOrRejectsFileOpenToOthersIsNarrowed() throws {
        let l = try Linked()
        defer { l.run.remove() }
        let input = l.write("in.jsonl", l.lines)
        let db = l.run.dir + "/ledger.db", rejects = l.run.dir + "/rej.jsonl"
        #expect(try Harness.run("tally-store", ["ingest", db, input]).status == 0)
        _ = FileManager.default.createFile(atPath: rejects, contents: Data())
        for path in [db, rejects] { try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: path) }
        let again = try Harness.run("tally-store", ["ingest", "--rejects", rejects, db, input])
        #expect(again.status == 0 && again.stderr.contains("narrowed to 600"), "\(again.stderr)")
        for path in [db, rejects] {
            let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as! Int
            #expect(mode == 0o600, "\(path): \(String(mode, radix: 8))")
        }
    }

    /// Text quoted from an input is escaped and bounded: no escape sequence reaches the terminal
    /// and no megabyte reaches cron mail.
    @Test func messagesQuotingInputAreShortAndInert() throws {
        let l = try Linked()
        defer { l.run.remove() }
        let good = l.court
        let escape = Self.replacing(good, #""kind":"court\.[a-z-]+""#, #""kind":"\\u001b]0;owned\\u0007\\u009b31m""#)
        let huge = Self.replacing(good, #""kind":"court\.[a-z-]+""#, "\"kind\":\"" + String(repeating: "9", count: 1 << 20) + "\"")
        let r = try Harness.run("tally-score", ["--rules", Self.rules, "--as-of", "2026-12-01", l.write("bad.jsonl", [escape, huge])])
        #expect(r.status == 65)
        let bytes = Array(r.stderr.utf8)
        #expect(!bytes.contains(0x1B) && !bytes.contains(0x07), "no control byte on stderr")
        #expect(!r.stderr.contains("\u{9B}"), "no C1 control on stderr")
        #expect(r.stderr.contains("\\x1B"), "the escape is shown escaped: \(r.stderr)")
        #expect(bytes.count < 8_000 && r.stderr.contains("1048576 bytes"), "bounded, with the full size: \(bytes.count) bytes")
    }

    /// Dates outside 1900-2199 are type errors at parse, in parse and validate alike, and a row
    /// whose record would be longer than the stages after tally-parse read is rejected, not written.
    @Test func whatParseWritesTheNextStageCanRead() throws {
        let dir = Harness.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let header = "order_id,account_id,rid,placed_at,category,amount,payment,device"
        let rows = [
            "O2026110100999999,A0269440587,,2300-11-01T20:44:42+08:00,Home,1128.31,on-time,web",
            "O2026110100999998,A0269440587,,1850-11-01T20:44:42+08:00,Home,1128.31,on-time,web",
            "O2026110100999997,A0269440587,,2026-11-01T20:44:42+08:00,\"" + String(repeating: "\u{1}", count: 1_500_000) + "\",1128.31,on-time,web",
            "O2026110100999996,A0269440587,,2026-11-01T20:44:42+08:00,Home,1128.31,on-time,web",
        ]
        let file = dir + "/commerce-20261123.csv"
        try ([header] + rows).joined(separator: "\n").appending("\n").write(toFile: file, atomically: true, encoding: .utf8)
        let parse = try Harness.run("tally-parse", ["--feed", "commerce", "--rejects", dir + "/rej.jsonl", file])
        #expect(parse.status == 0 && parse.text.split(separator: "\n").count == 1, "\(parse.stderr)")
        let rejects = try String(contentsOfFile: dir + "/rej.jsonl", encoding: .utf8).split(separator: "\n")
        #expect(rejects.count == 3)
        #expect(rejects[0].contains("\"line\":2") && rejects[0].contains("type-error") && rejects[0].contains("1900 to 2199"))
        #expect(rejects[1].contains("\"line\":3") && rejects[1].contains("type-error"))
        #expect(rejects[2].contains("\"line\":4") && rejects[2].contains("stages after tally-parse read"))
        let validate = try Harness.run("tally-validate", ["--feed", "commerce", file])
        #expect(validate.status == 65 && validate.text.contains("type-error ×2"), "\(validate.text)")
        // What parse wrote, every stage after it reads.
        let records = dir + "/records.jsonl"
        _ = FileManager.default.createFile(atPath: records, contents: parse.stdout)
        #expect(try Harness.run("tally-score", ["--rules", Self.rules, "--as-of", "2026-12-01", records]).status == 65, "not linked yet")
        let secret = dir + "/secret"
        _ = FileManager.default.createFile(atPath: secret, contents: Data("a synthetic secret for tests only\n".utf8), attributes: [.posixPermissions: 0o600])
        let link = try Harness.run("tally-link", ["--crosswalk", "/dev/null", "--secret-file", secret, records])
        #expect(link.status == 0, "\(link.stderr)")
    }

    /// A row that repeats an earlier row's key is rejected by tally-parse as tally-validate
    /// faults it (primary-key), never written twice.
    @Test func aRepeatedKeyIsRejectedNotWrittenTwice() throws {
        let dir = Harness.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let header = "order_id,account_id,rid,placed_at,category,amount,payment,device"
        let row = "O2026110100999996,A0269440587,,2026-11-01T20:44:42+08:00,Home,1128.31,late,web"
        let file = dir + "/commerce-20261123.csv"
        try [header, row, row.replacingOccurrences(of: "late", with: "on-time"), row].joined(separator: "\n").appending("\n").write(toFile: file, atomically: true, encoding: .utf8)
        let parse = try Harness.run("tally-parse", ["--feed", "commerce", "--rejects", dir + "/rej.jsonl", file])
        #expect(parse.text.split(separator: "\n").count == 1 && parse.text.contains("commerce.late"))
        let rejects = try String(contentsOfFile: dir + "/rej.jsonl", encoding: .utf8).split(separator: "\n")
        #expect(rejects.count == 2 && rejects.allSatisfy { $0.contains("primary-key") }, "\(rejects)")
        let validate = try Harness.run("tally-validate", ["--feed", "commerce", file])
        #expect(validate.status == 65 && validate.text.contains("primary-key ×2"), "\(validate.text)")
    }

    /// A device is refused at once (never read or hashed forever); a pipe is read as a stream.
    @Test func devicesAreRefusedAndPipesAreStreams() throws {
        let l = try Linked()
        defer { l.run.remove() }
        let started = Date()
        for args in [["tally-parse", "--feed", "commerce", "/dev/zero"], ["tally-validate", "--feed", "commerce", "/dev/zero"],
                     ["tally-score", "--rules", Self.rules, "--as-of", "2026-12-01", "/dev/zero"]] {
            let r = try Harness.run(args[0], Array(args.dropFirst()))
            #expect(r.status == 66 && r.stderr.contains("/dev/zero: is a device"), "\(args[0]): \(r.stderr)")
        }
        #expect(Date().timeIntervalSince(started) < 30)
        let commerce = l.run.feeds + "/" + Harness.files(in: l.run.feeds).first { $0.hasPrefix("commerce-") }!
        let direct = try Harness.run("tally-parse", ["--feed", "commerce", commerce])
        let piped = try Harness.run("/bin/bash", ["-c", "exec \"$0\" --feed commerce <(cat \"$1\")", Harness.binaries + "/tally-parse", commerce])
        #expect(piped.status == 0, "\(piped.stderr)")
        let strip = { (t: String) in t.replacingOccurrences(of: #""file":"[^"]*""#, with: "", options: .regularExpression) }
        #expect(strip(piped.text) == strip(direct.text) && !direct.text.isEmpty)
    }
}

extension TrustBoundaryTests {
    /// Every program, tally-bench included, exits 74 when its output cannot be written.
    @Test func everyProgramExits74OnAWriteError() throws {
        let l = try Linked()
        defer { l.run.remove() }
        let records = l.write("records.jsonl", l.lines.filter { !$0.contains("\"kind\":\"correction.") })
        let db = l.run.dir + "/ledger.db"
        #expect(try Harness.run("tally-store", ["ingest", db, records]).status == 0)
        let tax = l.run.feeds + "/" + Harness.files(in: l.run.feeds).first { $0.hasPrefix("tax-") }!
        let runs: [[String]] = [
            ["tally-parse", "--feed", "tax", tax],
            ["tally-validate", "--feed", "tax", tax],
            ["tally-link", "--relink", "--crosswalk", l.run.crosswalk, "--secret-file", l.secret, records],
            ["tally-score", "--rules", Self.rules, "--as-of", "2026-12-01", records],
            ["tally-explain", "--all", "--rules", Self.rules, "--as-of", "2026-12-01", records],
            ["tally-store", "dump", db],
            ["tally-store", "files", db],
            ["tally-bench", "lines", tax],
            ["tally-bench", "score-data", "--people", "10", "--records", "100000", "--out", "/dev/full", "--corrections", "/dev/null"],
        ]
        for args in runs {
            let r = try Harness.run("/bin/sh", ["-c", "exec \"$0\" \"$@\" > /dev/full", Harness.binaries + "/" + args[0]] + args.dropFirst())
            #expect(r.status == 74 && r.stderr.contains("No space left on device"), "\(args.joined(separator: " ")): exit \(r.status) \(r.stderr)")
        }
    }

    /// Rejects per file are capped: past --max-rejects the file stops with 65 and says so, so a
    /// small hostile file cannot fill a disk with rejects.
    @Test func rejectsPerFileAreCapped() throws {
        let dir = Harness.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let header = "order_id,account_id,rid,placed_at,category,amount,payment,device"
        let rows = (0..<30).map { "O20261101009999\(String(format: "%02d", $0)),A0269440587,,2026-11-01T20:44:42+08:00,Home,1.234,late,web" }
        let file = dir + "/commerce-20261101.csv"
        try ([header] + rows).joined(separator: "\n").appending("\n").write(toFile: file, atomically: true, encoding: .utf8)
        let capped = try Harness.run("tally-parse", ["--feed", "commerce", "--max-rejects", "10", "--rejects", dir + "/rej.jsonl", file])
        #expect(capped.status == 65 && capped.stderr.contains("more than 10 rows rejected") && capped.stderr.contains(":12:"), "\(capped.stderr)")
        #expect(try String(contentsOfFile: dir + "/rej.jsonl", encoding: .utf8).split(separator: "\n").count == 10)
        let all = try Harness.run("tally-parse", ["--feed", "commerce", "--rejects", dir + "/rej.jsonl", file])
        #expect(all.status == 0 && all.stderr.contains("rejected 30"), "\(all.stderr)")
        #expect(try Harness.run("tally-parse", ["--feed", "commerce", "--max-rejects", "0", file]).status == 64)
    }

    /// The gzip expansion bound holds over any stretch of the stream: an incompressible prefix
    /// does not buy room for a bomb after it.
    @Test func anIncompressiblePrefixDoesNotHideABomb() throws {
        let dir = Harness.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let bomb = dir + "/transit-20261101.csv.gz"
        // 40 MiB of random hex lines (barely compressible), then 400 MiB of one repeated line.
        let make = "{ head -c 20971520 /dev/urandom | od -An -tx1 -v | tr -d ' ' | gzip -1; yes 0000000000000000000000000000000 | head -c 419430400 | gzip -9; } > \"$0\""
        #expect(try Harness.run("/bin/sh", ["-c", make, bomb]).status == 0)
        let size = try FileManager.default.attributesOfItem(atPath: bomb)[.size] as! Int
        let r = try Harness.run("tally-bench", ["lines", bomb])
        #expect(r.status == 65 && r.stderr.contains("in a stretch of the stream") && r.stderr.contains("gzip bomb"), "\(size) bytes: \(r.stderr)")
        // The same prefix alone is fine.
        let plain = dir + "/prefix.gz"
        #expect(try Harness.run("/bin/sh", ["-c", "head -c 20971520 /dev/urandom | od -An -tx1 -v | tr -d ' ' | gzip -1 > \"$0\"", plain]).status == 0)
        #expect(try Harness.run("tally-bench", ["lines", plain]).status == 0)
    }

    /// The standard-input spool is removed when tally-parse is stopped by SIGTERM, SIGINT or
    /// SIGHUP: raw rows never stay behind in the temporary directory.
    @Test(arguments: ["TERM", "INT", "HUP"])
    func theSpoolIsRemovedOnASignal(signal: String) throws {
        let dir = Harness.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let tmp = dir + "/tmp"
        try FileManager.default.createDirectory(atPath: tmp, withIntermediateDirectories: true)
        // A stream that sends a header and a row, then waits: the spool exists while it waits.
        let script = """
            { printf 'order_id,account_id,rid,placed_at,category,amount,payment,device\\n'; sleep 6; } | TMPDIR="$1" "$0" --feed commerce - &
            parse=$!
            # Until the spool is there (at most 5 s; the stream stays open for 6).
            for _ in $(seq 100); do ls "$1" | grep -q tally-stdin && break; sleep 0.05; done
            ls "$1" | grep -c tally-stdin
            kill -\(signal) $parse
            wait $parse
            ls "$1" | grep -c tally-stdin
            """
        let r = try Harness.run("/bin/bash", ["-c", script, Harness.binaries + "/tally-parse", tmp])
        #expect(r.text.split(separator: "\n").map(String.init) == ["1", "0"], "\(r.text) \(r.stderr)")
    }

    /// Pooled row buffers give back what huge rows made them take, and a batch of rows is bounded
    /// in bytes: forty rows of 4 MiB once kept 365 MB.
    @Test func hugeRowsDoNotPileUpInThePool() throws {
        let dir = Harness.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let file = dir + "/transit-20261127.csv"
        let big = String(repeating: "9", count: 4 << 20)
        let rows = (0..<40).map { "E\($0),8000000000000123,,1,\(big),0002,2026-11-27T08:00:00,2026-11-27T08:30:00,500,200," }
        try (["event_id,card_id,rid,line,station_in,station_out,tap_in,tap_out,fare_fen,paid_fen,flag"] + rows).joined(separator: "\n").appending("\n")
            .write(toFile: file, atomically: true, encoding: .utf8)
        for tool in ["tally-parse", "tally-validate"] {
            let r = try Harness.run("/usr/bin/time", ["-f", "peak %M", Harness.binaries + "/" + tool, "--feed", "transit", file])
            let kb = Int(r.stderr.split(separator: "\n").last { $0.hasPrefix("peak ") }!.dropFirst(5))!
            #expect(kb < 160_000, "\(tool): peak RSS \(kb) KB")
            print("\(tool) on forty 4 MiB rows: peak RSS \(kb / 1024) MB")
        }
    }

    /// A NUL byte in a cell, or a byte-order mark anywhere but the file's start, is an encoding
    /// error of its row and field, in parse and validate alike.
    @Test func strayNULsAndByteOrderMarksAreEncodingErrors() throws {
        let dir = Harness.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let header = Array("order_id,account_id,rid,placed_at,category,amount,payment,device\n".utf8)
        func row(_ id: Int, _ category: [UInt8]) -> [UInt8] {
            Array("O202611010099999\(id),A0269440587,,2026-11-01T20:44:42+08:00,".utf8) + category + Array(",12.00,late,web\n".utf8)
        }
        let bytes = [0xEF, 0xBB, 0xBF] + header + row(1, Array("Home".utf8)) + row(2, Array("Ho".utf8) + [0] + Array("me".utf8))
            + row(3, [0xEF, 0xBB, 0xBF] + Array("Home".utf8)) + row(4, Array("家居，园艺".utf8))
        let file = dir + "/commerce-20261101.csv"
        _ = FileManager.default.createFile(atPath: file, contents: Data(bytes))
        let parse = try Harness.run("tally-parse", ["--feed", "commerce", "--rejects", dir + "/rej.jsonl", file])
        #expect(parse.text.split(separator: "\n").count == 2, "the first and last rows: \(parse.stderr)")
        let rejects = try String(contentsOfFile: dir + "/rej.jsonl", encoding: .utf8).split(separator: "\n")
        #expect(rejects.count == 2 && rejects.allSatisfy { $0.contains("encoding-error") && $0.contains("\"field\":\"category\"") }, "\(rejects)")
        #expect(rejects[0].contains("NUL") && rejects[1].contains("byte-order mark"))
        let validate = try Harness.run("tally-validate", ["--feed", "commerce", file])
        #expect(validate.status == 65 && validate.text.contains("encoding-error ×2"), "\(validate.text)")
    }
}
