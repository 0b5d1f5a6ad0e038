/// A set of Unicode scalar values (code points, surrogates included so that `\ud800` in a
/// pattern means what Python means: a code point no UTF-8 text holds), as sorted, disjoint,
/// non-adjacent closed ranges.
struct ScalarSet: Hashable, Sendable {
    static let limit: UInt32 = 0x10FFFF
    private(set) var ranges: [ClosedRange<UInt32>]

    init() { ranges = [] }
    init(_ scalar: UInt32) { ranges = [scalar...scalar] }
    init(_ range: ClosedRange<UInt32>) { ranges = [range] }
    init(ranges unsorted: [ClosedRange<UInt32>]) {
        ranges = []
        for r in unsorted.sorted(by: { $0.lowerBound < $1.lowerBound }) {
            if let last = ranges.last, r.lowerBound <= last.upperBound &+ 1 {
                ranges[ranges.count - 1] = last.lowerBound...max(last.upperBound, r.upperBound)
            } else {
                ranges.append(r)
            }
        }
    }

    static let all = ScalarSet(0...limit)

    var isEmpty: Bool { ranges.isEmpty }

    func union(_ other: ScalarSet) -> ScalarSet { ScalarSet(ranges: ranges + other.ranges) }

    func inverted() -> ScalarSet {
        var out: [ClosedRange<UInt32>] = []
        var next: UInt32 = 0
        for r in ranges {
            if r.lowerBound > next { out.append(next...(r.lowerBound - 1)) }
            next = r.upperBound &+ 1
        }
        if !ranges.isEmpty && ranges.last!.upperBound == Self.limit { return ScalarSet(ranges: out) }
        out.append(next...Self.limit)
        return ScalarSet(ranges: out)
    }

    func contains(_ scalar: UInt32) -> Bool {
        var lo = 0, hi = ranges.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if ranges[mid].upperBound < scalar { lo = mid + 1 } else { hi = mid }
        }
        return lo < ranges.count && ranges[lo].lowerBound <= scalar
    }

    /// All scalars for which `test` holds, as ranges (surrogates never).
    static func matching(_ test: (Unicode.Scalar) -> Bool) -> ScalarSet {
        var out: [ClosedRange<UInt32>] = []
        var start: UInt32? = nil
        var v: UInt32 = 0
        while v <= limit {
            let holds = Unicode.Scalar(v).map(test) ?? false
            if holds { if start == nil { start = v } } else if let s = start { out.append(s...(v - 1)); start = nil }
            v += 1
        }
        if let s = start { out.append(s...limit) }
        return ScalarSet(ranges: out)
    }

    // MARK: Python's classes for str patterns (re without the ASCII flag)
    //
    // They follow the Unicode data of the Swift standard library, which is newer than some
    // Pythons' (3.11 has Unicode 14): a code point assigned since may differ.

    /// `\d`: decimal digits (Python's `str.isdecimal`, general category Nd).
    static let digit = matching { $0.properties.numericType == .decimal }

    /// `\w`: what `str.isalnum()` accepts, and `_`. That is a letter (Lu, Ll, Lt, Lm, Lo) or a
    /// character with any numeric type (decimal, digit or numeric).
    static let word: ScalarSet = matching { s in
        if s == "_" { return true }
        switch s.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: return true
        default: return s.properties.numericType != nil
        }
    }

    /// `\s`: Python's `str.isspace()`: bidirectional class WS, B or S, or category Zs.
    static let space = ScalarSet(ranges: [0x09...0x0D, 0x1C...0x20, 0x85...0x85, 0xA0...0xA0, 0x1680...0x1680,
                                          0x2000...0x200A, 0x2028...0x2029, 0x202F...0x202F, 0x205F...0x205F,
                                          0x3000...0x3000])
}
