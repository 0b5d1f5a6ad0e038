/// A Table Schema `pattern` constraint, with the meaning Frictionless gives it: Python's
/// `re.fullmatch` over the cell's Unicode scalars (so `[一-龥]{2,3}` takes 马丽, and `\d`, `\w`,
/// `\s` are Python's Unicode classes). The syntax taken, and what is refused when the schema
/// loads, is in `PatternParser`.
///
/// Compiled to a Glushkov position automaton (one position per character class, counted
/// repetition written out as copies), then to a DFA over classes of scalars, since patterns guard
/// hot fields (card numbers on every transit row): matching is one table step per character, with
/// no backtracking and no allocation, so time is linear in the value whatever the pattern. When
/// the DFA would pass `maximumStates` states, the automaton is run as it is instead, a set of
/// positions per step: still linear, slower. A pattern may have at most `maximumPositions`
/// positions once its counts are written out.
public struct Pattern: Sendable {
    public let source: String
    public static let maximumPositions = 4096
    public static let maximumStates = 4096

    /// The class of each ASCII scalar.
    private let asciiClass: [Int32]
    /// Where each class of non-ASCII scalars starts, ascending, and its class.
    private let starts: [UInt32]
    private let startClass: [Int32]
    private let classCount: Int
    /// DFA: `table[state * classCount + class]`; state 0 is dead, state 1 the start.
    private let table: [Int32]
    private let accepting: [Bool]
    /// Without a DFA: the positions, `words` 64-bit words a set.
    private let words: Int
    private let follow: [UInt64]
    private let classPositions: [UInt64]
    private let last: [UInt64]

    public struct SyntaxError: Error, CustomStringConvertible {
        public var description: String
    }

    public init(_ source: String) throws(SyntaxError) {
        self.source = source
        var parser = PatternParser(source)
        var builder = Glushkov()
        let info: Glushkov.Info
        do {
            info = try builder.build(try parser.parse())
        } catch {
            throw SyntaxError(description: "pattern \"\(source)\": \(error.message)\(error.position.map { " at position \($0)" } ?? "")")
        }
        let n = builder.positionSet.count
        let w = (n + 63) / 64
        builder.follow[0] = info.first
        var last = info.last
        if info.nullable { last.insert(0) }

        // Classes of scalars: every range end of every set is a boundary; intervals that lie in
        // the same sets are one class.
        var cuts: Set<UInt32> = [0]
        for set in builder.sets {
            for r in set.ranges {
                cuts.insert(r.lowerBound)
                if r.upperBound < ScalarSet.limit { cuts.insert(r.upperBound + 1) }
            }
        }
        let bounds = cuts.sorted()
        var signature = [Bits](repeating: Bits(), count: bounds.count)
        for (s, set) in builder.sets.enumerated() {
            for r in set.ranges {
                var j = Self.lastIndex(in: bounds, notAbove: r.lowerBound)
                while j < bounds.count && bounds[j] <= r.upperBound {
                    signature[j].insert(s)
                    j += 1
                }
            }
        }
        var classOfSignature: [Bits: Int32] = [:]
        var classSignatures: [Bits] = []
        var starts: [UInt32] = []
        var startClass: [Int32] = []
        for (j, sig) in signature.enumerated() {
            let c: Int32
            if let known = classOfSignature[sig] { c = known } else {
                c = Int32(classSignatures.count)
                classOfSignature[sig] = c
                classSignatures.append(sig)
            }
            if startClass.last != c {
                starts.append(bounds[j])
                startClass.append(c)
            }
        }
        let k = classSignatures.count
        self.starts = starts
        self.startClass = startClass
        classCount = k
        asciiClass = (0..<128).map { startClass[Self.lastIndex(in: starts, notAbove: UInt32($0))] }

        var positionsOfSet = [Bits](repeating: Bits(), count: builder.sets.count)
        for p in 1..<n { positionsOfSet[builder.positionSet[p]].insert(p) }
        var classPositions = [UInt64](repeating: 0, count: k * w)
        for (c, sig) in classSignatures.enumerated() {
            sig.forEach { s in positionsOfSet[s].forEach { p in classPositions[c * w + p >> 6] |= 1 << UInt64(p & 63) } }
        }
        var follow = [UInt64](repeating: 0, count: n * w)
        for p in 0..<n { builder.follow[p].forEach { q in follow[p * w + q >> 6] |= 1 << UInt64(q & 63) } }
        var lastWords = [UInt64](repeating: 0, count: w)
        last.forEach { p in lastWords[p >> 6] |= 1 << UInt64(p & 63) }
        words = w
        self.follow = follow
        self.classPositions = classPositions
        self.last = lastWords
        (table, accepting) = Self.determinize(n: n, w: w, k: k, follow: follow, classPositions: classPositions, last: lastWords)
    }

