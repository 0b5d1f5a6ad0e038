import TallyBuildInfo
import TallyCore

/// The person's notice as a page (`tally-explain --html`): the score on a gauge across the tier
/// bands, each counting record as a row, the coming months as a chart drawn from the exact
/// forecast, disputed and retracted records apart, and how to contest each record.
public enum NoticePage {
    /// The days the forecast chart plots: every seventh day after the as-of day for `months`
    /// months (longer when a tier change comes later, up to three years), with each change's day
    /// and the day before it, so every step shows.
    static func forecastDays(_ e: Explanation, months: Int = 12) -> [CivilDate] {
        let start = e.asOf.daysSinceEpoch
        let lastChange = e.changes.last?.date.daysSinceEpoch ?? start
        let end = min(max(start + months * 30, lastChange + 30), start + 3 * 365)
        var days = Set(stride(from: start, through: end, by: 7))
        days.insert(end)
        for c in e.changes where c.date.daysSinceEpoch <= end {
            days.insert(c.date.daysSinceEpoch)
            days.insert(c.date.daysSinceEpoch - 1)
        }
        return days.filter { $0 >= start }.sorted().map { CivilDate(daysSinceEpoch: $0) }
    }

    public static func render(_ e: Explanation, rules: Rules, language l: Language) -> String {
        let tierIndex = rules.tiers.firstIndex(of: e.tier) ?? 0
        let colour = TierColour.of(tierIndex, count: rules.tiers.count)
        var b = ""
        b += "<header><h1>\(l.pick("Your score and why", "您的信用评分及其依据"))</h1>"
        b += "<p class=\"meta\">\(l.pick("Person", "人员编号")) <code>\(HTML.escape(e.person))</code> · \(l.pick("as of", "截至")) \(e.asOf) · \(l.pick("rules", "规则")) <code>\(HTML.escape(String(e.rules.prefix(19))))</code> · tally \(HTML.escape(BuildInfo.version))</p></header>"

        // The score on the gauge, and what the tier means.
        b += "<section><h2>\(l.pick("Your score", "您的评分"))</h2>"
        b += "<div class=\"headline\"><span class=\"score\">\(e.score)</span><span class=\"tier\" style=\"background:\(colour)\">\(HTML.escape(e.tier.name))</span></div>"
        b += "<p>\(l.pick("What this tier means", "该等级的含义")): \(HTML.escape(l == .zh ? e.tier.meansZh ?? e.tier.means : e.tier.means))</p>"
        if e.liftedFromLowest {
            b += "<p class=\"note\">\(l.pick("The score lies in the lowest tier's range, but no counted, undisputed court or tax-bureau decision supports it, so the next tier applies.", "分数落在最低等级的区间内，但没有经计入且无争议的法院或税务机关决定支持，因此适用上一等级。"))</p>"
        }
        let bands = rules.tiers.map { "\($0.name) \($0.from)–\($0.to)" }.joined(separator: ", ")
        b += "<figure>" + SVG.gauge("gauge", score: e.score, minimum: rules.minimum, maximum: rules.maximum, tiers: rules.tiers,
                                    title: l.pick("Score \(e.score) on the scale \(rules.minimum)–\(rules.maximum)", "评分 \(e.score)（范围 \(rules.minimum)–\(rules.maximum)）"),
                                    description: l.pick("The score \(e.score) is in the tier \(e.tier.name). The tiers: \(bands).", "评分 \(e.score) 属于等级 \(e.tier.name)。各等级：\(bands)。")) + "</figure>"
        b += "<p class=\"meta\">\(l.pick("Everyone starts at", "每个人的起点为")) \(e.base); \(l.pick("each record below adds or takes away points that fade with time; the parts add up to the score exactly.", "下列每条记录增加或扣减的分数随时间衰减；各部分之和即为评分。"))</p></section>"

        // Each counting record as a row.
        let counting = e.items.filter { $0.standing == .counted || $0.standing == .disputed }
        b += "<section><h2>\(l.pick("The records that count today", "今日计入评分的记录")) (\(counting.count))</h2>"
        if counting.isEmpty {
            b += "<p>\(l.pick("No record counts: the score is the base score.", "没有计入的记录：评分为基础分。"))</p>"
        } else {
            let rows = counting.map { item -> [String] in
                let c = item.contribution!
                let rule = rules.kinds[rules.index(of: item.record.kind)!]
                let points = Double(item.allocatedMicro) / Double(microPerPoint)
                let fades = l.pick("halves every \(Int(rule.halfLifeDays)) days", "每 \(Int(rule.halfLifeDays)) 天减半")
                var what = HTML.escape(l.kind(item.record.kind))
                if let fen = item.record.amountFen { what += " · ¥" + l.number(Int(fen / 100)) }
                if item.standing == .disputed { what += " <em>(\(l.pick("under dispute", "争议中")))</em>" }
                return [HTML.escape(l.source(item.record.source)), what, item.record.at.chinaDate.description,
                        "<span class=\"\(points < 0 ? "neg" : "pos")\">\(signed(points))</span>", fades,
                        c.expiresOn.adding(days: -1).description,
                        "<code>\(HTML.escape(item.record.prov.file)):\(item.record.prov.line)</code>"]
            }
            b += HTML.table([l.pick("Source", "来源"), l.pick("What happened", "事项"), l.pick("Date", "日期"), l.pick("Points today", "今日分值"),
                             l.pick("How it fades", "衰减"), l.pick("Counts until", "计入至"), l.pick("File and line", "文件与行")],
                            rows, numeric: [3], unbroken: [2, 5, 6])
        }
        b += "</section>"

        // The coming months, from the exact forecast.
        let days = forecastDays(e)
        let scores = e.forecast(on: days, rules: rules)
        let points = zip(days, scores).map { (date: $0, score: $1.score, tier: $1.tier) }
        b += "<section><h2>\(l.pick("The coming months, if nothing new arrives", "未来数月（若无新记录）"))</h2>"
        let changesText = e.changes.isEmpty
            ? l.pick("The tier does not change.", "等级不会变化。")
            : e.changes.map { l.pick("from \($0.date): \($0.score), \($0.tier)", "自 \($0.date) 起：\($0.score)，\($0.tier)") }.joined(separator: "; ")
        b += "<figure>" + SVG.timeline("forecast", points: points, minimum: rules.minimum, maximum: rules.maximum, tiers: rules.tiers,
                                       title: l.pick("Score from \(days.first!) to \(days.last!)", "\(days.first!) 至 \(days.last!) 的评分"),
                                       description: l.pick("Records fade day by day and stop counting at their expiry. Score \(e.score) on \(e.asOf). ", "记录逐日衰减，到期后不再计入。\(e.asOf) 的评分为 \(e.score)。") + changesText) + "</figure>"
        if e.changes.isEmpty {
            b += "<p>\(l.pick("The tier stays \(e.tier.name) until the last record stops counting.", "在最后一条记录到期前，等级保持为 \(e.tier.name)。"))</p>"
        } else {
            b += HTML.table([l.pick("From", "自"), l.pick("Score", "评分"), l.pick("Tier", "等级"), l.pick("Why", "原因")], e.changes.map { c in
                let why: String
                switch c.cause {
                case .fading: why = l.pick("the records fade", "记录衰减")
                case .expiry: why = l.pick("a record stops counting: ", "记录到期：") + c.records.map { "<code>\(HTML.escape($0))</code>" }.joined(separator: ", ")
                case .disputeDeadline: why = l.pick("a dispute passes its deadline: ", "争议超过期限：") + c.records.map { "<code>\(HTML.escape($0))</code>" }.joined(separator: ", ")
                }
                return [c.date.description, String(c.score), HTML.escape(c.tier), why]
            }, numeric: [1], unbroken: [0])
        }
        b += "</section>"

        // Disputed, retracted and no longer counting, apart.
        let apart: [(Explanation.Item.Standing, String)] = [
            (.disputed, l.pick("Under dispute (still counted, but none can by itself put you in the lowest tier)", "争议中（仍计入，但不能单独使您进入最低等级）")),
            (.lapsed, l.pick("Disputed, undecided past the \(rules.disputeDeadlineDays)-day deadline (not counted until the source decides)", "争议超过 \(rules.disputeDeadlineDays) 天未决（在来源作出决定前不计入）")),
            (.retracted, l.pick("Retracted (not counted)", "已撤销（不计入）")),
            (.expired, l.pick("Expired (no longer counted)", "已到期（不再计入）")),
        ]
        for (standing, title) in apart {
            let items = e.items.filter { $0.standing == standing }
            guard !items.isEmpty else { continue }
            b += "<section><h2>\(HTML.escape(title)) (\(items.count))</h2>"
            b += HTML.table([l.pick("Source", "来源"), l.pick("What happened", "事项"), l.pick("Date", "日期"), l.pick("Decisions", "处理"), l.pick("File and line", "文件与行")],
                            items.map { item in
                                var decisions = item.corrections.map { "\($0.action) \($0.at.chinaDate)" }.joined(separator: ", ")
                                if let lapse = item.disputeLapsesOn { decisions += (decisions.isEmpty ? "" : "; ") + l.pick("stops counting from \(lapse) unless decided", "若未决定，自 \(lapse) 起不计入") }
                                return [HTML.escape(l.source(item.record.source)), HTML.escape(l.kind(item.record.kind)), item.record.at.chinaDate.description,
                                        HTML.escape(decisions), "<code>\(HTML.escape(item.record.prov.file)):\(item.record.prov.line)</code>"]
                            }, unbroken: [2, 4])
            b += "</section>"
        }

        // How to contest each record that counts against the person.
        let contestable = counting.filter { $0.allocatedMicro < 0 }
        b += "<section><h2>\(l.pick("How to contest a record", "如何对记录提出异议"))</h2>"
        if contestable.isEmpty {
            b += "<p>\(l.pick("Nothing counts against you.", "没有对您不利的记录。"))</p>"
        } else {
            b += "<p>\(l.pick("File a dispute with the record's source, quoting the key below. The source then has \(rules.disputeDeadlineDays) days to decide; if it does not, the record stops counting until it does. While disputed, a record cannot by itself put you in the lowest tier.", "请向记录来源提出异议，并引用下列编号。来源须在 \(rules.disputeDeadlineDays) 天内作出决定；逾期未决定的，该记录在其决定前不计入。争议期间，该记录不能单独使您进入最低等级。"))</p>"
            b += HTML.table([l.pick("Source", "来源"), l.pick("What happened", "事项"), l.pick("Key to quote", "需引用的编号"), l.pick("Deadline", "期限")], contestable.map { item in
                let deadline = item.disputeLapsesOn.map { l.pick("disputed: the source must decide before \($0)", "已提出异议：来源须在 \($0) 前决定") }
                    ?? l.pick("\(rules.disputeDeadlineDays) days from your dispute", "自提出异议起 \(rules.disputeDeadlineDays) 天")
                return [HTML.escape(l.source(item.record.source)), HTML.escape(l.kind(item.record.kind)),
                        "<code>\(HTML.escape(item.naturalKey ?? item.record.id))</code>", HTML.escape(deadline)]
            })
        }
        b += "</section>"
        return HTML.page(title: l.pick("Score notice for \(e.person)", "信用评分告知书 \(e.person)"), language: l, body: b)
    }

