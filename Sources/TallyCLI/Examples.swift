import ArgumentParser
#if canImport(Glibc)
import Glibc
#endif

/// The EXAMPLES section that ends every program's `--help` (and so its manual page).
///
/// Each example is a comment and its commands, one to a line (a line that starts with spaces
/// continues the one before), short enough that an 80-column help never wraps them. A program's
/// examples run as written, in order, in one shell, in a directory where the first example of
/// tally-synth has made `feeds/`; ExamplesTests runs every one of them.
public struct Example: Sendable {
    public let what: String
    public let lines: [String]

    public init(_ what: String, _ lines: String...) {
        self.what = what
        self.lines = lines
    }
}

public enum Examples {
    /// The command that makes the files every other program's examples read.
    public static let feeds = "tally-synth --people 1000 --days 2 --history-days 60 --seed 7 --out feeds"

    static let secret = Example("A secret for person keys, readable by its owner only",
                                "(umask 077; head -c 32 /dev/urandom | base64 > tally.secret)")
    static let crosswalk = Example("The crosswalk, parsed", "tally-parse --feed crosswalk feeds/crosswalk-* > crosswalk.jsonl")
    static let linked = Example("Every feed parsed and linked into one record stream",
                                "for f in court tax transit commerce corrections; do",
                                "    tally-parse --feed $f feeds/$f-*; done \\",
                                "    | tally-link --crosswalk crosswalk.jsonl --secret-file tally.secret \\",
                                "    > linked.jsonl")

    /// The text of the section, for the end of a discussion.
    public static func section(_ examples: [Example], needsFeeds: Bool = true) -> String {
        var text = "EXAMPLES:\n"
        if needsFeeds { text += "\n  # They run in order, in one shell, in a directory where this made feeds/\n  $ \(feeds)\n" }
        for example in examples {
            text += "\n" + commentLines(example.what).map { "  # " + $0 + "\n" }.joined()
            // A line that starts with spaces continues the command before it; others are new.
            for line in example.lines { text += (line.hasPrefix(" ") ? "  " : "  $ ") + line + "\n" }
        }
        return text
    }

    /// The comment in lines of at most 74 characters, so that none is wrapped by the help.
    static func commentLines(_ text: String) -> [String] {
        var lines: [String] = []
        var line = ""
        for word in text.split(separator: " ") {
            if !line.isEmpty && line.count + 1 + word.count > 74 { lines.append(line); line = "" }
            line += (line.isEmpty ? "" : " ") + word
        }
        return lines + [line]
    }

    public static let synth = section([
        Example("Two days of every feed for 1,000 synthetic people, after 60 days of monthly payments (what the other programs' examples read)",
                feeds),
        Example("One day with one row in twenty deliberately faulty; truth.jsonl names each fault",
                "tally-synth --people 200 --dirty 0.05 --seed 3 --out dirty",
                "head -n 3 dirty/truth.jsonl"),
    ], needsFeeds: false)

    public static let validate = section([
        Example("Check one file; the exit status says whether it is valid", "tally-validate --feed tax feeds/tax-20261101.csv"),
        Example("One JSON report per file, for a script to read",
                "tally-validate --feed transit --json feeds/transit-* > transit.jsonl"),
        Example("A file with faults: every problem counted by code, the first five shown",
                "tally-synth --people 200 --dirty 0.05 --seed 3 --out dirty",
                "tally-validate --feed commerce --max-errors 5 dirty/commerce-* \\",
                "    || echo \"exit status $?\""),
    ])

    public static let parse = section([
        Example("Court judgments (XML, plain or gzip) to records", "tally-parse --feed court feeds/court-* > court.jsonl"),
        Example("Every day's tax file, with the rejected rows and the counts kept apart",
                "tally-parse --feed tax --rejects tax-rejects.jsonl --stats tax-stats.json \\",
                "    feeds/tax-* > tax.jsonl"),
        Example("From standard input, as in a pipe (gzip is recognised by its bytes)",
                "cat feeds/transit-20261101.csv.gz | tally-parse --feed transit | wc -l"),
    ])

    public static let link = section([
        secret,
        crosswalk,
        Example("Commerce records, each given a person key",
                "tally-parse --feed commerce feeds/commerce-* \\",
                "    | tally-link --crosswalk crosswalk.jsonl --secret-file tally.secret \\",
                "    > commerce.jsonl"),
        Example("Court records without their raw identifiers, and the counts by kind of link",
                "tally-parse --feed court feeds/court-* \\",
                "    | tally-link --redact --stats link.json --crosswalk crosswalk.jsonl \\",
                "      --secret-file tally.secret > court.jsonl",
                "cat link.json"),
        Example("The crosswalk kept folded, so that later runs parse only the crosswalk files it does not hold yet",
                "tally-link --fold crosswalk.fold --fold-only --crosswalk crosswalk.jsonl",
                "tally-parse --feed tax feeds/tax-* \\",
                "    | tally-link --fold crosswalk.fold --crosswalk crosswalk.jsonl \\",
                "      --secret-file tally.secret > tax.jsonl"),
    ])

