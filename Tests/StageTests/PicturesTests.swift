import Foundation
import Testing

/// The person's notice (tally-explain --html) and the night report (tally-report, written by
/// nightly.sh): strict HTML5 with no scripts or external resources, charts whose numbers read
/// back out of the SVG equal what tally-score says, and a real browser that draws both and
/// prints a notice on one A4 page.
@Suite(.serialized) struct PicturesTests {
    struct Night {
        var dir: String
        var out: String
        var linked: String
        var asOf = "2026-11-03"
    }

    /// Three nights of nightly.sh on synthetic feeds, and the ledger's records linked as
    /// tally-score reads them.
    static func threeNights() throws -> Night {
        let dir = Harness.scratch()
        #expect(try Harness.run("tally-synth", ["--people", "2000", "--days", "3", "--history-days", "120", "--seed", "21", "--out", dir + "/feeds"]).status == 0)
        try FileManager.default.createDirectory(atPath: dir + "/in", withIntermediateDirectories: true)
        let secret = dir + "/tally.secret"
        _ = FileManager.default.createFile(atPath: secret, contents: Data("pictures test secret, synthetic only".utf8), attributes: [.posixPermissions: 0o600])
        for (i, day) in ["20261101", "20261102", "20261103"].enumerated() {
            for f in Harness.files(in: dir + "/feeds") where f.contains("-\(day).") || (i == 0 && f.contains("-20261031.")) {
                try FileManager.default.moveItem(atPath: dir + "/feeds/" + f, toPath: dir + "/in/" + f)
            }
            let r = try nightly(dir + "/in", dir + "/ledger.db", dir + "/out", asOf: "2026-11-0\(i + 1)", secret: secret)
            #expect(r.status == 0, "\(r.stderr)")
            #expect(r.text.contains("report-2026-11-0\(i + 1).html written"), "\(r.text)")
        }
        let linked = dir + "/linked.jsonl"
        let crosswalks = Harness.files(in: dir + "/out/crosswalk").map { "'\(dir)/out/crosswalk/\($0)'" }.joined(separator: " ")
        let r = try Harness.run("/bin/bash", ["-c", "set -o pipefail; '\(Harness.binaries)/tally-store' dump '\(dir)/ledger.db' | '\(Harness.binaries)/tally-link' --relink --crosswalk \(crosswalks) --secret-file '\(secret)' > '\(linked)'"])
        #expect(r.status == 0, "\(r.stderr)")
        return Night(dir: dir, out: dir + "/out", linked: linked)
    }

