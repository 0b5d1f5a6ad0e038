import ArgumentParser
import TallyCLI
import TallyCore
import TallyIO

/// `tally-bench link-data`: writes a crosswalk and a record stream for timing tally-link.
struct LinkData: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "link-data",
        abstract: "Write crosswalk.link records and event records for timing tally-link.",
        discussion: "Identifiers are cards and shop accounts, two per person. Of the events, 70% name a crosswalk identifier, 15% a resident number (direct) and 15% a card nobody claims (unlinked).")

    @Option(help: "How many crosswalk identifiers.")
    var identifiers: Int = 5_000_000

    @Option(help: "How many event records.")
    var records: Int = 10_000_000

    @Option(help: ArgumentHelp("Where to write the crosswalk records.", valueName: "file"))
    var crosswalk: String

    @Option(help: ArgumentHelp("Where to write the event records.", valueName: "file"))
    var out: String

    static func identifier(_ i: Int) -> Subject {
        i % 2 == 0 ? Subject(scheme: "transit-card", id: "8" + pad(i, 15)) : Subject(scheme: "shop-account", id: "A" + pad(i, 10))
    }
    static func person(_ i: Int) -> String { residentID(i / 2) }

    /// A valid resident number for each `n`, all different: region 99 and four digits, a birth
    /// date from 1900-01-01 on, a sequence number, and the check character.
    static func residentID(_ n: Int) -> String {
        let birth = CivilDate(year: 1900, month: 1, day: 1)!.adding(days: (n / 1000) % 36_500)
        let date = ByteBuffer(capacity: 16)
        date.appendDate(birth)
        let first17 = Array(("99" + pad(n / 36_500_000, 4) + date.string.replacingOccurrences(of: "-", with: "") + pad(n % 1000, 3)).utf8)
        let check = first17.withUnsafeBytes { Identifier.residentIDCheck($0) }
        return String(decoding: first17 + [check], as: UTF8.self)
    }
    static func pad(_ v: Int, _ width: Int) -> String {
        let s = String(v)
        return String(repeating: "0", count: max(0, width - s.count)) + s
    }

    func run() throws {
        try Stage.run("tally-bench") {
            let sha = String(repeating: "ab", count: 32)
            let cw = try OutputSink.create(crosswalk)
            for i in 0..<identifiers {
                Record(id: "crosswalk:" + Self.pad(i, 32), source: "crosswalk", kind: "crosswalk.link", subject: Self.identifier(i),
                       at: Timestamp(seconds: 1_795_000_000), attrs: ["person": Self.person(i)],
                       prov: Provenance(file: "crosswalk-20261101.csv", sha256: sha, line: i + 2)).encode(into: cw.buffer)
                try cw.flushIfFull()
            }
            try cw.finish()
            let events = try OutputSink.create(out)
            var x: UInt64 = 0x9E37_79B9
            for i in 0..<records {
                x = x &* 6_364_136_223_846_793_005 &+ 1
                let pick = Int(x >> 33) % 100
                let n = Int(x >> 8) % max(identifiers, 1)
                let subject: Subject
                switch pick {
                case 0..<70: subject = Self.identifier(n)
                case 70..<85: subject = Subject(scheme: "cn-rid", id: Self.person(n))
                default: subject = Subject(scheme: "transit-card", id: "9" + Self.pad(n, 15))
                }
                Record(id: "transit:" + Self.pad(i, 32), source: "transit", kind: "transit.fare-evasion", subject: subject,
                       at: Timestamp(seconds: 1_795_000_000 + Int64(i)), amountFen: 300,
                       attrs: ["line": "\(i % 16 + 1)", "station_in": "0113", "station_out": "0042", "fare_fen": "500", "paid_fen": "200"],
                       prov: Provenance(file: "transit-20261127.csv.gz", sha256: sha, line: i + 2)).encode(into: events.buffer)
                try events.flushIfFull()
            }
            try events.finish()
            return ExitStatus.ok
        }
    }
}
