import Foundation
import Testing

/// One malformed (or tricky) file, with what tally-parse must say about it.
struct ParseCase: Decodable, CustomTestStringConvertible, Sendable {
    var file: String
    var feed: String
    var status: Int32
    var stderr: [String]
    var rejects: [[JSONScalar]]
    var written: Int?
    var args: [String]
    var testDescription: String { "\(file) \(args.joined(separator: " "))" }
}

/// A number or a string in the manifest's reject triples [line, field, code].
enum JSONScalar: Decodable, Hashable, Sendable, CustomStringConvertible {
    case int(Int), string(String)
    init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let i = try? c.decode(Int.self) { self = .int(i) } else { self = .string(try c.decode(String.self)) }
    }
    var description: String {
        switch self { case .int(let i): return "\(i)"; case .string(let s): return s }
    }
}

let fixtures = Harness.root + "/Tests/Fixtures/parse"
let parseCases: [ParseCase] = {
    let data = FileManager.default.contents(atPath: fixtures + "/cases.json")!
    return try! JSONDecoder().decode([ParseCase].self, from: data)
}()

@Suite struct ParseFixtureTests {
    @Test(arguments: parseCases)
    func parsesAsTheManifestSays(_ c: ParseCase) throws {
        let dir = Harness.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let feed = c.feed.contains("/") ? fixtures + "/" + c.feed : c.feed
        let run = try Harness.run("tally-parse", ["--feed", feed, "--rejects", dir + "/rejects.jsonl", "--stats", dir + "/stats.json"] + c.args + [fixtures + "/" + c.file])
        #expect(run.status == c.status, "\(run.stderr)")
        for expected in c.stderr {
            #expect(run.stderr.contains(expected), "stderr lacks \"\(expected)\": \(run.stderr)")
        }
        #expect(run.stderr.split(separator: "\n").allSatisfy { $0.hasPrefix("tally-parse: ") }, "every diagnostic is one line naming the stage")
        let rejects = (try? String(contentsOfFile: dir + "/rejects.jsonl", encoding: .utf8)) ?? ""
        var got: [[String]] = []
        for line in rejects.split(separator: "\n") {
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
            got.append(["\(object["line"]!)", object["field"] as! String, object["code"] as! String])
            #expect(object["raw"] is String, "a reject carries the raw row")
            #expect((object["raw"] as! String).isEmpty == (object["code"] as! String == "blank-row"), "only a blank row's raw text is empty")
            #expect((object["reason"] as? String).map { !$0.isEmpty } ?? false)
        }
        #expect(got == c.rejects.map { $0.map(\.description) })
        let records = run.text.split(separator: "\n")
        if let written = c.written { #expect(records.count == written) }
        // The counts add up, in the stats file as on stderr.
        let stats = try JSONSerialization.jsonObject(with: FileManager.default.contents(atPath: dir + "/stats.json")!) as! [String: Any]
        let read = stats["read"] as! Int, w = stats["written"] as! Int, r = stats["rejected"] as! Int, f = stats["filtered"] as! Int
        #expect(read == w + r + f)
        #expect(w == records.count)
        #expect(r == got.count)
    }

    /// The gzip fixtures through tally-parse and tally-validate with each inflate engine: the
    /// same records, messages and status; and a name that is no engine is refused (78).
    @Test func bothInflateEnginesGiveTheSameRun() throws {
        let gzipCases = parseCases.filter { $0.file.hasSuffix(".gz") }
        #expect(gzipCases.count >= 2)
        for c in gzipCases {
            let file = fixtures + "/" + c.file
            for stage in ["tally-parse", "tally-validate"] {
                let isal = try Harness.run(stage, ["--feed", c.feed, file], environment: ["TALLY_INFLATE": "isal"])
                let zlib = try Harness.run(stage, ["--feed", c.feed, file], environment: ["TALLY_INFLATE": "zlib"])
                let unset = try Harness.run(stage, ["--feed", c.feed, file])
                #expect(isal.status == c.status || stage == "tally-validate", "\(stage) \(c.file): \(isal.stderr)")
                #expect(zlib.status == isal.status && zlib.stdout == isal.stdout && zlib.stderr == isal.stderr, "\(stage) \(c.file): \(zlib.stderr) | \(isal.stderr)")
                #expect(unset.stdout == isal.stdout && unset.status == isal.status, "ISA-L is the default")
            }
        }
        let bogus = try Harness.run("tally-parse", ["--feed", "transit", fixtures + "/" + gzipCases[0].file], environment: ["TALLY_INFLATE": "zstd"])
        #expect(bogus.status == 78, "\(bogus.stderr)")
        #expect(bogus.stderr.contains("TALLY_INFLATE: names no inflate engine: zstd (isal or zlib)"), "\(bogus.stderr)")
        let validate = try Harness.run("tally-validate", ["--feed", "transit", fixtures + "/" + gzipCases[0].file], environment: ["TALLY_INFLATE": "zstd"])
        #expect(validate.status == 78, "\(validate.stderr)")
        // Plain input never asks for an engine.
        let plain = try Harness.run("tally-parse", ["--feed", "transit", fixtures + "/transit-20261127-quoting.csv"], environment: ["TALLY_INFLATE": "zstd"])
        #expect(plain.status == 0, "\(plain.stderr)")
    }

    @Test func everyRecordFromTheCorpusIsValidForTheSchema() throws {
        let dir = Harness.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var all = Data()
        for c in parseCases {
            let feed = c.feed.contains("/") ? fixtures + "/" + c.feed : c.feed
            all.append(try Harness.run("tally-parse", ["--feed", feed, fixtures + "/" + c.file]).stdout)
        }
        _ = FileManager.default.createFile(atPath: dir + "/all.jsonl", contents: all)
        let check = try Harness.oracle("validate_jsonl.py", [Harness.root + "/schemas/record.schema.json", dir + "/all.jsonl"])
        #expect(check.status == 0, "\(check.text)")
    }

    @Test func decodesEntitiesCDATAAndGB18030AndRetractsRevokedEntries() throws {
        let valid = try Harness.run("tally-parse", ["--feed", "court", fixtures + "/court-20261127-valid.xml"]).text.split(separator: "\n")
        #expect(valid[0].contains(#""obligation":"Repay & pay costs <now> 中""#))
        #expect(valid[1].contains(#""obligation":"Pay \"all\" & <more>""#))
        #expect(valid[0].contains(#""at":"2026-11-26T16:00:00Z","amount_fen":1234567"#))
        #expect(valid[0].contains(#""prov":{"file":"court-20261127-valid.xml","#) && valid[0].contains(#""line":3}"#))
        let gb = try Harness.run("tally-parse", ["--feed", "court", fixtures + "/court-20261127-gb18030.xml"]).text.split(separator: "\n")
        #expect(gb[0].contains(#""case":"(2026)浙0106执1234号""#), "GB18030 text arrives as UTF-8")
        // The revoked entry retracts the record with the same natural key (court|case).
        #expect(gb[1].contains(#""kind":"correction.retract""#))
        let firstID = String(gb[0].split(separator: "\"")[5])
        let revokedOf = try Harness.run("tally-parse", ["--feed", "court", fixtures + "/court-20261127-valid.xml"]).text
        #expect(revokedOf.contains(firstID), "the same natural key gives the same id in every file")
        #expect(gb[1].contains(#""subject":{"scheme":"record","id":"court:"#))
    }

    @Test func correctionsTargetTheIdOfTheRecordTheyName() throws {
        let court = try Harness.run("tally-parse", ["--feed", "court", fixtures + "/court-20261127-valid.xml"]).text
        let id = String(court.split(separator: "\"")[5])
        let corrections = try Harness.run("tally-parse", ["--feed", "corrections", fixtures + "/corrections-20261127.csv"]).text
        #expect(corrections.contains(#""kind":"correction.dispute""#))
        #expect(corrections.contains("\"target\":\"\(id)\""), "corrections name court records as COURTCODE|CASE")
    }
}
