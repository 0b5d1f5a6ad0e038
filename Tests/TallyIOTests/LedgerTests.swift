import Foundation
import Testing
import TallyCore
import TallyIO

/// `Ledger` on its own: records in, the same records out, repeats skipped, an amendment kept
/// with its earlier version, a stale version refused, corrections dumped first, and damage found.
@Suite struct LedgerTests {
    static func line(_ id: String, kind: String = "transit.fare-evasion", file: String = "transit-20261101.csv", amount: Int64 = 500,
                     target: String? = nil) -> String {
        let r = Record(id: id, source: "transit", kind: kind, subject: target == nil ? Subject(scheme: "transit-card", id: "8000000000000123") : Subject(scheme: "record", id: target),
                       at: Timestamp(chinaMidnightOf: CivilDate(year: 2026, month: 11, day: 1)!), amountFen: amount, target: target,
                       prov: Provenance(file: file, sha256: String(repeating: "ab", count: 32), line: 2))
        let b = ByteBuffer()
        r.encode(into: b)
        return String(b.string.dropLast())
    }

    static func ingest(_ ledger: Ledger, _ lines: [String]) throws -> Ledger.IngestCounts {
        let ingest = try ledger.ingest(now: "2026-12-05T00:00:00Z")
        var scanner = RecordViewScanner()
        for l in lines {
            var l = l
            try l.withUTF8 { u in
                let bytes = UnsafeRawBufferPointer(u)
                try ingest.add(bytes, try scanner.view(bytes))
            }
        }
        try ingest.finish()
        return ingest.counts
    }

    static func dump(_ ledger: Ledger) throws -> [String] {
        var out: [String] = []
        try ledger.dump { out.append(String(decoding: $0, as: UTF8.self)) }
        return out
    }

    @Test func recordsGoInOnceAndComeOutCorrectionsFirst() throws {
        let scratch = Scratch()
        let ledger = try Ledger(path: scratch.path + "/ledger.db", create: true)
        let a = Self.line("transit:00000000000000000000000000000001"), b = Self.line("transit:00000000000000000000000000000002")
        let c = Self.line("transit:00000000000000000000000000000003", kind: "correction.dispute", target: "transit:00000000000000000000000000000001")
        let first = try Self.ingest(ledger, [a, b, c])
        #expect(first.read == 3 && first.inserted == 3)
        // The same records again, from a file of another name: skipped, nothing doubled.
        let again = try Self.ingest(ledger, [a.replacingOccurrences(of: "transit-20261101.csv", with: "transit-20261101-again.csv"), b])
        #expect(again.inserted == 0 && again.skipped == 2)
        #expect(try Self.dump(ledger) == [c, a, b])
        let check = try ledger.check()
        #expect(check.faults.isEmpty && check.records == 2 && check.corrections == 1)
    }

    @Test func aLaterFileAmendsAndAnEarlierOneIsStale() throws {
        let scratch = Scratch()
        let ledger = try Ledger(path: scratch.path + "/ledger.db", create: true)
        let id = "transit:00000000000000000000000000000001"
        _ = try Self.ingest(ledger, [Self.line(id, file: "transit-20261101.csv", amount: 500)])
        let newer = Self.line(id, file: "transit-20261102.csv", amount: 700)
        #expect(try Self.ingest(ledger, [newer]).amended == 1)
        #expect(try Self.ingest(ledger, [Self.line(id, file: "transit-20261031.csv", amount: 900)]).stale == 1)
        #expect(try Self.dump(ledger) == [newer])
        #expect(try ledger.check().amendments == 1)
    }

    @Test func aDamagedRecordIsFoundNotHandedOn() throws {
        let scratch = Scratch()
        let path = scratch.path + "/ledger.db"
        do {
            let ledger = try Ledger(path: path, create: true)
            _ = try Self.ingest(ledger, [Self.line("transit:00000000000000000000000000000001")])
        }
        // Change the stored line behind the ledger's back (an amount the content hash does not know).
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        let from = Data("\"amount_fen\":500".utf8), to = Data("\"amount_fen\":900".utf8)
        let at = try #require(bytes.range(of: from))
        var changed = bytes
        changed.replaceSubrange(at, with: to)
        try changed.write(to: URL(fileURLWithPath: path))
        let ledger = try Ledger(readingOnly: path)
        #expect(throws: DatabaseError.self) { _ = try Self.dump(ledger) }
        #expect(try ledger.check().faults.isEmpty == false)
    }
}
