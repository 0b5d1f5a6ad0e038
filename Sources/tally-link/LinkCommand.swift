import ArgumentParser
import TallyCLI
import TallyCore
import TallyIO

@main
struct LinkCommand: TallyCommand {
    static let examples = Examples.link
    static func main() { mainWithExamples() }
    static let configuration = CommandConfiguration(
        commandName: "tally-link",
        abstract: "Give every record a pseudonymous person key, from the crosswalk and never from a guess.",
        discussion: """
        Reads tally.record JSON Lines (the files, or standard input for '-' or none) and writes \
        each record with "person" and "link" added. A cn-rid subject is its own person (link \
        "direct"); an identifier the crosswalk maps to a resident number links to that person \
        ("crosswalk"); any other identifier keeps a key of its own ("unlinked"), so its records \
        add up but are never merged with anyone's. Names are never used. Correction records pass \
        through unchanged: they address record ids, not people.

        The crosswalk is tally-parse --feed crosswalk output (crosswalk.link records, plain or \
        gzip), all of it, every day's; it is loaded once into memory (16 bytes per identifier \
        slot). With --fold FILE, the crosswalk as folded on earlier runs is read from FILE (16 \
        bytes per identifier) and only the --crosswalk files it does not hold are parsed; FILE is \
        then brought up to date with them (the nightly pipeline keeps one, so a night reads its \
        own crosswalk file, not every one since the first). An identifier mapped to two persons is a conflict: every crosswalk line behind it \
        is reported on stderr and in --stats, and it stays unlinked.

        person = "p_" + the first 32 hex digits of HMAC-SHA256(secret, "SCHEME:ID"), where the \
        identifier is the person's resident number for direct and crosswalk links. A key once \
        made is remembered for the rest of the run (in a cache of 32 to 64 bytes per crosswalk \
        identifier, at most 256 MiB), so a person's later records cost no HMAC; --stats counts \
        the HMACs as keys_made. The secret is \
        the --secret-file's bytes without trailing line ends, at least 16 of them; the file must \
        be readable by its owner only (chmod 600), as ssh demands of a private key.

        Exit status: 0 when all input was read and every line was a valid record; 65 when any \
        line was rejected (unless --keep-going: tally-link reads tally's own output, so a bad \
        line means corruption upstream), for a crosswalk that is not crosswalk records, or with \
        --strict when any identifier is in conflict; 66 for a missing file; 64 for bad usage or \
        an unsafe secret file; 74 for a write failure.
        """,
        version: Stage.version)

    @Option(parsing: .upToNextOption, help: ArgumentHelp("Crosswalk records (tally-parse --feed crosswalk output), one or more files.", valueName: "file"))
    var crosswalk: [String] = []

    @Option(help: ArgumentHelp("The file holding the secret for person keys (mode 0600, at least 16 bytes). Not needed with --fold-only.", valueName: "file"))
    var secretFile: String?

    @Option(help: ArgumentHelp("The crosswalk folded into this binary file (mode 0600): the --crosswalk files it holds (known by their stamp: device, inode, size, modification and change time) are not read again, only the others, and it is brought up to date with them. Made from every file when missing, damaged, or holding a file not given now. The links are the same as without it.", valueName: "file"))
    var fold: String?

    @Option(help: ArgumentHelp("With --fold: how its identifiers are found. auto: by binary search when the identifiers to link are few against the fold (as a night's are), else from one table built of it all; search and table force one way (for measuring; the links are the same).", valueName: "auto|search|table"))
    var foldLookups: FoldLookups = .auto

    enum FoldLookups: String, ExpressibleByArgument { case auto, search, table }

    @Flag(help: "With --fold: only bring the fold up to date with the --crosswalk files (or make it), linking nothing. Deleting the fold and running this makes it again, the same bytes.")
    var foldOnly = false

    @Flag(help: "Drop subject.id (keep its scheme), so later stages never see raw identifiers.")
    var redact = false

    @Flag(help: "Link records that already carry a person again, from today's crosswalk (as the nightly pipeline does before scoring), instead of rejecting them.")
    var relink = false

