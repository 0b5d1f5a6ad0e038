import Foundation
import Testing
import TallyCore
@testable import TallyIO

/// GB18030 cells converted through the table of two-byte codes (`GB18030Decoder`, with iconv for
/// the rest) against iconv alone, which converted every cell before; the check that a GB18030
/// cell is really UTF-8 against the standard library's validation; and GB18030 files read by the
/// CSV reader, both ways, against the cells and faults iconv gives cell by cell and the records'
/// own bytes as their raw text.
@Suite struct GB18030Tests {
    static func gb(_ text: String) -> [UInt8] { try! Transcoder(from: "UTF-8", to: "GB18030")!.convert(text) }

    /// What iconv makes of `bytes`: the UTF-8, or the offset where it stopped. (A converter of
    /// its own for each test: the tests run side by side, and iconv's state is not shared safely.)
    static func viaIconv(_ bytes: [UInt8], _ iconv: Transcoder) -> Result<[UInt8], Transcoder.Invalid> {
        bytes.withUnsafeBytes { b in
            do throws(Transcoder.Invalid) { return .success(try iconv.convert(b)) } catch { return .failure(error) }
        }
    }

    static func viaDecoder(_ decoder: GB18030Decoder, _ bytes: [UInt8]) -> Result<[UInt8], Transcoder.Invalid> {
        let out = ByteBuffer(capacity: 16)
        Array("kept".utf8).withUnsafeBytes { out.append($0) }
        return bytes.withUnsafeBytes { b in
            do throws(Transcoder.Invalid) {
                try decoder.convert(b, appendingTo: out)
                #expect(Array(out.bytes.prefix(4)) == Array("kept".utf8), "what the buffer held stays")
                return .success(Array(out.bytes.dropFirst(4)))
            } catch { return .failure(error) }
        }
    }

    /// Valid UTF-8 with a character of three or four bytes, by the standard library.
    static func wideUTF8(_ bytes: [UInt8]) -> Bool {
        String(validating: bytes, as: UTF8.self) != nil && bytes.contains { $0 >= 0xE0 }
    }

    /// Pieces of GB18030 text, good and bad: hanzi, Latin and Greek letters (two bytes of UTF-8),
    /// the euro, four-byte codes (an emoji, a CJK Extension B character), FE 51 (a two-byte code
    /// that iconv maps beyond the BMP), bytes that are no character (0x80, 0xFF, a lead byte alone
    /// or before 0x7F, a four-byte code cut short), and CJK text in UTF-8.
    static let pieces: [[UInt8]] = [
        gb("龙阳路"), gb("上海申通地铁集团"), gb("é"), gb("α"), gb("€"), gb("😀"), gb("𠀀"), [0xFE, 0x51],
        Array("abc".utf8), Array("12.50".utf8), [], Array("0123456789abcdefXYZ".utf8),
        [0x80], [0xFF], [0x81], [0x81, 0x7F], [0x81, 0x30], [0x81, 0x30, 0x81], Array("龙阳路".utf8), Array("中".utf8),
    ]

    /// Every two-byte code: the table gives what iconv gives, and holds every code iconv takes.
    @Test func theTableHoldsIconvsAnswerForEveryTwoByteCode() throws {
        let decoder = try #require(GB18030Decoder()), iconv = try #require(Transcoder(from: "GB18030", to: "UTF-8"))
        var held = 0
        for lead in 0x81...0xFE {
            for trail in 0x40...0xFF {
                let code = [UInt8(lead), UInt8(trail)]
                let table = decoder.tableConversion(code)
                switch Self.viaIconv(code, iconv) {
                case .success(let utf8):
                    #expect(table == utf8, "\(code)")
                    held += 1
                case .failure:
                    #expect(table == nil, "\(code)")
                }
            }
        }
        #expect(held == 23_940)
    }

    /// Random texts of the pieces: the decoder gives iconv's bytes, or fails at iconv's offset.
    /// Both ways of the decoder must be taken many times: the table alone, and iconv.
    @Test func theDecoderConvertsAsIconvDoes() throws {
        let decoder = try #require(GB18030Decoder()), iconv = try #require(Transcoder(from: "GB18030", to: "UTF-8"))
        var random = CSVReaderTests.Seeded(state: 0x6B18_030)
        var byTable = 0, byIconv = 0, failed = 0
        for _ in 0..<3000 {
            var text: [UInt8] = []
            for _ in 0..<(1 + random.next(6)) { text += Self.pieces[random.next(Self.pieces.count)] }
            let expected = Self.viaIconv(text, iconv)
            #expect(Self.viaDecoder(decoder, text) == expected, "\(text)")
            if decoder.tableConversion(text) != nil { byTable += 1 } else { byIconv += 1 }
            if case .failure = expected { failed += 1 }
        }
        #expect(byTable > 300 && byIconv > 300 && failed > 300, "\(byTable) \(byIconv) \(failed)")
    }

