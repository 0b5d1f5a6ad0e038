import Foundation
import Testing

/// Where a program finds its feed declarations without --schemas: TALLY_SCHEMAS alone when set,
/// else ../share/tally/schemas/feeds beside the program, its source tree, then ./schemas/feeds;
/// and a message naming every place tried when none has the feed.
@Suite struct DataLookupTests {
    @Test func programsFindTheirDataInstalledOrByEnvironmentAndSayWhereTheyLooked() throws {
        let dir = Harness.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let fm = FileManager.default
        // An installed layout: PREFIX/bin/tally-parse and PREFIX/share/tally/schemas/feeds.
        try fm.createDirectory(atPath: dir + "/prefix/bin", withIntermediateDirectories: true)
        try fm.createDirectory(atPath: dir + "/prefix/share/tally", withIntermediateDirectories: true)
        try fm.copyItem(atPath: Harness.binaries + "/tally-parse", toPath: dir + "/prefix/bin/tally-parse")
        try fm.copyItem(atPath: Harness.root + "/schemas", toPath: dir + "/prefix/share/tally/schemas")
        try fm.createDirectory(atPath: dir + "/elsewhere", withIntermediateDirectories: true)
        let installed = try Harness.run(dir + "/prefix/bin/tally-parse", ["--feed", "transit", "-"], stdin: Data(), cwd: dir + "/elsewhere")
        #expect(!installed.stderr.contains("unknown feed"), "\(installed.stderr)")
        #expect(installed.stderr.contains("no header row"), "the transit feed was found and read: \(installed.stderr)")

        // Nothing beside it and nothing here: every place tried is named.
        try fm.removeItem(atPath: dir + "/prefix/share")
        let lost = try Harness.run(dir + "/prefix/bin/tally-parse", ["--feed", "transit", "-"], stdin: Data(), cwd: dir + "/elsewhere")
        #expect(lost.status == 64)
        #expect(lost.stderr.contains("/prefix/bin/../share/tally/schemas/feeds (missing)") && lost.stderr.contains("./schemas/feeds (missing)"), "\(lost.stderr)")

        // ./schemas/feeds in the working directory.
        try fm.createDirectory(atPath: dir + "/elsewhere/schemas", withIntermediateDirectories: true)
        try fm.copyItem(atPath: Harness.root + "/schemas/feeds", toPath: dir + "/elsewhere/schemas/feeds")
        let here = try Harness.run(dir + "/prefix/bin/tally-parse", ["--feed", "transit", "-"], stdin: Data(), cwd: dir + "/elsewhere")
        #expect(here.stderr.contains("no header row"), "\(here.stderr)")

        // TALLY_SCHEMAS, when set, is the only place: a wrong one is said, not passed over.
        let wrong = try Harness.run("/usr/bin/env", ["TALLY_SCHEMAS=" + dir + "/nowhere", dir + "/prefix/bin/tally-parse", "--feed", "transit", "-"],
                                    stdin: Data(), cwd: dir + "/elsewhere")
        #expect(wrong.status == 64 && wrong.stderr.contains("looked in \(dir)/nowhere (missing)"), "\(wrong.stderr)")
        let right = try Harness.run("/usr/bin/env", ["TALLY_SCHEMAS=" + Harness.root + "/Tests/Fixtures/parse/parking", dir + "/prefix/bin/tally-parse",
                                                     "--feed", "parking", Harness.root + "/Tests/Fixtures/parse/parking/parking-20261127.csv"], cwd: dir)
        #expect(right.status == 0 && !right.stdout.isEmpty, "\(right.stderr)")
    }

    /// The default rules the same way: TALLY_RULES alone when set, else
    /// ../share/tally/pipelines/rules/default.yaml beside the program, else its source tree's.
    @Test func theDefaultRulesAreFoundInstalledOrByEnvironment() throws {
        let dir = Harness.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let fm = FileManager.default
        try fm.createDirectory(atPath: dir + "/prefix/bin", withIntermediateDirectories: true)
        try fm.createDirectory(atPath: dir + "/prefix/share/tally/pipelines/rules", withIntermediateDirectories: true)
        try fm.copyItem(atPath: Harness.binaries + "/tally-score", toPath: dir + "/prefix/bin/tally-score")
        try fm.copyItem(atPath: Harness.root + "/schemas", toPath: dir + "/prefix/share/tally/schemas")
        // Installed rules that differ from the source tree's, so the output says which was read.
        var rules = try String(contentsOfFile: Harness.root + "/pipelines/rules/default.yaml", encoding: .utf8)
        rules += "\n# installed copy\n"
        try rules.write(toFile: dir + "/prefix/share/tally/pipelines/rules/default.yaml", atomically: true, encoding: .utf8)
        let digest = try Harness.run("/usr/bin/env", ["sha256sum", dir + "/prefix/share/tally/pipelines/rules/default.yaml"]).text.prefix(64)
        let installed = try Harness.run(dir + "/prefix/bin/tally-score", ["--as-of", "2026-11-28", "--stats", dir + "/stats.json", "/dev/null"], cwd: dir)
        #expect(installed.status == 0, "\(installed.stderr)")
        let stats = try String(contentsOfFile: dir + "/stats.json", encoding: .utf8)
        #expect(stats.contains("\"rules\":\"sha256:\(digest)\""), "the installed rules were read: \(stats)")

        // Gone: every place tried is named (66, as for a missing --rules file).
        try fm.removeItem(atPath: dir + "/prefix/share/tally/pipelines")
        let lost = try Harness.run(dir + "/prefix/bin/tally-score", ["--as-of", "2026-11-28", "-"], stdin: Data(), cwd: dir)
        #expect(lost.status == 66 && lost.stderr.contains("/prefix/bin/../share/tally/pipelines/rules/default.yaml (missing)"), "\(lost.stderr)")

        // TALLY_RULES, when set, is the only place.
        let wrong = try Harness.run("/usr/bin/env", ["TALLY_RULES=" + dir + "/nowhere.yaml", Harness.binaries + "/tally-score", "--as-of", "2026-11-28", "-"], stdin: Data())
        #expect(wrong.status == 66 && wrong.stderr.contains("looked in \(dir)/nowhere.yaml (missing)"), "\(wrong.stderr)")
    }
}
