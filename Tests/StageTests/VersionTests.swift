import Foundation
import Testing

/// Every program names its version and the commit it was built from, and a stage's stats file
/// records the same.
@Suite struct VersionTests {
    static let programs = ["tally-synth", "tally-validate", "tally-parse", "tally-link", "tally-store", "tally-score", "tally-explain", "tally-report", "tally-bench"]

    @Test func everyProgramNamesItsVersionAndCommit() throws {
        let head = try Harness.run("/usr/bin/env", ["git", "-C", Harness.root, "rev-parse", "--short=12", "HEAD"]).text
            .trimmingCharacters(in: .whitespacesAndNewlines)
        var versions = Set<String>()
        for program in Self.programs {
            let r = try Harness.run(program, ["--version"])
            #expect(r.status == 0)
            let line = r.text.trimmingCharacters(in: .newlines)
            #expect(line.range(of: #"^\d+\.\d+\.\d+ \(commit ([0-9a-f]{12}(\+changes)?|unknown)\)$"#, options: .regularExpression) != nil, "\(program): \(line)")
            // Built from this checkout: the commit is HEAD's (with +changes when the tree differs).
            if head.count == 12 && Harness.binaries.hasPrefix(Harness.root) { #expect(line.contains("(commit \(head)"), "\(program): \(line), HEAD \(head)") }
            versions.insert(line)
        }
        #expect(versions.count == 1, "one version for all: \(versions)")
        let dir = Harness.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let rules = Harness.root + "/pipelines/rules/default.yaml"
        _ = try Harness.run("tally-score", ["--rules", rules, "--as-of", "2026-11-28", "--stats", dir + "/stats.json", "/dev/null"])
        let stats = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/stats.json"))) as! [String: Any]
        #expect(stats["tally_version"] as? String == versions.first)
    }
}