    @Option(help: ArgumentHelp("Link a scoring store's identifiers (tally-store update-scoring) instead of record lines: each once, into the persons file --output, which tally-score --store reads. No input files then.", valueName: "dir"))
    var store: String?

    @Option(help: ArgumentHelp("With --store: the persons file to write (mode 0600, through a temporary file and a rename).", valueName: "file"))
    var output: String?

    @Option(help: ArgumentHelp("With --store: last night's persons file. An identifier that no crosswalk file new since (by CRC-64 and size) names keeps its key from it; the others are linked. The file written is the same bytes as without it. Not used (and said so) when made with another secret, or with a crosswalk file not given now.", valueName: "file"))
    var previous: String?

    @Option(help: ArgumentHelp("Write each input file's records to this directory under the file's base name (mode 0600, through a temporary file and a rename once the file is read to its end) instead of all to standard output: the crosswalk is loaded once for many files.", valueName: "dir"))
    var outputDir: String?

    @Option(help: ArgumentHelp("Write rejected lines here as JSON Lines (mode 0600).", valueName: "file"))
    var rejects: String?

    @Option(help: ArgumentHelp("Write the counts here as JSON: {read, written, rejected, direct, crosswalk, unlinked, corrections, conflicts, keys_made, …}.", valueName: "file"))
    var stats: String?

    @Flag(help: "Also exit 65 when any crosswalk identifier is in conflict.")
    var strict = false

    @Flag(help: "Exit 0 although lines were rejected (they are still reported).")
    var keepGoing = false

    @OptionGroup var input: InputOptions

    @OptionGroup var progress: ProgressOptions

    func validate() throws {
        guard !crosswalk.isEmpty else { throw ValidationError("give the crosswalk with --crosswalk FILE... (tally-parse --feed crosswalk output)") }
        guard !foldOnly || fold != nil else { throw ValidationError("--fold-only goes with --fold FILE") }
        guard !foldOnly || (store == nil && outputDir == nil && input.files.isEmpty && !relink && !redact) else {
            throw ValidationError("--fold-only links nothing: no input files, --store, --output-dir, --relink or --redact with it")
        }
        guard foldOnly || secretFile != nil else { throw ValidationError("give the secret with --secret-file FILE") }
        guard fold == nil || !crosswalk.contains(fold!) else { throw ValidationError("--fold names one of the --crosswalk files") }
        guard (store == nil) == (output == nil) else { throw ValidationError("--store and --output go together") }
        guard previous == nil || store != nil else { throw ValidationError("--previous goes with --store") }
        guard previous == nil || previous != output else { throw ValidationError("--previous and --output must be two files") }
        guard store == nil || (input.files.isEmpty && !relink && !redact && outputDir == nil) else {
            throw ValidationError("--store links the store's identifiers: no input files, --relink, --redact or --output-dir with it")
        }
        if outputDir != nil {
            guard !input.files.isEmpty, !input.files.contains("-") else { throw ValidationError("--output-dir names each output after its input file: give files, not standard input") }
            let bases = input.files.map(LinkStage.baseName)
            guard Set(bases).count == bases.count else { throw ValidationError("--output-dir: two input files have one base name, so one output would replace the other") }
        }
    }

    func run() throws {
        try Stage.run("tally-link", progress: progress) {
            let secret = try secretFile.map { try Stage.readSecret($0) } ?? []
            var options = LinkStage.Options(crosswalkPaths: crosswalk, secret: secret, redact: redact, paths: input.paths, limits: input.limits,
                                            rejectsPath: rejects, statsPath: stats, strict: strict)
            options.relink = relink
            options.keepGoing = keepGoing
            options.outputDirectory = outputDir
            options.previousPath = previous
            options.foldPath = fold
            options.foldOnly = foldOnly
            options.searchFold = foldLookups == .auto ? nil : foldLookups == .search
            let stage = LinkStage(options)
            if let store, let output { return try stage.runStore(store: store, output: output) }
            return try stage.run()
        }
    }
}
