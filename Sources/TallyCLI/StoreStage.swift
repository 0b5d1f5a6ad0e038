import TallyCore
import TallyIO

/// What tally-store does, subcommand by subcommand.
public enum StoreStage {
    static let name = "tally-store"

    /// Opens the ledger to write into it; a ledger on a read-only file system is 74 at once.
    static func open(_ path: String, create: Bool) throws -> Ledger {
        if FileStatus.isOnReadOnlyFileSystem(path) {
            throw StageFailure("\(path): the ledger is on a read-only file system: it can be dumped, listed and checked, but nothing can be ingested into it", status: ExitStatus.ioError)
        }
        for suffix in ["", "-wal", "-shm"] {
            if let note = FileStatus.keepPrivate(path + suffix, what: "ledger") { Stage.report(name, note) }
        }
        do { return try Ledger(path: path, create: create) } catch {
            throw StageFailure(error.message, status: status(of: error))
        }
    }

    /// Opens the ledger to read it (dump, files, check), even on a read-only file system.
    static func openForReading(_ path: String) throws -> Ledger {
        do { return try Ledger(readingOnly: path) } catch {
            throw StageFailure(error.message, status: status(of: error))
        }
    }

    /// A missing ledger is 66; damage, or a file that is no ledger, 65; SQLite's read-only and
    /// I/O faults 74.
    static func status(of error: DatabaseError) -> Int32 {
        switch error.code & 0xFF {
        case 14: return ExitStatus.noInput
        case 8, 10, 13: return ExitStatus.ioError
        default: return ExitStatus.data
        }
    }

