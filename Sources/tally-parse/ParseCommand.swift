import ArgumentParser
import TallyCLI
import TallyCore
import TallyIO

@main
struct ParseCommand: TallyCommand {
    static let examples = Examples.parse
    static func main() { mainWithExamples() }
    static let configuration = CommandConfiguration(
        commandName: "tally-parse",
        abstract: "Turn agency feed files into tally.record JSON Lines, accounting for every row.",
        discussion: """
        Reads the files (or standard input for '-' or none), plain or gzip, validates every row \
        against the feed's declaration in schemas/feeds/NAME.feed.json (its Table Schema or XSD, \
        plus identifier checksums, real dates and money with at most two decimals), and writes one \
        record per valid row to standard output. Rows the declaration filters (ordinary transit \
        rides) are counted and dropped.

        A bad row goes to --rejects as JSON Lines {file, line, field, code, reason, raw} (to \
        stderr, the first 20, without --rejects) and the stage goes on. A bad file (no or wrong \
        header, XML that is not well-formed or in another namespace, truncated gzip) stops that \
        file with one line naming file and line; what it already wrote stays. One summary line \
        per file goes to stderr: read = written + rejected + filtered. Gzip is inflated with \
        ISA-L; TALLY_INFLATE=zlib in the environment uses zlib, with the same verdicts.

        Exit status: 0 when every file was readable (rejected rows are reported, not fatal); 65 \
        when a file was unusable or had more than --max-rejects (100,000) rows rejected (it \
        stops there), or with --strict when any row was rejected; 66 for a missing \
        file; 64 for bad usage; 74 for a write failure; 78 when TALLY_INFLATE names neither \
        isal nor zlib.
        """,
        version: Stage.version)

    @Option(help: ArgumentHelp("The feed: court, tax, transit, commerce, crosswalk, corrections, or a path to a NAME.feed.json.", valueName: "name"))
    var feed: String

    @Option(help: ArgumentHelp("Where the feed declarations are (default: $TALLY_SCHEMAS, else ../share/tally/schemas/feeds beside the program, its source tree, or ./schemas/feeds).", valueName: "dir"))
    var schemas: String?

    @Option(help: ArgumentHelp("Write rejected rows here as JSON Lines (mode 0600: they hold raw identifiers).", valueName: "file"))
    var rejects: String?

    @Option(help: ArgumentHelp("Write the counts here as JSON: {read, written, rejected, filtered, files:[…]}.", valueName: "file"))
    var stats: String?

    @Flag(help: "Exit 65 when any row was rejected.")
    var strict = false

    @Option(help: ArgumentHelp("Stop a file (exit 65) once more than this many of its rows were rejected.", valueName: "n"))
    var maxRejects = ParseStage.defaultMaxRejects

    @OptionGroup var input: InputOptions

    @OptionGroup var progress: ProgressOptions

    func validate() throws {
        guard maxRejects >= 1 else { throw ValidationError("--max-rejects must be at least 1") }
    }

    func run() throws {
        try Stage.run("tally-parse", progress: progress) {
            let loaded = try FeedCatalog.loadForStage(feed, schemasDirectory: schemas)
            var options = ParseStage.Options(feed: loaded, paths: input.paths, limits: input.limits, rejectsPath: rejects,
                                             statsPath: stats, strict: strict, today: Timestamp.now.chinaDate)
            options.maxRejects = maxRejects
            let stage = ParseStage(options)
            return try stage.run()
        }
    }
}
