import ArgumentParser
import TallyCLI
import TallyIO

@main
struct StoreCommand: TallyCommand {
    static let examples = Examples.store
    static func main() { mainWithExamples() }
    static let configuration = CommandConfiguration(
        commandName: "tally-store",
        abstract: "Keep every record and correction once, in an SQLite ledger.",
        discussion: """
        The ledger is one SQLite file (WAL), created mode 0600 because it holds identifiers. \
        Re-ingesting a record with the same content (all but prov) is a no-op; the same id \
        with other content is an amendment, kept with its history, when it comes from a file \
        dated (SOURCE-YYYYMMDD) no earlier than the ledger's version; an older version, or one \
        already replaced, is stale: reported, counted, not applied. The manifest (files) lists \
        every feed file the records came from by SHA-256, so a file is taken once under any \
        name; a file delivered again with other bytes but the same records is listed with \
        same_as. Every stored line is verified when read (dump, check): a line that no longer \
        hashes to its stored content, or a damaged page, is an error naming the row (65). dump, \
        files and check work on a ledger on a read-only file system; ingest into one is 74. A \
        ledger written by a newer tally is refused; an older one is migrated. An ingest \
        copies what it wrote from the write-ahead log into the ledger's file before it exits; \
        with --no-checkpoint it leaves that to tally-store checkpoint.

        Exit status: 0; 65 for a file that is not a ledger or a newer one, or when ingest \
        rejected any line (then nothing of that ingest is kept, unless --keep-going: the input \
        is tally's own output, so a bad line means corruption upstream); 66 for a missing ledger or input; 74 for a failed write; 75 \
        when a checkpoint was kept from finishing by readers; files --sha256 exits 1 when the \
        file is not in the manifest.
        """,
        version: Stage.version,
        subcommands: [Ingest.self, Checkpoint.self, Dump.self, Files.self, Check.self, UpdateScoring.self, RebuildScoring.self, OrderScoring.self, Extract.self])