    /// The C check that a cell of a GB18030 feed is UTF-8 against the standard library, on random
    /// strings of valid sequences of every length, GB18030 text, and the sequences RFC 3629 rules
    /// out (overlong forms, surrogates, beyond U+10FFFF, bytes C0, C1 and F5 up, continuation bytes
    /// alone, sequences cut short).
    @Test func theUTF8CheckOfGB18030CellsAgreesWithTheStandardLibrary() {
        let parts: [[UInt8]] = [
            Array("a".utf8), Array("é".utf8), Array("龙".utf8), Array("😀".utf8), Self.gb("上海"), Self.gb("é"),
            [0xE0, 0x80, 0x80], [0xE0, 0xA0, 0x80], [0xED, 0xA0, 0x80], [0xED, 0x9F, 0xBF], [0xF0, 0x80, 0x80, 0x80],
            [0xF0, 0x90, 0x80, 0x80], [0xF4, 0x8F, 0xBF, 0xBF], [0xF4, 0x90, 0x80, 0x80], [0xF5, 0x80, 0x80, 0x80],
            [0xC0, 0x80], [0xC1, 0xBF], [0xC2, 0x80], [0x80], [0xBF], [0xE4, 0xB8], [0xF0, 0x9F, 0x98], [0xC3],
        ]
        var random = CSVReaderTests.Seeded(state: 0x0FF8)
        var wide = 0, notWide = 0
        for _ in 0..<5000 {
            var bytes: [UInt8] = []
            for _ in 0..<(1 + random.next(5)) { bytes += parts[random.next(parts.count)] }
            let expected = Self.wideUTF8(bytes)
            let got = bytes.withUnsafeBytes { CSVReader.looksLikeUTF8($0) }
            #expect(got == expected, "\(bytes)")
            if expected { wide += 1 } else { notWide += 1 }
        }
        #expect(wide > 500 && notWide > 500, "\(wide) \(notWide)")
    }

    struct ReadRow: Equatable {
        var line: Int
        var fault: String?
        var cells: [[UInt8]]
        /// The record as it stands in the file, without its line ending.
        var raw: [UInt8]
    }

    static func readRows(_ path: String, fast: Bool) throws -> [ReadRow] {
        let reader = CSVReader(try InputFile.open(path, limits: .standard), encoding: .gb18030, fastPaths: fast)
        let row = Row()
        var rows: [ReadRow] = []
        while try reader.next(into: row) {
            let fault = row.readFault.map { "\($0.code) \($0.fieldNumber) \($0.reason)" }
            rows.append(ReadRow(line: row.line, fault: fault, cells: fault == nil ? (0..<row.count).map { Array(row.field($0)) } : [],
                                raw: Array(row.rawBytes)))
        }
        return rows
    }

    /// What the rows must be: each cell converted by iconv, the first that is UTF-8 or not valid
    /// GB18030 the row's fault.
    static func expectedRow(_ cells: [[UInt8]], line: Int, raw: [UInt8], _ iconv: Transcoder) -> ReadRow {
        var converted: [[UInt8]] = []
        for (i, cell) in cells.enumerated() {
            if wideUTF8(cell) {
                return ReadRow(line: line, fault: "encoding-error \(i + 1) field \(i + 1) is UTF-8 text in a feed declared GB18030: read as GB18030 it would become other characters", cells: [], raw: raw)
            }
            switch viaIconv(cell, iconv) {
            case .success(let utf8): converted.append(utf8)
            case .failure(let e):
                return ReadRow(line: line, fault: "encoding-error \(i + 1) field \(i + 1) is not valid GB18030 (byte \(e.offset + 1) of the field)", cells: [], raw: raw)
            }
        }
        return ReadRow(line: line, fault: nil, cells: converted, raw: raw)
    }

    /// Random GB18030 files of the pieces, fields quoted or not (quoted ones holding commas and
    /// now and then a doubled quote), rows ending in LF or CR LF: the reader, either way, gives
    /// each row's cells as iconv converts them, or the fault of its first bad cell.
    @Test func gb18030FilesReadAsIconvConvertsEachCell() throws {
        let scratch = Scratch(), iconv = try #require(Transcoder(from: "GB18030", to: "UTF-8"))
        var random = CSVReaderTests.Seeded(state: 0x0C5F_6B18)
        var good = 0, bad = 0
        for file in 0..<200 {
            var bytes = Array("h,i,j\n".utf8)
            var expected = [ReadRow(line: 1, fault: nil, cells: ["h", "i", "j"].map { Array($0.utf8) }, raw: Array("h,i,j".utf8))]
            for r in 0..<(1 + random.next(20)) {
                var cells: [[UInt8]] = []
                let rowStart = bytes.count
                let fields = 1 + random.next(6)
                for f in 0..<fields {
                    if f > 0 { bytes.append(0x2C) }
                    var value: [UInt8] = []
                    for _ in 0..<random.next(4) { value += Self.pieces[random.next(Self.pieces.count)] }
                    // A row of one field is quoted: empty, it would be a blank line, a fault of its own.
                    if fields == 1 || random.next(2) == 0 {
                        if random.next(8) == 0 { value += Array("a,\"b".utf8) }
                        bytes += [0x22] + value.flatMap { $0 == 0x22 ? [0x22, 0x22] : [$0] } + [0x22]
                    } else {
                        value = value.filter { $0 != 0x2C && $0 != 0x22 }
                        bytes += value
                    }
                    cells.append(value)
                }
                let raw = Array(bytes[rowStart...])
                bytes += random.next(4) == 0 ? [0x0D, 0x0A] : [0x0A]
                let row = Self.expectedRow(cells, line: r + 2, raw: raw, iconv)
                if row.fault == nil { good += 1 } else { bad += 1 }
                expected.append(row)
            }
            let path = scratch.write("gb\(file).csv", bytes)
            let fast = try Self.readRows(path, fast: true)
            #expect(fast == expected, "file \(file): \(bytes)")
            #expect(try Self.readRows(path, fast: false) == fast)
        }
        #expect(good > 300 && bad > 300, "\(good) \(bad)")
    }
}
