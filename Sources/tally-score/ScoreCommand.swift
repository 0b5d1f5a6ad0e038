import ArgumentParser
#if canImport(Glibc)
import Glibc
#endif
import TallyCLI
import TallyCore
import TallyIO

@main
struct ScoreCommand: TallyCommand {
    static let examples = Examples.score
    static func main() { mainWithExamples() }
    static let configuration = CommandConfiguration(
        commandName: "tally-score",
        abstract: "Score every person of a linked record stream, with the reasons behind each score.",
        discussion: """
        Reads corrections (--corrections, and any in the input, wherever they are) and linked \
        tally.record JSON Lines (the files, or standard input for '-' or none), and writes one \
        tally.score line per person, ordered by person key.

        score = base + the sum over kinds of the capped sum of points × 0.5^(age / half-life), \
        over records at or before the end of --as-of (China time), not expired and not \
        retracted; each record's part is rounded to millionths of a point, and the total is \
        rounded half to even once, then clamped to the rules' range. Records after --as-of are \
        ignored and counted. The lowest tier is reached only through a decision-grade record \
        (the rules name the sources) that counts and is not under open dispute; without one, \
        a score in the lowest tier's range gets the next tier.

        Corrections (dispute, uphold, retract, reinstate; the latest decided_at wins) may come \
        anywhere: the output is the same bytes. Only per-person sums are kept, so memory grows \
        with people, not records: the input is read once while its corrections come first (as \
        tally-store dump writes them), and at the first correction after a record it is read \
        again with every correction known. A stream (standard input, a pipe) is copied to \
        TMPDIR as it is read so that it can be, and the copy is removed at exit or on a signal; \
        a stream whose copy would pass 16 GiB and that holds a late correction stops the stage \
        (65). The copy costs about two thirds more time on standard input (BENCHMARKS.md); \
        --corrections-first skips it where the order is known, as nightly.sh does for the \
        ledger's dump.

        With --store and --persons it reads no lines: the scoring store's corrections, then its \
        rows (tally-store update-scoring), each with the person key tally-link --store found for \
        its identifier, on two threads on a machine with two cores or more: the same bytes as \
        the ledger's dump relinked and scored, without parsing the history as JSON. Where the \
        store has a copy of its rows in person order (tally-store order-scoring), that copy is \
        read instead, each thread taking half of it, then the rows appended since and the \
        current versions of rows rewritten since: the same bytes, about twice as fast. A copy \
        that does not match its store is not read, and a line on stderr says so.

        reasons: up to four kinds that lower the score, most harmful first, each naming its \
        two most harmful records (tally-explain lists all). The output names the rules \
        file's SHA-256; the same records in any order give the same bytes.

        Exit status: 0; 65 for a bad rules file (its line is named), a late correction \
        in a stream too large to copy (or with --corrections-first), or any rejected line (unless --keep-going: tally-score reads tally's own output, \
        so a bad line means corruption upstream); 66 for a missing file; 64 for bad usage; 74 \
        for a write failure.
        """,
        version: Stage.version)

    @Option(help: ArgumentHelp("The rules file (YAML) (default: $TALLY_RULES, else the default rules shipped with tally: ../share/tally/pipelines/rules/default.yaml beside the program, or its source tree's pipelines/rules/default.yaml).", valueName: "file"))
    var rules: String?

    @Option(help: ArgumentHelp("The day to score for, YYYY-MM-DD (China time).", valueName: "date"))
    var asOf: String

    @Option(help: ArgumentHelp("Correction records to apply, read before the input (repeat for more files).", valueName: "file"))
    var corrections: [String] = []

    @Option(help: ArgumentHelp("Where the feed declarations are, to check the rules' kinds (default: $TALLY_SCHEMAS, else ../share/tally/schemas/feeds beside the program, its source tree, or ./schemas/feeds).", valueName: "dir"))
    var schemas: String?

    @Flag(help: "Promise that a stream's corrections all come before its records (as tally-store dump writes them): no copy of standard input or a pipe is kept, and a correction after a record there stops the stage (65). Files need no copy either way.")
    var correctionsFirst = false

    @Option(help: ArgumentHelp("Score the scoring store beside the ledger (tally-store update-scoring) instead of record lines: its corrections, then its rows. Needs --persons. No input files then.", valueName: "dir"))
    var store: String?

    @Option(help: ArgumentHelp("With --store: the person key of each of its identifiers, as tally-link --store wrote them for tonight's crosswalk.", valueName: "file"))
    var persons: String?

    @Option(help: ArgumentHelp("With --store: identifiers whose rows are not scored (one a line, as a record's subject is written: {\"scheme\":\"…\",\"id\":\"…\"}). A partition of the history keeps the rows of an identifier that has moved to another partition; this names them.", valueName: "file"))
    var skipIdentifiers: String?

    @Option(help: ArgumentHelp("With --store: score on this many threads, 1 or 2, each taking half the people (default: 2 on a machine with two cores or more). The output is the same bytes.", valueName: "n"))
    var threads: Int?

    @OptionGroup var report: ReportOptions

    @OptionGroup var input: InputOptions

    @OptionGroup var progress: ProgressOptions

    func validate() throws {
        guard CivilDate.parse(asOf) != nil else { throw ValidationError("--as-of must be a date YYYY-MM-DD, not \"\(asOf)\"") }
        guard (store == nil) == (persons == nil) else { throw ValidationError("--store and --persons go together") }
        guard threads == nil || threads == 1 || threads == 2 else { throw ValidationError("--threads is 1 or 2") }
        guard skipIdentifiers == nil || store != nil else { throw ValidationError("--skip-identifiers goes with --store") }
        guard store == nil || input.files.isEmpty else { throw ValidationError("--store scores the store's rows: no input files with it") }
    }

    func run() throws {
        try Stage.run("tally-score", progress: progress) {
            let loaded = try RulesFile.load(rules, feeds: try RulesFile.feeds(schemas))
            let stage = ScoreStage(.init(rules: loaded, asOf: CivilDate.parse(asOf)!, correctionPaths: corrections, paths: input.paths,
                                         limits: input.limits, rejectsPath: report.rejects, statsPath: report.stats, strict: !report.keepGoing,
                                         copyStreams: !correctionsFirst))
            if let store, let persons {
                let parts = threads ?? (sysconf(Int32(_SC_NPROCESSORS_ONLN)) >= 2 ? 2 : 1)
                return try stage.runStore(store: store, persons: persons, parts: parts, skipping: skipIdentifiers)
            }
            return try stage.run()
        }
    }
}
