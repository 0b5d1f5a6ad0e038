/// Self-contained HTML pages: no scripts, no external resources (fonts, images and styles are
/// the reader's own or inline), printable on A4. Text is escaped once, here.
public enum HTML {
    /// `text` with the five characters that mean something in HTML escaped.
    public static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for c in text.unicodeScalars {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }

    /// A whole page: doctype, language, title, the shared style, and `body`.
    public static func page(title: String, language: Language, body: String) -> String {
        """
        <!DOCTYPE html>
        <html lang="\(language.tag)">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>\(escape(title))</title>
        <style>\(style)</style>
        </head>
        <body>
        <main>
        \(body)
        </main>
        </body>
        </html>

        """
    }

    /// A table from a header row and rows of already-escaped cells; `numeric` columns align right.
    /// `unbroken` columns (dates, file lines) never wrap.
    public static func table(_ header: [String], _ rows: [[String]], numeric: Set<Int> = [], unbroken: Set<Int> = [], caption: String? = nil) -> String {
        func cls(_ i: Int) -> String { numeric.contains(i) ? " class=\"n\"" : (unbroken.contains(i) ? " class=\"u\"" : "") }
        var t = "<table>"
        if let caption { t += "<caption>\(escape(caption))</caption>" }
        t += "<thead><tr>" + header.enumerated().map { "<th\(cls($0.offset))>\(escape($0.element))</th>" }.joined() + "</tr></thead><tbody>"
        for row in rows {
            t += "<tr>" + row.enumerated().map { "<td\(cls($0.offset))>\($0.element)</td>" }.joined() + "</tr>"
        }
        return t + "</tbody></table>"
    }

    static let style = """
    :root{--ink:#1b1f24;--muted:#5b6570;--rule:#d5dae0;--bg:#fff}
    *{box-sizing:border-box}
    body{margin:0;background:var(--bg);color:var(--ink);font:14px/1.45 "Noto Sans CJK SC","WenQuanYi Zen Hei","Microsoft YaHei",system-ui,sans-serif}
    main{max-width:800px;margin:0 auto;padding:20px 24px}
    h1{font-size:22px;margin:0 0 2px}
    h2{font-size:16px;margin:18px 0 6px;padding-bottom:2px;border-bottom:1px solid var(--rule)}
    p{margin:4px 0}
    .meta{color:var(--muted);font-size:12px}
    .score{font-size:40px;font-weight:700;line-height:1}
    .tier{display:inline-block;padding:2px 10px;border-radius:12px;color:#fff;font-weight:600;margin-left:8px;vertical-align:middle}
    .headline{display:flex;align-items:center;gap:8px;margin:8px 0}
    .note{background:#fff7e0;border-left:3px solid #e0a800;padding:4px 8px}
    table{border-collapse:collapse;width:100%;font-size:12px;margin:4px 0}
    caption{text-align:left;color:var(--muted);padding:2px 0}
    th,td{border-bottom:1px solid var(--rule);padding:3px 6px;text-align:left;vertical-align:top}
    th{font-weight:600;background:#f3f5f7}
    .n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
    .u{white-space:nowrap}.u code{word-break:normal}
    .neg{color:#b3261e}.pos{color:#1e7b34}
    code{font:11px ui-monospace,monospace;word-break:break-all}
    figure{margin:6px 0}
    svg{display:block;max-width:100%;height:auto}
    svg text{font-family:inherit}
    .grid{display:grid;grid-template-columns:1fr 1fr;gap:0 24px}
    @page{size:A4;margin:12mm}
    @media print{
      body{font-size:9px;line-height:1.3}
      main{max-width:none;padding:0}
      h1{font-size:15px}h2{font-size:11px;margin:6px 0 2px}
      .score{font-size:24px}.headline{margin:2px 0}
      table{font-size:8px;margin:2px 0}th,td{padding:0 3px}
      code{font-size:7.5px}
      figure{margin:2px 0}figure svg{max-width:70%}
      section{break-inside:avoid}
    }
    """
}

/// The language of a page's labels: English, or Chinese for the people scored.
public enum Language: String, CaseIterable, Sendable {
    case en, zh

    var tag: String { self == .zh ? "zh-CN" : "en" }

    /// `en` or `zh`, as the language is.
    func pick(_ en: String, _ zh: String) -> String { self == .zh ? zh : en }

    /// A whole number with thousands separators (both languages use the comma).
    func number(_ n: Int) -> String {
        let digits = Array(String(n.magnitude))
        var out = n < 0 ? "−" : ""
        for (i, d) in digits.enumerated() {
            if i > 0 && (digits.count - i) % 3 == 0 { out.append(",") }
            out.append(d)
        }
        return out
    }

    /// What an event kind means, in plain words; the kind itself for one not known here.
    func kind(_ kind: String) -> String {
        switch kind {
        case "court.dishonest-debtor": return pick("listed by a court as a dishonest debtor", "被法院列为失信被执行人")
        case "court.consumption-restriction": return pick("a court order restricting spending", "被法院限制高消费")
        case "tax.paid": return pick("tax paid on time", "按时缴税")
        case "tax.late": return pick("tax paid late", "逾期缴税")
        case "tax.arrears": return pick("tax unpaid after its due date", "欠缴税款")
        case "tax.evasion": return pick("assessed for tax evasion", "被认定偷逃税款")
        case "transit.fare-evasion": return pick("fare evasion on transit", "公共交通逃票")
        case "transit.turnstile-jump": return pick("jumped a turnstile", "翻越闸机")
        case "transit.no-tap-out": return pick("no tap-out at the end of a ride", "出站未刷卡")
        case "commerce.on-time": return pick("instalment paid on time", "分期按时还款")
        case "commerce.late": return pick("instalment paid late", "分期逾期还款")
        case "commerce.default": return pick("instalment defaulted", "分期违约")
        case "commerce.chargeback": return pick("payment charged back", "付款被拒付退回")
        default: return kind
        }
    }

    /// A source's name.
    func source(_ source: String) -> String {
        switch source {
        case "court": return pick("court", "法院")
        case "tax": return pick("tax bureau", "税务局")
        case "transit": return pick("transit operator", "公共交通运营方")
        case "commerce": return pick("merchant", "商户")
        default: return source
        }
    }
}

/// Colours for tiers, lowest first: red through amber and grey to greens.
enum TierColour {
    static let palette = ["#b3261e", "#e07b00", "#7d8b99", "#4c9a5b", "#1e6b34"]

    static func of(_ index: Int, count: Int) -> String {
        guard count > 1 else { return palette[2] }
        let i = Int((Double(index) / Double(count - 1) * Double(palette.count - 1)).rounded())
        return palette[min(max(i, 0), palette.count - 1)]
    }

    /// A pale version for a background band.
    static func band(_ index: Int, count: Int) -> String {
        ["#f6d7d4", "#fbe6cc", "#e6eaee", "#d9eedd", "#cfe6d6"][Int((Double(index) / Double(max(count - 1, 1)) * 4).rounded())]
    }
}