    /// Subset construction; empty when the DFA would pass `maximumStates` states or 2^22 cells.
    private static func determinize(n: Int, w: Int, k: Int, follow: [UInt64], classPositions: [UInt64],
                                    last: [UInt64]) -> ([Int32], [Bool]) {
        var states: [[UInt64]] = [[UInt64](repeating: 0, count: w), [1] + [UInt64](repeating: 0, count: w - 1)]
        var index: [[UInt64]: Int32] = [states[0]: 0, states[1]: 1]
        var table: [Int32] = [Int32](repeating: 0, count: k) // the dead state stays dead
        var reach = [UInt64](repeating: 0, count: w)
        var s = 1
        while s < states.count {
            guard states.count <= maximumStates, (states.count + 1) * k <= 1 << 22 else { return ([], []) }
            successors(of: states[s], follow: follow, into: &reach)
            for c in 0..<k {
                var next = reach
                var any: UInt64 = 0
                for m in 0..<w { next[m] &= classPositions[c * w + m]; any |= next[m] }
                if any == 0 { table.append(0); continue }
                if let known = index[next] { table.append(known); continue }
                index[next] = Int32(states.count)
                table.append(Int32(states.count))
                states.append(next)
            }
            s += 1
        }
        let accepting = states.map { set in zip(set, last).contains { $0 & $1 != 0 } }
        return (table, accepting)
    }

    /// The positions that may follow any position of `set` (whose width is `into`'s).
    private static func successors(of set: [UInt64], follow: [UInt64], into out: inout [UInt64]) {
        let w = out.count
        for m in 0..<w { out[m] = 0 }
        for j in 0..<w {
            var bits = set[j]
            while bits != 0 {
                let p = j * 64 + bits.trailingZeroBitCount
                for m in 0..<w { out[m] |= follow[p * w + m] }
                bits &= bits &- 1
            }
        }
    }

    private static func lastIndex(in sorted: [UInt32], notAbove v: UInt32) -> Int {
        var lo = 0, hi = sorted.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if sorted[mid] <= v { lo = mid + 1 } else { hi = mid }
        }
        return lo - 1
    }

    @inline(__always)
    private func classOf(_ v: UInt32) -> Int {
        starts.withUnsafeBufferPointer { s in
            var lo = 0, hi = s.count
            while lo < hi {
                let mid = (lo + hi) >> 1
                if s[mid] <= v { lo = mid + 1 } else { hi = mid }
            }
            return Int(startClass[lo - 1])
        }
    }

    /// Whether the whole of `bytes`, read as UTF-8, matches. Bytes that are not UTF-8 never match.
    public func matches(_ bytes: UnsafeRawBufferPointer) -> Bool {
        var i = 0
        let n = bytes.count
        if !table.isEmpty {
            return table.withUnsafeBufferPointer { t in
                asciiClass.withUnsafeBufferPointer { ascii in
                    var state = 1
                    while i < n {
                        let b = bytes[i]
                        let c: Int
                        if b < 0x80 {
                            c = Int(ascii[Int(b)])
                            i &+= 1
                        } else {
                            guard let v = Self.decode(bytes, &i) else { return false }
                            c = classOf(v)
                        }
                        state = Int(t[state &* classCount &+ c])
                        if state == 0 { return false }
                    }
                    return accepting[state]
                }
            }
        }
        var state = [UInt64](repeating: 0, count: words)
        var next = state
        state[0] = 1
        while i < n {
            let b = bytes[i]
            let c: Int
            if b < 0x80 {
                c = Int(asciiClass[Int(b)])
                i += 1
            } else {
                guard let v = Self.decode(bytes, &i) else { return false }
                c = classOf(v)
            }
            Self.successors(of: state, follow: follow, into: &next)
            var any: UInt64 = 0
            for m in 0..<words { next[m] &= classPositions[c * words + m]; any |= next[m] }
            if any == 0 { return false }
            swap(&state, &next)
        }
        return zip(state, last).contains { $0 & $1 != 0 }
    }

    /// One non-ASCII scalar from well-formed UTF-8 at `i`, moving past it; nil when malformed.
    @inline(__always)
    private static func decode(_ bytes: UnsafeRawBufferPointer, _ i: inout Int) -> UInt32? {
        let b0 = UInt32(bytes[i])
        let n = bytes.count
        func cont(_ k: Int) -> UInt32? {
            guard i + k < n else { return nil }
            let b = UInt32(bytes[i + k])
            return b & 0xC0 == 0x80 ? b & 0x3F : nil
        }
        switch b0 {
        case 0xC2...0xDF:
            guard let b1 = cont(1) else { return nil }
            i += 2
            return (b0 & 0x1F) << 6 | b1
        case 0xE0...0xEF:
            guard let b1 = cont(1), let b2 = cont(2) else { return nil }
            let v = (b0 & 0x0F) << 12 | b1 << 6 | b2
            guard v >= 0x800, !(0xD800...0xDFFF).contains(v) else { return nil }
            i += 3
            return v
        case 0xF0...0xF4:
            guard let b1 = cont(1), let b2 = cont(2), let b3 = cont(3) else { return nil }
            let v = (b0 & 0x07) << 18 | b1 << 12 | b2 << 6 | b3
            guard v >= 0x10000, v <= 0x10FFFF else { return nil }
            i += 4
            return v
        default:
            return nil
        }
    }
}

