import Testing
@testable import TallyCore

@Suite struct KeyMemoTests {
    /// A tag that differs for every identity and in both halves.
    static func tag(_ identity: UInt64) -> [UInt64] { [identity &* 0x2545_F491_4F6C_DD1D ^ 0xA5, ~identity &+ 77] }

    static func store(_ memo: inout KeyMemo, _ identity: UInt64) {
        let t = tag(identity)
        t.withUnsafeBytes { memo.store(identity, tag: $0.baseAddress!) }
    }

    static func lookup(_ memo: borrowing KeyMemo, _ identity: UInt64) -> [UInt64]? {
        var t: [UInt64] = [0, 0]
        let found = t.withUnsafeMutableBytes { memo.lookup(identity, into: $0.baseAddress!) }
        return found ? t : nil
    }

    /// Many more identities than places, in a random order with repeats: whatever the memo
    /// answers is the tag stored for that very identity; it forgets, it never confuses.
    @Test func aHitIsAlwaysTheTagOfThatIdentity() {
        var memo = KeyMemo(entries: 0)
        #expect(memo.capacity == 8192)
        var state: UInt64 = 11
        func next() -> UInt64 { state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407; return state >> 17 }
        // Identities from the three packed ranges: persons (below 2^60), cards and accounts.
        let identities: [UInt64] = (0..<40_000).map { i in
            switch i % 3 {
            case 0: return UInt64(i)                     // includes 0, a resident number of zeros
            case 1: return 1 << 60 | UInt64(i) * 7919
            default: return 2 << 60 | UInt64(i)
            }
        }
        var stored = Set<UInt64>()
        var hits = 0, misses = 0, wrong = 0
        for _ in 0..<200_000 {
            // Half the time one of a few hundred busy identities, so some are found again.
            let pick = next() % 2 == 0 ? Int(next() % 300) : Int(next() % UInt64(identities.count))
            let identity = identities[pick]
            if let found = Self.lookup(memo, identity) {
                if found != Self.tag(identity) || !stored.contains(identity) { wrong += 1 }
                hits += 1
            } else {
                Self.store(&memo, identity)
                stored.insert(identity)
                misses += 1
            }
        }
        #expect(wrong == 0)
        #expect(hits > 50_000 && misses > 40_000, "hits \(hits), misses \(misses)")
    }

    /// A set keeps its last two identities; a third takes the first place and the oldest goes.
    @Test func aSetKeepsTheLastTwo() {
        var memo = KeyMemo(entries: 0)
        let home = memo.setIndex(12345)
        let same = Array((UInt64(12346)..<5_000_000).lazy.filter { memo.setIndex($0) == home }.prefix(2))
        #expect(same.count == 2)
        let a: UInt64 = 12345, b = same[0], c = same[1]
        Self.store(&memo, a)
        Self.store(&memo, b)
        #expect(Self.lookup(memo, a) == Self.tag(a) && Self.lookup(memo, b) == Self.tag(b))
        Self.store(&memo, c)
        #expect(Self.lookup(memo, a) == nil)
        #expect(Self.lookup(memo, b) == Self.tag(b) && Self.lookup(memo, c) == Self.tag(c))
        #expect(Self.lookup(memo, 0) == nil, "an empty place answers for nobody, not even identity 0")
    }

    @Test func sizeFollowsWhatItIsAskedToHold() {
        #expect(KeyMemo(entries: 8193).capacity == 16_384)
        #expect(KeyMemo(entries: 5_000_000).capacity == 8_388_608)
        #expect(KeyMemo(entries: 5_000_000).memoryBytes == 4_194_304 * 64)
    }
}
