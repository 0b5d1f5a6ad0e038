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

    /// The verdicts of `RepeatedKeys` against a set of the keys themselves, over files whose keys
    /// come in order with now and then a repeat of the greatest key, a repeat of an older one, a
    /// fresh key below the greatest, an empty key, a row that cannot be read, two cells that put
    /// the same bytes apart differently, and shorter keys; files in order throughout, in
    /// order with a shuffled stretch, and shuffled; each file after the last on the same keys
    /// (`removeAll`). Files whose keys are shuffled must leave the ordered reading, files in
    /// order must keep it.
    @Test func verdictsInOrderAndOutOfOrderAreThoseOfASetOfTheKeys() throws {
        let keys = RepeatedKeys(spec: try NaturalKeyTests.spec())
        var random = Seeded(state: 0x0DE5_0E7E)
        for file in 0..<60 {
            let shape = file % 3  // 0: in order; 1: in order with a shuffled stretch; 2: shuffled
            var cells: [[String]] = []
            for i in 0..<2000 {
                var rid = String(format: "R%08d", i), ref = "x"
                switch random.next(40) {
                case 0 where !cells.isEmpty: (rid, ref) = (cells[cells.count - 1][0], cells[cells.count - 1][1])
                case 1 where !cells.isEmpty: let old = cells[random.next(cells.count)]; (rid, ref) = (old[0], old[1])
                case 2 where i > 0: (rid, ref) = (String(format: "R%08d", random.next(i)), "y")
                case 3: (rid, ref) = ("", "")
                case 4 where !cells.isEmpty && !cells[cells.count - 1][0].isEmpty:
                    // The last key's bytes, cut between its cells one byte earlier.
                    let last = cells[cells.count - 1]
                    (rid, ref) = (String(last[0].dropLast()), String(last[0].last!) + last[1])
                case 5: rid = "R\(i)"
                default: break
                }
                cells.append([rid, ref])
            }
            if shape == 2 { cells.shuffle(using: &random) }
            if shape == 1 { cells[800..<900].shuffle(using: &random) }
            var seen = Set<[String]>()
            let before = keys.ordered
            #expect(before, "each file starts in the ordered reading")
            for (i, c) in cells.enumerated() {
                let row = NaturalKeyTests.row(c + ["a"])
                let unreadable = random.next(50) == 0
                if unreadable { row.readFault = RowFault(code: "structure-error", field: "", fieldNumber: 1, reason: "test") }
                keys.prepare(row)
                let verdict = keys.checkPrepared(faultFree: true)
                let expected: RepeatedKeys.Verdict? = unreadable ? nil : (c == ["", ""] ? .empty : (seen.insert(c).inserted ? .fresh : .repeated))
                #expect(verdict == expected, "file \(file) row \(i) \(c)")
            }
            #expect(keys.ordered == (shape != 2), "file \(file)")
            keys.removeAll()
        }
    }

    struct Seeded: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return state ^ (state >> 29)
        }
        mutating func next(_ n: Int) -> Int { Int(next() % UInt64(n)) }
    }
}
