#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import ArgumentParser

/// `--quiet`, for the stages that show progress.
public struct ProgressOptions: ParsableArguments {
    @Flag(help: "Show no progress line. Without it, rows done and their rate are redrawn on standard error every TALLY_PROGRESS_MS milliseconds (250), and only when standard error is a terminal: never in a pipe, a file or cron.")
    public var quiet = false

    public init() {}
}

/// The progress line of a long-running stage: `tally-parse: FILE: 1,234,567 rows, 812,345 rows/s`,
/// redrawn in place on standard error and erased when the work is done, so that what stays on
/// the terminal is the stage's own summary. Shown only when standard error is a terminal and
/// `--quiet` was not given (`Progress.start` gives nil otherwise, and then costs nothing).
///
/// Counting a row is an add and a compare; the clock is read every 1,024 rows.
public final class Progress {
    /// Whether this process shows progress: set once, by `Stage.run`, before any work starts.
    nonisolated(unsafe) static var wanted = false

    static let interval: UInt64 = {
        if let text = getenv("TALLY_PROGRESS_MS").map({ String(cString: $0) }), let ms = UInt64(text) { return ms * 1_000_000 }
        return 250_000_000
    }()

    let stage: String
    let unit: String
    /// What is being read (a file's name), shown before the count.
    var label = ""
    public private(set) var done = 0
    private var nextCheck = 1024
    private let started: UInt64
    private var lastDrawn: UInt64
    /// Whether a progress line is on the screen now (`Stage.report` erases it before a message).
    nonisolated(unsafe) static var onScreen = false

    /// A progress line for `stage`, or nil when none is to be shown.
    public static func start(_ stage: String, unit: String = "rows") -> Progress? {
        wanted ? Progress(stage: stage, unit: unit) : nil
    }

    init(stage: String, unit: String) {
        self.stage = stage
        self.unit = unit
        started = Self.now()
        lastDrawn = started
    }

    /// Names what is read from now on: a file as given, `-` as standard input.
    public func reading(_ name: String) {
        label = name == "-" ? "standard input" : name
    }

    /// One more row done.
    @inline(__always)
    public func advance() {
        done &+= 1
        if done >= nextCheck { check() }
    }

    func check() {
        nextCheck = done + 1024
        let now = Self.now()
        guard now &- lastDrawn >= Self.interval else { return }
        lastDrawn = now
        let seconds = Double(now &- started) / 1e9
        let rate = seconds > 0 ? Int(Double(done) / seconds) : 0
        Stage.writeError("\r\(stage): \(label.isEmpty ? "" : label + ": ")\(Language.en.number(done)) \(unit), \(Language.en.number(rate)) \(unit)/s\u{1B}[K")
        Self.onScreen = true
    }

    /// Erases the line, if one is drawn (before a stage's message, and at the end of its work).
    public static func clear() {
        guard onScreen else { return }
        onScreen = false
        Stage.writeError("\r\u{1B}[K")
    }

    static func now() -> UInt64 {
        var t = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t)
        return UInt64(t.tv_sec) * 1_000_000_000 + UInt64(t.tv_nsec)
    }

}