    /// The score lines of a scores file, as JSON objects.
    static func scores(_ path: String) throws -> [[String: Any]] {
        try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map {
            try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any]
        }
    }

    /// The page's charts as svg_readback.py reads them (which fails on any HTML5 parse error).
    static func readBack(_ page: String) throws -> [String: Any] {
        let r = try Harness.oracle("svg_readback.py", [page])
        #expect(r.status == 0, "\(page) is not strict HTML5: \(r.stderr)")
        return try JSONSerialization.jsonObject(with: r.stdout) as! [String: Any]
    }

    static func charts(_ read: [String: Any]) -> [String: [String: Any]] {
        Dictionary(uniqueKeysWithValues: (read["charts"] as! [[String: Any]]).map { ($0["id"] as! String, $0) })
    }

    /// Every chart has a title and a text alternative, and every mark's drawn size stands for
    /// its number (to within the 0.1-pixel rounding of the coordinates).
    static func checkCharts(_ read: [String: Any], expecting ids: [String]) {
        #expect((read["scripts"] as! [Any]).isEmpty && (read["external"] as! [Any]).isEmpty, "self-contained: \(read["scripts"]!) \(read["external"]!)")
        let charts = charts(read)
        #expect(Set(charts.keys) == Set(ids))
        for (id, chart) in charts {
            #expect((chart["title"] as? String)?.isEmpty == false && (chart["desc"] as? String)?.isEmpty == false, "\(id) has a title and a text alternative")
            #expect(chart["role"] as? String == "img" && chart["labelledby"] as? String == "\(id)-title \(id)-desc")
            let marks = chart["marks"] as! [[String: Any]]
            #expect(!marks.isEmpty, "\(id) draws something")
            for mark in marks {
                let value = Double((mark["score"] ?? mark["count"] ?? mark["value"]) as! Int)
                let drawn = mark["from_geometry"] as! Double, unit = mark["unit"] as! Double
                #expect(abs(drawn - value) <= unit * 0.1 + 1e-9, "\(id): \(mark) is drawn as \(drawn)")
                if let title = mark["title"] as? String {
                    #expect(title.contains(": \(Int(value))") || title.contains(": " + Self.grouped(Int(value))), "\(id): the mark's title \(title) names \(Int(value))")
                }
            }
        }
    }

    static func grouped(_ n: Int) -> String {
        let f = NumberFormatter()
        f.numberStyle = .decimal
        f.locale = Locale(identifier: "en_US")
        return f.string(from: NSNumber(value: n))!
    }

    @Test func theNoticeDrawsWhatTallyScoreSaysOnEveryDayItPlots() throws {
        let night = try Self.threeNights()
        defer { try? FileManager.default.removeItem(atPath: night.dir) }
        // The person with the lowest score: the most to explain.
        let lowest = try Self.scores(night.out + "/scores-\(night.asOf).jsonl").min { ($0["score"] as! Int) < ($1["score"] as! Int) }!
        let person = lowest["person"] as! String
        let page = night.dir + "/notice.html"
        let r = try Harness.run("/bin/bash", ["-c", "'\(Harness.binaries)/tally-explain' --person \(person) --as-of \(night.asOf) --html '\(night.linked)' > '\(page)'"])
        #expect(r.status == 0, "\(r.stderr)")
        let read = try Self.readBack(page)
        Self.checkCharts(read, expecting: ["gauge", "forecast"])
        #expect(read["lang"] as? String == "en")
        let charts = Self.charts(read)
        let gauge = (charts["gauge"]!["marks"] as! [[String: Any]])[0]
        #expect(gauge["score"] as? Int == lowest["score"] as? Int)

        // The forecast's points: each day's score is the one tally-score gives on that day (the
        // first, the last, each side of every step, and a spread between; a person with no
        // line in a night's scores has the base score).
        let points = charts["forecast"]!["marks"] as! [[String: Any]]
        #expect(points.first?["date"] as? String == night.asOf && points.first?["score"] as? Int == lowest["score"] as? Int)
        var chosen = Set([0, points.count - 1])
        for i in 1..<points.count where points[i]["score"] as? Int != points[i - 1]["score"] as? Int && points[i]["tier"] as? String != points[i - 1]["tier"] as? String {
            chosen.formUnion([i - 1, i])
        }
        for i in stride(from: 0, to: points.count, by: max(points.count / 6, 1)) { chosen.insert(i) }
        let from = Date.dayNumber(charts["forecast"]!["x_from"] as! String), to = Date.dayNumber(charts["forecast"]!["x_to"] as! String)
        for i in chosen.sorted() {
            let point = points[i], date = point["date"] as! String
            let scored = try Harness.run("/bin/bash", ["-c", "'\(Harness.binaries)/tally-score' --as-of \(date) '\(night.linked)' 2>/dev/null | grep '\"person\":\"\(person)\"' || true"])
            let expected = scored.text.isEmpty ? 600 : (try JSONSerialization.jsonObject(with: scored.stdout) as! [String: Any])["score"] as! Int
            #expect(point["score"] as? Int == expected, "\(date): the chart says \(point["score"]!), tally-score \(expected)")
            // And the point stands where its date is on the axis.
            let fraction = point["day_fraction"] as! Double
            #expect(abs(fraction * Double(to - from) - Double(Date.dayNumber(date) - from)) < 0.5, "\(date) is drawn at \(fraction)")
        }
        // The labels in Chinese, for the people scored.
        let zh = night.dir + "/notice-zh.html"
        #expect(try Harness.run("/bin/bash", ["-c", "'\(Harness.binaries)/tally-explain' --person \(person) --as-of \(night.asOf) --html --lang zh '\(night.linked)' > '\(zh)'"]).status == 0)
        let readZh = try Self.readBack(zh)
        #expect(readZh["lang"] as? String == "zh-CN")
        #expect(try String(contentsOfFile: zh, encoding: .utf8).contains("如何对记录提出异议"))

        // Everyone's, with an index linking each.
        let all = try Harness.run("tally-explain", ["--all", "--html", "--html-dir", night.dir + "/notices", "--as-of", night.asOf, night.linked])
        #expect(all.status == 0, "\(all.stderr)")
        let people = try Self.scores(night.out + "/scores-\(night.asOf).jsonl").count
        #expect(Harness.files(in: night.dir + "/notices").count == people + 1)
        let index = try String(contentsOfFile: night.dir + "/notices/index.html", encoding: .utf8)
        #expect(index.contains("href=\"\(person).html\""))
    }

    @Test func theNightReportCountsWhatTheScoresSay() throws {
        let night = try Self.threeNights()
        defer { try? FileManager.default.removeItem(atPath: night.dir) }
        let page = night.out + "/report-\(night.asOf).html"
        let read = try Self.readBack(page)
        Self.checkCharts(read, expecting: ["histogram", "reasons", "trend"])
        let charts = Self.charts(read)

        // The histogram: people per 25 points, from the scores file itself.
        let scores = try Self.scores(night.out + "/scores-\(night.asOf).jsonl")
        var bins: [Int: Int] = [:]
        for s in scores { bins[350 + ((s["score"] as! Int) - 350) / 25 * 25, default: 0] += 1 }
        let bars = charts["histogram"]!["marks"] as! [[String: Any]]
        #expect(bars.reduce(0) { $0 + ($1["count"] as! Int) } == scores.count)
        for bar in bars {
            #expect(bar["count"] as? Int == bins[bar["from"] as! Int, default: 0], "\(bar)")
            #expect(abs((bar["x_from_geometry"] as! Double) - Double(bar["from"] as! Int)) <= (bar["x_unit"] as! Double) * 0.1 + 1e-9)
        }
        // The reasons: how many people's scores name each code.
        var reasons: [String: Int] = [:]
        for s in scores { for r in s["reasons"] as! [[String: Any]] { reasons[r["code"] as! String, default: 0] += 1 } }
        for bar in charts["reasons"]!["marks"] as! [[String: Any]] {
            #expect(bar["value"] as? Int == reasons[bar["label"] as! String], "\(bar)")
        }
        #expect((charts["reasons"]!["marks"] as! [Any]).count == min(reasons.count, 12))
        // The trend: each night's people by tier, from that night's scores file.
        let segments = charts["trend"]!["marks"] as! [[String: Any]]
        for day in ["2026-11-01", "2026-11-02", "2026-11-03"] {
            var tiers: [String: Int] = [:]
            for s in try Self.scores(night.out + "/scores-\(day).jsonl") { tiers[s["tier"] as! String, default: 0] += 1 }
            let drawn = Dictionary(uniqueKeysWithValues: segments.filter { $0["night"] as? String == day }.map { ($0["tier"] as! String, $0["count"] as! Int) })
            #expect(drawn == tiers, "\(day): drawn \(drawn), scored \(tiers)")
        }
        // The feeds: every file of the night's run, with its rejected rows.
        let html = try String(contentsOfFile: page, encoding: .utf8)
        let run = try lastRun(night.out)
        for f in run["files"] as! [[String: Any]] { #expect(html.contains(f["file"] as! String)) }
        // In Chinese too.
        let zh = try Harness.run("tally-report", ["--lang", "zh", night.out])
        #expect(zh.status == 0 && zh.text.contains("<html lang=\"zh-CN\">") && zh.text.contains("主要原因"), "\(zh.stderr)")
        // A night with no scores is said, with the nights there are.
        let none = try Harness.run("tally-report", ["--as-of", "2026-10-01", night.out])
        #expect(none.status == 66 && none.stderr.contains("2026-11-01, 2026-11-02, 2026-11-03"), "\(none.stderr)")
    }

    /// Debian's chromium, headless: both pages draw at the size asked, not blank; the DOM after
    /// layout holds every chart with its title; a notice prints on one A4 page.
    @Test func aRealBrowserDrawsBothAndPrintsTheNoticeOnOnePage() throws {
        let night = try Self.threeNights()
        defer { try? FileManager.default.removeItem(atPath: night.dir) }
        let person = (try Self.scores(night.out + "/scores-\(night.asOf).jsonl").min { ($0["score"] as! Int) < ($1["score"] as! Int) }!)["person"] as! String
        let notice = night.dir + "/notice.html"
        #expect(try Harness.run("/bin/bash", ["-c", "'\(Harness.binaries)/tally-explain' --person \(person) --as-of \(night.asOf) --html --lang zh '\(night.linked)' > '\(notice)'"]).status == 0)
        let report = night.out + "/report-\(night.asOf).html"
        for (page, charts) in [(notice, ["gauge", "forecast"]), (report, ["histogram", "reasons", "trend"])] {
            let png = page + ".png"
            let shot = try Self.chromium(["--screenshot=\(png)", "--window-size=900,1400", "file://\(page)"])
            #expect(shot.status == 0, "\(shot.stderr)")
            let look = try Harness.run("/usr/bin/env", ["python3", "-c", """
                import sys; from PIL import Image
                im = Image.open(sys.argv[1]).convert("RGB"); w, h = im.size
                small = im.resize((w // 4, h // 4))
                pixels = list(small.getdata())
                inked = sum(1 for p in pixels if sum(p) < 700) / len(pixels)
                print(w, h, len(set(pixels)), round(inked, 4))
                """, png])
            let fields = look.text.split(separator: " ").map { String($0).trimmingCharacters(in: .whitespacesAndNewlines) }
            #expect(look.status == 0 && fields.count == 4, "\(look.stderr)")
            guard fields.count == 4 else { continue }
            #expect(fields[0] == "900" && fields[1] == "1400", "\(page): \(look.text)")
            #expect(Int(fields[2])! > 50 && Double(fields[3])! > 0.03, "\(page) is blank: \(look.text)")
            let dom = try Self.chromium(["--dump-dom", "file://\(page)"])
            #expect(dom.status == 0)
            for id in charts {
                #expect(dom.text.contains("<svg xmlns=\"http://www.w3.org/2000/svg\" id=\"\(id)\""), "\(page): \(id) is not in the DOM")
                #expect(dom.text.contains("<title id=\"\(id)-title\">") && dom.text.contains("<desc id=\"\(id)-desc\">"))
            }
        }
        let pdf = night.dir + "/notice.pdf"
        let printed = try Self.chromium(["--no-pdf-header-footer", "--print-to-pdf=\(pdf)", "file://\(notice)"])
        #expect(printed.status == 0, "\(printed.stderr)")
        let info = try Harness.run("/usr/bin/pdfinfo", [pdf])
        #expect(info.text.contains("Pages:           1") && info.text.contains("(A4)"), "\(info.text)")
    }

    static func chromium(_ arguments: [String]) throws -> Harness.Result {
        try Harness.run("/usr/bin/timeout", ["120", "chromium", "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars"] + arguments)
    }
}

private extension Date {
    /// A YYYY-MM-DD date as days since 1970-01-01.
    static func dayNumber(_ text: String) -> Int {
        let parts = text.split(separator: "-").map { Int($0)! }
        var c = DateComponents()
        (c.year, c.month, c.day) = (parts[0], parts[1], parts[2])
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        return Int(calendar.date(from: c)!.timeIntervalSince1970 / 86_400)
    }
}
