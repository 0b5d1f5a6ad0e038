/// A small, fast, seedable generator (SplitMix64). tally-synth's output depends only on its
/// flags, so every random choice comes from one of these, seeded from the run's seed and the
/// (day, feed) it serves: any file can be regenerated alone, byte for byte.
struct SplitMix: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    /// A generator for one purpose, derived from the run's seed and up to three labels.
    init(seed: UInt64, _ a: UInt64, _ b: UInt64 = 0, _ c: UInt64 = 0) {
        var s = SplitMix(seed: seed ^ 0x9E37_79B9_7F4A_7C15)
        let x = s.next() ^ a &* 0xD6E8_FEB8_6659_FD93
        var t = SplitMix(seed: x)
        let y = t.next() ^ b &* 0xA076_1D64_78BD_642F
        var u = SplitMix(seed: y)
        state = u.next() ^ c &* 0xE703_7ED1_A0B4_28DB
    }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A uniform integer in `0..<n`.
    mutating func below(_ n: Int) -> Int { Int(next() % UInt64(max(n, 1))) }

    /// A uniform integer in `range`.
    mutating func within(_ range: ClosedRange<Int>) -> Int { range.lowerBound + below(range.count) }

    /// True with probability `p`.
    mutating func chance(_ p: Double) -> Bool { Double(next() >> 11) * 0x1p-53 < p }

    /// One element of a non-empty array.
    mutating func pick<T>(_ items: [T]) -> T { items[below(items.count)] }

    /// A count near `mean`: the integer part always, the fraction by chance.
    mutating func count(mean: Double) -> Int {
        let whole = Int(mean)
        return whole + (chance(mean - Double(whole)) ? 1 : 0)
    }
}
