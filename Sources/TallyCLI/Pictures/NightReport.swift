import Foundation
import TallyBuildInfo
import TallyCore
import TallyIO

/// One night as a page (`tally-report`), from what nightly.sh leaves in its OUTDIR: the night's
/// scores (`scores-DATE.jsonl`) and the night before's, the run summary (`runs/*.json` whose
/// `as_of` is the night), tally-score's counts (`logs/score-DATE.json`), the rejected rows
/// (`rejects/FILE.jsonl`), and the tier counts of the nights before for the trend.
public struct NightReport {
    public var outDirectory: String
    public var asOf: CivilDate
    public var rules: Rules
    public var nights: Int
    public var language: Language

    public init(outDirectory: String, asOf: CivilDate, rules: Rules, nights: Int, language: Language) {
        self.outDirectory = outDirectory
        self.asOf = asOf
        self.rules = rules
        self.nights = nights
        self.language = language
    }

    /// What one scores file says.
    struct Scores {
        var people = 0
        var tiers: [Int]
        var bins: [Int]
        /// Reason code → people whose reasons name it.
        var reasons: [String: Int] = [:]
        var rulesDigest: String?
    }

    /// The nights with a scores file in `outDirectory`, oldest first.
    public static func nightsScored(in outDirectory: String) -> [CivilDate] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: outDirectory)) ?? []
        return names.compactMap { name -> CivilDate? in
            guard name.hasPrefix("scores-"), name.hasSuffix(".jsonl") else { return nil }
            return CivilDate.parse(String(name.dropFirst(7).dropLast(6)))
        }.sorted { $0.daysSinceEpoch < $1.daysSinceEpoch }
    }

    static let binWidth = 25

    /// Reads a scores file: tier counts, the histogram's bins, the reason codes. A line that is
    /// not a tally.score line stops the report (65): the file is tally's own output.
    func readScores(_ path: String) throws -> Scores {
        let binCount = (rules.maximum - rules.minimum) / Self.binWidth + 1
        var s = Scores(tiers: Array(repeating: 0, count: rules.tiers.count), bins: Array(repeating: 0, count: binCount))
        var input = LineInput(paths: [path], limits: .standard, stage: "tally-report")
        var fault: String?
        // Tier names and reason codes are compared as bytes, and a code's text is made once: a
        // String for each of them on every line was most of the report's time (2 × 1.9M lines).
        let tierNames = rules.tiers.map { Array($0.name.utf8) }
        var codes: [(bytes: [UInt8], people: Int)] = []
        let prefix = Array("{\"v\":1,\"person\":\"p_".utf8), tierMarker = Array("\"tier\":\"".utf8), codeMarker = Array("{\"code\":\"".utf8)
        try input.forEachLine { file, number, line in
            guard fault == nil else { return }
            guard let score = Self.int(after: "\"score\":", in: line), let tier = Self.value(after: tierMarker, in: line, from: 0),
                  line.starts(with: prefix) else {
                fault = "\(file):\(number): not a tally.score line"
                return
            }
            let name = UnsafeRawBufferPointer(rebasing: line[tier])
            guard let t = tierNames.firstIndex(where: { name.elementsEqual($0) }), (rules.minimum...rules.maximum).contains(score) else {
                fault = "\(file):\(number): score \(score) or tier \(String(decoding: name, as: UTF8.self)) is not of these rules (\(rules.digest))"
                return
            }
            if s.rulesDigest == nil { s.rulesDigest = Self.string(after: "\"rules\":\"", in: line, from: 0) }
            s.people += 1
            s.tiers[t] += 1
            s.bins[(score - rules.minimum) / Self.binWidth] += 1
            var from = 0
            while let code = Self.value(after: codeMarker, in: line, from: from) {
                let text = UnsafeRawBufferPointer(rebasing: line[code])
                if let k = codes.firstIndex(where: { $0.bytes.count == text.count && text.elementsEqual($0.bytes) }) {
                    codes[k].people += 1
                } else {
                    codes.append((Array(text), 1))
                }
                from = code.upperBound
            }
        }
        for (bytes, people) in codes { s.reasons[String(decoding: bytes, as: UTF8.self), default: 0] += people }
        if let fault { throw StageFailure(fault, status: ExitStatus.data) }
        if input.status != ExitStatus.ok { throw StageFailure("\(path): cannot be read", status: input.status) }
        if let digest = s.rulesDigest, digest != rules.digest {
            throw StageFailure("\(path) was scored under rules \(digest), not \(rules.digest): give the rules it was scored with (--rules)", status: ExitStatus.data)
        }
        return s
    }

    /// The string value after `marker` (which ends with the opening quote), from byte `from`.
    static func string(after marker: String, in line: UnsafeRawBufferPointer, from: Int) -> String? {
        value(after: Array(marker.utf8), in: line, from: from).map { String(decoding: UnsafeRawBufferPointer(rebasing: line[$0]), as: UTF8.self) }
    }

    /// Where the string value after `marker` (which ends with the opening quote) lies, from byte
    /// `from`: its bytes without the quotes.
    static func value(after marker: [UInt8], in line: UnsafeRawBufferPointer, from: Int) -> Range<Int>? {
        guard let start = line.firstIndex(of: marker, from: from) else { return nil }
        var i = start + marker.count
        while i < line.count && line[i] != UInt8(ascii: "\"") { i += 1 }
        guard i < line.count else { return nil }
        return (start + marker.count)..<i
    }

    static func int(after marker: String, in line: UnsafeRawBufferPointer) -> Int? {
        let m = Array(marker.utf8)
        guard let start = line.firstIndex(of: m, from: 0) else { return nil }
        var i = start + m.count, v = 0, digits = 0
        while i < line.count, line[i] >= 0x30, line[i] <= 0x39, digits < 9 { v = v * 10 + Int(line[i] - 0x30); i += 1; digits += 1 }
        return digits > 0 ? v : nil
    }

    static func json(_ path: String) -> [String: Any]? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        return (try? JSONSerialization.jsonObject(with: data)) as? [String: Any]
    }

    /// The latest run summary for the night, if any.
    func runSummary() -> [String: Any]? {
        let dir = outDirectory + "/runs"
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).filter { $0.hasSuffix(".json") }.sorted()
        for name in names.reversed() {
            if let run = Self.json(dir + "/" + name), run["as_of"] as? String == asOf.description { return run }
        }
        return nil
    }

    /// Each reject code and its count in a rejects file.
    func rejectCodes(_ file: String) -> [(String, Int)] {
        guard let data = FileManager.default.contents(atPath: outDirectory + "/rejects/" + file + ".jsonl") else { return [] }
        var counts: [String: Int] = [:]
        for line in data.split(separator: UInt8(ascii: "\n")) {
            if let object = (try? JSONSerialization.jsonObject(with: Data(line))) as? [String: Any], let code = object["code"] as? String {
                counts[code, default: 0] += 1
            }
        }
        return counts.sorted { ($1.value, $0.key) < ($0.value, $1.key) }
    }

    public func render() throws -> String {
        let l = language
        let path = outDirectory + "/scores-\(asOf).jsonl"
        guard FileManager.default.fileExists(atPath: path) else {
            throw StageFailure("\(path): no scores for \(asOf) (nights scored: \(Self.nightsScored(in: outDirectory).map(\.description).joined(separator: ", ")))", status: ExitStatus.noInput)
        }
        let tonight = try readScores(path)
        let earlier = Self.nightsScored(in: outDirectory).filter { $0.daysSinceEpoch < asOf.daysSinceEpoch }
        // The night before's tier counts, from its tally-score counts when they are there (as
        // the trend takes them), else from its scores.
        let before = try earlier.last.map { night -> [Int] in
            if let tiers = Self.json(outDirectory + "/logs/score-\(night).json")?["tiers"] as? [String: Int] { return rules.tiers.map { tiers[$0.name] ?? 0 } }
            return try readScores(outDirectory + "/scores-\(night).jsonl").tiers
        }
        let run = runSummary()
        let stats = Self.json(outDirectory + "/logs/score-\(asOf).json")

        var b = "<header><h1>\(l.pick("Night report", "夜间运行报告")) · \(asOf)</h1><p class=\"meta\">"
        if let run {
            b += "\(l.pick("run", "运行")) <code>\(HTML.escape(run["run"] as? String ?? "?"))</code> · \(l.pick("status", "状态")) <strong>\(HTML.escape(run["status"] as? String ?? "?"))</strong> · \(run["seconds"] as? Int ?? 0) s · "
        } else {
            b += "\(l.pick("no run summary for this night", "本夜无运行摘要")) · "
        }
        b += "\(l.pick("rules", "规则")) <code>\(HTML.escape(String(rules.digest.prefix(19))))</code> · tally \(HTML.escape(BuildInfo.version))</p></header>"

        // Scores: the histogram and the tiers, with the change since the night before.
        b += "<section><h2>\(l.pick("Scores", "评分分布")): \(l.number(tonight.people)) \(l.pick("people", "人"))</h2>"
        let bins = tonight.bins.enumerated().map { (from: rules.minimum + $0.offset * Self.binWidth, to: min(rules.minimum + ($0.offset + 1) * Self.binWidth - 1, rules.maximum), count: $0.element) }
        let tierText = zip(rules.tiers, tonight.tiers).map { "\($0.name) \(l.number($1))" }.joined(separator: ", ")
        b += "<figure>" + SVG.histogram("histogram", bins: bins, minimum: rules.minimum, maximum: rules.maximum, tiers: rules.tiers,
                                        title: l.pick("Scores on \(asOf), in bins of \(Self.binWidth) points", "\(asOf) 的评分（每 \(Self.binWidth) 分一组）"),
                                        description: l.pick("How many people have each range of scores. By tier: ", "各分数段的人数。按等级：") + tierText + ".", language: l) + "</figure>"
        b += HTML.table([l.pick("Tier", "等级"), l.pick("Scores", "分数"), l.pick("People", "人数"), l.pick("Share", "占比"),
                         before == nil ? l.pick("Change", "变化") : l.pick("Change since \(earlier.last!)", "较 \(earlier.last!) 变化")],
                        rules.tiers.enumerated().map { i, t in
                            let n = tonight.tiers[i]
                            let share = tonight.people == 0 ? "0.0%" : SVG.n(Double(n) * 100 / Double(tonight.people)) + "%"
                            let change = before.map { n - $0[i] }.map { $0 > 0 ? "+" + l.number($0) : ($0 == 0 ? "0" : l.number($0)) } ?? "–"
                            return ["<span class=\"tier\" style=\"background:\(TierColour.of(i, count: rules.tiers.count));margin:0\">\(HTML.escape(t.name))</span>",
                                    "\(t.from)–\(t.to)", l.number(n), share, change]
                        }, numeric: [2, 3, 4])
        b += "</section>"

        // The principal reasons.
        let reasons = tonight.reasons.sorted { ($1.value, $0.key) < ($0.value, $1.key) }.prefix(12)
        b += "<section><h2>\(l.pick("Principal reasons", "主要原因"))</h2>"
        if reasons.isEmpty {
            b += "<p>\(l.pick("No score names a reason.", "没有评分列出原因。"))</p>"
        } else {
            b += "<figure>" + SVG.bars("reasons", items: reasons.map { ($0.key, $0.value) },
                                       title: l.pick("Reason codes by the people whose scores they lower", "各原因代码涉及的人数"),
                                       description: reasons.map { "\($0.key) \(l.number($0.value))" }.joined(separator: ", ") + ".", language: l) + "</figure>"
        }
        b += "</section>"

        // Per feed file: the stages' counts and the reject codes.
        b += "<section><h2>\(l.pick("Feeds tonight", "今晚的数据文件"))</h2>"
        let files = run?["files"] as? [[String: Any]] ?? []
        if files.isEmpty {
            b += "<p>\(l.pick("No file was taken tonight.", "今晚未接收任何文件。"))</p>"
        } else {
            b += HTML.table([l.pick("File", "文件"), l.pick("Status", "状态"), l.pick("Read", "读取"), l.pick("Written", "写入"),
                             l.pick("Rejected", "拒收"), l.pick("Filtered", "过滤"), l.pick("Reject codes", "拒收代码")],
                            files.map { f in
                                let name = f["file"] as? String ?? "?"
                                let codes = rejectCodes(name).map { "\($0.0) \(l.number($0.1))" }.joined(separator: ", ")
                                func count(_ key: String) -> String { (f[key] as? Int).map(l.number) ?? "–" }
                                return ["<code>\(HTML.escape(name))</code>", HTML.escape(f["status"] as? String ?? "?"), count("read"), count("written"),
                                        count("rejected"), count("filtered"), HTML.escape(codes)]
                            }, numeric: [2, 3, 4, 5], unbroken: [0])
        }
        b += "</section>"

        // Disputes, as tally-score counted them tonight.
        b += "<section><h2>\(l.pick("Disputes and corrections", "异议与更正"))</h2>"
        if let stats {
            func count(_ key: String) -> String { (stats[key] as? Int).map(l.number) ?? "–" }
            b += HTML.table([l.pick("Records", "记录"), l.pick("Count", "数量")], [
                [l.pick("under open dispute (still counted; cannot alone put anyone in the lowest tier)", "争议中（仍计入，不能单独导致最低等级）"), count("disputed")],
                [l.pick("disputed and undecided past the deadline (not counted)", "争议逾期未决（不计入）"), count("dispute_lapsed")],
                [l.pick("retracted by their source (not counted)", "已被来源撤销（不计入）"), count("retracted")],
                [l.pick("corrections read (disputes and decisions, all nights)", "读取的更正（历次争议与决定）"), count("corrections")],
            ], numeric: [1])
        } else {
            b += "<p>\(l.pick("tally-score left no counts for this night (logs/score-\(asOf).json).", "本夜没有 tally-score 计数（logs/score-\(asOf).json）。"))</p>"
        }
        b += "</section>"

        // The trend over the last nights, from tally-score's counts (or the scores files).
        let trendNights = Array((earlier + [asOf]).suffix(nights))
        var columns: [(label: String, segments: [Int])] = []
        for night in trendNights {
            if let tiers = Self.json(outDirectory + "/logs/score-\(night).json")?["tiers"] as? [String: Int] {
                columns.append((night.description, rules.tiers.map { tiers[$0.name] ?? 0 }))
            } else if night.daysSinceEpoch == asOf.daysSinceEpoch {
                columns.append((night.description, tonight.tiers))
            } else {
                columns.append((night.description, try readScores(outDirectory + "/scores-\(night).jsonl").tiers))
            }
        }
        b += "<section><h2>\(l.pick("The last \(columns.count) nights", "最近 \(columns.count) 晚"))</h2>"
        b += "<figure>" + SVG.stacked("trend", columns: columns, tiers: rules.tiers,
                                      title: l.pick("People by tier, night by night", "各晚按等级的人数"),
                                      description: columns.map { c in c.label + ": " + zip(rules.tiers, c.segments).map { "\($0.name) \(l.number($1))" }.joined(separator: ", ") }.joined(separator: "; ") + ".",
                                      language: l) + "</figure>"
        b += "</section>"
        return HTML.page(title: l.pick("tally night report \(asOf)", "tally 夜间运行报告 \(asOf)"), language: l, body: b)
    }
}
