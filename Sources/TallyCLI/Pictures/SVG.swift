import TallyCore

/// Charts as inline SVG, written by hand: a handful of rectangles, lines and text each, so no
/// library earns its weight (and a page stays self-contained, with no script). Every chart has
/// a title and a text alternative (`<title>`, `<desc>`, `role="img"`), every mark a `<title>`
/// with its number, and the data attributes a test reads the numbers back from: the plot area
/// (`data-plot="x y width height"`), the axes' ranges, and each mark's value.
public enum SVG {
    /// `x` with at most one decimal ("12", "12.5").
    static func n(_ x: Double) -> String {
        let tenths = Int((x * 10).rounded())
        let sign = tenths < 0 ? "-" : ""
        let m = tenths.magnitude
        return sign + String(m / 10) + (m % 10 == 0 ? "" : "." + String(m % 10))
    }

    static func open(_ id: String, kind: String, width: Int, height: Int, title: String, description: String, data: String) -> String {
        "<svg xmlns=\"http://www.w3.org/2000/svg\" id=\"\(id)\" viewBox=\"0 0 \(width) \(height)\" width=\"\(width)\" height=\"\(height)\" role=\"img\" "
            + "aria-labelledby=\"\(id)-title \(id)-desc\" data-chart=\"\(kind)\" \(data)>"
            + "<title id=\"\(id)-title\">\(HTML.escape(title))</title><desc id=\"\(id)-desc\">\(HTML.escape(description))</desc>"
    }

