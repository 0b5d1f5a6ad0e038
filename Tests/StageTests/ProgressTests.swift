import Foundation
import Testing

/// The long-running stages draw rows done and their rate on standard error when it is a
/// terminal (here a pseudo-terminal made by script(1)), erase it before their own messages, and
/// draw nothing with --quiet, nothing into a pipe or a file, and nothing over records streaming
/// to the same terminal.
@Suite struct ProgressTests {
    /// A directory of synthetic feeds and the records every stage reads.
    static func makeData() throws -> String {
        let dir = Harness.scratch()
        let script = """
        set -e -o pipefail
        tally-synth --people 3000 --history-days 60 --seed 5 --out feeds 2>/dev/null
        (umask 077; head -c 32 /dev/urandom | base64 > tally.secret)
        tally-parse --feed crosswalk feeds/crosswalk-* > crosswalk.jsonl 2>/dev/null
        tally-parse --feed tax feeds/tax-* 2>/dev/null \
            | tally-link --crosswalk crosswalk.jsonl --secret-file tally.secret > linked.jsonl 2>/dev/null
        """
        let r = try Harness.run("/usr/bin/env", ["PATH=" + Harness.binaries + ":/usr/bin:/bin", "bash", "-c", script], cwd: dir)
        #expect(r.status == 0, "\(r.stderr)")
        return dir
    }

    /// Runs `command` (a shell command in the data directory) with its standard error on a
    /// pseudo-terminal, redrawing at every check; returns what the terminal showed.
    static func onTerminal(_ command: String, in data: String) throws -> (status: Int32, screen: String) {
        let shell = "cd '\(data)' && PATH='\(Harness.binaries)':$PATH TALLY_PROGRESS_MS=0 \(command)"
        let r = try Harness.run("/usr/bin/script", ["-qfec", shell, "/dev/null"])
        return (r.status, r.text)
    }

    static let stages: [(name: String, command: String, unit: String)] = [
        ("tally-validate", "tally-validate --feed transit feeds/transit-20261101.csv.gz > report.txt", "rows"),
        ("tally-parse", "tally-parse --feed transit feeds/transit-20261101.csv.gz > transit.jsonl", "rows"),
        ("tally-link", "tally-link --relink --crosswalk crosswalk.jsonl --secret-file tally.secret linked.jsonl > relinked.jsonl", "lines"),
        ("tally-store", "tally-store ingest ledger-$$.db linked.jsonl", "lines"),
        ("tally-score", "tally-score --as-of 2026-11-01 linked.jsonl > scores.jsonl", "lines"),
        ("tally-explain", "tally-explain --all --as-of 2026-11-01 linked.jsonl > explanations.jsonl", "people"),
    ]

    @Test(arguments: stages.indices) func aTerminalShowsRowsAndRateAndNothingElseDoes(_ i: Int) throws {
        let (name, command, unit) = Self.stages[i]
        let data = try Self.makeData()
        defer { try? FileManager.default.removeItem(atPath: data) }
        let shown = try Self.onTerminal(command, in: data)
        #expect(shown.status == 0, "\(name): \(shown.screen)")
        // "\rtally-parse: FILE: 2,048 rows, 61,234 rows/s" then erase-to-end-of-line.
        let line = try #require(shown.screen.firstMatch(of: /\r(tally-[a-z]+): (?:[^\r\n]*: )?([0-9,]+) ([a-z]+), ([0-9,]+) ([a-z]+)\/s\u{1B}\[K/),
                                "\(name) drew no progress: \(shown.screen.debugDescription)")
        #expect(line.output.1 == name)
        #expect(Int(line.output.2.replacingOccurrences(of: ",", with: ""))! >= 1024)
        #expect(line.output.3 == unit || line.output.3 == "lines", "\(line.output.3)")
        #expect(line.output.3 == line.output.5)
        #expect(Int(line.output.4.replacingOccurrences(of: ",", with: ""))! > 0)
        if unit == "people" { #expect(shown.screen.contains(" people/s")) }
        // The last line drawn is erased (before the stage's own summary, or at the end).
        let erased = try #require(shown.screen.range(of: "\r\u{1B}[K", options: .backwards), "\(name) never erased its line")
        #expect(!shown.screen[erased.upperBound...].contains("/s\u{1B}[K"), "\(shown.screen.suffix(300).debugDescription)")
        #expect(!shown.screen[erased.upperBound...].contains("\r") || shown.screen[erased.upperBound...].hasSuffix("\r\n"))

        // --quiet: the same run, without the line.
        let quietly = command.contains(" > ") ? command.replacingOccurrences(of: " > ", with: " --quiet > ") : command + " --quiet"
        let quiet = try Self.onTerminal(quietly, in: data)
        #expect(quiet.status == 0)
        #expect(!quiet.screen.contains("/s\u{1B}[K") && !quiet.screen.contains("\u{1B}"), "\(name) --quiet: \(quiet.screen.debugDescription)")

        // Standard error into a file: nothing but the stage's own lines.
        let piped = try Harness.run("/usr/bin/env", ["PATH=" + Harness.binaries + ":/usr/bin:/bin", "TALLY_PROGRESS_MS=0", "bash", "-c", command], cwd: data)
        #expect(piped.status == 0)
        #expect(!piped.stderr.contains("\r") && !piped.stderr.contains("\u{1B}"), "\(name) into a file: \(piped.stderr.debugDescription)")
    }

    /// Records streaming to the terminal itself: no line is drawn over them.
    @Test func nothingIsDrawnOverRecordsOnTheSameTerminal() throws {
        let data = try Self.makeData()
        defer { try? FileManager.default.removeItem(atPath: data) }
        let shown = try Self.onTerminal("tally-parse --feed transit feeds/transit-20261101.csv.gz", in: data)
        #expect(shown.status == 0)
        #expect(shown.screen.contains("\"source\":\"transit\""), "the records came to the terminal")
        #expect(!shown.screen.contains("rows/s"), "\(shown.screen.suffix(400).debugDescription)")
    }
}
