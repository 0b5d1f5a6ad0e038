/// Text from an input, made safe to put in a message for people: bounded in length and with no
/// byte that a terminal would act on.
///
/// Every message that quotes what a feed or a record line holds goes through here, so that no
/// file can write escape sequences to an operator's terminal or a megabyte of identifiers into
/// cron mail. C0 controls, DEL and C1 controls (U+0080 to U+009F, which some terminals also obey)
/// are written as `\xHH` or `\u{HH}`; bytes that are not UTF-8 as `\xHH`; a backslash as `\\`.
/// Past `limit` bytes the text is cut at a character boundary and the full size is said:
///
///     "9900000000…" (1048576 bytes, cut)
public enum InertText {
    /// The longest stretch of input text a message quotes.
    public static let limit = 200

    /// `bytes` in double quotes, escaped and cut to `limit` bytes (the full size then follows).
    public static func quoted(_ bytes: UnsafeRawBufferPointer, limit: Int = InertText.limit) -> String {
        let (text, cut) = escaped(bytes, limit: limit)
        return cut ? "\"" + text + "…\" (\(bytes.count) bytes, cut)" : "\"" + text + "\""
    }

    /// `text` in double quotes, escaped and cut to `limit` bytes.
    public static func quoted(_ text: String, limit: Int = InertText.limit) -> String {
        var text = text
        return text.withUTF8 { quoted(UnsafeRawBufferPointer($0), limit: limit) }
    }

    /// `bytes` escaped, at most `limit` of them, and whether any were left out. With `quoting`,
    /// a quote and a backslash are escaped too, so that the text can stand between quotes.
    public static func escaped(_ bytes: UnsafeRawBufferPointer, limit: Int = InertText.limit, quoting: Bool = true) -> (text: String, cut: Bool) {
        var out: [UInt8] = []
        out.reserveCapacity(min(bytes.count, limit) + 16)
        var i = 0
        while i < bytes.count {
            let b = bytes[i]
            let n = UTF8Check.sequenceLength(bytes, at: i)
            if i + max(n, 1) > limit { return (String(decoding: out, as: UTF8.self), true) }
            if n == 0 {
                appendHex(b, to: &out)
                i += 1
            } else if n == 1 {
                if b < 0x20 || b == 0x7F {
                    appendHex(b, to: &out)
                } else if quoting && (b == UInt8(ascii: "\\") || b == UInt8(ascii: "\"")) {
                    out.append(UInt8(ascii: "\\")); out.append(b)
                } else {
                    out.append(b)
                }
                i += 1
            } else if n == 2, b == 0xC2, bytes[i + 1] < 0xA0 {
                // A C1 control, U+0080 to U+009F.
                out.append(contentsOf: Array("\\u{".utf8))
                appendHexDigits(bytes[i + 1], to: &out)
                out.append(UInt8(ascii: "}"))
                i += 2
            } else {
                out.append(contentsOf: bytes[i..<(i + n)])
                i += n
            }
        }
        return (String(decoding: out, as: UTF8.self), false)
    }

    /// `text` escaped, cut to `limit` bytes with `…` when longer, without quotes.
    public static func escaped(_ text: String, limit: Int) -> String {
        var text = text
        return text.withUTF8 { u in
            let (t, cut) = escaped(UnsafeRawBufferPointer(u), limit: limit)
            return cut ? t + "…" : t
        }
    }

    static func appendHex(_ b: UInt8, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "x"))
        appendHexDigits(b, to: &out)
    }

    static func appendHexDigits(_ b: UInt8, to out: inout [UInt8]) { Bytes.appendUpperHex(b, to: &out) }

    /// A whole message made safe: control bytes escaped as above (a message is one line), and
    /// cut to `limit` bytes. The last line of defence: messages quote input through `quoted`.
    public static func message(_ text: String, limit: Int = 4096) -> String {
        var text = text
        return text.withUTF8 { u in
            let raw = UnsafeRawBufferPointer(u)
            // Most messages need nothing: check before copying.
            var clean = raw.count <= limit
            if clean {
                var i = 0
                while i < raw.count {
                    let b = raw[i]
                    if b < 0x20 || b == 0x7F || (b == 0xC2 && i + 1 < raw.count && raw[i + 1] < 0xA0) { clean = false; break }
                    i += 1
                }
            }
            if clean { return String(decoding: raw, as: UTF8.self) }
            let (out, cut) = escaped(raw, limit: limit, quoting: false)
            return cut ? out + "… (message of \(raw.count) bytes, cut)" : out
        }
    }
}
