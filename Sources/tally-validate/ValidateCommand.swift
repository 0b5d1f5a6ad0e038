import ArgumentParser
import TallyCLI
import TallyCore
import TallyIO

@main
struct ValidateCommand: TallyCommand {
    static let examples = Examples.validate
    static func main() { mainWithExamples() }
    static let configuration = CommandConfiguration(
        commandName: "tally-validate",
        abstract: "Check feed files against their schemas: a report and an exit code, for cron gates and by hand.",
        discussion: """
        Uses the same readers and checks as tally-parse (one definition of valid), and goes on \
        past every problem to report them all. CSV problems use Frictionless's codes and \
        numbering (the header is row 1): missing-label, extra-label, incorrect-label, blank-row, \
        missing-cell, extra-cell, type-error, constraint-error, primary-key, encoding-error. XML \
        problems are libxml2's XSD errors (schema-error) with their lines. tally's own checks, \
        which a Table Schema or an XSD cannot express, have codes of their own: identifier-error \
        (checksums, birth dates), agreement-error, structure-error (quotes where RFC 4180 allows \
        none), format-error (a file that cannot be read to the end).

        Output: a summary line per file, then every code with its count and the first \
        --max-errors problems with their row, line and field. --json writes one report object \
        per file per line instead (schemas/validate-report.schema.json).

        Gzip is inflated with ISA-L; TALLY_INFLATE=zlib in the environment uses zlib, with the \
        same verdicts.

        Exit status: 0 when every file is valid, 65 when any is not, 66 for a missing file, 64 \
        for bad usage, 78 when TALLY_INFLATE names neither isal nor zlib.
        """,
        version: Stage.version)

    @Option(help: ArgumentHelp("The feed: court, tax, transit, commerce, crosswalk, corrections, or a path to a NAME.feed.json.", valueName: "name"))
    var feed: String

    @Option(help: ArgumentHelp("Where the feed declarations are (default: $TALLY_SCHEMAS, else ../share/tally/schemas/feeds beside the program, its source tree, or ./schemas/feeds).", valueName: "dir"))
    var schemas: String?

    @Flag(help: "Write one JSON report per file per line instead of text.")
    var json = false

    @Option(help: ArgumentHelp("List at most this many problems per file (all are counted).", valueName: "n"))
    var maxErrors: Int = 20

    @OptionGroup var input: InputOptions

    @OptionGroup var progress: ProgressOptions

    func validate() throws {
        guard maxErrors >= 0 else { throw ValidationError("--max-errors must be 0 or more") }
    }

    func run() throws {
        try Stage.run("tally-validate", progress: progress, streams: false) {
            let loaded = try FeedCatalog.loadForStage(feed, schemasDirectory: schemas)
            return try ValidateStage(.init(feed: loaded, paths: input.paths, limits: input.limits, json: json,
                                           maxErrors: maxErrors, today: Timestamp.now.chinaDate)).run()
        }
    }
}
