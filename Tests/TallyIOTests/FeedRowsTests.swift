import Foundation
import Testing
import TallyCore
@testable import TallyIO

/// `FeedRows`: the one set-up of CSV and XML reading that tally-parse and tally-validate share,
/// with its row pipeline (rows read on another thread, handed over in batches).
@Suite struct FeedRowsTests {
    static let root = String(#filePath.split(separator: "/Tests/").first!)
    static func feed(_ name: String) throws -> LoadedFeed { try FeedCatalog.load(name, schemasDirectory: root + "/schemas/feeds") }

    static let header = "event_id,card_id,rid,line,station_in,station_out,tap_in,tap_out,fare_fen,paid_fen,flag\n"

    @Test func csvGivesTheHeaderThenEveryRowInOrderAcrossBatches() throws {
        let scratch = Scratch()
        let n = 5_000   // many batches of the pipeline
        var text = Self.header
        for i in 0..<n { text += "E\(i),8000000000000123,,1,0001,0002,2026-11-27T08:00:00,2026-11-27T08:30:00,500,500,\n" }
        let path = scratch.write("transit-20261127.csv", Array(text.utf8))
        let rows = try FeedRows(try InputFile.open(path, limits: .standard), feed: try Self.feed("transit"))
        defer { rows.stop() }
        #expect(rows.header?.matches == true)
        var seen = 0
        while let row = try rows.next() {
            #expect(row.string(0) == "E\(seen)" && row.line == seen + 2)
            if seen == 7 { #expect(rows.rawText(row) == "E7,8000000000000123,,1,0001,0002,2026-11-27T08:00:00,2026-11-27T08:30:00,500,500,") }
            seen += 1
        }
        #expect(seen == n)
    }

    @Test func anEmptyFileHasNoHeaderAndAWrongOneIsKept() throws {
        let scratch = Scratch()
        let empty = try FeedRows(try InputFile.open(scratch.write("transit-20261127.csv", []), limits: .standard), feed: try Self.feed("transit"))
        #expect(empty.header == nil)
        #expect(try empty.next() == nil)
        empty.stop()
        let renamed = try FeedRows(try InputFile.open(Self.root + "/Tests/Fixtures/parse/transit-20261127-renamed.csv", limits: .standard),
                                   feed: try Self.feed("transit"))
        defer { renamed.stop() }
        #expect(renamed.header?.matches == false && renamed.header?.summary.contains("renamed") == true)
    }

    @Test func xmlRecordsComeCheckedWithTheirRebuiltText() throws {
        let rows = try FeedRows(try InputFile.open(Self.root + "/Tests/Fixtures/parse/court-20261127-valid.xml", limits: .standard),
                                feed: try Self.feed("court"))
        defer { rows.stop() }
        #expect(rows.header == nil)
        var texts: [String] = []
        while let row = try rows.next() {
            #expect(row.readFault == nil)
            texts.append(rows.rawText(row))
        }
        #expect(texts.count == 2)
        #expect(texts[0].hasPrefix("<judgment case=\"(2026)浙0106执1234号\"><court code=\"330106\">杭州市西湖区人民法院</court>"))
    }

    /// A reading error comes after the rows read before it (a truncated gzip stream here).
    @Test func theReadingErrorComesAfterTheRowsBeforeIt() throws {
        let truncated = try FeedRows(try InputFile.open(Self.root + "/Tests/Fixtures/parse/transit-20261127-truncated.csv.gz", limits: .standard),
                                     feed: try Self.feed("transit"))
        defer { truncated.stop() }
        var before = 0
        #expect(throws: InputError.self) { while try truncated.next() != nil { before += 1 } }
        #expect(before > 0)
    }

    /// What the pipeline hands over is exactly what the reader wrote, row after row, whatever
    /// the row's shape: rows are kept back to back in each batch's one buffer, an unquoted row's
    /// raw text is its cells' own bytes, and read faults travel beside the rows. Every row of a
    /// file of mixed shapes (quoted cells with commas, quotes and line breaks, blank rows, stray
    /// quotes and carriage returns, bytes invalid in the encoding, NUL bytes, and rows of a
    /// megabyte that end batches early) is compared with the same file read by `CSVReader`
    /// alone, one row at a time: cells, line, fault and raw bytes. A key the reader hashed from
    /// its read buffer (which it does when the consumer is behind, for unquoted rows; the
    /// direct reader here is told the consumer is always behind) is the one hashed from the
    /// row's cells.
    @Test(arguments: ["transit", "tax"])
    func pipelinedRowsAreTheReadersRowsWhateverTheirShape(feedName: String) throws {
        let feed = try Self.feed(feedName)
        let gb = feedName == "tax"
        var rng = UInt64(0x9E37_79B9_7F4A_7C15)
        func next(_ n: Int) -> Int {
            rng = rng &* 6364136223846793005 &+ 1442695040888963407
            return Int((rng >> 33) % UInt64(n))
        }
        let columns = feed.spec.fields.count
        var bytes = Array(feed.spec.fields.map(\.name).joined(separator: ",").utf8) + [0x0A]
        // GB18030 for 中 is D6 D0; in UTF-8 it is E4 B8 AD.
        let cjk: [UInt8] = gb ? [0xD6, 0xD0] : [0xE4, 0xB8, 0xAD]
        for i in 0..<6_000 {
            let shape = next(40)
            if shape == 0 { bytes += [0x0A]; continue }                                  // blank row
            var cells: [[UInt8]] = (0..<columns).map { c in Array("v\(i)c\(c)".utf8) }
            switch shape {
            case 1: cells[1] = Array("\"a, \"\"quoted\"\" cell\"".utf8)                  // quoted, commas, quotes
            case 2: cells[2] = Array("\"two\nlines\"".utf8)                              // a quoted line break
            case 3: cells[0] = Array("stray\"quote".utf8)                                // a quote in an unquoted cell
            case 4: cells[3] = Array("cr\rhere".utf8)                                     // a carriage return
            case 5: cells[1] = [0x41, 0xFF, 0x42]                                       // invalid in either encoding
            case 6: cells[2] = [0x41, 0x00, 0x42]                                       // a NUL byte
            case 7: cells += cells                                                      // twice the cells
            case 8, 9, 10: cells[1] = cjk + cjk                                         // text in the encoding
            case 11: cells[1] = [0x22] + cjk + Array(",\"".utf8)                         // quoted, in the encoding
            case 12: cells.removeLast()                                                 // a cell short
            case 14: cells[0] = Array("\"k\(i)\"".utf8); cells[2] = Array("\"q\"".utf8)     // a quoted key
            case 15: cells[0] = Array("\"k\"\"\(i)\"".utf8); cells[2] = Array("\"q\"".utf8) // a key with a doubled quote
            case 16: cells[1] = Array("中文".utf8)                                          // UTF-8 CJK (in a GB18030 feed, a fault)
            case 17: cells[2] = [0x22, 0x95, 0x32, 0x82, 0x36, 0x22]                        // a four-byte GB18030 code, quoted
            case 18: cells[1] = [0x22] + cjk + [0x00] + cjk + [0x22]                        // a NUL between CJK, quoted
            default: break
            }
            // Six rows of a megabyte in a row: batches end on their bytes, not their count.
            if (3_000..<3_006).contains(i) { cells[1] = Array(repeating: UInt8(ascii: "x"), count: 1 << 20) }
            bytes += Array(cells.joined(separator: [0x2C])) + (shape == 13 ? [0x0D, 0x0A] : [0x0A])
        }
        let scratch = Scratch()
        let path = scratch.write("\(feedName)-20261127.csv", bytes)
        let encoding: FeedSpec.TextEncoding
        if case .csv(let e) = feed.spec.format { encoding = e } else { Issue.record("not CSV"); return }

        let keys = RepeatedKeys(spec: feed.spec)
        let direct = CSVReader(try InputFile.open(path, limits: .standard), encoding: encoding, keys: keys)
        let expected = Row()
        expected.consumerBehind = true
        #expect(try direct.next(into: expected))   // the header
        let rows = try FeedRows(try InputFile.open(path, limits: .standard), feed: feed)
        defer { rows.stop() }
        // A consumer that falls behind: the reader fills the batches meanwhile, and hashes the
        // keys of the later ones' unquoted rows itself, which travel with the rows.
        usleep(500_000)
        var compared = 0, faulted = 0, quotedRaw = 0, big = 0, printed = 0, printedOnTheWay = 0
        while let row = try rows.next() {
            #expect(try direct.next(into: expected), "the pipeline gave more rows than the reader")
            let cells = (0..<row.count).map { Array(row.field($0)) }, want = (0..<expected.count).map { Array(expected.field($0)) }
            #expect(cells == want, "row \(compared): cells")
            #expect(row.line == expected.line)
            #expect(row.readFault?.code == expected.readFault?.code && row.readFault?.reason == expected.readFault?.reason
                    && row.readFault?.fieldNumber == expected.readFault?.fieldNumber, "line \(row.line): \(String(describing: row.readFault)) against \(String(describing: expected.readFault))")
            #expect(Array(row.rawBytes) == Array(expected.rawBytes) && row.rawIsUTF8 == expected.rawIsUTF8, "line \(row.line): raw")
            let fromCells = String(describing: keys.fingerprint(csvCells: { i in expected.field(i) }))
            if let print = row.keyPrint {
                #expect(String(describing: print) == fromCells, "line \(row.line): the pipeline's key")
                printedOnTheWay += 1
            }
            if let print = expected.keyPrint {
                #expect(String(describing: print) == fromCells, "line \(row.line): the reader's key")
                printed += 1
            }
            if row.readFault != nil { faulted += 1 }
            if row.rawBytes.contains(0x22) { quotedRaw += 1 }
            if row.rawBytes.count > 1 << 20 { big += 1 }
            compared += 1
        }
        #expect(try !direct.next(into: expected), "the reader had more rows than the pipeline gave")
        #expect(compared > 5_900 && faulted > 400 && quotedRaw > 200 && big == 6 && printed > 3_000 && printedOnTheWay > 500,
                "\(compared) rows, \(faulted) faulted, \(quotedRaw) quoted, \(big) big, \(printed) keys hashed by the reader, \(printedOnTheWay) in the pipeline")
        // GB18030 rows are converted by the reader while the consumer is behind, then by the
        // consumer: both must have happened, with the rows the same either way.
        if gb { #expect(rows.rowsConvertedLater > 300, "\(rows.rowsConvertedLater) rows converted by the consumer") }
    }
}
