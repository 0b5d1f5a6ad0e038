import ArgumentParser
import TallyCLI
import TallyCore
import TallyIO

@main
struct ExplainCommand: TallyCommand {
    static let examples = Examples.explain
    static func main() { mainWithExamples() }
    static let configuration = CommandConfiguration(
        commandName: "tally-explain",
        abstract: "Say why one person has their score, record by record, and how to contest each record.",
        discussion: """
        Reads linked records and corrections (the files, or standard input for '-' or none; \
        in any order) and prints what a notice to the person would say: the score and tier and \
        what the tier means; each record with its part of the score today (points, age, decay, \
        cap), its expiry, its source file and line; each record's corrections and where they \
        leave it (under dispute, with the day it stops counting if the source does not decide; \
        retracted; expired; not scored); every coming day on which the tier changes if nothing \
        new arrives (fading, expiries and dispute deadlines included), with the score and tier \
        from then, exactly as tally-score would give them on that day; and, for each record \
        that counts against the person, the natural key to quote when contesting it. The parts \
        add up to the score exactly, as tally-score computes it.

        Find the person by key (--person p_…), or by an identifier with the secret that made \
        the keys (--id SCHEME:ID --secret-file FILE; for a card or account, also --crosswalk, \
        as tally-link was given, else its own unlinked key is used). --all writes one JSON \
        explanation per person (memory grows with the records read).

        Exit status: 0; 65 when any input line was rejected (not a valid record, or a malformed \
        correction), unless --keep-going; 66 for a missing file; 64 for \
        bad usage or an unsafe secret file.
        """,
        version: Stage.version)

    @Option(help: ArgumentHelp("The person key, p_ and 32 hex digits.", valueName: "key"))
    var person: String?

    @Option(help: ArgumentHelp("An identifier, SCHEME:ID (cn-rid:…, transit-card:…), to find the person by.", valueName: "scheme:id"))
    var id: String?

    @Option(help: ArgumentHelp("The secret file tally-link used (with --id).", valueName: "file"))
    var secretFile: String?

    @Option(parsing: .upToNextOption, help: ArgumentHelp("Crosswalk records, to find the person behind a card or account (with --id).", valueName: "file"))
    var crosswalk: [String] = []

    @Flag(help: "Explain every person, as JSON Lines.")
    var all = false

    @Option(help: ArgumentHelp("The rules file (YAML) (default: $TALLY_RULES, else the default rules shipped with tally: ../share/tally/pipelines/rules/default.yaml beside the program, or its source tree's pipelines/rules/default.yaml).", valueName: "file"))
    var rules: String?

    @Option(help: ArgumentHelp("The day to explain the score for, YYYY-MM-DD (China time).", valueName: "date"))
    var asOf: String

    @Option(help: ArgumentHelp("Correction records, if they are not in the input (repeat for more files).", valueName: "file"))
    var corrections: [String] = []

    @Flag(help: "Write the explanation as one JSON object instead of text.")
    var json = false

    @Flag(help: "Write the notice as a self-contained, printable HTML page (no scripts, no external resources): the score on a gauge across the tiers, every record, the forecast as a chart, disputed and retracted records apart, how to contest each. With --all, give --html-dir.")
    var html = false

    @Option(help: ArgumentHelp("With --all --html: write one page a person (p_….html) and index.html into this directory (created if missing; pages mode 0600).", valueName: "dir"))
    var htmlDir: String?

    @Option(help: ArgumentHelp("The language of the page's labels: en or zh.", valueName: "lang"))
    var lang: String = "en"

    @Option(help: ArgumentHelp("Where the feed declarations are (for rules checks and natural keys).", valueName: "dir"))
    var schemas: String?

    @Flag(help: "Exit 0 although lines were rejected (they are still reported).")
    var keepGoing = false

    @OptionGroup var input: InputOptions

    @OptionGroup var progress: ProgressOptions

    func validate() throws {
        guard [person != nil, id != nil, all].filter({ $0 }).count == 1 else { throw ValidationError("give exactly one of --person, --id and --all") }
        if let person, !(person.hasPrefix("p_") && person.count == 34 && person.dropFirst(2).allSatisfy({ $0.isHexDigit && !$0.isUppercase })) {
            throw ValidationError("--person must be p_ and 32 lower-case hex digits")
        }
        if let id {
            guard id.contains(":"), !id.hasPrefix(":"), !id.hasSuffix(":") else { throw ValidationError("--id must be SCHEME:ID, e.g. cn-rid:990106199001011232") }
            guard secretFile != nil else { throw ValidationError("--id needs --secret-file, the secret tally-link used") }
        }
        guard CivilDate.parse(asOf) != nil else { throw ValidationError("--as-of must be a date YYYY-MM-DD, not \"\(asOf)\"") }
        guard Language(rawValue: lang) != nil else { throw ValidationError("--lang must be en or zh, not \"\(lang)\"") }
        guard !(html && json) else { throw ValidationError("give one of --html and --json") }
        if all && html && htmlDir == nil { throw ValidationError("--all --html writes one page a person: give --html-dir DIR") }
        if htmlDir != nil && !(all && html) { throw ValidationError("--html-dir goes with --all --html") }
    }

    func run() throws {
        try Stage.run("tally-explain", progress: progress) {
            let feeds = try RulesFile.feeds(schemas)
            let loaded = try RulesFile.load(rules, feeds: feeds)
            let target: ExplainTarget
            if all {
                target = .all
            } else if let person {
                target = .person(person)
            } else {
                let secret = try Stage.readSecret(secretFile!)
                target = .person(try PersonFinder.key(for: id!, secret: secret, crosswalk: crosswalk, limits: input.limits))
            }
            var options = ExplainStage.Options(target: target, rules: loaded, asOf: CivilDate.parse(asOf)!, json: json, correctionPaths: corrections,
                                               paths: input.paths, limits: input.limits, naturalKeys: RulesFile.naturalKeys(feeds))
            options.keepGoing = keepGoing
            options.html = html
            options.htmlDirectory = htmlDir
            options.language = Language(rawValue: lang)!
            let stage = ExplainStage(options)
            return try stage.run()
        }
    }
}
