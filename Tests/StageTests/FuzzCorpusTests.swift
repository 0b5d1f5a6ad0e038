import Foundation
import Testing

/// The committed fuzz seeds replay through every fuzz target without a crash (scripts/fuzz.sh
/// runs the same targets under libFuzzer; this keeps the harness and its seeds working in every
/// build).
@Suite struct FuzzCorpusTests {
    @Test(arguments: ["csv", "record", "xml", "gzip", "rules", "pattern", "fold"])
    func theSeedsReplayWithoutACrash(target: String) throws {
        let corpus = Harness.root + "/Tests/Fuzz/corpus/" + target
        let seeds = Harness.files(in: corpus)
        #expect(seeds.count >= 2, "\(target): \(seeds.count) seeds")
        let run = try Harness.run("tally-fuzz", [target, corpus], cwd: Harness.root)
        #expect(run.status == 0 && run.text.contains("\(target): \(seeds.count) inputs replayed, no crash"), "\(run.text)\(run.stderr)")
    }

    @Test func anUnknownTargetIsBadUsage() throws {
        #expect(try Harness.run("tally-fuzz", ["nothing"]).status == 64)
    }
}
