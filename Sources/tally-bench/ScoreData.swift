import ArgumentParser
import TallyCLI
import TallyCore
import TallyIO

/// `tally-bench score-data`: writes linked records for timing tally-score.
struct ScoreData: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "score-data",
        abstract: "Write linked records over N people for timing tally-score.",
        discussion: "Kinds are drawn from every scored kind (transit and commerce most often, court rarely), dates from the two years before 2026-11-28; one record in a thousand gets a correction, written first to --corrections.")

    @Option(help: "How many people.")
    var people: Int = 1_000_000

    @Option(help: "How many records.")
    var records: Int = 10_000_000

    @Option(help: ArgumentHelp("Where to write the records.", valueName: "file"))
    var out: String

    @Option(help: ArgumentHelp("Where to write the corrections.", valueName: "file"))
    var corrections: String

    @Option(help: ArgumentHelp("Give records the subjects of a city's feeds, and write the crosswalk here: each person has a resident number, a transit card and a shop account; records name the card (55%), the account (25%) or the number (20%); the crosswalk maps 90% of the cards and 70% of the accounts to their person (the rest stay unlinked). Without it every subject is a resident number.", valueName: "file"))
    var cityCrosswalk: String?

    func run() throws {
        try Stage.run("tally-bench") {
            let kinds: [(String, Int)] = [("transit.fare-evasion", 30), ("transit.no-tap-out", 10), ("transit.turnstile-jump", 5), ("commerce.on-time", 30),
                                          ("commerce.late", 8), ("commerce.default", 2), ("commerce.chargeback", 2), ("tax.paid", 8), ("tax.late", 2),
                                          ("tax.arrears", 1), ("tax.evasion", 1), ("court.dishonest-debtor", 1), ("court.consumption-restriction", 1)]
            var table: [String] = []
            for (k, w) in kinds { table += Array(repeating: k, count: w) }
            let sha = String(repeating: "cd", count: 32)
            let end = Timestamp(chinaMidnightOf: CivilDate(year: 2026, month: 11, day: 28)!).seconds
            let sink = try OutputSink.create(out), fixes = try OutputSink.create(corrections)
            var x: UInt64 = 0x5EED
            func next() -> UInt64 { x = x &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407; return x >> 11 }
            for i in 0..<records {
                let who = Int(next() % UInt64(people))
                let kind = table[Int(next() % UInt64(table.count))]
                let source = String(kind.prefix { $0 != "." })
                let id = source + ":" + SourceNames.hex16(UInt64(i) &* 0x9E37_79B9_7F4A_7C15) + SourceNames.hex16(UInt64(i))
                var subject = Subject(scheme: "cn-rid", id: LinkData.residentID(who))
                if cityCrosswalk != nil {
                    let pick = next() % 100
                    if pick < 55 { subject = Self.card(who) } else if pick < 80 { subject = Self.account(who) }
                }
                let r = Record(id: id, source: source, kind: kind, subject: subject,
                               at: Timestamp(seconds: end - Int64(next() % (730 * 86_400))), amountFen: source == "court" || source == "tax" ? Int64(next() % 50_000_000) : nil,
                               attrs: ["n": String(i)], prov: Provenance(file: source + "-20261101.csv", sha256: sha, line: i + 2),
                               person: "p_" + SourceNames.hex16(UInt64(who) &* 0xD6E8_FEB8_6659_FD93) + SourceNames.hex16(UInt64(who)), link: .direct)
                r.encode(into: sink.buffer)
                try sink.flushIfFull()
                if i % 1000 == 7 {
                    let action = ["dispute", "retract", "uphold", "reinstate"][Int(next() % 4)]
                    Record(id: "corrections:" + SourceNames.hex16(UInt64(i)) + SourceNames.hex16(0), source: "corrections", kind: "correction." + action,
                           subject: Subject(scheme: "record", id: id), at: Timestamp(seconds: end - 86_400), target: id,
                           prov: Provenance(file: "corrections-20261127.csv", sha256: sha, line: i / 1000 + 2)).encode(into: fixes.buffer)
                    try fixes.flushIfFull()
                }
            }
            try sink.finish()
            try fixes.finish()
            if let cityCrosswalk {
                let cw = try OutputSink.create(cityCrosswalk)
                var line = 2
                for who in 0..<people {
                    for (subject, share) in [(Self.card(who), 90), (Self.account(who), 70)] where ((UInt64(who) &* 0x9E37_79B9_7F4A_7C15) >> 40) % 100 < share {
                        Record(id: "crosswalk:" + SourceNames.hex16(UInt64(line) &* 0xD6E8_FEB8_6659_FD93) + SourceNames.hex16(UInt64(line)), source: "crosswalk",
                               kind: "crosswalk.link", subject: subject, at: Timestamp(seconds: end - 800 * 86_400), attrs: ["person": LinkData.residentID(who)],
                               prov: Provenance(file: "crosswalk-20241101.csv", sha256: sha, line: line)).encode(into: cw.buffer)
                        line += 1
                        try cw.flushIfFull()
                    }
                }
                try cw.finish()
            }
            return ExitStatus.ok
        }
    }

    static func card(_ who: Int) -> Subject { Subject(scheme: "transit-card", id: "8" + LinkData.pad(who, 15)) }
    static func account(_ who: Int) -> Subject { Subject(scheme: "shop-account", id: "A" + LinkData.pad(who, 10)) }
}