    /// Runs `body`, which reads the ledger (and its scoring store), with its faults as the
    /// stage's: damage is 65, the rest as `status(of:)` says.
    static func reading<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let fault as ScoringStore.Fault {
            throw StageFailure(fault.description, status: fault.code)
        } catch let error as DatabaseError {
            throw StageFailure(error.message, status: error.code == Ledger.damaged ? ExitStatus.data : status(of: error))
        }
    }

    /// `ingest DB [FILE...]`: records and corrections into the ledger; prints the counts.
    /// `checkpoint: false` leaves what it commits in the write-ahead log for `checkpoint DB`.
    public static func ingest(database: String, paths: [String], limits: InputLimits, rejectsPath: String?, statsPath: String?, keepGoing: Bool, checkpoint: Bool = true) throws -> Int32 {
        let existed = FileStatus.exists(database)
        let ledger = try open(database, create: true)
        if !checkpoint {
            do { try ledger.deferCheckpoints() } catch { throw StageFailure(error.message, status: status(of: error)) }
        }
        let rejects = try RejectLog(stage: name, path: rejectsPath)
        let ingest = try ledger.ingest(now: Timestamp.now.description)
        var scanner = RecordViewScanner()
        var input = LineInput(paths: paths, limits: limits, stage: name)
        try input.forEachLine { file, lineNumber, line in
            guard let v = try rejects.view(line, &scanner, file: file, line: lineNumber) else { ingest.reject(); return }
            do throws(DatabaseError) { try ingest.add(line, v) } catch { throw StageFailure(error.message, status: ExitStatus.ioError) }
        }
        // An unreadable input leaves the ledger as it was: nothing of this ingest is committed
        // past its last full batch, and no file enters the manifest.
        guard input.status == ExitStatus.ok else {
            throw StageFailure("\(database): ingest stopped; the files it read are not in the manifest, run it again", status: input.status)
        }
        // A line that is not a valid record means the input was damaged on its way from
        // tally-link: nothing of it is kept (a ledger this ingest created goes too).
        if ingest.counts.rejected > 0 && !keepGoing {
            try? rejects.finish()
            ingest.abandon()
            if !existed { ledger.removeFiles() }
            throw StageFailure("\(database): \(ingest.counts.rejected) of \(ingest.counts.read) lines were not valid records, so nothing of this ingest was kept\(existed ? "" : " and no ledger was created") (--keep-going keeps the valid ones)", status: ExitStatus.data)
        }
        do { try ingest.finish() } catch { throw StageFailure(error.message, status: ExitStatus.ioError) }
        try rejects.finish()
        let c = ingest.counts
        for note in ingest.notes { Stage.report(name, note) }
        if c.stale > ingest.notes.count { Stage.report(name, "\(c.stale - ingest.notes.count) more stale versions not shown") }
        Stage.report(name, "\(database): read \(c.read), inserted \(c.inserted), skipped \(c.skipped), amended \(c.amended), stale \(c.stale), rejected \(c.rejected)")
        if let statsPath {
            try StatsFile.write(statsPath, counts: [("read", c.read), ("inserted", c.inserted), ("skipped", c.skipped),
                                                    ("amended", c.amended), ("stale", c.stale), ("rejected", c.rejected)])
        }
        return ExitStatus.ok
    }

    /// `checkpoint DB`: the write-ahead log copied into the ledger's file, synced and emptied;
    /// 75 when a writer or readers kept it from copying everything (what was not copied stays in
    /// the log, read as ever).
    /// `follow`: first, until standard input ends, what other processes commit is copied as they
    /// commit it (ten times a second), and the ledger is held open meanwhile, so that each of
    /// them opens it without reading the whole log again (SQLite does that for the first
    /// connection to a ledger whose log holds pages).
    public static func checkpoint(database: String, follow: Bool = false) throws -> Int32 {
        let ledger = try open(database, create: false)
        do {
            if follow {
                try StandardInput.untilEnd(every: 100) { () throws(DatabaseError) in _ = try ledger.checkpointWhatIsCommitted() }
            }
            let (frames, copied, emptied) = try ledger.checkpoint()
            let then = emptied ? "and the log emptied" : "and synced; a reader kept the log from being emptied (the next ingest starts it again from its beginning)"
            Stage.report(name, frames == 0 ? "\(database): checkpoint: the write-ahead log was empty" : "\(database): checkpointed: \(copied) of the write-ahead log's \(frames) pages copied into the ledger's file, \(then)")
            return ExitStatus.ok
        } catch where error.code & 0xFF == 5 {
            throw StageFailure("\(database): the checkpoint waited 10 s for another writer or for readers of an older snapshot, and stopped; what it did not copy stays in the write-ahead log, safe and read as ever: run it again", status: ExitStatus.tempFail)
        } catch {
            throw StageFailure(error.message, status: status(of: error))
        }
    }

    /// `dump DB`: every record line, corrections first.
    public static func dump(database: String) throws -> Int32 {
        let ledger = try openForReading(database)
        let out = OutputSink.standardOutput()
        try reading { try ledger.dump { try out.putLine($0) } }
        try out.flush()
        return ExitStatus.ok
    }

    /// `extract DB --identifiers FILE --ids FILE`: the current line of every record whose subject
    /// is one of the identifiers (found through the scoring store's rows, which must be up to the
    /// ledger) or whose id is listed, in sequence order, then every correction of those records:
    /// what a partition of the history hands the partition a record or identifier moves to. The
    /// ledger is only read; what it hands on stays, and its own copy is not scored there once
    /// the identifier has moved on (tally-score --skip-identifiers).
    public static func extract(database: String, store: String?, identifiersPath: String?, idsPath: String?) throws -> Int32 {
        let ledger = try openForReading(database)
        let identifiers = try identifiersPath.map { try IdentifierList.hashes($0, stage: name) } ?? []
        var ids: [String] = []
        if let idsPath {
            var input = LineInput(paths: [idsPath], limits: .standard, stage: name)
            try input.forEachLine { _, _, line in ids.append(String(decoding: line, as: UTF8.self)) }
            guard input.status == ExitStatus.ok else { throw StageFailure("\(idsPath): could not be read whole", status: input.status) }
        }
        let out = OutputSink.standardOutput()
        var records = 0, corrections = 0
        try reading {
            try ledger.snapshot {
                var seqs: [Int64] = []
                if !identifiers.isEmpty {
                    let path = store ?? ScoringStore.defaultPath(ledger: database)
                    let reader = try ScoringStore.Reader(path: path)
                    guard reader.state.seq == (try ledger.lastSequence()), reader.state.amendment == (try ledger.lastAmendment()) else {
                        throw StageFailure("\(path): the scoring store is behind the ledger, so the records of an identifier cannot all be found through it: tally-store update-scoring first", status: ExitStatus.data)
                    }
                    try reader.forEachRowBlock { block, n in
                        for i in 0..<n where identifiers.contains(ScoringStore.Row.identifier(at: block + i * ScoringStore.rowBytes)) {
                            seqs.append(ScoringStore.Row(block + i * ScoringStore.rowBytes).seq)
                        }
                    }
                }
                var handed = Set<String>()
                try ledger.forEachRecord(atSequences: seqs, withIDs: ids) { _, line, view in
                    handed.insert(view.id.string)
                    records += 1
                    try out.putLine(line)
                }
                guard !handed.isEmpty else { return }
                try ledger.forEachRecord(after: 0, corrections: true) { _, line, view in
                    guard let target = view.target, handed.contains(target.string) else { return }
                    corrections += 1
                    try out.putLine(line)
                }
            }
        }
        try out.flush()
        Stage.report(name, "\(database): extracted \(records) records and \(corrections) corrections (\(identifiers.count) identifiers, \(ids.count) ids asked for)")
        return ExitStatus.ok
    }

    /// `check DB`: SQLite's integrity check and every stored record verified; prints a summary,
    /// and each fault as a line; 65 when any was found.
    public static func check(database: String) throws -> Int32 {
        let ledger = try openForReading(database)
        let result: Ledger.CheckResult
        do { result = try ledger.check() } catch { throw StageFailure(error.message, status: status(of: error)) }
        for fault in result.faults { Stage.report(name, "\(database): \(fault)") }
        let verdict = result.faults.isEmpty ? "ok" : "DAMAGED"
        Stage.report(name, "\(database): \(verdict): \(result.records) records, \(result.corrections) corrections, \(result.amendments) kept amendments, \(result.files) files; \(result.faults.isEmpty ? "every record verified" : "\(result.faults.count) faults")")
        return result.faults.isEmpty ? ExitStatus.ok : ExitStatus.data
    }

    /// `files DB [--sha256 HEX]`: the manifest as JSON Lines; with a hash, exit 1 when absent.
    public static func files(database: String, sha256: String?) throws -> Int32 {
        let ledger = try openForReading(database)
        let out = OutputSink.standardOutput()
        let entries: [Ledger.FileEntry]
        do { entries = try ledger.files(sha256: sha256) } catch { throw StageFailure(error.message, status: ExitStatus.ioError) }
        for f in entries {
            let b = out.buffer
            b.append("{\"sha256\":"); b.appendJSONString(f.sha256)
            b.append(",\"name\":"); b.appendJSONString(f.name)
            b.append(",\"records\":"); b.appendDecimal(Int64(f.records))
            b.append(",\"ingested_at\":"); b.appendJSONString(f.ingestedAt)
            if let same = f.sameAs { b.append(",\"same_as\":"); b.appendJSONString(same) }
            b.append("}\n")
        }
        try out.flush()
        return sha256 != nil && entries.isEmpty ? 1 : ExitStatus.ok
    }
}

