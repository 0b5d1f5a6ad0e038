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
