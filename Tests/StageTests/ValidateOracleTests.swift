import Foundation
import Testing

/// tally-validate against its independent oracles: Frictionless on CSV, xmllint on XML.
@Suite(.serialized) struct ValidateOracleTests {
    static let corpus: String = {
        let dir = Harness.scratch()
        let r = try! Harness.oracle("make_faulty_feeds.py", [dir])
        precondition(r.status == 0, r.stderr)
        return dir
    }()

    func json(_ text: String) -> [[String: Any]] {
        text.split(separator: "\n").map { try! JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
    }

    @Test func agreesWithFrictionlessOnEveryFaultyCSVFile() throws {
        let files = Harness.files(in: Self.corpus + "/csv").map { Self.corpus + "/csv/" + $0 }
        #expect(files.count >= 50)
        let oracle = try Harness.oracle("table_oracle.py", [Harness.root + "/schemas/feeds"] + files)
        #expect(oracle.status == 0, "frictionless could not run (is it installed? .ci/run installs it): \(oracle.stderr)")
        let expected = Dictionary(uniqueKeysWithValues: json(oracle.text).map { ($0["file"] as! String, $0) })
        #expect(expected.count == files.count)
        var invalid = 0
        for file in files {
            let feed = String(file.split(separator: "/").last!.split(separator: "-")[0])
            let r = try Harness.run("tally-validate", ["--feed", feed, "--json", "--max-errors", "0", file])
            let got = json(r.text)[0]
            let name = String(file.split(separator: "/").last!)
            let want = try #require(expected[name])
            #expect(got["valid"] as! Bool == want["valid"] as! Bool, "\(name): verdict")
            #expect(got["counts"] as! [String: Int] == want["counts"] as! [String: Int], "\(name): counts by code")
            #expect(r.status == ((want["valid"] as! Bool) ? 0 : 65))
            if !(want["valid"] as! Bool) { invalid += 1 }
        }
        #expect(invalid >= 50, "the corpus is mostly faulty files")
    }

    @Test func agreesWithXmllintOnEveryFaultyCourtFile() throws {
        let files = Harness.files(in: Self.corpus + "/xml").map { Self.corpus + "/xml/" + $0 }
        #expect(files.count >= 20)
        var invalid = 0
        for file in files {
            let xmllint = try Harness.run("/usr/bin/xmllint", ["--noout", "--schema", Harness.root + "/schemas/feeds/court.xsd", file])
            let tally = try Harness.run("tally-validate", ["--feed", "court", file])
            #expect((xmllint.status == 0) == (tally.status == 0), "\(file): xmllint \(xmllint.status), tally \(tally.status): \(tally.text)")
            if xmllint.status != 0 { invalid += 1 }
        }
        #expect(invalid >= 20)
    }

    @Test func reportsAreValidForTheirSchemaAndCarryPlaces() throws {
        let dir = Harness.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let files = Harness.files(in: Self.corpus + "/csv").filter { $0.hasPrefix("transit-") }.map { Self.corpus + "/csv/" + $0 }
        let r = try Harness.run("tally-validate", ["--feed", "transit", "--json"] + files)
        #expect(r.status == 65)
        _ = FileManager.default.createFile(atPath: dir + "/reports.jsonl", contents: r.stdout)
        let check = try Harness.oracle("validate_jsonl.py", [Harness.root + "/schemas/validate-report.schema.json", dir + "/reports.jsonl"])
        #expect(check.status == 0, "\(check.text)")
        let first = json(r.text).flatMap { $0["first"] as! [[String: Any]] }
        #expect(first.contains { $0["code"] as! String == "type-error" && ($0["row"] as! Int) > 1 && ($0["fieldNumber"] as! Int) > 0 })
    }

    @Test func deliberateDifferencesFromFrictionless() throws {
        let dir = Harness.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // 1. Checksums and birth dates: Frictionless cannot see them.
        _ = FileManager.default.createFile(atPath: dir + "/transit-1.csv", contents: Data("""
        event_id,card_id,rid,line,station_in,station_out,tap_in,tap_out,fare_fen,paid_fen,flag
        E1,8000000000000123,110105194912310021,1,0001,0002,2026-11-27T08:00:00,,500,200,
        E2,8000000000000123,110105203001010013,1,0001,0002,2026-11-27T08:00:00,,500,200,

        """.utf8))
        // 2. Quotes where RFC 4180 allows none: Python's csv keeps them as text.
        _ = FileManager.default.createFile(atPath: dir + "/commerce-1.csv", contents: Data("""
        order_id,account_id,rid,placed_at,category,amount,payment,device
        O1,A0123456789,,2026-11-27T13:45:10+08:00,books,7,on-time,Pixel "7"
        O2,A0123456789,,2026-11-27T13:45:10+08:00,books,7,on-time,"web"x

        """.utf8))
        // 4. Dates must be zero-padded YYYY-MM-DD; Python's strptime takes 2026-1-5.
        _ = FileManager.default.createFile(atPath: dir + "/tax-1.csv", contents: Data("""
        record_no,taxpayer_id,taxpayer_kind,taxpayer_name,tax_office,period,tax_type,due_date,paid_date,amount_due,amount_paid,status
        TX1,11010519491231002X,person,A,B,2026-10,iit,2026-1-5,,1.00,1.00,paid

        """.utf8))
        let frictionless = json(try Harness.oracle("table_oracle.py", [Harness.root + "/schemas/feeds", dir + "/transit-1.csv", dir + "/commerce-1.csv", dir + "/tax-1.csv"]).text)
        #expect(frictionless.allSatisfy { $0["valid"] as! Bool }, "Frictionless finds nothing wrong")
        let transit = json(try Harness.run("tally-validate", ["--feed", "transit", "--json", dir + "/transit-1.csv"]).text)[0]
        #expect(transit["counts"] as! [String: Int] == ["identifier-error": 2])
        let commerce = json(try Harness.run("tally-validate", ["--feed", "commerce", "--json", dir + "/commerce-1.csv"]).text)[0]
        #expect(commerce["counts"] as! [String: Int] == ["structure-error": 2])
        let dates = json(try Harness.run("tally-validate", ["--feed", "tax", "--json", dir + "/tax-1.csv"]).text)[0]
        #expect(dates["counts"] as! [String: Int] == ["type-error": 1])
        // 3. GB18030: a byte invalid in the encoding is a problem of its row; the other rows are
        // still checked (Frictionless reports the file once and stops).
        let tax = json(try Harness.run("tally-validate", ["--feed", "tax", "--json", fixtures + "/tax-20261127-bad-gb18030.csv"]).text)[0]
        #expect(tax["counts"] as! [String: Int] == ["encoding-error": 1])
        #expect(tax["rows"] as! Int == 2)
        #expect((tax["first"] as! [[String: Any]])[0]["field"] as! String == "taxpayer_name")
    }

    /// Frictionless checks a pattern by wrapping it in `^…$` and calling `re.match`, so a
    /// top-level alternation is anchored at one end only (`10|20` takes 1099) and `$` lets a
    /// trailing newline through. tally matches the whole value (`re.fullmatch`), as the Table
    /// Schema means by a pattern.
    @Test func patternsMatchTheWholeValueUnlikeFrictionless() throws {
        let dir = Harness.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        _ = FileManager.default.createFile(atPath: dir + "/w.feed.json", contents: Data(#"{"feed":"w","format":"csv","table":"w.schema.json","naturalKey":["a"],"subject":{"field":"a","scheme":"cn-rid"},"at":{"field":"d"},"kind":{"constant":"w.y"}}"#.utf8))
        _ = FileManager.default.createFile(atPath: dir + "/w.schema.json", contents: Data(#"{"fields":[{"name":"a","type":"string"},{"name":"n","type":"string","constraints":{"pattern":"10|20"}},{"name":"d","type":"date"}]}"#.utf8))
        _ = FileManager.default.createFile(atPath: dir + "/w-1.csv", contents: Data("a,n,d\n11010519491231002X,10,2026-01-01\n11010519491231002X,1099,2026-01-01\n11010519491231002X,\"20\n\",2026-01-01\n".utf8))
        let frictionless = json(try Harness.oracle("table_oracle.py", [dir, dir + "/w-1.csv"]).text)
        #expect(frictionless.count == 1 && frictionless[0]["valid"] as? Bool == true, "\(frictionless)")
        let tally = json(try Harness.run("tally-validate", ["--feed", dir + "/w.feed.json", "--json", dir + "/w-1.csv"]).text)[0]
        #expect(tally["counts"] as? [String: Int] == ["constraint-error": 2], "\(tally)")
        #expect((tally["first"] as! [[String: Any]]).map { $0["row"] as! Int } == [3, 4])
    }

    @Test func parseAndValidateAgreeOnEveryRow() throws {
        let dir = Harness.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(try Harness.run("tally-synth", ["--people", "6000", "--days", "3", "--seed", "8", "--dirty", "0.03", "--out", dir]).status == 0)
        // Repeated keys too: each plain CSV file gets copies of two of its rows at the end (rows
        // without quotes, so each is one line).
        var repeatedRows = 0
        for name in Harness.files(in: dir) where name.hasSuffix(".csv") && !name.hasPrefix("people") {
            var bytes = [UInt8](FileManager.default.contents(atPath: dir + "/" + name)!)
            let lines = bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).dropFirst().filter { !$0.isEmpty && !$0.contains(UInt8(ascii: "\"")) }
            for line in lines.prefix(3).suffix(2) {
                bytes += Array(line) + [UInt8(ascii: "\n")]
                repeatedRows += 1
            }
            _ = FileManager.default.createFile(atPath: dir + "/" + name, contents: Data(bytes))
        }
        #expect(repeatedRows >= 8)
        var codes: [String: Int] = [:]
        for feed in ["court", "tax", "transit", "commerce", "crosswalk", "corrections"] {
            let files = Harness.files(in: dir).filter { $0.hasPrefix(feed + "-") }.map { dir + "/" + $0 }
            _ = try Harness.run("tally-parse", ["--feed", feed, "--rejects", dir + "/rej-\(feed).jsonl"] + files)
            // Every row parse rejects, with the code of its first fault; validate's first
            // problem on each line must be the same, for every fault class, primary keys included.
            let parsed = Set(try String(contentsOfFile: dir + "/rej-\(feed).jsonl", encoding: .utf8).split(separator: "\n").map { line in
                let o = try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
                codes[o["code"] as! String, default: 0] += 1
                return "\(o["file"]!):\(o["line"]!):\(o["code"]!)"
            })
            let v = try Harness.run("tally-validate", ["--feed", feed, "--json", "--max-errors", "100000"] + files)
            var validated = Set<String>()
            for report in json(v.text) {
                let name = String((report["file"] as! String).split(separator: "/").last!)
                var lines = Set<String>()
                for p in report["first"] as! [[String: Any]] where lines.insert("\(p["line"]!)").inserted {
                    validated.insert("\(name):\(p["line"]!):\(p["code"]!)")
                }
            }
            #expect(parsed == validated, "\(feed): parse and validate disagree on \(parsed.symmetricDifference(validated).prefix(5))")
            #expect(v.status == (parsed.isEmpty ? 0 : 65))
        }
        print("parse and validate agree on every faulty row: \(codes.sorted { $0.key < $1.key })")
        #expect(codes["primary-key", default: 0] >= repeatedRows / 2 && codes.count >= 4, "\(codes)")
    }

    /// A header with more labels than the feed has fields, and rows with a number of cells
    /// between the two, once trapped (SIGILL). Each label without a cell is a missing-cell, as
    /// Frictionless reports it (checked by hand: `frictionless validate` on the same shape gives
    /// missing-cell at the extra label's position).
    @Test func aHeaderWithMoreLabelsThanFieldsNeverTraps() throws {
        let dir = Harness.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let header = "event_id,card_id,rid,line,station_in,station_out,tap_in,tap_out,fare_fen,paid_fen,flag,x,y"
        let row = "E1,8000000000000123,11010519491231002X,1,0001,0002,2026-11-27T08:00:00,2026-11-27T08:30:00,500,200,fare-evasion"
        let file = dir + "/transit-20261127.csv"
        func event(_ id: String) -> String { row.replacingOccurrences(of: "E1,", with: id + ",") }
        try [header, row, event("E3") + ",1", event("E4") + ",1,2", event("E2")].joined(separator: "\n").appending("\n")
            .write(toFile: file, atomically: true, encoding: .utf8)
        let r = try Harness.run("tally-validate", ["--feed", "transit", "--json", "--max-errors", "100", file])
        #expect(r.status == 65, "exit \(r.status): \(r.stderr)")
        let report = json(r.text)[0]
        #expect(report["counts"] as! [String: Int] == ["extra-label": 2, "missing-cell": 5], "\(report["counts"]!)")
        let missing = (report["first"] as! [[String: Any]]).filter { $0["code"] as? String == "missing-cell" }.map { "\($0["row"]!):\($0["fieldNumber"] ?? $0["field_number"] ?? "?")" }
        #expect(missing == ["2:12", "2:13", "3:13", "5:12", "5:13"], "\(missing)")
        let parse = try Harness.run("tally-parse", ["--feed", "transit", file])
        #expect(parse.status == 65 && parse.stderr.contains("header does not match"), "\(parse.stderr)")
    }

    @Test func exitStatuses() throws {
        #expect(try Harness.run("tally-validate", ["--feed", "court", fixtures + "/court-20261127-valid.xml"]).status == 0)
        let missing = try Harness.run("tally-validate", ["--feed", "court", "/nonexistent/court.xml"])
        #expect(missing.status == 66)
        #expect(try Harness.run("tally-validate", ["--feed", "nosuchfeed", "x"]).status == 64)
        #expect(try Harness.run("tally-validate", ["--feed", "court", "--max-errors", "-1", "x"]).status == 64)
        let broken = try Harness.run("tally-validate", ["--feed", "court", fixtures + "/court-20261127-not-well-formed.xml"])
        #expect(broken.status == 65)
        #expect(broken.text.contains("format-error ×1") && broken.text.contains("line 15"))
    }
}
