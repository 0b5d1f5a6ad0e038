import TallyCore
import TallyIO

/// Where a stage's rejected lines go: `--rejects FILE` as JSON Lines
/// `{file, line, field, code, reason, raw}` (mode 0600, as they may hold raw identifiers), or,
/// without it, the first 20 as `stage: file:line: reason` on stderr and a count of the rest.
public final class RejectLog {
    let stage: String
    let sink: OutputSink?
    /// What a reject is, in the stderr summary ("lines", or "rows" for a feed).
    let noun: String
    var shownOnStderr = 0
    /// How many rejects were logged.
    public private(set) var count = 0

    public init(stage: String, path: String?, noun: String = "lines") throws {
        self.stage = stage
        self.noun = noun
        if let path, let note = FileStatus.keepPrivate(path, what: "rejects file") { Stage.report(stage, note) }
        sink = try path.map { try OutputSink.create($0, mode: 0o600) }
    }

    /// Logs one rejected line. `display` names the file on stderr (the path given), `file` in
    /// the rejects file (as provenance names it); they are the same unless given apart.
    public func add(file: String, display: String? = nil, line: Int, field: String = "", code: String, reason: String, raw: String) throws {
        count += 1
        if let sink {
            var o = JSONObjectWriter(into: sink.buffer)
            o.member("file", file)
            o.member("line", line)
            o.member("field", field)
            o.member("code", code)
            o.member("reason", reason)
            o.member("raw", raw)
            o.end()
            sink.buffer.append(UInt8(ascii: "\n"))
            try sink.flushIfFull()
        } else {
            shownOnStderr += 1
            if shownOnStderr <= 20 { Stage.report(stage, "\(display ?? file):\(line): \(field.isEmpty ? "" : field + ": ")\(reason)") }
        }
    }

    /// The record view of `bytes`, or nil once it is rejected as `not-a-record`: the one way
    /// every stage that takes records reads a line. `log: false` rejects it without logging (a
    /// line logged on an earlier pass over the same input).
    public func view(_ bytes: UnsafeRawBufferPointer, _ scanner: inout RecordViewScanner, file: String, line: Int,
                     log: Bool = true, what: String = "not a tally.record") throws -> RecordView? {
        do { return try scanner.view(bytes) } catch {
            if log { try add(file: file, line: line, code: "not-a-record", reason: "\(what): \(error)", raw: bytes.text) }
            return nil
        }
    }

    /// Flushes the file, or says how many rejects stderr did not show.
    public func finish() throws {
        try sink?.finish()
        if shownOnStderr > 20 {
            Stage.report(stage, "\(shownOnStderr - 20) more rejected \(noun) not shown (use --rejects FILE)")
        }
    }
}

/// Reads JSON Lines from files (or stdin) one line at a time. A file that cannot be opened or
/// read is reported and the next one is read; the worst status is kept for the end.
public struct LineInput {
    public let paths: [String]
    /// What messages and `body` call each path: the path itself, unless the stage reads a copy.
    public let names: [String]
    public let limits: InputLimits
    public let stage: String
    /// The worst status met so far (sysexits).
    public private(set) var status = ExitStatus.ok
    /// The indices of the paths that could not be read to the end.
    public private(set) var failed: Set<Int> = []
    /// Lines read and their rate, on a terminal.
    let progress: Progress?

    public init(paths: [String], limits: InputLimits, stage: String, names: [String]? = nil) {
        self.paths = paths
        self.names = names ?? paths
        self.limits = limits
        self.stage = stage
        progress = Progress.start(stage, unit: "lines")
    }

    /// Calls `body(file, lineNumber, bytes)` for every line of every file; empty lines are
    /// skipped. `file` is the name given on the command line.
    ///
    /// A line's bytes stay valid until `linesWillMove` is called: a stage that holds on to lines
    /// (tally-link links them in batches) finishes with them there. It is called before the
    /// reader reads more into its buffer and once each file is done, whether it ended or failed.
    public mutating func forEachLine(linesWillMove: () throws -> Void = {}, _ body: (String, Int, UnsafeRawBufferPointer) throws -> Void) throws {
        try forEachLine(skipping: [], linesWillMove: linesWillMove) { _, file, number, line in try body(file, number, line) }
    }

    /// The same, with each path's index first, leaving out the paths at `skipping`.
    public mutating func forEachLine(skipping: Set<Int>, linesWillMove: () throws -> Void = {},
                                     _ body: (Int, String, Int, UnsafeRawBufferPointer) throws -> Void) throws {
        for (index, path) in paths.enumerated() where !skipping.contains(index) {
            let name = names[index]
            progress?.reading(name)
            var reader: LineReader?
            do {
                let input = try InputFile.open(path, limits: limits, hashing: false, named: name == path ? nil : name)
                let lines = LineReader(input)
                reader = lines
                while true {
                    var next = try lines.nextBuffered()
                    if next == nil {
                        try linesWillMove()
                        next = try lines.next()
                    }
                    guard let line = next else { break }
                    if line.isEmpty { continue }
                    progress?.advance()
                    try body(index, name, lines.lineNumber, line)
                }
            } catch let error as InputError {
                Stage.report(stage, error.description)
                status = ExitStatus.worst(status, error.exitStatus)
                failed.insert(index)
            }
            try withExtendedLifetime(reader) { try linesWillMove() }
        }
    }
}

/// The `--stats FILE` a stage writes: one JSON object of what the stage puts `before`, tally's
/// version, the counts, and what it puts `after` them.
public enum StatsFile {
    public static func write(_ path: String, before: (inout JSONObjectWriter) -> Void = { _ in }, counts: [(String, Int)],
                             after: (inout JSONObjectWriter) -> Void = { _ in }) throws {
        let sink = try OutputSink.create(path)
        var o = JSONObjectWriter(into: sink.buffer)
        before(&o)
        o.member("tally_version", Stage.version)
        for (key, value) in counts { o.member(key, value) }
        after(&o)
        o.end()
        sink.buffer.append(UInt8(ascii: "\n"))
        try sink.finish()
    }
}
