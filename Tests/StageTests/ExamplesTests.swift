import Foundation
import Testing

/// Every program's `--help` ends with EXAMPLES, and every example runs as written: in order, in
/// one shell (with pipefail, so a failing stage inside a pipe fails too), in an empty directory,
/// with the programs on PATH and no TALLY_* variable set.
@Suite struct ExamplesTests {
    static let programs = ["tally-synth", "tally-validate", "tally-parse", "tally-link", "tally-store", "tally-score", "tally-explain", "tally-report"]

    /// The commands of an EXAMPLES section: each `$ ` line with the lines that continue it.
    static func commands(in section: String) -> [String] {
        var commands: [String] = []
        for line in section.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("  $ ") {
                commands.append(String(line.dropFirst(4)))
            } else if line.hasPrefix("    "), !commands.isEmpty {
                commands[commands.count - 1] += "\n" + line
            }
        }
        return commands
    }

    @Test(arguments: programs) func everyExampleRunsAsWritten(program: String) throws {
        let help = try Harness.run(program, ["--help"])
        #expect(help.status == 0)
        let text = help.text
        let start = try #require(text.range(of: "\nEXAMPLES:\n"), "\(program) --help has no EXAMPLES section")
        let section = String(text[start.upperBound...])
        // It ends the help: nothing of ArgumentParser's own sections after it.
        #expect(!section.contains("OPTIONS:") && !section.contains("USAGE:"))
        for line in section.split(separator: "\n") {
            #expect(line.count <= 80, "\(program): an example line wider than 80 columns: \(line)")
            #expect(line.hasPrefix("  # ") || line.hasPrefix("  $ ") || line.hasPrefix("    "), "\(program): a line that is neither comment nor command: \(line)")
        }
        let commands = Self.commands(in: section)
        #expect(commands.count >= 3, "\(program): \(commands.count) examples")

        // One shell for all, as a user typing them would have; each command says which it was if it fails.
        var script = "set -o pipefail\n"
        for (i, command) in commands.enumerated() {
            script += "{ \(command)\n} || { echo \"example \(i + 1) failed (exit $?): \(command.replacingOccurrences(of: "\"", with: "'").replacingOccurrences(of: "$", with: "\\$").replacingOccurrences(of: "`", with: "'"))\" >&2; exit 1; }\n"
        }
        let dir = Harness.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = Harness.binaries + ":" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin")
        let r = try Harness.run("/usr/bin/env", ["-u", "TALLY_SCHEMAS", "-u", "TALLY_RULES", "-u", "TALLY_BIN", "PATH=" + path, "bash", "-c", script], cwd: dir)
        #expect(r.status == 0, "\(program): \(r.stderr)")

        // Every file an example writes into holds something: no example "works" by writing nothing.
        let written = commands.flatMap { command in
            command.matches(of: /> ([A-Za-z0-9_.\/-]+)(?=\s|$)/).map { String($0.output.1) }
        }
        #expect(!written.isEmpty || program == "tally-synth" || program == "tally-store")
        for name in written where name != "/dev/null" {
            let size = (try? FileManager.default.attributesOfItem(atPath: dir + "/" + name)[.size] as? Int) ?? nil
            #expect((size ?? 0) > 0, "\(program): the examples left \(name) \(size == nil ? "missing" : "empty")")
        }
        // What the examples print shows their work (a count, a report, an explanation).
        #expect(!r.stdout.isEmpty, "\(program): the examples printed nothing")
    }
}
