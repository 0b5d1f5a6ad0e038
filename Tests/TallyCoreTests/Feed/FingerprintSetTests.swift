@testable import TallyCore
import Testing

/// The table behind RepeatedKeys: every fingerprint once, through growth and after emptying,
/// the all-zero one included. The fingerprints come from a fixed-seed generator.
@Suite struct FingerprintSetTests {
    @Test func eachFingerprintIsFreshOnceThroughGrowthAndEmptying() {
        var seed: UInt64 = 0x5EED_0FF1_A6
        func next() -> UInt64 { seed = seed &* 6364136223846793005 &+ 1442695040888963407; return seed }
        let set = FingerprintSet(capacity: 1)
        var kept: [(UInt64, UInt64)] = []
        for i in 0..<50_000 {
            // Some share their low word (the slot) with another, so probing is exercised.
            let pair = (i % 7 == 0 && !kept.isEmpty ? kept[kept.count / 2].0 : next(), next())
            #expect(set.insert(pair.0, pair.1))
            kept.append(pair)
        }
        #expect(set.count == 50_000)
        for pair in kept { #expect(!set.insert(pair.0, pair.1)) }
        #expect(set.insert(0, 0) && !set.insert(0, 0) && !set.insert(0, 1), "the zero fingerprint is kept as (0, 1)")
        set.removeAll()
        #expect(set.count == 0)
        for pair in kept.prefix(1000) { #expect(set.insert(pair.0, pair.1)) }
    }

    /// A key of two cells: the same cells give the same fingerprint, and lists that put the same
    /// bytes in other cells, or differ only by zero bytes at a word's end, do not.
    @Test func aKeysCellsAreTakenApartByTheirCounts() throws {
        let spec = try NaturalKeyTests.spec()
        let keys = RepeatedKeys(spec: spec)
        func print(_ cells: [String]) -> String {
            let bytes = cells.map { Array($0.utf8) }
            return bytes[0].withUnsafeBytes { a in bytes[1].withUnsafeBytes { b in
                String(describing: keys.fingerprint(csvCells: { [a, b, a][$0] }))
            } }
        }
        let lists: [[String]] = [["ab", "c"], ["a", "bc"], ["abc", ""], ["", "abc"], ["a\u{0}", ""], ["a", "\u{0}"],
                                 ["a", ""], ["12345678", "9"], ["1234567", "89"], ["123456789", ""], ["1234567\u{0}", ""]]
        let prints = lists.map(print)
        #expect(Set(prints).count == lists.count, "\(prints)")
        #expect(prints == lists.map(print), "the same cells, the same fingerprint")
        #expect(print(["", ""]) == "empty")
    }
}
