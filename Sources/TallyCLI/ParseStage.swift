#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import TallyCore
import TallyIO

/// Counts for one file, or for a run.
public struct ParseCounts: Sendable {
    public var read = 0
    public var written = 0
    public var rejected = 0
    public var filtered = 0

    mutating func add(_ other: ParseCounts) {
        read += other.read
        written += other.written
        rejected += other.rejected
        filtered += other.filtered
    }
}

/// What tally-parse does: reads feed files, validates every row, writes records to stdout,
/// rejects (with file, line, field, reason and raw text) to `--rejects`, and accounts for every
/// row read: read = written + rejected + filtered, per file and in all.
public final class ParseStage {
    public struct Options {
        public var feed: LoadedFeed
        public var paths: [String]
        public var limits: InputLimits
        public var rejectsPath: String?
        public var statsPath: String?
        public var strict: Bool
        public var today: CivilDate
        /// How many rows of one file may be rejected before the file stops (65).
        public var maxRejects = ParseStage.defaultMaxRejects
        public init(feed: LoadedFeed, paths: [String], limits: InputLimits, rejectsPath: String?, statsPath: String?, strict: Bool, today: CivilDate) {
            self.feed = feed
            self.paths = paths
            self.limits = limits
            self.rejectsPath = rejectsPath
            self.statsPath = statsPath
            self.strict = strict
            self.today = today
        }
    }

    /// The default cap on rejected rows a file: far above any real file's (a feed of two million
    /// rows at the 2% the nightly tolerates has 40,000), and a bound on the disk a hostile file
    /// can fill with rejects (a 15 KB gzip once wrote 1.7 GB of them).
    public static let defaultMaxRejects = 100_000

    let options: Options
    let name = "tally-parse"
    let out = OutputSink.standardOutput()
    var rejects: RejectLog!
    let validator: RowValidator
    let mapper: RecordMapper
    /// The file's keys so far: a row that repeats one is rejected, as tally-validate faults it.
    let keys: RepeatedKeys
    var faults: [RowFault] = []
    var total = ParseCounts()
    var fileReports: [(file: String, sha256: String?, counts: ParseCounts, error: String?)] = []
    var status = ExitStatus.ok
    let progress = Progress.start("tally-parse")
    /// The file being read, as its records name it.
    var context = FileContext(name: "", sha256: "", date: nil)
    /// The file's SHA-256 while a thread of its own still makes it (`FileDigest`), and where the
    /// records written since the file began hold its place: they are held back in the output
    /// buffer, up to `heldBytes`, and filled in once it is known.
    struct PendingDigest {
        var digest: FileDigest
        var fileStart: Int
        var places: [Int] = []
    }
    var pending: PendingDigest?
    /// What the records wait with for their file's hash: not hex, so that one let out by a
    /// mistake could never pass for a hash.
    static let digestToCome = String(repeating: "?", count: 64)
    /// The most bytes of records held back for the hash before tally-parse waits for it, and
    /// about what it adds to peak memory (the buffer grows by doubling). Transit and the wide
    /// export write a few percent of their rows, 1–2 MB while the hash of 70 MB of gzip is made;
    /// court and the crosswalk write every row and wait. (At 32 MB, the crosswalk's peak went
    /// from 224 to 254 MB; at 8 MB, to 240.)
    static let heldBytes = 4 << 20

    public init(_ options: Options) {
        self.options = options
        validator = RowValidator(spec: options.feed.spec, today: options.today)
        mapper = RecordMapper(spec: options.feed.spec)
        keys = RepeatedKeys(spec: options.feed.spec)
    }

    /// Parses every file; returns the exit status.
    public func run() throws -> Int32 {
        rejects = try RejectLog(stage: name, path: options.rejectsPath, noun: "rows")
        for path in options.paths {
            try parse(path)
        }
        try out.flush()
        try rejects.finish()
        if let statsPath = options.statsPath { try writeStats(statsPath) }
        if options.strict && total.rejected > 0 { status = ExitStatus.worst(status, ExitStatus.data) }
        return status
    }

