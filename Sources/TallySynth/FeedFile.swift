import TallyCore
import TallyIO

/// One output file of tally-synth: counts the lines it has written (so faults can be recorded at
/// the line where their row starts) and transcodes to GB18030 when the feed asks for it.
final class FeedFile {
    let name: String
    private let sink: OutputSink
    private let transcoder: Transcoder?
    /// The 1-based line where the next row starts.
    private(set) var line = 1
    /// A scratch buffer rows are built in before they are transcoded.
    let row = ByteBuffer(capacity: 1 << 12)

    init(directory: String, name: String, gzip: Bool, gb18030: Bool = false, level: Int32 = 6) throws {
        self.name = name
        sink = try OutputSink.create(directory + "/" + name, gzip: gzip, level: level)
        transcoder = gb18030 ? Transcoder(from: "UTF-8", to: "GB18030") : nil
        if gb18030 && transcoder == nil { throw StageFailureText("this C library has no GB18030 converter") }
    }

    /// Appends raw text that is not a row (a header, a BOM, XML framing).
    func write(_ text: String) throws {
        row.removeAll()
        row.append(text)
        try commitRow()
    }

    /// Writes the bytes built in `row`, counting their newlines.
    func commitRow() throws {
        let bytes = row.contents
        for b in bytes where b == 0x0A { line += 1 }
        if let transcoder {
            let converted = try transcoder.convert(bytes)
            converted.withUnsafeBytes { sink.buffer.append($0) }
        } else {
            sink.buffer.append(bytes)
        }
        row.removeAll()
        try sink.flushIfFull()
    }

    func finish() throws { try sink.finish() }
}

/// A plain error with a message, for the synthesizer's own failures.
struct StageFailureText: Error, CustomStringConvertible {
    let description: String
    init(_ text: String) { description = text }
}

extension ByteBuffer {
    /// Appends a CSV field, quoted (RFC 4180) when it holds a comma, quote, CR or LF.
    func appendCSVField(_ text: String) {
        var text = text
        text.withUTF8 { u in
            let needsQuotes = u.contains { $0 == 0x2C || $0 == 0x22 || $0 == 0x0A || $0 == 0x0D }
            guard needsQuotes else { append(UnsafeRawBufferPointer(u)); return }
            append(UInt8(ascii: "\""))
            for b in u {
                if b == 0x22 { append(UInt8(ascii: "\"")) }
                append(b)
            }
            append(UInt8(ascii: "\""))
        }
    }

    /// Appends text escaped for XML character data or a double-quoted attribute.
    func appendXMLText(_ text: String) {
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": append("&amp;")
            case "<": append("&lt;")
            case ">": append("&gt;")
            case "\"": append("&quot;")
            default: append(String(scalar))
            }
        }
    }

    /// Appends local time `YYYY-MM-DDTHH:MM:SS` for `seconds` since the epoch in local time.
    func appendLocalTime(_ seconds: Int64) {
        appendTimestamp(Timestamp(seconds: seconds))
        removeLast(1)
    }
}
