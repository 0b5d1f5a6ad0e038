import Foundation
import Testing
import TallyCore

/// A deterministic generator for test data.
struct TestRandom: RandomNumberGenerator {
    var state: UInt64

    /// A generator for a random test: its seed is `TALLY_TEST_SEED` when set (to replay a
    /// failure), else fresh, and is printed with the test's name so any run can be replayed.
    static func seeded(_ test: String) -> TestRandom {
        let seed = ProcessInfo.processInfo.environment["TALLY_TEST_SEED"].flatMap { UInt64($0) } ?? UInt64.random(in: 1...UInt64.max)
        print("\(test): seed \(seed) (TALLY_TEST_SEED=\(seed) replays it)")
        return TestRandom(state: seed)
    }
    mutating func next() -> UInt64 {
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        var z = state
        z = (z ^ (z >> 33)) &* 0xFF51_AFD7_ED55_8CCD
        return z ^ (z >> 29)
    }
}

/// Builds records that are valid by the schema but full of awkward text.
struct RecordFactory {
    var rng = TestRandom(state: 2026)
    static let pieces = ["a", "Z", "0", " ", "\"", "\\", "/", "\n", "\r", "\t", "\u{0}", "\u{1F}", "\u{7F}", "é", "中", "执", "号", "😀", "\u{2028}", "&amp;", "<b>", ","]

    mutating func text(_ maxLength: Int) -> String {
        var s = ""
        for _ in 0..<Int.random(in: 0...maxLength, using: &rng) { s += Self.pieces.randomElement(using: &rng)! }
        return s
    }

    mutating func hex(_ n: Int) -> String { String((0..<n).map { _ in "0123456789abcdef".randomElement(using: &rng)! }) }

    mutating func record() -> Record {
        let sources = ["court", "tax", "transit", "commerce", "corrections"]
        let source = sources.randomElement(using: &rng)!
        let schemes: [(String, String)] = [
            ("cn-rid", "990106199001011232"),
            ("cn-uscc", "91990000600037341B"), ("transit-card", "8000000000000123"), ("shop-account", "A0123456789"),
        ]
        var subject = schemes.randomElement(using: &rng)!
        var kind = source + "." + ["dishonest-debtor", "late", "fare-evasion", "default", "on-time"].randomElement(using: &rng)!
        var target: String?
        if source == "corrections" {
            kind = "correction." + ["dispute", "uphold", "retract", "reinstate"].randomElement(using: &rng)!
            target = "court:" + hex(32)
            subject = ("record", target!)
        }
        var attrs = Attributes()
        for i in 0..<Int.random(in: 0...5, using: &rng) { attrs.append(key: "k\(i)" + text(3), value: text(40)) }
        let linked = Bool.random(using: &rng)
        return Record(
            id: source + ":" + hex(32), source: source, kind: kind,
            subject: Subject(scheme: subject.0, id: Int.random(in: 0..<10, using: &rng) == 0 && target == nil ? nil : subject.1),
            at: Timestamp(seconds: Int64.random(in: -2_000_000_000...4_000_000_000, using: &rng)),
            amountFen: Bool.random(using: &rng) ? Int64.random(in: 0...100_000_000_000_000, using: &rng) : nil,
            target: target, attrs: attrs,
            prov: Provenance(file: source + "-20261127.csv" + text(2), sha256: hex(64), line: Int.random(in: 1...5_000_000, using: &rng)),
            person: linked ? "p_" + hex(32) : nil,
            link: linked ? [Link.direct, .crosswalk, .unlinked].randomElement(using: &rng)! : nil)
    }
}

@Suite struct RecordSchemaTests {
    @Test func thousandsOfEncodedRecordsAreValidForJSONSchemaAndDecodeFromPythonsEncoding() throws {
        let dir = Harness.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var factory = RecordFactory()
        let records = (0..<5000).map { _ in factory.record() }
        let out = ByteBuffer()
        for r in records { r.encode(into: out) }
        _ = FileManager.default.createFile(atPath: dir + "/records.jsonl", contents: Data(out.bytes))
        let check = try Harness.oracle("validate_jsonl.py", [Harness.root + "/schemas/record.schema.json", dir + "/records.jsonl", dir + "/python.jsonl"])
        #expect(check.status == 0, "\(check.text)\(check.stderr)")
        #expect(check.text.hasPrefix("validate_jsonl: 5000 lines, 0 problems"))
        // Python re-encoded every line with \u escapes (surrogate pairs for emoji) and sorted keys.
        let python = try String(contentsOfFile: dir + "/python.jsonl", encoding: .utf8).split(separator: "\n")
        #expect(python.count == records.count)
        var decoder = RecordDecoder()
        for (line, original) in zip(python, records) {
            var decoded = try decoder.decode(String(line))
            // Python's dict sorts attribute keys; compare attributes as sets of pairs.
            #expect(Set(decoded.attrs.map { [$0.key, $0.value] }) == Set(original.attrs.map { [$0.key, $0.value] }))
            decoded.attrs = original.attrs
            #expect(decoded == original)
        }
    }

    @Test func theSchemaRejectsWhatTheContractForbids() throws {
        let dir = Harness.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var factory = RecordFactory()
        var bad = factory.record()
        bad.kind = "correction.retract"
        bad.target = nil
        let out = ByteBuffer()
        bad.encode(into: out)
        out.append(#"{"v":1,"id":"court:00","source":"court","kind":"court.x","subject":{"scheme":"cn-rid"},"at":"2026-01-01T00:00:00Z","attrs":{},"prov":{"file":"f","sha256":"00","line":1}}"# + "\n")
        _ = FileManager.default.createFile(atPath: dir + "/bad.jsonl", contents: Data(out.bytes))
        let check = try Harness.oracle("validate_jsonl.py", [Harness.root + "/schemas/record.schema.json", dir + "/bad.jsonl"])
        #expect(check.status == 1)
        #expect(check.text.contains("line 1:") && check.text.contains("line 2:"))
    }

    @Test func scoresAreValidForTheScoreSchema() throws {
        let dir = Harness.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var rng = TestRandom(state: 7)
        let out = ByteBuffer()
        for i in 0..<2000 {
            let hex = String(format: "%032x", i)
            var reasons: [Score.Reason] = []
            for k in 0..<Int.random(in: 0...4, using: &rng) {
                reasons.append(.init(code: "tax.arrears", points: -Int.random(in: 0...200, using: &rng), records: ["tax:" + String(format: "%032x", k)]))
            }
            Score(person: "p_" + hex, score: Int.random(in: 300...900, using: &rng), tier: "standard",
                  asOf: CivilDate(year: 2026, month: 11, day: 28)!, rules: "sha256:" + String(repeating: "e", count: 64),
                  records: reasons.count, reasons: reasons, disputed: i % 3 == 0 ? ["tax:" + hex] : [],
                  retracted: i % 5 == 0 ? ["court:" + hex] : []).encode(into: out)
        }
        _ = FileManager.default.createFile(atPath: dir + "/scores.jsonl", contents: Data(out.bytes))
        let check = try Harness.oracle("validate_jsonl.py", [Harness.root + "/schemas/score.schema.json", dir + "/scores.jsonl"])
        #expect(check.status == 0, "\(check.text)")
    }
}