    func parse(_ path: String) throws {
        var counts = ParseCounts()
        var sha: String?
        keys.removeAll()
        do {
            // Standard input and pipes (`<(…)`) are read once: they are spooled to a temporary
            // file first, and messages still name them as given.
            let stream = path == "-" || InputFile.isStream(path)
            let readable = path == "-" ? try spoolStandardInput() : (stream ? try spoolStream(path: path) : path)
            // Records name the file's hash. It is made on a thread of its own while the rows are
            // read (it took a twelfth of parsing transit, with the reading thread idle), and the
            // records wait for it in the output buffer.
            let digesting = try InputFile.digestInBackground(ofFileAt: readable)
            let input: InputFile
            do {
                input = try InputFile.open(readable, limits: options.limits, named: stream ? path : nil)
                context = FileContext(name: input.baseName, sha256: Self.digestToCome, date: FileContext.date(inFileName: input.baseName))
                if case .fileDate = options.feed.spec.at, context.date == nil {
                    throw InputError(.data, file: path, "the \(options.feed.spec.name) feed has no dates in its rows, so its file name must carry one (SOURCE-YYYYMMDD.EXT)")
                }
            } catch {
                // The hash's own error first, as when it was made before the file was opened.
                sha = try digesting.wait()
                throw error
            }
            let base = input.baseName
            pending = PendingDigest(digest: digesting, fileStart: out.buffer.count)
            do {
                try readRows(input, display: path, counts: &counts)
            } catch {
                // The rows before a reading error are written, as ever: with their hash.
                if pending != nil { sha = try settleDigest(wait: true, counts: &counts) }
                throw error
            }
            let digest = try settleDigest(wait: true, counts: &counts)!
            sha = digest
            if try input.finishDigest() != digest {
                throw InputError(.data, file: path, "changed while it was being read")
            }
            report(path, counts, error: nil)
            fileReports.append((base, sha, counts, nil))
        } catch let error as InputError {
            Stage.report(name, error.description)
            status = ExitStatus.worst(status, error.exitStatus)
            report(path, counts, error: error.description)
            fileReports.append((path, sha, counts, error.description))
        }
        total.add(counts)
    }

    func readRows(_ input: InputFile, display: String, counts: inout ParseCounts) throws {
        progress?.reading(display)
        let rows = try FeedRows(input, feed: options.feed)
        defer { rows.stop() }
        if case .csv = options.feed.spec.format {
            guard let header = rows.header else { throw InputError(.data, file: display, "empty file: no header row") }
            guard header.matches else {
                throw InputError(.data, file: display, line: 1, "header does not match the \(options.feed.spec.name) feed: \(header.summary)")
            }
        }
        let row = rows.row
        while try rows.advance() {
            try handle(row, display: display, counts: &counts) { rows.rawText(row) }
        }
    }

    @inline(__always)
    func handle(_ row: Row, display: String, counts: inout ParseCounts, raw: () -> String) throws {
        counts.read += 1
        progress?.advance()
        keys.prepare(row)
        validator.validate(row, into: &faults)
        if let verdict = keys.checkPrepared(faultFree: faults.isEmpty), verdict != .fresh, faults.isEmpty {
            faults.append(RowFault(code: "primary-key", field: "", fieldNumber: 0,
                                   reason: verdict == .empty ? "the primary key's cells are all empty" : "the primary key repeats an earlier row's"))
        }
        if let fault = faults.first {
            if counts.rejected == options.maxRejects {
                // The file stops at this row, which is not counted, as at a read error.
                counts.read -= 1
                throw InputError(.data, file: display, line: row.line, "more than \(options.maxRejects) rows rejected (--max-rejects); the rest of the file is not read")
            }
            counts.rejected += 1
            try reject(fault, line: row.line, display: display, context: context, raw: raw())
        } else if let kind = mapper.kind(of: row) {
            let record = mapper.record(row, kind: kind, file: context)
            let start = out.buffer.count
            let digestAt = record.encode(into: out.buffer)
            let length = out.buffer.count - start
            if length > Self.longestRecord {
                // A record the stages after this one would refuse as a line too long: it would
                // hold its whole file out of the ledger night after night.
                out.buffer.truncate(to: start)
                counts.rejected += 1
                let fault = RowFault(code: "constraint-error", field: "", fieldNumber: 0,
                                     reason: "the row's record would be \(length) bytes, more than the \(Self.longestRecord) that the stages after tally-parse read")
                try reject(fault, line: row.line, display: display, context: context, raw: raw())
                return
            }
            counts.written += 1
            if pending != nil {
                pending?.places.append(digestAt)
                if out.isFull, try settleDigest(wait: out.buffer.count >= Self.heldBytes, counts: &counts) != nil { try out.flush() }
            } else {
                try out.flushIfFull()
            }
        } else {
            counts.filtered += 1
        }
    }

