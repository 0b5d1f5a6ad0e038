import Foundation
import Testing

/// Runs `command` under /usr/bin/time and returns (status, peak RSS in KB).
func peakRSS(_ arguments: [String], stdin: Data? = nil) throws -> (Int32, Int, String) {
    let dir = Harness.scratch()
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let r = try Harness.run("/usr/bin/time", ["-f", "RSS %M", "-o", dir + "/time"] + arguments, stdin: stdin)
    let text = try String(contentsOfFile: dir + "/time", encoding: .utf8)
    let kb = Int(text.split(separator: "\n").last { $0.hasPrefix("RSS ") }!.dropFirst(4))!
    return (r.status, kb, r.stderr)
}

@Suite(.serialized) struct ParseStageTests {
    @Test func rejectsExactlyTheFaultsInTruthAndWritesSchemaValidRecords() throws {
        let dir = Harness.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(try Harness.run("tally-synth", ["--people", "8000", "--days", "6", "--seed", "5", "--dirty", "0.02", "--out", dir + "/in"]).status == 0)
        var records = Data()
        var rejects = Data()
        var totals = (read: 0, written: 0, rejected: 0, filtered: 0)
        for feed in ["court", "tax", "transit", "commerce", "crosswalk", "corrections"] {
            let files = Harness.files(in: dir + "/in").filter { $0.hasPrefix(feed + "-") }.map { dir + "/in/" + $0 }
            let run = try Harness.run("tally-parse", ["--feed", feed, "--rejects", dir + "/rej.jsonl", "--stats", dir + "/stats.json"] + files)
            #expect(run.status == 0, "\(feed): \(run.stderr)")
            #expect(run.stderr.split(separator: "\n").count == files.count, "one summary line per file")
            records.append(run.stdout)
            rejects.append(FileManager.default.contents(atPath: dir + "/rej.jsonl")!)
            let stats = try JSONSerialization.jsonObject(with: FileManager.default.contents(atPath: dir + "/stats.json")!) as! [String: Any]
            let (r, w, j, f) = (stats["read"] as! Int, stats["written"] as! Int, stats["rejected"] as! Int, stats["filtered"] as! Int)
            #expect(r == w + j + f, "\(feed): read = written + rejected + filtered")
            #expect((stats["files"] as! [Any]).count == files.count)
            totals = (totals.read + r, totals.written + w, totals.rejected + j, totals.filtered + f)
        }
        print("tally-parse on tally-synth --dirty 0.02: read \(totals.read), written \(totals.written), rejected \(totals.rejected), filtered \(totals.filtered)")
        func triples(_ data: Data, _ keys: [String]) throws -> Set<[String]> {
            Set(try String(decoding: data, as: UTF8.self).split(separator: "\n").map { line in
                let o = try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
                return keys.map { "\(o[$0]!)" }
            })
        }
        let truth = try triples(FileManager.default.contents(atPath: dir + "/in/truth.jsonl")!, ["file", "line", "field"])
        let got = try triples(rejects, ["file", "line", "field"])
        #expect(truth.count > 500)
        #expect(got == truth, "missing: \(truth.subtracting(got).prefix(5)), extra: \(got.subtracting(truth).prefix(5))")
        _ = FileManager.default.createFile(atPath: dir + "/records.jsonl", contents: records)
        let check = try Harness.oracle("validate_jsonl.py", [Harness.root + "/schemas/record.schema.json", dir + "/records.jsonl"])
        #expect(check.status == 0, "\(check.text)")
    }

    @Test func sameInputGivesByteIdenticalRecords() throws {
        let dir = Harness.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(try Harness.run("tally-synth", ["--people", "3000", "--days", "2", "--out", dir]).status == 0)
        let files = Harness.files(in: dir).filter { $0.hasPrefix("transit-") }.map { dir + "/" + $0 }
        let a = try Harness.run("tally-parse", ["--feed", "transit"] + files)
        let b = try Harness.run("tally-parse", ["--feed", "transit"] + files)
        #expect(a.stdout == b.stdout && !a.stdout.isEmpty)
    }

