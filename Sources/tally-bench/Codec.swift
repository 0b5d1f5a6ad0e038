import ArgumentParser
import Foundation
import TallyCLI
import TallyCore
import TallyIO

/// `tally-bench codec`: encode and decode N records with tally's codec and with Foundation's.
struct Codec: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Encode and decode N records with tally's JSON Lines codec and with Foundation's JSONEncoder/JSONDecoder.",
        discussion: "Writes the encoded records to --out (for jq and other peers) and prints one line per measurement: name, records, seconds, records/s.")

    @Option(help: "How many records.")
    var records: Int = 2_000_000

    @Option(help: ArgumentHelp("Where to write the encoded JSON Lines.", valueName: "file"))
    var out: String

    @Option(help: "Also time Foundation on this many records (0 to skip); it is slow.")
    var foundation: Int = 200_000

    @Flag(help: "Only decode --out, which must exist (for profiling the decoder alone).")
    var decodeOnly = false

    @Flag(help: "With --decode-only: read each line as a RecordView (checked, nothing copied), as the stages do, instead of making Records.")
    var views = false

    func run() throws {
        try Stage.run("tally-bench") {
            if decodeOnly {
                let t = Clock.now
                let (n, _) = try decodeFile(views: views)
                try report(views ? "tally view" : "tally decode", n, since: t)
                return ExitStatus.ok
            }
            let sample = BenchRecords.make(count: records)
            // The codec alone: encode into one reused buffer, emptied whenever it passes 1 MiB,
            // as Foundation's encoder is timed into memory below.
            let buffer = ByteBuffer(capacity: 1 << 21)
            var t = Clock.now
            // Index rather than `for r in sample`, which would copy (and retain) every record.
            for i in sample.indices {
                sample[i].encode(into: buffer)
                if buffer.count >= 1 << 20 { buffer.removeAll() }
            }
            try report("tally encode", records, since: t)

            // Then as a stage writes: the same, flushed to the file (which the peers read).
            let sink = try OutputSink.create(out)
            t = Clock.now
            for i in sample.indices {
                sample[i].encode(into: sink.buffer)
                try sink.flushIfFull()
            }
            try sink.finish()
            try report("tally encode + write", records, since: t)
            // Let the kernel write the file out before timing the decoder: otherwise the
            // write-back of 880 MB competes with the decoder for this machine's two cores.
            if let h = FileHandle(forUpdatingAtPath: out) { try h.synchronize(); try h.close() }

            // Decode the file line by line, as a stage reads its input.
            t = Clock.now
            let (n, checksum) = try decodeFile()
            try report("tally decode", n, since: t)
            guard n == records, checksum == sample.reduce(0, { $0 &+ $1.prov.line }) else {
                throw StageFailure("decoded records differ from those encoded", status: ExitStatus.software)
            }

            if foundation > 0 {
                let mirrors = sample.prefix(foundation).map(FoundationRecord.init)
                let encoder = JSONEncoder()
                var data: [Data] = []
                data.reserveCapacity(mirrors.count)
                t = Clock.now
                for m in mirrors { data.append(try encoder.encode(m)) }
                try report("Foundation JSONEncoder", mirrors.count, since: t)
                let decoderF = JSONDecoder()
                t = Clock.now
                var sum = 0
                for d in data { sum &+= try decoderF.decode(FoundationRecord.self, from: d).prov.line }
                try report("Foundation JSONDecoder", mirrors.count, since: t)
                // Using the result (and checking it) keeps the loop from being optimised away.
                guard sum == mirrors.reduce(0, { $0 &+ $1.prov.line }) else {
                    throw StageFailure("Foundation decoded records that differ from those encoded", status: ExitStatus.software)
                }
            }
            return ExitStatus.ok
        }
    }

    /// Decodes every line of `out`; returns the count and the sum of the provenance lines.
    func decodeFile(views: Bool = false) throws -> (Int, Int) {
        // No SHA-256 of the file: decoding does not need it (stages read records the same way).
        let input = try InputFile.open(out, hashing: false)
        let lines = LineReader(input)
        var decoder = RecordDecoder()
        var scanner = RecordViewScanner()
        var checksum = 0
        var n = 0
        while let line = try lines.next() {
            if views {
                let v: RecordView
                do { v = try scanner.view(line) } catch { throw StageFailure("\(out):\(lines.lineNumber): \(error)", status: ExitStatus.data) }
                checksum &+= v.line
                n += 1
                continue
            }
            let r: Record
            do { r = try decoder.decode(line) } catch { throw StageFailure("\(out):\(lines.lineNumber): \(error)", status: ExitStatus.data) }
            checksum &+= r.prov.line
            n += 1
        }
        return (n, checksum)
    }

    /// Writes one result line through the stages' output, so that a failed write is exit 74.
    func report(_ name: String, _ count: Int, since start: ContinuousClock.Instant) throws {
        let seconds = Double((Clock.now - start).components.attoseconds) / 1e18 + Double((Clock.now - start).components.seconds)
        let out = OutputSink.standardOutput()
        out.buffer.append("\(name)\t\(count)\t\(String(format: "%.3f", seconds))\t\(Int(Double(count) / seconds))\n")
        try out.flush()
    }
}

