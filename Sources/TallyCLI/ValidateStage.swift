import TallyCore
import TallyIO

/// What tally-validate does: checks feed files against their declaration with the same readers
/// and validator as tally-parse, and reports every problem with its place, in Frictionless's
/// vocabulary and numbering for CSV (header row 1; `missing-label`, `extra-label`,
/// `incorrect-label`, `blank-row`, `missing-cell`, `extra-cell`, `type-error`,
/// `constraint-error`, `primary-key`, `encoding-error`), libxml2's XSD errors with their lines
/// for XML (`schema-error`), and tally's own checks under codes of their own
/// (`identifier-error`, `agreement-error`, `structure-error`, `format-error`).
public final class ValidateStage {
    public struct Options {
        public var feed: LoadedFeed
        public var paths: [String]
        public var limits: InputLimits
        public var json: Bool
        public var maxErrors: Int
        public var today: CivilDate
        public init(feed: LoadedFeed, paths: [String], limits: InputLimits, json: Bool, maxErrors: Int, today: CivilDate) {
            self.feed = feed
            self.paths = paths
            self.limits = limits
            self.json = json
            self.maxErrors = maxErrors
            self.today = today
        }
    }

    /// One problem, with where it is.
    struct Problem {
        var code: String
        /// Frictionless's row number (the header is row 1), or the record's ordinal for XML; 0 for the file.
        var row: Int
        var line: Int
        var field: String
        var fieldNumber: Int
        var message: String
    }

    /// What was found in one file.
    struct Report {
        var file: String
        var sha256: String?
        var rows = 0
        var problems = 0
        var counts: [String: Int] = [:]
        var first: [Problem] = []
        var stopped: String?
        var valid: Bool { problems == 0 && stopped == nil }
    }

    let options: Options
    let out = OutputSink.standardOutput()
    let validator: RowValidator
    var faults: [RowFault] = []
    var status = ExitStatus.ok
    let progress = Progress.start("tally-validate")

    public init(_ options: Options) {
        self.options = options
        validator = RowValidator(spec: options.feed.spec, today: options.today)
    }

    public func run() throws -> Int32 {
        for path in options.paths {
            var report = Report(file: path)
            do {
                let input = try InputFile.open(path, limits: options.limits)
                try check(input, into: &report)
                report.sha256 = try input.finishDigest()
            } catch let error as InputError {
                if error.kind == .noInput || error.kind == .io || error.kind == .config {
                    Stage.report("tally-validate", error.description)
                    status = ExitStatus.worst(status, error.exitStatus)
                    continue
                }
                report.stopped = error.description
                add(Problem(code: "format-error", row: 0, line: error.line ?? 0, field: "", fieldNumber: 0, message: error.message), to: &report)
            }
            if !report.valid { status = ExitStatus.worst(status, ExitStatus.data) }
            Progress.clear()
            if options.json { writeJSON(report) } else { writeText(report) }
            try out.flushIfFull()
        }
        try out.flush()
        return status
    }

    func add(_ p: Problem, to report: inout Report) {
        report.problems += 1
        report.counts[p.code, default: 0] += 1
        if report.first.count < options.maxErrors { report.first.append(p) }
    }

    func check(_ input: InputFile, into report: inout Report) throws {
        let spec = options.feed.spec
        let keys = RepeatedKeys(spec: spec)
        progress?.reading(input.name)
        let rows = try FeedRows(input, feed: options.feed)
        defer { rows.stop() }
        // CSV: Frictionless's numbering (the header is row 1), and the cells a row should have
        // are the header's labels (checking goes on past a header that does not match).
        var expectedCells: Int?
        if case .csv = spec.format {
            guard let header = rows.header else {
                add(Problem(code: "format-error", row: 0, line: 1, field: "", fieldNumber: 0, message: "empty file: no header row"), to: &report)
                return
            }
            for p in header.problems {
                add(Problem(code: p.code, row: 1, line: 1, field: p.field, fieldNumber: p.fieldNumber, message: p.message), to: &report)
            }
            expectedCells = header.labels.count
        }
        let row = rows.row
        while try rows.advance() {
            report.rows += 1
            let rowNumber = expectedCells == nil ? report.rows : report.rows + 1
            progress?.advance()
            keys.prepare(row)
            validator.validate(row, expectedCells: expectedCells, into: &faults)
            for f in faults {
                add(Problem(code: f.code, row: rowNumber, line: row.line, field: f.field, fieldNumber: f.fieldNumber, message: f.reason), to: &report)
            }
            // The key: Frictionless reports a primary key whose cells are all empty, and a
            // repeated one; an XML record repeats an earlier one's natural key.
            switch keys.checkPrepared(faultFree: faults.isEmpty) {
            case .empty?:
                add(Problem(code: "primary-key", row: rowNumber, line: row.line, field: "", fieldNumber: 0, message: "the primary key's cells are all empty"), to: &report)
            case .repeated?:
                let what = expectedCells == nil ? "the natural key repeats an earlier record's" : "the primary key repeats an earlier row's"
                add(Problem(code: "primary-key", row: rowNumber, line: row.line, field: "", fieldNumber: 0, message: what), to: &report)
            default:
                break
            }
        }
    }

    func writeText(_ r: Report) {
        let b = out.buffer
        if r.valid {
            b.append("\(r.file): valid (\(r.rows) row\(r.rows == 1 ? "" : "s"))\n")
            return
        }
        b.append("\(r.file): invalid: \(r.problems) problem\(r.problems == 1 ? "" : "s") in \(r.rows) row\(r.rows == 1 ? "" : "s")")
        if let stopped = r.stopped { b.append("; stopped: \(stopped)") }
        b.append("\n")
        for (code, count) in r.counts.sorted(by: { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }) {
            b.append("  \(code) ×\(count)\n")
            for p in r.first where p.code == code {
                var place = p.row > 0 ? "row \(p.row), line \(p.line)" : (p.line > 0 ? "line \(p.line)" : "file")
                if p.fieldNumber > 0 { place += ", field \(p.fieldNumber)\(p.field.isEmpty ? "" : " " + p.field)" } else if !p.field.isEmpty { place += ", \(p.field)" }
                b.append("    \(place): \(p.message)\n")
            }
        }
        if r.problems > r.first.count { b.append("  (\(r.problems - r.first.count) more not listed; --max-errors N lists more)\n") }
    }

    func writeJSON(_ r: Report) {
        var o = JSONObjectWriter(into: out.buffer)
        o.member("file", r.file)
        o.member("feed", options.feed.spec.name)
        if let sha = r.sha256 { o.member("sha256", sha) }
        o.member("valid", r.valid)
        o.member("rows", r.rows)
        o.member("problems", r.problems)
        o.object("counts") { c in
            for (code, count) in r.counts.sorted(by: { $0.key < $1.key }) { c.member(code, count) }
        }
        o.objects("first", r.first) { o, p in
            o.member("code", p.code)
            o.member("row", p.row)
            o.member("line", p.line)
            o.member("field", p.field)
            o.member("fieldNumber", p.fieldNumber)
            o.member("message", p.message)
        }
        if let s = r.stopped { o.member("stopped", s) }
        o.end()
        out.buffer.append(UInt8(ascii: "\n"))
    }
}
