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
    var keys: RepeatedKeys
    var faults: [RowFault] = []
    var total = ParseCounts()
    var fileReports: [(file: String, sha256: String?, counts: ParseCounts, error: String?)] = []
    var status = ExitStatus.ok
    let progress = Progress.start("tally-parse")

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
            // Records name the file's hash, so it is computed before the first row is written.
            let digest = try InputFile.sha256(ofFileAt: readable)
            sha = digest
            let input = try InputFile.open(readable, limits: options.limits, named: stream ? path : nil)
            let base = input.baseName
            let context = FileContext(name: base, sha256: digest, date: FileContext.date(inFileName: base))
            if case .fileDate = options.feed.spec.at, context.date == nil {
                throw InputError(.data, file: path, "the \(options.feed.spec.name) feed has no dates in its rows, so its file name must carry one (SOURCE-YYYYMMDD.EXT)")
            }
            try readRows(input, display: path, context: context, counts: &counts)
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

    func readRows(_ input: InputFile, display: String, context: FileContext, counts: inout ParseCounts) throws {
        progress?.reading(display)
        let rows = try FeedRows(input, feed: options.feed)
        defer { rows.stop() }
        if case .csv = options.feed.spec.format {
            guard let header = rows.header else { throw InputError(.data, file: display, "empty file: no header row") }
            guard header.matches else {
                throw InputError(.data, file: display, line: 1, "header does not match the \(options.feed.spec.name) feed: \(header.summary)")
            }
        }
        while let row = try rows.next() {
            try handle(row, context: context, display: display, counts: &counts) { rows.rawText(row) }
        }
    }

    @inline(__always)
    func handle(_ row: Row, context: FileContext, display: String, counts: inout ParseCounts, raw: () -> String) throws {
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
        } else {
            switch mapper.map(row, file: context) {
            case .record(let record):
                let start = out.buffer.count
                record.encode(into: out.buffer)
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
                try out.flushIfFull()
                counts.written += 1
            case .filtered:
                counts.filtered += 1
            }
        }
    }

    /// The longest record line tally-parse writes: what the stages after it read by default
    /// (`InputLimits.standard`), less room for the person key and link that tally-link adds.
    static let longestRecord = InputLimits.standard.maxLineBytes - 256

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
