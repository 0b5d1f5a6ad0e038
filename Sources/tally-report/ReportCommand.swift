import ArgumentParser
import TallyCLI
import TallyCore
import TallyIO

@main
struct ReportCommand: TallyCommand {
    static let examples = Examples.report
    static func main() { mainWithExamples() }
    static let configuration = CommandConfiguration(
        commandName: "tally-report",
        abstract: "Write one night of pipelines/nightly.sh as a self-contained HTML page, with charts.",
        discussion: """
        Reads what nightly.sh left in OUTDIR for the night: its scores (scores-DATE.jsonl) and \
        the night before's, its run summary (runs/*.json), tally-score's counts \
        (logs/score-DATE.json) and the rejected rows (rejects/FILE.jsonl). Writes one page: a \
        histogram of the scores over the tier bands; the people in each tier and the change \
        since the night before; the principal reason codes by how many people's scores they \
        lower; per feed file, rows read, written, rejected and filtered, and the reject codes; \
        the disputes open, lapsed and retracted; and the people by tier over the last --nights \
        nights. No scripts and no external resources; every chart has a title and a text \
        alternative. nightly.sh writes OUTDIR/report-DATE.html each night.

        Exit status: 0; 65 for a scores file that is not tally.score lines of these rules; 66 \
        when the night has no scores file; 64 for bad usage; 74 for a write failure.
        """,
        version: Stage.version)

    @Argument(help: ArgumentHelp("nightly.sh's OUTDIR.", valueName: "outdir"))
    var outDirectory: String

    @Option(help: ArgumentHelp("The night, YYYY-MM-DD (default: the latest night scored in OUTDIR).", valueName: "date"))
    var asOf: String?

    @Option(help: ArgumentHelp("How many nights the trend shows.", valueName: "n"))
    var nights = 14

    @Option(help: ArgumentHelp("The rules the scores were made with (default: $TALLY_RULES, else the default rules shipped with tally).", valueName: "file"))
    var rules: String?

    @Option(help: ArgumentHelp("Where the feed declarations are, to check the rules (default: as tally-score finds them).", valueName: "dir"))
    var schemas: String?

    @Option(help: ArgumentHelp("The language of the labels: en or zh.", valueName: "lang"))
    var lang: String = "en"

    @Option(help: ArgumentHelp("Write the page here (through a temporary file and a rename) instead of to standard output.", valueName: "file"))
    var output: String?

    func validate() throws {
        if let asOf { guard CivilDate.parse(asOf) != nil else { throw ValidationError("--as-of must be a date YYYY-MM-DD, not \"\(asOf)\"") } }
        guard (1...366).contains(nights) else { throw ValidationError("--nights must be from 1 to 366") }
        guard Language(rawValue: lang) != nil else { throw ValidationError("--lang must be en or zh, not \"\(lang)\"") }
    }

    func run() throws {
        try Stage.run("tally-report") {
            let loaded = try RulesFile.load(rules, feeds: try RulesFile.feeds(schemas))
            guard let night = asOf.flatMap(CivilDate.parse) ?? NightReport.nightsScored(in: outDirectory).last else {
                throw StageFailure("\(outDirectory): no scores-DATE.jsonl here: is it nightly.sh's OUTDIR?", status: ExitStatus.noInput)
            }
            let page = try NightReport(outDirectory: outDirectory, asOf: night, rules: loaded, nights: nights, language: Language(rawValue: lang)!).render()
            try Stage.writePage(page, to: output)
            return ExitStatus.ok
        }
    }
}