    struct Ingest: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add records and corrections (JSON Lines) to the ledger, in transactions.",
            discussion: "Prints read, inserted, skipped (already there, same content), amended (same id, new content) and rejected (not records) to stderr. A killed ingest, run again, leaves every record in the ledger exactly once.")

        @Argument(help: ArgumentHelp("The ledger (created if missing).", valueName: "db"))
        var database: String

        @OptionGroup var report: ReportOptions

        @OptionGroup var input: InputOptions

        @OptionGroup var progress: ProgressOptions

        @Flag(help: ArgumentHelp("Leave what this ingest commits in the ledger's write-ahead log (DB-wal) for a later `tally-store checkpoint DB`, instead of copying it into DB before exiting. It is as safe there from a killed process, and read as ever; but until the checkpoint the ledger is DB with DB-wal: copy both, or neither. nightly.sh ingests so and checkpoints once, beside the scoring."))
        var noCheckpoint = false

        func run() throws {
            try Stage.run("tally-store", progress: progress, streams: false) {
                try StoreStage.ingest(database: database, paths: input.paths, limits: input.limits, rejectsPath: report.rejects, statsPath: report.stats, keepGoing: report.keepGoing, checkpoint: !noCheckpoint)
            }
        }
    }

    struct Checkpoint: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Copy the ledger's write-ahead log (DB-wal) into DB and empty it.",
            discussion: "What ingest --no-checkpoint left in the log: copied into the ledger's file, synced, and the log truncated, so that DB alone is the whole ledger again. It waits up to 10 s for another writer, and for readers of an older snapshot; a checkpoint killed or stopped at any point loses nothing (the log is emptied only after the copy is synced). With --follow it first holds the ledger open, copying what ingests commit as they commit it, until its standard input ends (nightly.sh runs it so beside its ingests). Exit 0 when everything was copied; 75 when another writer or readers kept it from finishing (run it again); 66 for a missing ledger.")

        @Argument(help: ArgumentHelp("The ledger.", valueName: "db"))
        var database: String

        @Flag(help: ArgumentHelp("Until standard input ends, hold the ledger open and copy what other processes commit as they commit it (ten times a second); then checkpoint as without it. Held open, the ledger is opened by each ingest without SQLite reading its whole log again."))
        var follow = false

        func run() throws {
            try Stage.run("tally-store") { try StoreStage.checkpoint(database: database, follow: follow) }
        }
    }

    struct Dump: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write every record as JSON Lines, corrections first, in constant memory (ready for tally-score).")

        @Argument(help: ArgumentHelp("The ledger.", valueName: "db"))
        var database: String

        func run() throws {
            try Stage.run("tally-store") { try StoreStage.dump(database: database) }
        }
    }

    struct Extract: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write the records of some identifiers or ids, then their corrections, as JSON Lines: what one partition of the history hands another.",
            discussion: """
            A record is written as the ledger holds it now (its latest version, verified), once, \
            in the ledger's order; then every correction of a record written. The records of an \
            identifier are found through the scoring store's rows, so the store must be up to the \
            ledger (tally-store update-scoring; 65 otherwise). The ledger is only read. Run on a \
            partition whose identifier has moved, it gives what the partition it moved to \
            ingests (pipelines/spark/nightly.py --state).
            """)

        @Argument(help: ArgumentHelp("The ledger.", valueName: "db"))
        var database: String

        @Option(help: ArgumentHelp("The scoring store's directory (default: DB.scoring beside the ledger).", valueName: "dir"))
        var store: String?

        @Option(help: ArgumentHelp("Identifiers, one a line as a record's subject is written: {\"scheme\":\"…\",\"id\":\"…\"}.", valueName: "file"))
        var identifiers: String?

        @Option(help: ArgumentHelp("Record ids, one a line.", valueName: "file"))
        var ids: String?

        func validate() throws {
            if identifiers == nil && ids == nil { throw ValidationError("give --identifiers, --ids, or both") }
        }

        func run() throws {
            try Stage.run("tally-store") { try StoreStage.extract(database: database, store: store, identifiersPath: identifiers, idsPath: ids) }
        }
    }

    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Verify the whole ledger, for cron: SQLite's integrity check and every stored record.",
            discussion: "Every record's line must still be a valid record with its row's id and hash to the content stored with it; every kept amendment must be a valid record. Prints each fault (the first 100) and a summary line to stderr. Exit 0 when the ledger is whole, 65 when anything is damaged, 66 for a missing ledger. Works on a read-only ledger.")

        @Argument(help: ArgumentHelp("The ledger.", valueName: "db"))
        var database: String

        func run() throws {
            try Stage.run("tally-store") { try StoreStage.check(database: database) }
        }
    }

    struct Files: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List the feed files the ledger has taken, by SHA-256, as JSON Lines.")

        @Argument(help: ArgumentHelp("The ledger.", valueName: "db"))
        var database: String

        @Option(help: ArgumentHelp("Only this file; exit 1 when the ledger has not taken it.", valueName: "hex"))
        var sha256: String?

        func run() throws {
            try Stage.run("tally-store") { try StoreStage.files(database: database, sha256: sha256) }
        }
    }

    struct ScoringOptions: ParsableArguments {
        @Argument(help: ArgumentHelp("The ledger.", valueName: "db"))
        var database: String

        @Option(help: ArgumentHelp("The scoring store's directory (default: DB.scoring beside the ledger).", valueName: "dir"))
        var store: String?

        @Option(help: ArgumentHelp("Write the counts here as JSON.", valueName: "file"))
        var stats: String?
    }

    struct UpdateScoring: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Bring the scoring store beside the ledger up to it (made if missing): what tally-score --store reads.",
            discussion: """
            The store holds each record as a 64-byte row (its subject identifier's hash, id, time, amount, \
            source and kind), the identifiers the rows name, and every correction. An update \
            appends the records stored since the last one and rewrites the rows of records amended \
            since, in place; it reads the ledger, never writes it. Its last step is renaming the \
            store's state into place: an update killed at any point leaves the last state, and the \
            next one does again what was lost. A store that does not follow this ledger (made from \
            another, or the ledger restored from an older copy) is refused (65): rebuild-scoring \
            makes it again. Another update running is 75.
            """)

        @OptionGroup var options: ScoringOptions

        func run() throws {
            try Stage.run("tally-store") { try StoreStage.updateScoring(database: options.database, store: options.store, rebuild: false, statsPath: options.stats) }
        }
    }

    struct RebuildScoring: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make the scoring store again from the ledger alone: the same bytes as the updates made.",
            discussion: "The ledger is the one source of truth: this is the way back from a lost, damaged or foreign store.")

        @OptionGroup var options: ScoringOptions

        func run() throws {
            try Stage.run("tally-store") { try StoreStage.updateScoring(database: options.database, store: options.store, rebuild: true, statsPath: options.stats) }
        }
    }

    struct OrderScoring: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Copy the scoring store's rows ordered by person, which tally-score --store reads about twice as fast.",
            discussion: """
            The copy (DIR/ordered) holds the store's rows ordered by the person key --persons gives \
            each identifier (tally-link --store's output for the store as it is). tally-score \
            --store reads it, then the rows appended since, and takes the rows an update has \
            rewritten since from the store itself: the scores are the same bytes with or without \
            the copy, however old it is; an older copy is only slower. It is a cache of the store, \
            made in bounded memory (the rows sorted a million at a time); rebuild-scoring removes \
            it, and a copy that does not match its store is not read (tally-score says so). An \
            update running is 75.
            """)

        @OptionGroup var options: ScoringOptions

        @Option(help: ArgumentHelp("The person key of each of the store's identifiers, as tally-link --store wrote them.", valueName: "file"))
        var persons: String

        @Option(help: ArgumentHelp("Only when the copy there leaves at least this percentage of the store's rows to be read from the store (appended or rewritten since it was made); default: always.", valueName: "percent"))
        var whenBehind: Double?

        func validate() throws {
            if let whenBehind, !(0...100).contains(whenBehind) { throw ValidationError("--when-behind is a percentage, 0 to 100") }
        }

        func run() throws {
            try Stage.run("tally-store") {
                try StoreStage.orderScoring(database: options.database, store: options.store, persons: persons, whenBehind: whenBehind.map { $0 / 100 }, statsPath: options.stats)
            }
        }
    }
}
