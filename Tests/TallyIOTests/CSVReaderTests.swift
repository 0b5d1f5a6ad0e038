import Foundation
import Testing
import TallyCore
import TallyIO

/// The CSV reader's short cuts against the general way alone (`fastPaths: false`): the
/// first-line split (a line with quotes whose fields are well formed ends the record there), and
/// the one-pass reads of a plain record (ASCII, no quote, NUL or stray CR) and of a simply
/// quoted one (quotes only around whole fields). On the shapes where
/// they could part: quoted line breaks, a CR inside quotes, faults before a quote that opens a
/// line break, doubled quotes, empty and trailing fields, a file without a final newline, CRLF
/// and stray CRs on either side of a 16-byte step, NUL bytes, a byte-order mark inside a row,
/// blank lines, a row of more commas than the one-pass read keeps, and random bytes of those
/// kinds. Rows, lines, cells, raw text and faults must be the same.
@Suite struct CSVReaderTests {
    static let cases: [String] = [
        "a,b,c\n\"x\",\"y\",\"z\"\n1,2,3\n",
        "a,b\n\"line\nbreak\",2\n\"q\"\"uote\",3\n",
        "a,b\n\"cr\r\ninside\",1\r\n\"ok\",2\r\n",
        "a,b\n\"x\"y,\"opens\nspans\"\nnext,1\n",
        "a,b\nx\"y,\"opens\nspans\"\n",
        "a,b\n\"unterminated,1\nstill,2\n",
        "a,b,c\n\"\",,\"\"\n\"a\",\"b\",\n,\"\",\n",
        "a,b\n\"no final newline\",\"中文\"",
        "a\n\"\"\"\"\n\"\"\"x\"\"\"\n\"\r\"\n",
        "a,b\n\"a\" ,b\n\"a\",\"b\" \n",
        "a,b\n\"é\",\"\u{FEFF}\"\n",
        "a,b\r\n0123456789abcd,e\r\n0123456789abcde,f\r\n0123456789abcdef,g\r\n",
        "a,b\nx\ry,1\n0123456789abcdef\r,2\n0123456789abcde\r,3\r\n1,2\r\r\n",
        "a,b\nx\u{0},1\n0123456789abcdefghij,\u{0}\n",
        "a,b\nx\u{FEFF}y,1\nplain,2\n\u{FEFF},3\n",
        "a,b\n\n\r\nplain,row\n\n",
        "a,b\nno,final newline",
        "a,b\n" + String(repeating: ",", count: 1500) + "\n" + String(repeating: "x,", count: 1024) + "y\n1,2\n",
        "a,b\n中文,1\nplain,2\n\"q\",3\nplain,4\n",
        "a,b\n\"x\"\"y\",\"龙\"\"阳\"\r\n\"\"\"\",\"\"\"\"\"\"\"\"\"\n\"a\"\"\",\"\"\"b\"\n\"中\"\"\",x\"\n",
    ]

    static func read(_ path: String, fast: Bool) throws -> [String] {
        let reader = CSVReader(try InputFile.open(path, limits: .standard), encoding: .utf8, fastPaths: fast)
        let row = Row()
        var rows: [String] = []
        while try reader.next(into: row) {
            var s = "\(row.line)|\(row.readFault.map { "\($0.code) \($0.fieldNumber) \($0.reason)" } ?? "-")|\(Array(row.rawBytes))"
            for i in 0..<row.count { s += "|" + String(decoding: row.field(i), as: UTF8.self) }
            rows.append(s)
        }
        return rows
    }

    /// Reads `bytes` both ways and expects the same rows; returns them.
    @discardableResult
    static func readBothWays(_ bytes: [UInt8], in scratch: Scratch, as name: String) throws -> [String] {
        let path = scratch.write(name, bytes)
        let fast = try read(path, fast: true), slow = try read(path, fast: false)
        #expect(fast == slow, "\(bytes)")
        return fast
    }

