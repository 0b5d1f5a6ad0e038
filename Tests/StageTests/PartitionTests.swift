import Foundation
import Testing

/// The rule Spark (or any scale-out) relies on: tally-score over N partitions of a record stream,
/// split by person key, gives exactly the lines of the whole stream, once merged in key order.
@Suite(.serialized) struct PartitionTests {
    @Test(arguments: [1, 2, 7])
    func scoringPartitionsByPersonGivesTheWholeStreamsLines(partitions n: Int) throws {
        let r = try LinkedRun(people: 3000, days: 6, seed: 4)
        defer { r.run.remove() }
        let args = ["--rules", LinkedRun.rules, "--as-of", "2026-11-06", "--corrections", r.corrections]
        let whole = try Harness.run("tally-score", args + [r.events])
        #expect(whole.status == 0)
        // Split by a hash of the person key, as Spark's partitionBy does; every partition gets
        // every correction (they address record ids, and are few).
        var parts = [[Substring]](repeating: [], count: n)
        for line in try String(contentsOfFile: r.events, encoding: .utf8).split(separator: "\n") {
            let key = line.range(of: "\"person\":\"").map { line[$0.upperBound...].prefix(34) } ?? ""
            var h: UInt64 = 14_695_981_039_346_656_037
            for b in key.utf8 { h = (h ^ UInt64(b)) &* 1_099_511_628_211 }
            parts[Int(h % UInt64(n))].append(line)
        }
        var merged: [Substring] = []
        for (i, part) in parts.enumerated() {
            let path = r.run.dir + "/part\(i).jsonl"
            try (part.joined(separator: "\n") + (part.isEmpty ? "" : "\n")).write(toFile: path, atomically: true, encoding: .utf8)
            let s = try Harness.run("tally-score", args + [path])
            #expect(s.status == 0)
            merged += s.text.split(separator: "\n")
        }
        let wholeLines = whole.text.split(separator: "\n")
        #expect(wholeLines.count > 100)
        #expect(merged.sorted() == wholeLines, "\(n) partitions")
    }
}
