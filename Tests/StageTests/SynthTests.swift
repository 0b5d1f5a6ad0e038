import Foundation
import Testing

@Suite struct SynthTests {
    @Test func sameFlagsGiveByteIdenticalFiles() throws {
        let a = Harness.scratch(), b = Harness.scratch(), c = Harness.scratch()
        defer { for d in [a, b, c] { try? FileManager.default.removeItem(atPath: d) } }
        let flags = ["--people", "3000", "--days", "4", "--start", "2026-11-01", "--seed", "42", "--dirty", "0.01"]
        #expect(try Harness.run("tally-synth", flags + ["--out", a]).status == 0)
        #expect(try Harness.run("tally-synth", flags + ["--out", b]).status == 0)
        #expect(try Harness.run("tally-synth", ["--people", "3000", "--days", "4", "--start", "2026-11-01", "--seed", "43", "--dirty", "0.01", "--out", c]).status == 0)
        let names = Harness.files(in: a)
        // 6 feeds a day, plus people.csv and truth.jsonl.
        #expect(names.count == 6 * 4 + 2)
        #expect(names == Harness.files(in: b))
        var differsWithSeed = 0
        for name in names {
            let x = FileManager.default.contents(atPath: a + "/" + name)
            #expect(x == FileManager.default.contents(atPath: b + "/" + name), "\(name) differs between identical runs")
            if x != FileManager.default.contents(atPath: c + "/" + name) { differsWithSeed += 1 }
        }
        #expect(differsWithSeed >= 20, "another seed should change nearly every file")
    }

    @Test func everyFaultyRowIsInTruthAndNoOther() throws {
        let dir = Harness.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let run = try Harness.run("tally-synth", ["--people", "20000", "--days", "8", "--seed", "3", "--dirty", "0.02", "--out", dir])
        #expect(run.status == 0, "\(run.stderr)")
        let check = try Harness.oracle("check_feeds.py", [dir, "--xsd", Harness.root + "/schemas/feeds/court.xsd"])
        print(check.text, terminator: "")
        #expect(check.status == 0, "\(check.text)\(check.stderr)")
        let truth = try String(contentsOfFile: dir + "/truth.jsonl", encoding: .utf8).split(separator: "\n")
        #expect(truth.count > 1000, "a 2% dirty rate over ~200,000 rows should give thousands of faults")
    }

    @Test func cleanRunHasNoFaultsAndReadsCleanly() throws {
        let dir = Harness.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(try Harness.run("tally-synth", ["--people", "5000", "--days", "7", "--seed", "9", "--out", dir]).status == 0)
        #expect(try String(contentsOfFile: dir + "/truth.jsonl", encoding: .utf8).isEmpty)
        let check = try Harness.oracle("check_feeds.py", [dir, "--xsd", Harness.root + "/schemas/feeds/court.xsd"])
        #expect(check.status == 0, "\(check.text)\(check.stderr)")
        let names = Harness.files(in: dir)
        #expect(names.contains("court-20261104.xml"), "day 4 (index 3) is a GB18030 court file")
        let gb = try String(contentsOfFile: dir + "/court-20261104.xml", encoding: .isoLatin1)
        #expect(gb.hasPrefix("<?xml version=\"1.0\" encoding=\"GB18030\"?>"))
        #expect(names.contains("court-20261102.xml.gz") && names.contains("tax-20261104.csv.gz"))
    }

    /// With a history, most people pay a monthly tax (and some an instalment) from before the
    /// first day; the history files read cleanly, and some people never miss a payment.
    @Test func aHistoryOfMonthlyPaymentsReadsCleanly() throws {
        let dir = Harness.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(try Harness.run("tally-synth", ["--people", "400", "--days", "3", "--seed", "4", "--history-days", "365", "--out", dir]).status == 0)
        let names = Harness.files(in: dir)
        #expect(names.contains("tax-20261031.csv") && names.contains("commerce-20261031.csv"), "\(names)")
        let check = try Harness.oracle("check_feeds.py", [dir, "--xsd", Harness.root + "/schemas/feeds/court.xsd"])
        #expect(check.status == 0, "\(check.text)\(check.stderr)")
        let parse = try Harness.run("tally-parse", ["--feed", "tax", dir + "/tax-20261031.csv"])
        #expect(parse.status == 0, "\(parse.stderr)")
        // Per taxpayer, a payment a month at most (the history file covers 364 due days); misses are few.
        var months: [String: Int] = [:], statuses: [String: Int] = [:]
        for line in parse.text.split(separator: "\n") {
            let rid = line.range(of: #"990[0-9]{14}[0-9X]"#, options: .regularExpression).map { String(line[$0]) } ?? "?"
            months[rid, default: 0] += 1
            let kind = line.range(of: #""kind":"tax\.[a-z]+""#, options: .regularExpression).map { String(line[$0]) } ?? "?"
            statuses[kind, default: 0] += 1
        }
        #expect(months.count > 250 && months.values.max()! <= 13 && months.values.filter { $0 >= 11 }.count > 60, "\(months.count) taxpayers")
        let paid = statuses[#""kind":"tax.paid""#] ?? 0, total = statuses.values.reduce(0, +)
        #expect(paid * 100 > total * 80 && paid < total, "\(statuses)")
        // Reported 20 days after falling due: the first daily file carries the regular rows due 20 days before.
        let daily = try Harness.run("tally-parse", ["--feed", "commerce", dir + "/commerce-20261101.csv"])
        #expect(daily.status == 0 && daily.text.contains(#""order_id":"I202610"#), "\(daily.stderr)")
    }

    @Test func populationIsSyntheticBeyondDoubt() throws {
        let dir = Harness.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(try Harness.run("tally-synth", ["--people", "2000", "--days", "1", "--out", dir]).status == 0)
        let people = try String(contentsOfFile: dir + "/people.csv", encoding: .utf8).split(separator: "\n").dropFirst()
        var persons = Set<Substring>()
        for row in people {
            let fields = row.split(separator: ",", omittingEmptySubsequences: false)
            if fields[3] == "cn-rid" || fields[3] == "cn-uscc" {
                let region = fields[3] == "cn-rid" ? fields[4].prefix(2) : fields[4].dropFirst(2).prefix(2)
                #expect(region == "99", "\(fields[4]) does not use a 99 region code")
            }
            if fields[3] == "cn-rid" { persons.insert(fields[4]) }
        }
        #expect(persons.count == 2000, "every person has a distinct resident identity number")
    }

    @Test func refusesBadUsage() throws {
        let r = try Harness.run("tally-synth", ["--people", "0", "--out", "/tmp/x"])
        #expect(r.status == 64)
        #expect(r.stderr.contains("--people must be at least 1"))
        let d = try Harness.run("tally-synth", ["--start", "2026-02-30", "--out", "/tmp/x"])
        #expect(d.status == 64)
        let w = try Harness.run("tally-synth", ["--out", "/proc/version/nope"])
        #expect(w.status == 74, "\(w.stderr)")
    }
}