    static func text(_ x: Double, _ y: Double, _ s: String, size: Int = 10, anchor: String = "start", fill: String = "#1b1f24", weight: String? = nil) -> String {
        "<text x=\"\(n(x))\" y=\"\(n(y))\" font-size=\"\(size)\" text-anchor=\"\(anchor)\" fill=\"\(fill)\"\(weight.map { " font-weight=\"\($0)\"" } ?? "")>\(HTML.escape(s))</text>"
    }

    /// The score on a bar across the whole range, coloured by tier.
    static func gauge(_ id: String, score: Int, minimum: Int, maximum: Int, tiers: [Rules.Tier], title: String, description: String) -> String {
        let x0 = 10.0, w = 620.0, y = 30.0, h = 18.0
        func x(_ v: Double) -> Double { x0 + w * (v - Double(minimum)) / Double(maximum - minimum) }
        var s = open(id, kind: "gauge", width: 640, height: 86, title: title, description: description,
                     data: "data-plot=\"\(n(x0)) \(n(y)) \(n(w)) \(n(h))\" data-x-min=\"\(minimum)\" data-x-max=\"\(maximum)\"")
        for (i, t) in tiers.enumerated() {
            let a = x(Double(t.from)), b = x(Double(t.to == maximum ? maximum : t.to + 1))
            s += "<rect x=\"\(n(a))\" y=\"\(n(y))\" width=\"\(n(b - a))\" height=\"\(n(h))\" fill=\"\(TierColour.of(i, count: tiers.count))\" data-tier=\"\(HTML.escape(t.name))\" data-from=\"\(t.from)\" data-to=\"\(t.to)\"><title>\(HTML.escape("\(t.name): \(t.from)–\(t.to)"))</title></rect>"
            s += text((a + b) / 2, y + h + 12, t.name, size: 10, anchor: "middle", fill: "#3a434c")
            s += text((a + b) / 2, y + h + 24, "\(t.from)–\(t.to)", size: 9, anchor: "middle", fill: "#5b6570")
        }
        let m = x(Double(score))
        s += "<g data-score=\"\(score)\" data-x=\"\(n(m))\"><title>\(score)</title>"
        s += "<line x1=\"\(n(m))\" y1=\"\(n(y - 6))\" x2=\"\(n(m))\" y2=\"\(n(y + h + 2))\" stroke=\"#1b1f24\" stroke-width=\"2.5\"/>"
        s += "<path d=\"M\(n(m - 6)) \(n(y - 14))L\(n(m + 6)) \(n(y - 14))L\(n(m)) \(n(y - 5))Z\" fill=\"#1b1f24\"/>"
        s += text(min(max(m, 24), 616), y - 17, String(score), size: 12, anchor: "middle", weight: "700")
        return s + "</g></svg>"
    }

    /// Scores over coming days against the tier bands: one point per day given.
    static func timeline(_ id: String, points: [(date: CivilDate, score: Int, tier: String)], minimum: Int, maximum: Int, tiers: [Rules.Tier],
                         title: String, description: String) -> String {
        let x0 = 40.0, y0 = 8.0, w = 540.0, h = 180.0
        let first = points.first!.date.daysSinceEpoch, last = max(points.last!.date.daysSinceEpoch, first + 1)
        func x(_ day: Int) -> Double { x0 + w * Double(day - first) / Double(last - first) }
        func y(_ v: Int) -> Double { y0 + h * Double(maximum - v) / Double(maximum - minimum) }
        var s = open(id, kind: "timeline", width: 640, height: 214, title: title, description: description,
                     data: "data-plot=\"\(n(x0)) \(n(y0)) \(n(w)) \(n(h))\" data-x-from=\"\(points.first!.date)\" data-x-to=\"\(CivilDate(daysSinceEpoch: last))\" data-y-min=\"\(minimum)\" data-y-max=\"\(maximum)\"")
        for (i, t) in tiers.enumerated() {
            let top = y(t.to == maximum ? maximum : t.to + 1), bottom = y(t.from)
            s += "<rect x=\"\(n(x0))\" y=\"\(n(top))\" width=\"\(n(w))\" height=\"\(n(bottom - top))\" fill=\"\(TierColour.band(i, count: tiers.count))\"/>"
            s += text(x0 + w + 4, (top + bottom) / 2 + 3, t.name, size: 9, fill: TierColour.of(i, count: tiers.count))
            s += text(x0 - 4, bottom + 3, String(t.from), size: 9, anchor: "end", fill: "#5b6570")
        }
        s += text(x0 - 4, y(maximum) + 7, String(maximum), size: 9, anchor: "end", fill: "#5b6570")
        // Month ticks: the first of each month, every month up to a year, else every third.
        var month = CivilDate(year: points.first!.date.year, month: points.first!.date.month, day: 1)!
        let spanMonths = (last - first) / 30
        let step = spanMonths <= 13 ? 1 : (spanMonths <= 40 ? 3 : 6)
        while month.daysSinceEpoch <= last {
            if month.daysSinceEpoch >= first && (month.month - 1) % step == 0 {
                let mx = x(month.daysSinceEpoch)
                s += "<line x1=\"\(n(mx))\" y1=\"\(n(y0 + h))\" x2=\"\(n(mx))\" y2=\"\(n(y0 + h + 4))\" stroke=\"#5b6570\"/>"
                s += text(mx, y0 + h + 15, "\(month.year)-\(month.month < 10 ? "0" : "")\(month.month)", size: 9, anchor: "middle", fill: "#5b6570")
            }
            month = (month.month == 12 ? CivilDate(year: month.year + 1, month: 1, day: 1) : CivilDate(year: month.year, month: month.month + 1, day: 1))!
        }
        s += "<rect x=\"\(n(x0))\" y=\"\(n(y0))\" width=\"\(n(w))\" height=\"\(n(h))\" fill=\"none\" stroke=\"#b8c0c8\"/>"
        s += "<polyline fill=\"none\" stroke=\"#1b1f24\" stroke-width=\"2\" points=\"" + points.map { "\(n(x($0.date.daysSinceEpoch))),\(n(y($0.score)))" }.joined(separator: " ") + "\"/>"
        for p in points {
            s += "<circle cx=\"\(n(x(p.date.daysSinceEpoch)))\" cy=\"\(n(y(p.score)))\" r=\"2.2\" fill=\"#1b1f24\" data-date=\"\(p.date)\" data-score=\"\(p.score)\" data-tier=\"\(HTML.escape(p.tier))\"><title>\(HTML.escape("\(p.date): \(p.score) (\(p.tier))"))</title></circle>"
        }
        return s + "</svg>"
    }

    /// How many people have each range of scores, the bars coloured by tier.
    static func histogram(_ id: String, bins: [(from: Int, to: Int, count: Int)], minimum: Int, maximum: Int, tiers: [Rules.Tier],
                          title: String, description: String, language: Language) -> String {
        let x0 = 50.0, y0 = 10.0, w = 570.0, h = 150.0
        let top = niceCeiling(bins.map(\.count).max() ?? 0)
        func x(_ v: Int) -> Double { x0 + w * Double(v - minimum) / Double(maximum + 1 - minimum) }
        func y(_ c: Int) -> Double { y0 + h * Double(top - c) / Double(top) }
        var s = open(id, kind: "histogram", width: 640, height: 214, title: title, description: description,
                     data: "data-plot=\"\(n(x0)) \(n(y0)) \(n(w)) \(n(h))\" data-x-min=\"\(minimum)\" data-x-max=\"\(maximum + 1)\" data-y-max=\"\(top)\"")
        s += countTicks(top: top, x0: x0, w: w, y: y, language: language)
        for b in bins {
            let tier = tiers.lastIndex { $0.from <= b.from } ?? 0
            let a = x(b.from), e = x(b.to + 1)
            s += "<rect x=\"\(n(a + 0.5))\" y=\"\(n(y(b.count)))\" width=\"\(n(max(e - a - 1, 0.5)))\" height=\"\(n(y(0) - y(b.count)))\" fill=\"\(TierColour.of(tier, count: tiers.count))\" data-from=\"\(b.from)\" data-to=\"\(b.to)\" data-count=\"\(b.count)\"><title>\(HTML.escape("\(b.from)–\(b.to): \(language.number(b.count))"))</title></rect>"
        }
        for (i, t) in tiers.enumerated() {
            let a = x(t.from), e = x(t.to + 1)
            s += "<rect x=\"\(n(a))\" y=\"\(n(y0 + h + 3))\" width=\"\(n(e - a))\" height=\"6\" fill=\"\(TierColour.of(i, count: tiers.count))\"/>"
            s += text((a + e) / 2, y0 + h + 20, t.name, size: 9, anchor: "middle", fill: "#3a434c")
            s += text(a, y0 + h + 32, String(t.from), size: 8, anchor: "middle", fill: "#5b6570")
        }
        return s + "</svg>"
    }

    /// Horizontal bars with a label and a value each.
    static func bars(_ id: String, items: [(label: String, value: Int)], title: String, description: String, language: Language, colour: String = "#5a6f86") -> String {
        let row = 18.0, labelWidth = 230.0, w = 330.0
        let top = max(items.map(\.value).max() ?? 0, 1)
        let height = Int(row * Double(max(items.count, 1)) + 8)
        var s = open(id, kind: "bars", width: 640, height: height, title: title, description: description,
                     data: "data-plot=\"\(n(labelWidth)) 4 \(n(w)) \(n(row * Double(items.count)))\" data-x-max=\"\(top)\"")
        for (i, item) in items.enumerated() {
            let y = 4 + row * Double(i)
            let bw = w * Double(item.value) / Double(top)
            s += text(labelWidth - 6, y + 12, item.label, size: 10, anchor: "end")
            s += "<rect x=\"\(n(labelWidth))\" y=\"\(n(y + 2))\" width=\"\(n(bw))\" height=\"\(n(row - 5))\" fill=\"\(colour)\" data-label=\"\(HTML.escape(item.label))\" data-value=\"\(item.value)\"><title>\(HTML.escape("\(item.label): \(language.number(item.value))"))</title></rect>"
            s += text(labelWidth + bw + 4, y + 12, language.number(item.value), size: 10, fill: "#3a434c")
        }
        return s + "</svg>"
    }

    /// One stacked column per night: its people by tier.
    static func stacked(_ id: String, columns: [(label: String, segments: [Int])], tiers: [Rules.Tier], title: String, description: String, language: Language) -> String {
        let x0 = 50.0, y0 = 10.0, w = 470.0, h = 150.0
        let top = niceCeiling(columns.map { $0.segments.reduce(0, +) }.max() ?? 0)
        let slot = w / Double(max(columns.count, 1))
        func y(_ c: Int) -> Double { y0 + h * Double(top - c) / Double(top) }
        var s = open(id, kind: "stacked", width: 640, height: 200, title: title, description: description,
                     data: "data-plot=\"\(n(x0)) \(n(y0)) \(n(w)) \(n(h))\" data-y-max=\"\(top)\"")
        s += countTicks(top: top, x0: x0, w: w, y: y, language: language)
        for (c, column) in columns.enumerated() {
            let x = x0 + slot * Double(c) + slot * 0.15
            var below = 0
            for (i, count) in column.segments.enumerated() where count > 0 {
                s += "<rect x=\"\(n(x))\" y=\"\(n(y(below + count)))\" width=\"\(n(slot * 0.7))\" height=\"\(n(y(below) - y(below + count)))\" fill=\"\(TierColour.of(i, count: tiers.count))\" data-night=\"\(HTML.escape(column.label))\" data-tier=\"\(HTML.escape(tiers[i].name))\" data-count=\"\(count)\"><title>\(HTML.escape("\(column.label) \(tiers[i].name): \(language.number(count))"))</title></rect>"
                below += count
            }
            if columns.count <= 16 || c % ((columns.count + 15) / 16) == 0 {
                s += text(x + slot * 0.35, y0 + h + 12, String(column.label.suffix(5)), size: 8, anchor: "middle", fill: "#5b6570")
            }
        }
        for (i, t) in tiers.enumerated() {
            let ly = y0 + 6 + Double(tiers.count - 1 - i) * 14
            s += "<rect x=\"\(n(x0 + w + 14))\" y=\"\(n(ly))\" width=\"9\" height=\"9\" fill=\"\(TierColour.of(i, count: tiers.count))\"/>"
            s += text(x0 + w + 27, ly + 8, t.name, size: 9, fill: "#3a434c")
        }
        return s + "</svg>"
    }

    /// Grid lines and labels at 0, half and all of `top`, on a count axis.
    static func countTicks(top: Int, x0: Double, w: Double, y: (Int) -> Double, language: Language) -> String {
        [0, top / 2, top].map { tick in
            "<line x1=\"\(n(x0))\" y1=\"\(n(y(tick)))\" x2=\"\(n(x0 + w))\" y2=\"\(n(y(tick)))\" stroke=\"#e3e7eb\"/>"
                + text(x0 - 4, y(tick) + 3, language.number(tick), size: 9, anchor: "end", fill: "#5b6570")
        }.joined()
    }

    /// The smallest round number at or above `v` (at least 2, and even, so that half of it is
    /// a whole tick): 2, 4, 6, 8, 10, then 10, 12, 15, 20, 25, 30, 40, 50, 60, 80 × 10^k.
    static func niceCeiling(_ v: Int) -> Int {
        for m in [2, 4, 6, 8, 10] where m >= v { return m }
        var scale = 1
        while true {
            for m in [10, 12, 16, 20, 25, 30, 40, 50, 60, 80] where m * scale >= v { return m * scale }
            scale *= 10
        }
    }
}
