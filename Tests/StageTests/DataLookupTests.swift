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
}