// MARK: - Glushkov construction

/// A set of small integers, growing as needed. Equal sets have equal words (no trailing zeros
/// are ever added), so it can key a dictionary.
struct Bits: Hashable {
    private(set) var words: [UInt64] = []

    mutating func insert(_ p: Int) {
        let w = p >> 6
        if w >= words.count { words += repeatElement(0, count: w - words.count + 1) }
        words[w] |= 1 << UInt64(p & 63)
    }

    mutating func formUnion(_ other: Bits) {
        if other.words.count > words.count { words += repeatElement(0, count: other.words.count - words.count) }
        for j in other.words.indices { words[j] |= other.words[j] }
    }

    func forEach(_ body: (Int) -> Void) {
        for (j, word) in words.enumerated() {
            var bits = word
            while bits != 0 {
                body(j * 64 + bits.trailingZeroBitCount)
                bits &= bits &- 1
            }
        }
    }
}

/// Positions, their character sets and the follow relation of a pattern. Position 0 is the
/// start: what follows it is what can come first.
struct Glushkov {
    var sets: [ScalarSet] = []
    var setIndex: [ScalarSet: Int] = [:]
    var positionSet: [Int] = [-1]
    var follow: [Bits] = [Bits()]
    /// Nodes built so far. Repetition builds its operand again for each copy, so nested counts
    /// over what holds no position (`((|){1000}){1000}`) would build without bound while the
    /// position limit never trips: past this many, the pattern is refused.
    var steps = 0
    static let maximumSteps = 100_000

    struct Info {
        var first = Bits()
        var last = Bits()
        var nullable = true
    }

    mutating func build(_ node: PatternNode) throws(PatternParser.Failure) -> Info {
        steps += 1
        guard steps <= Self.maximumSteps else { throw PatternParser.Failure(message: "pattern too complex (nested repetition)", position: nil) }
        switch node {
        case .empty:
            return Info()
        case .set(let s):
            guard positionSet.count <= Pattern.maximumPositions else {
                throw PatternParser.Failure(message: "more than \(Pattern.maximumPositions) positions once counted repetition is written out", position: nil)
            }
            let index: Int
            if let known = setIndex[s] { index = known } else {
                index = sets.count
                sets.append(s)
                setIndex[s] = index
            }
            let p = positionSet.count
            positionSet.append(index)
            follow.append(Bits())
            var bit = Bits()
            bit.insert(p)
            return Info(first: bit, last: bit, nullable: false)
        case .concat(let items):
            var info = Info()
            for item in items { info = then(info, try build(item)) }
            return info
        case .alternation(let branches):
            var info = Info(nullable: false)
            for branch in branches {
                let b = try build(branch)
                info.first.formUnion(b.first)
                info.last.formUnion(b.last)
                info.nullable = info.nullable || b.nullable
            }
            return info
        case .repeated(let inner, let min, let max):
            // X{2,4} = X X X? X?, X{2,} = X X X*: each copy has positions of its own.
            var info = Info()
            for _ in 0..<min { info = then(info, try build(inner)) }
            if let max {
                for _ in min..<max {
                    var x = try build(inner)
                    x.nullable = true
                    info = then(info, x)
                }
            } else {
                var x = try build(inner)
                link(x.last, to: x.first)
                x.nullable = true
                info = then(info, x)
            }
            return info
        }
    }

    /// `a` followed by `b`.
    private mutating func then(_ a: Info, _ b: Info) -> Info {
        link(a.last, to: b.first)
        var first = a.first
        if a.nullable { first.formUnion(b.first) }
        var last = b.last
        if b.nullable { last.formUnion(a.last) }
        return Info(first: first, last: last, nullable: a.nullable && b.nullable)
    }

    private mutating func link(_ from: Bits, to: Bits) {
        from.forEach { p in follow[p].formUnion(to) }
    }
}
