import Foundation
import Testing
import TallyCore
import TallyIO

/// The CSV reader's first-line split (a line with quotes whose fields are well formed ends the
/// record there) against the quote automaton alone, on the shapes where they could part: quoted
/// line breaks, a CR inside quotes, faults before a quote that opens a line break, doubled quotes,
/// empty and trailing fields, a file without a final newline. Rows, lines, cells and faults must
/// be the same.
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
    ]

    static func read(_ path: String, fast: Bool) throws -> [String] {
        let reader = CSVReader(try InputFile.open(path, limits: .standard), encoding: .utf8, splitsFirstLine: fast)
        let row = Row()
        var rows: [String] = []
        while try reader.next(into: row) {
            var s = "\(row.line)|\(row.readFault.map { "\($0.code) \($0.fieldNumber) \($0.reason)" } ?? "-")"
            for i in 0..<row.count { s += "|" + String(decoding: row.field(i), as: UTF8.self) }
            rows.append(s)
        }
        return rows
    }

    @Test(arguments: cases.indices) func theFirstLineSplitReadsAsTheAutomatonDoes(_ i: Int) throws {
        let scratch = Scratch()
        let path = scratch.write("case.csv", Array(Self.cases[i].utf8))
        let fast = try Self.read(path, fast: true), slow = try Self.read(path, fast: false)
        #expect(fast == slow, "\(Self.cases[i].debugDescription)")
        #expect(!fast.isEmpty)
    }

    @Test func aQuotedLineBreakIsOneRecordOnItsLine() throws {
        let scratch = Scratch()
        let rows = try Self.read(scratch.write("b.csv", Array(Self.cases[1].utf8)), fast: true)
        #expect(rows == ["1|-|a|b", "2|-|line\nbreak|2", "4|-|q\"uote|3"])
    }
}
