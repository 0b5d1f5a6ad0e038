import TallyCore
import TallyIO

/// What tally-store does, subcommand by subcommand.
public enum StoreStage {
    static let name = "tally-store"

    static func open(_ path: String, create: Bool) throws -> Ledger {
        for suffix in ["", "-wal", "-shm"] {
            if let note = FileStatus.keepPrivate(path + suffix, what: "ledger") { Stage.report(name, note) }
        }
        do { return try Ledger(path: path, create: create) } catch {
            throw StageFailure(error.message, status: error.code == 14 ? ExitStatus.noInput : ExitStatus.data)
        }
    }

    /// `ingest DB [FILE...]`: records and corrections into the ledger; prints the counts.
    public static func ingest(database: String, paths: [String], limits: InputLimits, rejectsPath: String?, statsPath: String?, keepGoing: Bool) throws -> Int32 {
        let existed = FileStatus.exists(database)
        let ledger = try open(database, create: true)
        let rejects = try RejectLog(stage: name, path: rejectsPath)
        let ingest = try ledger.ingest(now: Timestamp.now.description)
        var scanner = RecordViewScanner()
        var input = LineInput(paths: paths, limits: limits, stage: name)
        try input.forEachLine { file, lineNumber, line in
            let v: RecordView
            do { v = try scanner.view(line) } catch {
                ingest.reject()
                try rejects.add(file: file, line: lineNumber, code: "not-a-record", reason: "not a tally.record: \(error)", raw: line.text)
                return
            }
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
        Stage.report(name, "\(database): read \(c.read), inserted \(c.inserted), skipped \(c.skipped), amended \(c.amended), rejected \(c.rejected)")
        if let statsPath {
            try StatsFile.write(statsPath, counts: [("read", c.read), ("inserted", c.inserted), ("skipped", c.skipped),
                                                    ("amended", c.amended), ("rejected", c.rejected)])
        }
        return ExitStatus.ok
    }

    /// `dump DB`: every record line, corrections first.
    public static func dump(database: String) throws -> Int32 {
        let ledger = try open(database, create: false)
        let out = OutputSink.standardOutput()
        do {
            try ledger.dump { line in
                out.buffer.append(line)
                out.buffer.append(UInt8(ascii: "\n"))
                try out.flushIfFull()
            }
        } catch let error as DatabaseError {
            throw StageFailure(error.message, status: ExitStatus.ioError)
        }
        try out.flush()
        return ExitStatus.ok
    }

    /// `files DB [--sha256 HEX]`: the manifest as JSON Lines; with a hash, exit 1 when absent.
    public static func files(database: String, sha256: String?) throws -> Int32 {
        let ledger = try open(database, create: false)
        let out = OutputSink.standardOutput()
        let entries: [Ledger.FileEntry]
        do { entries = try ledger.files(sha256: sha256) } catch { throw StageFailure(error.message, status: ExitStatus.ioError) }
        for f in entries {
            let b = out.buffer
            b.append("{\"sha256\":"); b.appendJSONString(f.sha256)
            b.append(",\"name\":"); b.appendJSONString(f.name)
            b.append(",\"records\":"); b.appendDecimal(Int64(f.records))
            b.append(",\"ingested_at\":"); b.appendJSONString(f.ingestedAt); b.append("}\n")
        }
        try out.flush()
        return sha256 != nil && entries.isEmpty ? 1 : ExitStatus.ok
    }
}