    @Test func readsStandardInputAndNamesItDash() throws {
        let file = fixtures + "/court-20261127-valid.xml"
        let bytes = FileManager.default.contents(atPath: file)!
        let r = try Harness.run("tally-parse", ["--feed", "court", "-"], stdin: bytes)
        #expect(r.status == 0)
        #expect(r.text.split(separator: "\n").count == 2)
        #expect(r.text.contains(#""prov":{"file":"-","sha256":""#))
        #expect(r.stderr.contains("tally-parse: -: read 2, written 2"))
        // The hash in provenance is the hash of the bytes as delivered, whichever way they came.
        let named = try Harness.run("tally-parse", ["--feed", "court", file]).text
        let sha = { (t: String) in t.components(separatedBy: "\"sha256\":\"")[1].prefix(64) }
        #expect(sha(r.text) == sha(named))
    }

    /// The file's hash is made on a thread of its own while the rows are read, and the records
    /// wait for it: every record of every file names its own file's SHA-256, also when a file
    /// writes more records than are held back before tally-parse waits for the hash (4 MB).
    @Test func recordsNameTheirFilesHashThoughItIsMadeWhileTheyAreRead() throws {
        let dir = Harness.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let device = String(repeating: "HarmonyOS tablet ", count: 48)
        var big = "order_id,account_id,rid,placed_at,category,amount,payment,device\n"
        for i in 0..<45_000 {
            big += "O2026120100\(String(format: "%07d", i)),A\(String(format: "%010d", i)),,2026-12-01T14:28:14+08:00,pharmacy,\(i % 5000).\(i % 100),on-time,\(device)\(i)\n"
        }
        let small = "order_id,account_id,rid,placed_at,category,amount,payment,device\nO1,A0000000001,,2026-12-02T01:00:00+08:00,food,1.00,late,web\n"
        let files = [dir + "/commerce-20261201.csv", dir + "/commerce-20261202.csv"]
        try big.write(toFile: files[0], atomically: true, encoding: .utf8)
        try small.write(toFile: files[1], atomically: true, encoding: .utf8)
        let r = try Harness.run("tally-parse", ["--feed", "commerce"] + files)
        #expect(r.status == 0, "\(r.stderr)")
        var hashes: [String: Set<String>] = [:]
        var bytes = 0
        for line in r.text.split(separator: "\n") {
            bytes += line.utf8.count + 1
            let prov = (try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any])["prov"] as! [String: Any]
            hashes[prov["file"] as! String, default: []].insert(prov["sha256"] as! String)
        }
        #expect(bytes > 40 << 20, "the records must pass well beyond what is held back for the hash: \(bytes) bytes")
        for file in files {
            let name = (file as NSString).lastPathComponent
            let digest = String(try Harness.run("/usr/bin/env", ["sha256sum", file]).text.prefix(64))
            #expect(hashes[name] == [digest], "\(name): \(hashes[name] ?? [])")
        }
        #expect(!r.text.contains("????"))
    }

    @Test func aClosedPipeEndsTheStageQuietly() throws {
        let dir = Harness.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(try Harness.run("tally-synth", ["--people", "200000", "--days", "1", "--out", dir]).status == 0)
        let transit = dir + "/transit-20261101.csv.gz"
        let r = try Harness.run("/bin/sh", ["-c", "'\(Harness.binaries)/tally-parse' --feed transit '\(transit)' | head -1; echo \"status ${PIPESTATUS:-}\""])
        #expect(r.text.hasPrefix("{\"v\":1"))
        let status = try Harness.run("/bin/bash", ["-c", "set -o pipefail; '\(Harness.binaries)/tally-parse' --feed transit '\(transit)' 2>/dev/null | head -1 > /dev/null"])
        #expect(status.status == 0, "a closed pipe is not an error")
        #expect(!r.stderr.contains("Fatal") && !r.stderr.contains("Broken pipe"))
    }

    @Test func missingFilesUnknownFeedsAndBadOptions() throws {
        let missing = try Harness.run("tally-parse", ["--feed", "court", "/nonexistent/court-20261127.xml", fixtures + "/court-20261127-valid.xml"])
        #expect(missing.status == 66)
        #expect(missing.stderr.contains("/nonexistent/court-20261127.xml: cannot open: No such file or directory"))
        #expect(missing.text.split(separator: "\n").count == 2, "the readable file is still parsed")
        let unknown = try Harness.run("tally-parse", ["--feed", "parking", "x.csv"])
        #expect(unknown.status == 64)
        #expect(unknown.stderr.contains("unknown feed \"parking\"") && unknown.stderr.contains("transit"))
        let bad = try Harness.run("tally-parse", ["--feed", "transit", "--max-line-bytes", "3"])
        #expect(bad.status == 64)
        let noFeed = try Harness.run("tally-parse", [])
        #expect(noFeed.status == 64)
        #expect(noFeed.stderr.contains("--feed"))
        let broken = Harness.scratch()
        defer { try? FileManager.default.removeItem(atPath: broken) }
        _ = FileManager.default.createFile(atPath: broken + "/x.feed.json", contents: Data(#"{"feed":"x","format":"csv","table":"x.schema.json","naturalKey":["a"],"subject":{"field":"a","scheme":"cn-rid"},"at":{"field":"d"},"kind":{"constant":"x.y"}}"#.utf8))
        _ = FileManager.default.createFile(atPath: broken + "/x.schema.json", contents: Data(#"{"fields":[{"name":"a","type":"string","constraints":{"pattern":"(?=x)[a-z]+"}},{"name":"d","type":"date"}]}"#.utf8))
        let schemaFault = try Harness.run("tally-parse", ["--feed", "x", "--schemas", broken, "-"], stdin: Data())
        #expect(schemaFault.status == 65)
        #expect(schemaFault.stderr.contains("x.schema.json") || schemaFault.stderr.contains("x.feed.json"))
        #expect(schemaFault.stderr.contains("field \"a\": pattern \"(?=x)[a-z]+\": '(?' groups other than"), "\(schemaFault.stderr)")
        // A CJK class with a count, as Python's re (and so Frictionless) reads it.
        _ = FileManager.default.createFile(atPath: broken + "/z.feed.json", contents: Data(#"{"feed":"z","format":"csv","table":"z.schema.json","naturalKey":["a","n"],"subject":{"field":"a","scheme":"cn-rid"},"at":{"field":"d"},"kind":{"constant":"z.y"}}"#.utf8))
        _ = FileManager.default.createFile(atPath: broken + "/z.schema.json", contents: Data(#"{"fields":[{"name":"a","type":"string"},{"name":"n","type":"string","constraints":{"pattern":"[一-龥]{2,3}"}},{"name":"d","type":"date"}]}"#.utf8))
        let names = "a,n,d\n11010519491231002X,马丽,2026-01-01\n11010519491231002X,马,2026-01-01\n11010519491231002X,马丽王李,2026-01-01\n11010519491231002X,王一龥,2026-01-01\n"
        let cjk = try Harness.run("tally-validate", ["--feed", "z", "--schemas", broken, "-"], stdin: Data(names.utf8))
        #expect(cjk.status == 65)
        #expect(cjk.text.contains("2 problems in 4 rows") && cjk.text.contains("constraint-error ×2"), "\(cjk.text)")
        #expect(cjk.text.contains("row 3, line 3, field 2 n: does not match the pattern [一-龥]{2,3}: \"马\""), "\(cjk.text)")
        #expect(cjk.text.contains("row 4, line 4, field 2 n: does not match the pattern [一-龥]{2,3}: \"马丽王李\""), "\(cjk.text)")
        // A kind map that does not filter must cover every allowed value, or valid rows would vanish.
        _ = FileManager.default.createFile(atPath: broken + "/y.feed.json", contents: Data(#"{"feed":"y","format":"csv","table":"y.schema.json","naturalKey":["a"],"subject":{"field":"a","scheme":"cn-rid"},"at":{"field":"d"},"kind":{"field":"k","map":{"good":"y.good"}}}"#.utf8))
        _ = FileManager.default.createFile(atPath: broken + "/y.schema.json", contents: Data(#"{"fields":[{"name":"a","type":"string"},{"name":"d","type":"date"},{"name":"k","type":"string","constraints":{"required":true,"enum":["good","bad"]}}]}"#.utf8))
        let kindFault = try Harness.run("tally-parse", ["--feed", "y", "--schemas", broken, "-"], stdin: Data())
        #expect(kindFault.status == 65)
        #expect(kindFault.stderr.contains("kind: no kind for bad"), "\(kindFault.stderr)")
    }

    @Test func hostileXMLLeaksNothingAndStaysSmall() throws {
        for name in ["court-20261127-xxe.xml", "court-20261127-laughs.xml"] {
            let (status, kb, stderr) = try peakRSS([Harness.binaries + "/tally-parse", "--feed", "court", fixtures + "/" + name])
            #expect(status == 65)
            #expect(kb < 100 * 1024, "\(name): peak RSS \(kb) KB")
            #expect(!stderr.contains("root:"), "nothing from /etc/passwd reaches any output")
        }
        let out = try Harness.run("tally-parse", ["--feed", "court", fixtures + "/court-20261127-xxe.xml"])
        #expect(out.stdout.isEmpty)
    }

    @Test func aHugeLineWithoutANewlineStaysSmall() throws {
        let dir = Harness.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/transit-20261127.csv"
        var data = Data("event_id,card_id,rid,line,station_in,station_out,tap_in,tap_out,fare_fen,paid_fen,flag\n".utf8)
        data.append(Data(repeating: UInt8(ascii: "7"), count: 64 << 20))
        _ = FileManager.default.createFile(atPath: path, contents: data)
        let (status, kb, stderr) = try peakRSS([Harness.binaries + "/tally-parse", "--feed", "transit", path])
        #expect(status == 65)
        #expect(stderr.contains("transit-20261127.csv:2: record longer than 8388608 bytes"))
        #expect(kb < 100 * 1024, "peak RSS \(kb) KB")
    }

    /// Several judgments on one line: an XSD-only fault (an element the schema does not allow)
    /// in the second and in the last judgment rejects exactly those two, in parse and validate.
    @Test(arguments: ["one line", "minified"])
    func xsdErrorsLandOnTheJudgmentTheyAreIn(layout: String) throws {
        let dir = Harness.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let valid = try String(contentsOfFile: fixtures + "/court-20261127-valid.xml", encoding: .utf8)
        let head = valid.components(separatedBy: "  <judgment ")[0]
        let one = valid.components(separatedBy: "  <judgment ")[1].components(separatedBy: "</judgment>")[0].replacingOccurrences(of: "\n", with: "")
        var body = ""
        for i in 0..<6 {
            let fault = i == 1 || i == 5 ? "<note>not in the schema</note>" : ""
            body += "<judgment " + one.replacingOccurrences(of: "1234号", with: "\(i)号") + fault + "</judgment>"
        }
        let declaration = head.components(separatedBy: "\n")[0], root = head.components(separatedBy: "\n")[1]
        let text = layout == "one line" ? declaration + root + body + "</judgments>\n" : declaration + "\n" + root + body + "</judgments>\n"
        let file = dir + "/court-20261127.xml"
        _ = FileManager.default.createFile(atPath: file, contents: Data(text.utf8))
        let parse = try Harness.run("tally-parse", ["--feed", "court", file])
        #expect(parse.status == 0, "\(parse.stderr)")
        let kept = (0..<6).filter { parse.text.contains("执\($0)号") }
        #expect(kept == [0, 2, 3, 4], "\(layout): written \(kept)")
        #expect(parse.stderr.contains("rejected 2"), "\(parse.stderr)")
        let validate = try Harness.run("tally-validate", ["--feed", "court", "--json", file])
        #expect(validate.status == 65 && validate.text.contains("\"problems\":2"), "\(validate.text)")
        #expect(validate.text.contains("\"row\":2,") && validate.text.contains("\"row\":6,"), "the second and the sixth judgment: \(validate.text)")
    }

    /// Text split into pieces (comments, CDATA sections) is read as one value: its length is
    /// the whole text's, however split. Past 10,000 pieces in one record the file stops, since
    /// each piece costs memory before any check can see the value.
    @Test func xmlTextSplitIntoPiecesIsOneValueAndBounded() throws {
        let dir = Harness.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let valid = try String(contentsOfFile: fixtures + "/court-20261127-valid.xml", encoding: .utf8)
        let head = valid.components(separatedBy: "  <judgment ")[0]
        let one = valid.components(separatedBy: "  <judgment ")[1].components(separatedBy: "</judgment>")[0]
        let obligation = try #require(one.range(of: #"<obligation>[^<]*</obligation>"#, options: .regularExpression))
        func file(_ name: String, _ text: String) throws -> String {
            let judgment = one.replacingCharacters(in: obligation, with: "<obligation>" + text + "</obligation>")
            let path = dir + "/" + name
            try (head + "  <judgment " + judgment + "</judgment>\n</judgments>\n").write(toFile: path, atomically: true, encoding: .utf8)
            return path
        }
        // 3,000 pieces of 10 characters, alternately comments and CDATA sections: 30,000 characters,
        // over the XSD's limit of 4,000 for the whole value.
        var pieces = ""
        for i in 0..<3000 { pieces += i % 2 == 0 ? "abcdefghij<!---->" : "<![CDATA[abcdefghij]]>" }
        let long = try Harness.run("tally-parse", ["--feed", "court", try file("court-20261127.xml", pieces)])
        #expect(long.status == 0 && long.stderr.contains("The value has a length of '30000'"), "\(long.stderr)")
        // Under the limit, split the same ways, it is one value of the right text.
        let short = try Harness.run("tally-parse", ["--feed", "court", try file("court-20261128.xml", "pay<!-- x -->ment <![CDATA[owed]]><?pi?> in full")])
        #expect(short.status == 0 && short.text.contains(#""obligation":"payment owed in full""#), "\(short.text)\(short.stderr)")
        // 20,000 empty comments in one record: the file stops, quickly and in little memory.
        let split = try file("court-20261129.xml", String(repeating: "ab<!---->", count: 20_000))
        let stopped = try Harness.run("tally-parse", ["--feed", "court", split])
        #expect(stopped.status == 65 && stopped.stderr.contains("more than 10000 comments, CDATA sections or processing instructions within one record"),
                "\(stopped.stderr)")
        let validate = try Harness.run("tally-validate", ["--feed", "court", split])
        #expect(validate.status == 65 && validate.text.contains("more than 10000 comments"), "\(validate.text)")
    }

    @Test func aBrokenXMLFileKeepsTheJudgmentsBeforeTheBreak() throws {
        let dir = Harness.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let valid = try String(contentsOfFile: fixtures + "/court-20261127-valid.xml", encoding: .utf8)
        let one = valid.components(separatedBy: "  <judgment ")[1].components(separatedBy: "</judgment>")[0]
        var body = ""
        for i in 0..<300 { body += "  <judgment " + one.replacingOccurrences(of: "1234号", with: "\(i)号") + "</judgment>\n" }
        let text = valid.components(separatedBy: "  <judgment ")[0] + body + "  <judgment case=\"broken\"><court code=\"330106\">x</judgment>\n</judgments>\n"
        _ = FileManager.default.createFile(atPath: dir + "/court-20261127.xml", contents: Data(text.utf8))
        let r = try Harness.run("tally-parse", ["--feed", "court", dir + "/court-20261127.xml"])
        #expect(r.status == 65)
        #expect(r.stderr.contains("court-20261127.xml:3003: not well-formed XML"))
        let written = r.text.split(separator: "\n").count
        #expect(written >= 250 && written <= 300, "kept \(written) of the 300 judgments before the break")
    }
}
