import Foundation

/// Runs the real binaries and the Python oracles, as a user would, in a fresh directory per test.
enum Harness {
    /// The package's root, found from this file's path.
    static let root: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }()

    /// Where the built executables are: `TALLY_BIN` if set, else the debug build folder.
    static let binaries: String = ProcessInfo.processInfo.environment["TALLY_BIN"] ?? root + "/.build/debug"

    struct Result {
        var status: Int32
        var stdout: Data
        var stderr: String
        var text: String { String(decoding: stdout, as: UTF8.self) }
    }

    /// Runs `executable` (a tally binary name, or an absolute path) with `arguments`.
    @discardableResult
    static func run(_ executable: String, _ arguments: [String], stdin: Data? = nil, cwd: String? = nil,
                    environment: [String: String] = [:]) throws -> Result {
        let p = Process()
        if !environment.isEmpty { p.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
        p.executableURL = URL(fileURLWithPath: executable.hasPrefix("/") ? executable : binaries + "/" + executable)
        p.arguments = arguments
        if let cwd { p.currentDirectoryURL = URL(fileURLWithPath: cwd) }
        // stderr goes to a file and stdout to a pipe, so neither can fill up and block the child.
        let errPath = NSTemporaryDirectory() + "tally-stderr-" + UUID().uuidString
        _ = FileManager.default.createFile(atPath: errPath, contents: nil)
        defer { try? FileManager.default.removeItem(atPath: errPath) }
        let errHandle = try FileHandle(forWritingTo: URL(fileURLWithPath: errPath))
        let out = Pipe()
        p.standardOutput = out
        p.standardError = errHandle
        let input = Pipe()
        p.standardInput = input
        try p.run()
        if let stdin { try input.fileHandleForWriting.write(contentsOf: stdin) }
        try input.fileHandleForWriting.close()
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        try errHandle.close()
        let errData = FileManager.default.contents(atPath: errPath) ?? Data()
        return Result(status: p.terminationStatus, stdout: outData, stderr: String(decoding: errData, as: UTF8.self))
    }

    /// Runs a Python oracle script from Tests/oracles.
    static func oracle(_ script: String, _ arguments: [String]) throws -> Result {
        try run("/usr/bin/env", ["python3", root + "/Tests/oracles/" + script] + arguments)
    }

    /// A fresh scratch directory.
    static func scratch() -> String {
        let path = NSTemporaryDirectory() + "tally-stage-" + UUID().uuidString
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    static func files(in directory: String) -> [String] {
        (try? FileManager.default.contentsOfDirectory(atPath: directory).sorted()) ?? []
    }
}