extension StoreStage {
    /// `update-scoring DB` and `rebuild-scoring DB`: the scoring store beside the ledger brought
    /// up to it, or made again from it alone; prints what changed.
    public static func updateScoring(database: String, store: String?, rebuild: Bool, statsPath: String?) throws -> Int32 {
        let ledger = try openForReading(database)
        let path = store ?? ScoringStore.defaultPath(ledger: database)
        let c = try reading { try ScoringStore.update(store: path, ledger: ledger, rebuild: rebuild) }
        Stage.report(name, "\(path): \(rebuild ? "made again" : "updated"): \(c.added) rows added, \(c.amended) rewritten (amended); \(c.rows) rows, \(c.identifiers) identifiers, \(c.corrections) corrections\(c.tablesRemade ? "; tables made again from the rows" : "")")
        if let statsPath {
            try StatsFile.write(statsPath, counts: [("added", c.added), ("amended", c.amended), ("rows", c.rows), ("identifiers", c.identifiers), ("corrections", c.corrections)])
        }
        return ExitStatus.ok
    }

    /// `order-scoring DB --persons FILE`: the store's rows copied in person order (a cache that
    /// tally-score --store reads faster); prints what it did.
    public static func orderScoring(database: String, store: String?, persons: String, whenBehind: Double?, statsPath: String?) throws -> Int32 {
        let path = store ?? ScoringStore.defaultPath(ledger: database)
        let made = try reading { try ScoringStore.Ordered.make(store: path, persons: persons, whenBehind: whenBehind) }
        let was = made.before == 0 ? "no copy before" : "the copy before held \(made.before) rows and left \(made.behind) to the store"
        if made.skipped {
            Stage.report(name, "\(path): ordered copy kept: \(was)")
        } else {
            Stage.report(name, "\(path): ordered copy made: \(made.rows) rows in \(made.buckets) buckets (\(was))")
        }
        if let statsPath {
            try StatsFile.write(statsPath, counts: [("rows", made.skipped ? made.before : made.rows), ("before", made.before), ("behind", made.behind), ("made", made.skipped ? 0 : 1)])
        }
        return ExitStatus.ok
    }
}