enum Clock {
    static var now: ContinuousClock.Instant { ContinuousClock.now }
}

/// Records shaped like tally-parse's output: transit events with card subjects, court events with
/// CJK attributes, every id different.
enum BenchRecords {
    static func make(count: Int) -> [Record] {
        var out: [Record] = []
        out.reserveCapacity(count)
        let sha = String(repeating: "9f86d081884c7d65", count: 4)
        let hex: [Character] = Array("0123456789abcdef")
        var x: UInt64 = 0x1234_5678
        for i in 0..<count {
            x = x &* 6_364_136_223_846_793_005 &+ 1
            var id = ""
            var v = x
            for _ in 0..<32 { id.append(hex[Int(v & 15)]); v = (v >> 4) | (v << 60) }
            if i % 10 == 0 {
                out.append(Record(
                    id: "court:" + id, source: "court", kind: "court.dishonest-debtor",
                    subject: Subject(scheme: "cn-rid", id: "99010619900101123" + "2"),
                    at: Timestamp(seconds: 1_795_000_000 + Int64(i)), amountFen: Int64(i % 9_000_000),
                    attrs: ["court": "990106", "case": "(2026)浙0106执\(i)号", "status": "unperformed", "category": "dishonest-debtor"],
                    prov: Provenance(file: "court-20261127.xml.gz", sha256: sha, line: i * 11 + 3)))
            } else {
                out.append(Record(
                    id: "transit:" + id, source: "transit", kind: "transit.fare-evasion",
                    subject: Subject(scheme: "transit-card", id: "80000000\(10_000_000 + i % 80_000_000)"),
                    at: Timestamp(seconds: 1_795_000_000 + Int64(i)), amountFen: 300,
                    attrs: ["line": "\(i % 16 + 1)", "station_in": "0113", "station_out": "0042", "fare_fen": "500", "paid_fen": "200"],
                    prov: Provenance(file: "transit-20261127.csv.gz", sha256: sha, line: i + 2)))
            }
        }
        return out
    }
}

/// A Codable mirror of `Record`, for timing Foundation's coders on the same data.
struct FoundationRecord: Codable {
    struct S: Codable { var scheme: String; var id: String? }
    struct P: Codable { var file: String; var sha256: String; var line: Int }
    var v: Int
    var id: String
    var source: String
    var kind: String
    var subject: S
    var at: String
    var amount_fen: Int64?
    var attrs: [String: String]
    var prov: P

    init(_ r: Record) {
        v = 1
        id = r.id
        source = r.source
        kind = r.kind
        subject = S(scheme: r.subject.scheme, id: r.subject.id)
        at = r.at.description
        amount_fen = r.amountFen
        attrs = Dictionary(uniqueKeysWithValues: r.attrs.map { ($0.key, $0.value) })
        prov = P(file: r.prov.file, sha256: r.prov.sha256, line: r.prov.line)
    }
}
