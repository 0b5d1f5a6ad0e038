import ArgumentParser
import TallyCLI
import TallyCore
import TallyIO
import TallySynth

@main
struct SynthCommand: TallyCommand {
    static let examples = Examples.synth
    static func main() { mainWithExamples() }
    static let configuration = CommandConfiguration(
        commandName: "tally-synth",
        abstract: "Write every agency feed for a synthetic population, deterministically.",
        discussion: """
        For each day from --start, writes court-YYYYMMDD.xml[.gz] (gzip on some days, GB18030 on \
        some), tax-YYYYMMDD.csv[.gz] (GB18030 with CRLF, or UTF-8 with a BOM), \
        transit-YYYYMMDD.csv.gz, commerce-YYYYMMDD.csv[.gz], crosswalk-YYYYMMDD.csv and \
        corrections-YYYYMMDD.csv into --out, plus people.csv (every identifier of every person \
        and organisation, and the day the crosswalk first lists it) and truth.jsonl (each \
        deliberately faulty row: file, line, field, fault).

        With --history-days N, most people also pay a monthly tax and some a monthly \
        instalment, from up to N days before --start: those reported before --start go into \
        tax- and commerce- files dated the day before it, the later ones into the daily files. \
        Most people miss a payment now and then, risky people often, and one in six never.

        Every identifier is valid by checksum but uses a region code beginning 99, which belongs \
        to no real county. The same flags give byte-identical files.

        Exit status: 0 on success, 64 for bad usage, 74 when a file cannot be written.
        """,
        version: Stage.version)

    @Option(help: "How many people (organisations are one in fifty, at least 5).")
    var people: Int = 1000

    @Option(help: "How many days of feeds.")
    var days: Int = 1

    @Option(help: ArgumentHelp("The first day, YYYY-MM-DD.", valueName: "date"))
    var start: String = "2026-11-01"

    @Option(help: "The seed; the same seed and flags give the same files.")
    var seed: UInt64 = 1

    @Option(help: ArgumentHelp("The directory to write into (created if missing).", valueName: "dir"))
    var out: String

    @Option(help: ArgumentHelp("The chance, 0 to 1, that a row carries one deliberate fault.", valueName: "rate"))
    var dirty: Double = 0

    @Option(help: ArgumentHelp("Court judgments per person per day (benchmarks raise it to make large court files).", valueName: "rate"))
    var courtRate: Double = 0.0004

    @Option(help: ArgumentHelp("Days of monthly tax payments and instalments before --start (0: none), written to tax- and commerce- files dated the day before --start; the daily files then carry the same monthly payments.", valueName: "days"))
    var historyDays: Int = 0

    func validate() throws {
        guard courtRate >= 0 && courtRate <= 10 else { throw ValidationError("--court-rate must be from 0 to 10") }
        guard people >= 1 else { throw ValidationError("--people must be at least 1") }
        guard days >= 1 && days <= 3660 else { throw ValidationError("--days must be from 1 to 3660") }
        guard CivilDate.parse(start) != nil else { throw ValidationError("--start must be a date YYYY-MM-DD, not \"\(start)\"") }
        guard (0...1).contains(dirty) else { throw ValidationError("--dirty must be from 0 to 1") }
        guard (0...3660).contains(historyDays) else { throw ValidationError("--history-days must be from 0 to 3660") }
    }

    func run() throws {
        try Stage.run("tally-synth") {
            try Directory.create(out)
            var options = SynthOptions(people: people, days: days, start: CivilDate.parse(start)!, seed: seed,
                                       outDirectory: out, dirtyRate: dirty, courtRate: courtRate)
            options.historyDays = historyDays
            let summary = try Synthesizer(options).run()
            Stage.report("tally-synth", "\(out): \(summary.files) files, \(summary.rows) rows, \(summary.dirtyRows) with faults")
            return ExitStatus.ok
        }
    }
}