    /// A fixed-seed generator of numbers below `n`, for the random files.
    struct Seeded {
        var state: UInt64
        mutating func next(_ n: Int) -> Int {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Int((state >> 33) % UInt64(n))
        }
    }

    @Test(arguments: cases.indices) func theShortCutsReadAsTheGeneralWayDoes(_ i: Int) throws {
        let rows = try Self.readBothWays(Array(Self.cases[i].utf8), in: Scratch(), as: "case.csv")
        #expect(!rows.isEmpty)
    }

    /// Random files of the bytes that decide between the two ways, in rows of random length
    /// (so that LFs, CRs and commas fall on every place of a 16-byte step). A fixed seed.
    @Test func randomBytesReadTheSameBothWays() throws {
        let scratch = Scratch()
        var random = Seeded(state: 0x0C5F_5EED)
        func next(_ n: Int) -> Int { random.next(n) }
        let rare: [[UInt8]] = [[0x22], [0x0D], [0x0D, 0x0A], [0x00], [0xEF, 0xBB, 0xBF], [0xC3, 0xA9], [0xFF], [0x0A]]
        for file in 0..<300 {
            var bytes = Array("h,i\n".utf8)
            for _ in 0..<(1 + next(40)) {
                for _ in 0..<next(70) {
                    if next(60) == 0 { bytes += rare[next(rare.count)] } else { bytes.append(next(5) == 0 ? 0x2C : UInt8(0x61 + next(26))) }
                }
                if next(10) > 0 { bytes.append(0x0A) }
            }
            try Self.readBothWays(bytes, in: scratch, as: "r\(file).csv")
        }
    }

    /// Random files of records built field by field, most of them well formed: fields quoted or
    /// not, quoted ones holding commas, CJK text, and now and then a doubled quote, a line break,
    /// a CR, a NUL, a character cut in two, or text after the closing quote; rows ending in LF or
    /// CR LF. The simply quoted record's one pass and the general way must read them the same.
    @Test func quotedFieldsReadTheSameBothWays() throws {
        let scratch = Scratch()
        var random = Seeded(state: 0x0000_0071_0BE5)
        func next(_ n: Int) -> Int { random.next(n) }
        let text: [[UInt8]] = [Array("龙阳路".utf8), Array("a,b".utf8), Array("plain".utf8), [], Array("12.50".utf8), Array("é".utf8)]
        let odd: [[UInt8]] = [[0x22, 0x22], [0x0A], [0x0D], [0x00], [0xE9, 0xBE], [0x99], Array("\u{FEFF}".utf8)]
        for file in 0..<300 {
            var bytes = Array("h,i,j\n".utf8)
            for _ in 0..<(1 + next(30)) {
                for f in 0..<(1 + next(8)) {
                    if f > 0 { bytes.append(0x2C) }
                    var value = text[next(text.count)]
                    if next(25) == 0 { value += odd[next(odd.count)] }
                    if next(2) == 0 {
                        bytes += [0x22] + value + [0x22]
                        if next(40) == 0 { bytes += Array("x".utf8) }
                    } else {
                        bytes += value.filter { $0 != 0x2C }
                    }
                }
                bytes += next(4) == 0 ? [0x0D, 0x0A] : [0x0A]
            }
            try Self.readBothWays(bytes, in: scratch, as: "q\(file).csv")
        }
    }

    @Test func aQuotedLineBreakIsOneRecordOnItsLine() throws {
        let scratch = Scratch()
        let rows = try Self.read(scratch.write("b.csv", Array(Self.cases[1].utf8)), fast: true)
        #expect(rows.map { $0.split(separator: "|", omittingEmptySubsequences: false).enumerated().filter { $0.offset != 2 }.map(\.element).joined(separator: "|") }
                == ["1|-|a|b", "2|-|line\nbreak|2", "4|-|q\"uote|3"])
    }
}