    public static let store = section([
        secret,
        crosswalk,
        Example("The tax feed's records kept, the ingest left in the write-ahead log, copied into the ledger's file later",
                "tally-parse --feed tax feeds/tax-* \\",
                "    | tally-link --crosswalk crosswalk.jsonl --secret-file tally.secret \\",
                "    | tally-store ingest --no-checkpoint ledger.db",
                "tally-store checkpoint ledger.db"),
        Example("Every feed parsed, linked and kept in the ledger",
                "for f in court tax transit commerce corrections; do",
                "    tally-parse --feed $f feeds/$f-*; done \\",
                "    | tally-link --crosswalk crosswalk.jsonl --secret-file tally.secret \\",
                "    | tally-store ingest ledger.db"),
        Example("The feed files it holds, by SHA-256", "tally-store files ledger.db"),
        Example("Verify every stored line", "tally-store check ledger.db"),
        Example("Everything back out, corrections first, as tally-score reads it", "tally-store dump ledger.db | wc -l"),
        Example("The scoring store beside it (ledger.db.scoring), then made again: the same bytes",
                "tally-store update-scoring ledger.db",
                "cp ledger.db.scoring/rows rows.before",
                "tally-store rebuild-scoring ledger.db",
                "cmp rows.before ledger.db.scoring/rows"),
    ])

    public static let score = section([
        secret,
        crosswalk,
        linked,
        Example("Every person's score on 2 November 2026, by the rules shipped with tally",
                "tally-score --as-of 2026-11-02 --stats score.json linked.jsonl \\",
                "    > scores.jsonl"),
        Example("How many people are in each tier", "grep -o '\"tier\":\"[a-z-]*\"' scores.jsonl | sort | uniq -c"),
        Example("The same people from a ledger's scoring store, as the nightly pipeline scores",
                "tally-store ingest ledger.db linked.jsonl",
                "tally-store update-scoring ledger.db",
                "tally-link --store ledger.db.scoring --output persons.bin \\",
                "    --crosswalk crosswalk.jsonl --secret-file tally.secret",
                "tally-score --store ledger.db.scoring --persons persons.bin \\",
                "    --as-of 2026-11-02 | cmp - scores.jsonl"),
        Example("The store's rows copied in person order, which scores faster: the same bytes",
                "tally-store order-scoring ledger.db --persons persons.bin",
                "tally-score --store ledger.db.scoring --persons persons.bin \\",
                "    --as-of 2026-11-02 | cmp - scores.jsonl"),
    ])

    public static let report = section([
        secret,
        crosswalk,
        linked,
        Example("Two nights' scores and counts where nightly.sh would leave them (it also writes its run summary and rejects there, and the page itself each night)",
                "mkdir -p out/logs",
                "for d in 2026-11-01 2026-11-02; do",
                "    tally-score --as-of $d --stats out/logs/score-$d.json linked.jsonl \\",
                "      > out/scores-$d.jsonl; done"),
        Example("The last night as a page (its three charts are SVG inside), and in Chinese",
                "tally-report out > report.html",
                "grep -o '<svg[^>]*data-chart=\"[a-z]*\"' report.html | grep -o 'data-chart=.*'",
                "tally-report --as-of 2026-11-02 --lang zh --output report-zh.html out"),
    ])

    public static let explain = section([
        secret,
        crosswalk,
        linked,
        Example("Why a person in the lowest tier is there, record by record",
                "tally-score --as-of 2026-11-02 linked.jsonl > scores.jsonl",
                "person=$(grep -m 1 '\"tier\":\"restricted\"' scores.jsonl | cut -d '\"' -f 6)",
                "tally-explain --person \"$person\" --as-of 2026-11-02 linked.jsonl"),
        Example("A person found by resident number, as they would ask (feeds/people.csv lists them)",
                "id=$(sed -n 2p feeds/people.csv | cut -d , -f 2)",
                "tally-explain --id \"cn-rid:$id\" --secret-file tally.secret \\",
                "    --as-of 2026-11-02 linked.jsonl"),
        Example("The notice as a page to print or send, in Chinese; and everyone's, with an index",
                "tally-explain --person \"$person\" --as-of 2026-11-02 --html --lang zh \\",
                "    linked.jsonl > notice.html",
                "tally-explain --all --html --html-dir notices --as-of 2026-11-02 \\",
                "    linked.jsonl"),
        Example("Everyone, as JSON Lines",
                "tally-explain --all --as-of 2026-11-02 linked.jsonl > explanations.jsonl"),
    ])
}

/// A tally program: a command whose `--help` (and `help SUBCOMMAND`) ends with its examples.
/// Its `main()` calls `mainWithExamples()` (the compiler takes ArgumentParser's `main` for
/// `@main` over one given here).
public protocol TallyCommand: ParsableCommand {
    static var examples: String { get }
}

extension TallyCommand {
    public static func mainWithExamples() {
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            // Help (--help, -h, help SUBCOMMAND) is the one clean exit with a USAGE section.
            let message = fullMessage(for: error)
            if exitCode(for: error) == .success && message.contains("USAGE:") {
                print(message + "\n" + examples, terminator: "")
                Glibc.exit(0)
            }
            exit(withError: error)
        }
    }
}
