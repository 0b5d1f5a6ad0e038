import TallyCore
import TallyIO

/// What tally-store does, subcommand by subcommand.
public enum StoreStage {
    static let name = "tally-store"

    static func open(_ path: String, create: Bool) throws -> Ledger {
        do { return try Ledger(path: path, create: create) } catch {
            throw StageFailure(error.message, status: error.code == 14 ? ExitStatus.noInput : ExitStatus.data)
        }
    }

    /// `ingest DB [FILE...]`: records and corrections into the ledger; prints the counts.
    public static func ingest(database: String, paths: [String], limits: InputLimits, rejectsPath: String?, statsPath: String?, strict: Bool) throws -> Int32 {
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
        do { try ingest.finish() } catch { throw StageFailure(error.message, status: ExitStatus.ioError) }
        try rejects.finish()
        let c = ingest.counts
        Stage.report(name, "\(database): read \(c.read), inserted \(c.inserted), skipped \(c.skipped), amended \(c.amended), rejected \(c.rejected)")
        if let statsPath {
            try StatsFile.write(statsPath, counts: [("read", c.read), ("inserted", c.inserted), ("skipped", c.skipped),
                                                    ("amended", c.amended), ("rejected", c.rejected)])
        }
        return strict && c.rejected > 0 ? ExitStatus.data : ExitStatus.ok
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
