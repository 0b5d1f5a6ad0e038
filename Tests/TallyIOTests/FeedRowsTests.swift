import Foundation
import Testing
import TallyCore
import TallyIO

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
}