    /// The longest record line tally-parse writes: what the stages after it read by default
    /// (`InputLimits.standard`), less room for the person key and link that tally-link adds.
    static let longestRecord = InputLimits.standard.maxLineBytes - 256

    /// The file's hash once it is made, written into the records held back for it; nil while it
    /// is still being made, unless `wait`. When it cannot be made, the file's records are
    /// dropped, as when the hash was made before the first row (and their rows are no longer
    /// counted as read and written, so that the file's counts still add up), and the error is
    /// thrown.
    @discardableResult
    func settleDigest(wait: Bool, counts: inout ParseCounts) throws -> String? {
        guard let held = pending else { return context.sha256 }
        guard wait || held.digest.isReady else { return nil }
        pending = nil
        let digest: String
        do {
            digest = try held.digest.wait()
        } catch {
            out.buffer.truncate(to: held.fileStart)
            counts.read -= held.places.count
            counts.written -= held.places.count
            throw error
        }
        var hex = digest
        hex.withUTF8 { hex in
            precondition(hex.count == Self.digestToCome.utf8.count)
            for at in held.places { (out.buffer.base + at).update(from: hex.baseAddress!, count: hex.count) }
        }
        context.sha256 = digest
        return digest
    }

    func reject(_ fault: RowFault, line: Int, display: String, context: FileContext, raw: String) throws {
        try rejects.add(file: context.name, display: display, line: line, field: fault.field, code: fault.code, reason: fault.reason, raw: raw)
    }

    func report(_ display: String, _ c: ParseCounts, error: String?) {
        Stage.report(name, "\(display): read \(c.read), written \(c.written), rejected \(c.rejected), filtered \(c.filtered)\(error == nil ? "" : " (stopped)")")
    }

    func writeStats(_ path: String) throws {
        func counts(_ c: ParseCounts, _ o: inout JSONObjectWriter) {
            o.member("read", c.read)
            o.member("written", c.written)
            o.member("rejected", c.rejected)
            o.member("filtered", c.filtered)
        }
        try StatsFile.write(path, before: { o in
            o.member("feed", options.feed.spec.name)
            // The feed's declared tolerance, in parts per million, for the nightly's quality gate.
            o.member("max_rejected_ppm", Int((options.feed.spec.maxRejectedShare * 1_000_000).rounded()))
        }, counts: [("read", total.read), ("written", total.written), ("rejected", total.rejected), ("filtered", total.filtered)]) { o in
            o.objects("files", fileReports) { o, f in
                o.member("file", f.file)
                if let sha = f.sha256 { o.member("sha256", sha) }
                counts(f.counts, &o)
                if let e = f.error { o.member("error", e) }
            }
        }
    }
}

extension FeedCatalog {
    /// Loads a feed for a stage: an unknown feed is bad usage (64), a broken declaration bad data (65).
    public static func loadForStage(_ nameOrPath: String, schemasDirectory: String?) throws -> LoadedFeed {
        do {
            return try load(nameOrPath, schemasDirectory: schemasDirectory)
        } catch {
            if case .unknown = error { throw StageFailure(error.description, status: ExitStatus.usage) }
            throw StageFailure(error.description, status: ExitStatus.data)
        }
    }
}