    /// Points with a sign and two decimals: "+7.83", "−257.00".
    static func signed(_ points: Double) -> String {
        let hundredths = Int64((points * 100).rounded())
        return (hundredths < 0 ? "−" : "+") + ExplanationFormat.scaled(Int64(hundredths.magnitude), places: 2)
    }

    /// The index of everyone's notices (`--all --html`): each person with score and tier, lowest first.
    public static func index(_ people: [(person: String, score: Int, tier: String)], asOf: CivilDate, rules: Rules, language l: Language) -> String {
        var b = "<header><h1>\(l.pick("Score notices", "信用评分告知书")) · \(asOf)</h1><p class=\"meta\">\(l.number(people.count)) \(l.pick("people", "人"))</p></header>"
        let sorted = people.sorted { ($0.score, $0.person) < ($1.score, $1.person) }
        b += HTML.table([l.pick("Person", "人员编号"), l.pick("Score", "评分"), l.pick("Tier", "等级")], sorted.map {
            ["<a href=\"\($0.person).html\"><code>\($0.person)</code></a>", String($0.score), HTML.escape($0.tier)]
        }, numeric: [1])
        return HTML.page(title: l.pick("Score notices \(asOf)", "信用评分告知书 \(asOf)"), language: l, body: b)
    }
}
