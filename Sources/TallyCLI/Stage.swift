#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import ArgumentParser
import TallyBuildInfo
import TallyCore
import TallyIO

/// A failure a stage reports itself: one line on stderr and an exit status.
public struct StageFailure: Error, CustomStringConvertible {
    public var message: String
    public var status: Int32

    public init(_ message: String, status: Int32) {
        self.message = message
        self.status = status
    }

    public var description: String { message }
}

/// What every stage does around its work: Unix manners and error reporting.
public enum Stage {
    /// tally's version, as `--version` prints it and run summaries record it.
    public static let version = BuildInfo.description

    /// Runs `body` as stage `name`: SIGPIPE ignored, so a closed pipe is a write error that ends
    /// the stage quietly with status 0; input, output and stage failures printed as one line
    /// `name: message` and turned into their exit statuses.
    ///
    /// `progress`, given by the stages that show a progress line, says whether to (see
    /// `Progress`): not with --quiet, only on a terminal, and not where the stage streams its
    /// output (`streams`) to that terminal, where the line would be drawn over it.
    public static func run(_ name: String, progress: ProgressOptions? = nil, streams: Bool = true, _ body: () throws -> Int32) throws {
        FileStatus.guardStandardDescriptors()
        Progress.wanted = progress.map { !$0.quiet } == true && stderrIsTerminal && !(streams && isatty(1) != 0)
        signal(SIGPIPE, SIG_IGN)
        let status: Int32
        do {
            status = try body()
        } catch let error as OutputError where error == .brokenPipe {
            status = ExitStatus.ok
        } catch let error as OutputError {
            report(name, error.description)
            status = ExitStatus.ioError
        } catch let error as InputError {
            report(name, error.description)
            status = error.exitStatus
        } catch let error as StageFailure {
            report(name, error.message)
            status = error.status
        } catch let error as ExitCode {
            throw error
        } catch {
            report(name, "internal error: \(error)")
            status = ExitStatus.software
        }
        Progress.clear()
        if status != 0 { throw ExitCode(status) }
    }

    /// Writes `name: message` to stderr, as one line: control bytes escaped and the whole cut
    /// to 4 KiB (`InertText.message`), whatever the message quotes.
    public static func report(_ name: String, _ message: String) {
        Progress.clear()
        writeError("\(name): \(InertText.message(message))\n")
    }

    /// Writes text to stderr, unbuffered.
    public static func writeError(_ text: String) {
        var text = text
        text.withUTF8 { u in
            var p = u.baseAddress
            var left = u.count
            while left > 0, let q = p {
                let n = write(2, q, left)
                if n <= 0 { if errno == EINTR { continue }; return }
                p = q + n
                left -= n
            }
        }
    }

    /// Writes a page to standard output, or to `path` through a temporary file beside it and a
    /// rename, so that a reader never sees half a page.
    public static func writePage(_ page: String, to path: String?, mode: UInt32 = 0o644) throws {
        guard let path else {
            let out = OutputSink.standardOutput()
            out.buffer.append(page)
            try out.flush()
            return
        }
        try replaceFile(path, temporary: path + ".tmp-\(getpid())", mode: mode) { sink in
            sink.buffer.append(page)
            return true
        }
    }

    /// Writes `path` through `temporary` (a file beside it) and a rename, so that a reader never
    /// sees half of it. `body` fills the sink; when it throws or returns false, the temporary
    /// file is removed and `path` is left as it was. Returns whether `path` was replaced.
    @discardableResult
    public static func replaceFile(_ path: String, temporary: String, mode: UInt32, _ body: (OutputSink) throws -> Bool) throws -> Bool {
        let sink = try OutputSink.create(temporary, mode: mode)
        let keep: Bool
        do {
            keep = try body(sink)
            try sink.finish()
        } catch {
            unlink(temporary)
            throw error
        }
        guard keep else {
            unlink(temporary)
            return false
        }
        guard rename(temporary, path) == 0 else {
            let error = errno
            unlink(temporary)
            throw OutputError.io("\(path): cannot rename \(temporary) to it: \(String(cString: strerror(error)))")
        }
        return true
    }

    /// Whether stderr is a terminal (progress is shown only then).
    public static var stderrIsTerminal: Bool { isatty(2) != 0 }
}

/// Options for reading inputs, shared by every stage that reads files.
public struct InputOptions: ParsableArguments {
    @Argument(help: ArgumentHelp("Input files, plain or gzip (detected by content). '-' or none reads standard input.", valueName: "file"))
    public var files: [String] = []

    @Option(name: .long, help: ArgumentHelp("Refuse lines (CSV records) longer than this many bytes.", valueName: "bytes"))
    public var maxLineBytes: Int = InputLimits.standard.maxLineBytes

    @Option(name: .long, help: ArgumentHelp("Refuse gzip input that expands more than this many times (past 16 MiB).", valueName: "ratio"))
    public var maxRatio: Int = InputLimits.standard.maxRatio

    public init() {}

    public mutating func validate() throws {
        guard maxLineBytes >= 64 else { throw ValidationError("--max-line-bytes must be at least 64") }
        guard maxRatio >= 2 else { throw ValidationError("--max-ratio must be at least 2") }
    }

    /// The limits the options ask for.
    public var limits: InputLimits { InputLimits(maxLineBytes: maxLineBytes, maxRatio: maxRatio) }

    /// The inputs to read: the files given, or standard input.
    public var paths: [String] { files.isEmpty ? ["-"] : files }
}

extension Stage {
    /// Reads the secret behind person keys, refusing a missing (66), unsafe or short (64) file.
    public static func readSecret(_ path: String) throws -> [UInt8] {
        do {
            return try SecretFile.read(path, minimumBytes: 16)
        } catch {
            throw StageFailure(error.message, status: error.missing ? ExitStatus.noInput : ExitStatus.usage)
        }
    }
}

/// Where a record-stream stage puts what it could not take and its counts; shared by stages
/// whose rejects are lines that are not records.
public struct ReportOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Write rejected lines here as JSON Lines (mode 0600).", valueName: "file"))
    public var rejects: String?

    @Option(help: ArgumentHelp("Write the counts here as JSON.", valueName: "file"))
    public var stats: String?

    @Flag(help: "Exit 0 although lines were rejected (they are still reported). Without it any rejected line makes the exit status 65: these stages read tally's own output, so a line that is not a valid record means corruption upstream.")
    public var keepGoing = false

    public init() {}
}
