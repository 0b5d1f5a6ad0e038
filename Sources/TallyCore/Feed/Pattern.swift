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
public struct Pattern: @unchecked Sendable { // immutable: the pointers are into `tables`, never written after init
    public let source: String
    public static let maximumPositions = 4096
    public static let maximumStates = 4096

    /// Owns the tables the matcher reads.
    private let tables: PatternTables
    /// The matching half: plain pointers into `tables`, copied without touching a reference
    /// count, valid while this pattern lives.
    public let matcher: Matcher

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
        var classOfSignature: [Bits: UInt16] = [:]
        var classSignatures: [Bits] = []
        var starts: [UInt32] = []
        var startClass: [UInt16] = []
        for (j, sig) in signature.enumerated() {
            let c: UInt16
            if let known = classOfSignature[sig] { c = known } else {
                guard classSignatures.count < Int(UInt16.max) else { throw SyntaxError(description: "pattern \"\(source)\": too many distinct character classes") }
                c = UInt16(classSignatures.count)
                classOfSignature[sig] = c
                classSignatures.append(sig)
            }
            if startClass.last != c {
                starts.append(bounds[j])
                startClass.append(c)
            }
        }
        let k = classSignatures.count
        guard k <= Int(UInt16.max) else { throw SyntaxError(description: "pattern \"\(source)\": too many distinct character classes") }

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
        let (table, accepting) = Self.determinize(n: n, w: w, k: k, follow: follow, classPositions: classPositions, last: lastWords)
        let tables = PatternTables(starts: starts, startClass: startClass, classCount: k, table: table, accepting: accepting,
                                   follow: follow, classPositions: classPositions, last: lastWords)
        self.tables = tables
        matcher = Matcher(tables)
    }

    /// Whether the whole of `bytes`, read as UTF-8, matches. Bytes that are not UTF-8 never match.
    /// (The matcher's pointers are plain values, which keep nothing alive: the extended lifetime
    /// holds the tables they point into through the match, whatever an optimised caller does
    /// with the pattern after.)
    @inline(__always)
    public func matches(_ bytes: UnsafeRawBufferPointer) -> Bool { withExtendedLifetime(tables) { matcher.matches(bytes) } }

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
    static func successors(of set: [UInt64], follow: [UInt64], into out: inout [UInt64]) {
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

}

extension Pattern {
    /// A pattern's DFA as plain values: copying one (into a validator's per-field plan) retains
    /// nothing, so the per-cell check costs no reference counting. Valid while its pattern lives.
    public struct Matcher: @unchecked Sendable {
        unowned(unsafe) let tables: PatternTables
        let ascii: UnsafePointer<UInt16>
        let bmp: UnsafePointer<UInt32>
        let blocks: UnsafePointer<UInt16>
        /// The DFA, nil when it would be too big: `table[offset + class]` is the next state's
        /// offset (its number times the number of classes). Offset 0 is the dead state; accepting
        /// states are numbered last, so a state accepts when its offset is at least `acceptFrom`.
        let table: UnsafePointer<Int32>?
        let startOffset: Int
        let acceptFrom: Int
        /// The bytes each place may hold, when the pattern takes only ASCII strings of one
        /// length (`PatternTables.places`), else nil.
        let places: UnsafePointer<UInt64>?
        /// The places checked eight at a time first (`PatternTables.spans`), and their bounds.
        public let spanned: Int
        let spans: UnsafePointer<UInt64>?
        /// The one length (in bytes) the pattern takes when it is checked place by place.
        public let length: Int

        init(_ tables: PatternTables) {
            self.tables = tables
            ascii = UnsafePointer(tables.ascii)
            bmp = UnsafePointer(tables.bmp)
            blocks = UnsafePointer(tables.blocks)
            table = tables.table.map { UnsafePointer($0) }
            startOffset = tables.startOffset
            acceptFrom = tables.acceptFrom
            places = tables.places.map { UnsafePointer($0) }
            length = tables.length
            spanned = tables.spanned
            spans = tables.spans.map { UnsafePointer($0) }
        }

        static let top: UInt64 = 0x8080_8080_8080_8080

        /// Whether the pattern is checked place by place (`PatternTables.places`).
        public var checksPlaces: Bool { places != nil }

        /// Whether place `i` (of `length`) takes `byte`, when the pattern is checked place by place.
        public func placeTakes(_ byte: UInt8, at i: Int) -> Bool {
            guard let places, i < length else { return false }
            return PatternTables.place(i, of: places, takes: Int(byte))
        }

        /// Whether the whole of `bytes`, read as UTF-8, matches. Bytes that are not UTF-8 never match.
        public func matches(_ bytes: UnsafeRawBufferPointer) -> Bool {
            guard let places, let base = bytes.baseAddress else { return matchesByAutomaton(bytes) }
            // One bit test a byte, none waiting on the one before: a card number's sixteen
            // digits no longer take sixteen dependent table steps.
            guard bytes.count == length else { return false }
            // Eight places at once where each takes one range of bytes: in every byte lane,
            // (b | 80) - low keeps the top bit when b >= low, and (high | 80) - (b & 7F) when
            // b <= high; neither borrows from the next lane.
            if let spans {
                var lanes = Self.top
                var i = 0
                while i < spanned {
                    let x = base.loadUnaligned(fromByteOffset: i, as: UInt64.self)
                    let low = spans[i &>> 2], high = spans[i &>> 2 | 1]
                    lanes &= ((x | Self.top) &- low) & (high &- (x & ~Self.top)) & ~x
                    i &+= 8
                }
                guard lanes == Self.top else { return false }
            }
            var all: UInt64 = 1
            for i in spanned..<length {
                let b = Int(base.load(fromByteOffset: i, as: UInt8.self))
                all &= places[i &<< 2 | b &>> 6] &>> UInt64(b & 63)
            }
            return all & 1 != 0
        }

        /// `matches` without the place-by-place check: the DFA, or the positions.
        public func matchesByAutomaton(_ bytes: UnsafeRawBufferPointer) -> Bool {
            guard let base = bytes.baseAddress else { return table != nil ? startOffset >= acceptFrom : tables.last[0] & 1 != 0 }
            guard let table else { return simulate(base, bytes.count) }
            let n = bytes.count
            var state = startOffset
            var i = 0
            while i < n {
                guard let c = nextClass(base, n, &i) else { return false }
                state = Int(table[state &+ c])
                if state == 0 { return false }
            }
            return state >= acceptFrom
        }

        /// Without a DFA: the set of positions reached, step by step.
        private func simulate(_ base: UnsafeRawPointer, _ n: Int) -> Bool {
            let words = tables.words
            var state = [UInt64](repeating: 0, count: words)
            var next = state
            state[0] = 1
            var i = 0
            while i < n {
                guard let c = nextClass(base, n, &i) else { return false }
                Pattern.successors(of: state, follow: tables.follow, into: &next)
                var any: UInt64 = 0
                for m in 0..<words { next[m] &= tables.classPositions[c * words + m]; any |= next[m] }
                if any == 0 { return false }
                swap(&state, &next)
            }
            return zip(state, tables.last).contains { $0 & $1 != 0 }
        }

        /// The class of the character at `i`, moving past it; nil when the bytes there are not UTF-8.
        @inline(__always)
        private func nextClass(_ base: UnsafeRawPointer, _ n: Int, _ i: inout Int) -> Int? {
            let b = base.load(fromByteOffset: i, as: UInt8.self)
            if b < 0x80 {
                i &+= 1
                return Int(ascii[Int(b)])
            }
            guard let v = PatternTables.decode(base, n, &i) else { return nil }
            return classOf(v)
        }

        @inline(__always)
        private func classOf(_ v: UInt32) -> Int {
            guard v < 0x10000 else { return tables.astralClass(v) }
            let e = bmp[Int(v >> 8)]
            return e & PatternTables.uniform != 0 ? Int(e & 0xFFFF) : Int(blocks[Int(e) &+ Int(v & 0xFF)])
        }
    }
}

/// A compiled pattern's tables, read through raw pointers so that the matching loop does no
/// bounds checks and no reference counting per character (measured with `tally-bench patterns`).
/// Immutable once built.
final class PatternTables: @unchecked Sendable {
    /// The class of each ASCII scalar.
    let ascii: UnsafeMutablePointer<UInt16>
    /// For each 256-scalar block of the BMP: `uniform | class` when the block is one class, else
    /// where its 256 classes start in `blocks`.
    let bmp: UnsafeMutablePointer<UInt32>
    let blocks: UnsafeMutablePointer<UInt16>
    static let uniform: UInt32 = 1 << 31
    /// Beyond the BMP: where each class starts, ascending, and its class.
    private let starts: [UInt32]
    private let startClass: [UInt16]
    private let classCount: Int
    /// The DFA as `Pattern` reads it (see there); nil when the DFA would be too big, and the
    /// positions are run as they are.
    let table: UnsafeMutablePointer<Int32>?
    let startOffset: Int
    let acceptFrom: Int
    /// When the DFA takes only strings of `length` ASCII characters (a card number, `A[0-9]{10}`,
    /// `[0-9]{17}[0-9Xx]`: most feed patterns): for each place, the bytes it may hold, as 256
    /// bits (four words, bits 128 and up clear); else nil. Checked with `tally-bench patterns`:
    /// a card number took 22 ns through the DFA, 13 ns place by place, 5 ns with `spans`.
    let places: UnsafeMutablePointer<UInt64>?
    let length: Int
    /// The first `spanned` places (a multiple of eight), when each takes one range of bytes:
    /// for each eight, a word of their lowest bytes and a word of their highest with the top
    /// bit of each byte set, for `Matcher.matches` to check eight bytes at once; else nil.
    let spans: UnsafeMutablePointer<UInt64>?
    let spanned: Int
    /// The longest such pattern checked place by place.
    static let maximumPlaces = 64
    /// The positions, for running them without a DFA: `words` 64-bit words a set.
    let words: Int
    let follow: [UInt64]
    let classPositions: [UInt64]
    let last: [UInt64]

    init(starts: [UInt32], startClass: [UInt16], classCount: Int, table: [Int32], accepting: [Bool],
         follow: [UInt64], classPositions: [UInt64], last: [UInt64]) {
        self.starts = starts
        self.startClass = startClass
        self.classCount = classCount
        func slowClass(_ v: UInt32) -> UInt16 {
            var lo = 0, hi = starts.count
            while lo < hi {
                let mid = (lo + hi) / 2
                if starts[mid] <= v { lo = mid + 1 } else { hi = mid }
            }
            return startClass[lo - 1]
        }
        ascii = .allocate(capacity: 128)
        for v in 0..<128 { ascii[v] = slowClass(UInt32(v)) }
        bmp = .allocate(capacity: 256)
        var blockList: [UInt16] = []
        // Walk the class starts once: a block with no start inside it is one class.
        var j = 0 // the interval holding the block's first scalar
        for b in 0..<256 {
            let low = UInt32(b << 8), high = low + 256
            while j + 1 < starts.count && starts[j + 1] <= low { j += 1 }
            if j + 1 >= starts.count || starts[j + 1] >= high {
                bmp[b] = Self.uniform | UInt32(startClass[j])
            } else {
                bmp[b] = UInt32(blockList.count)
                var m = j
                for v in low..<high {
                    while m + 1 < starts.count && starts[m + 1] <= v { m += 1 }
                    blockList.append(startClass[m])
                }
            }
        }
        blocks = .allocate(capacity: max(blockList.count, 1))
        for (i, c) in blockList.enumerated() { blocks[i] = c }
        if table.isEmpty {
            self.table = nil
            startOffset = 0
            acceptFrom = 0
        } else {
            // Renumber: the dead state first, then the others, the accepting ones last; each
            // entry becomes the next state's offset in the table.
            let states = accepting.count
            var number = [Int](repeating: 0, count: states)
            var next = 1
            for s in 1..<states where !accepting[s] { number[s] = next; next += 1 }
            let firstAccepting = next
            for s in 1..<states where accepting[s] { number[s] = next; next += 1 }
            let t = UnsafeMutablePointer<Int32>.allocate(capacity: table.count)
            for s in 0..<states {
                for c in 0..<classCount {
                    t[number[s] * classCount + c] = Int32(number[Int(table[s * classCount + c])] * classCount)
                }
            }
            self.table = t
            startOffset = number[1] * classCount
            acceptFrom = firstAccepting * classCount
        }
        words = last.count
        self.follow = follow
        self.classPositions = classPositions
        self.last = last
        (places, length) = Self.places(table: self.table, startOffset: startOffset, acceptFrom: acceptFrom, classCount: classCount,
                                       ascii: ascii, starts: starts, startClass: startClass)
        (spans, spanned) = Self.spans(places, length)
    }

    /// Whether place `i` of `places` takes byte `b` (see `places`).
    static func place(_ i: Int, of places: UnsafePointer<UInt64>, takes b: Int) -> Bool {
        places[i << 2 | b >> 6] >> UInt64(b & 63) & 1 != 0
    }

    /// The ranges of the first places, eight by eight, while each takes one range (see `spans`).
    static func spans(_ places: UnsafeMutablePointer<UInt64>?, _ length: Int) -> (UnsafeMutablePointer<UInt64>?, Int) {
        guard let places else { return (nil, 0) }
        var words: [UInt64] = []
        chunks: for chunk in 0..<(length / 8) {
            var low: UInt64 = 0, high: UInt64 = 0
            for lane in 0..<8 {
                let i = chunk * 8 + lane
                let taken = (0..<128).filter { b in place(i, of: places, takes: b) }
                guard let first = taken.first, let last = taken.last, last - first + 1 == taken.count else { break chunks }
                low |= UInt64(first) << UInt64(8 * lane)
                high |= UInt64(last | 0x80) << UInt64(8 * lane)
            }
            words += [low, high]
        }
        guard !words.isEmpty else { return (nil, 0) }
        let p = UnsafeMutablePointer<UInt64>.allocate(capacity: words.count)
        p.initialize(from: words, count: words.count)
        return (p, words.count * 4)
    }

    /// The DFA read as places (see `places`), or nil when it does not take a fixed set of bytes
    /// at each place of one length. Place by place, the states reachable there (the DFA is not
    /// minimal: `(?:a|b)c` reaches two after one byte) must each take the same bytes, only
    /// ASCII, and none may accept, until every state reachable accepts and leads nowhere. At
    /// most `maximumPlaces` places; none is not a pattern worth it.
    static func places(table: UnsafeMutablePointer<Int32>?, startOffset: Int, acceptFrom: Int, classCount k: Int,
                       ascii: UnsafeMutablePointer<UInt16>, starts: [UInt32], startClass: [UInt16]) -> (UnsafeMutablePointer<UInt64>?, Int) {
        guard let table else { return (nil, 0) }
        // The classes that hold a scalar beyond ASCII: each must lead nowhere at every place.
        var wide = [Bool](repeating: false, count: k)
        for j in starts.indices where j + 1 == starts.count || starts[j + 1] > 0x80 {
            wide[Int(startClass[j])] = true
        }
        func takes(_ state: Int) -> [UInt64] {
            var place: [UInt64] = [0, 0, 0, 0]
            for b in 0..<128 where table[state + Int(ascii[b])] != 0 { place[b >> 6] |= 1 << UInt64(b & 63) }
            return place
        }
        var masks: [UInt64] = []
        var reached: Set<Int> = [startOffset]
        while !reached.contains(where: { $0 >= acceptFrom }) {
            guard masks.count < 4 * maximumPlaces, reached.count <= maximumPlaces else { return (nil, 0) }
            var next: Set<Int> = []
            var place: [UInt64]?
            for state in reached {
                for c in 0..<k where table[state + c] != 0 {
                    guard !wide[c] else { return (nil, 0) }
                    next.insert(Int(table[state + c]))
                }
                let mine = takes(state)
                guard place == nil || place! == mine else { return (nil, 0) }
                place = mine
            }
            // A place that takes nothing: nothing matches. Rare; the DFA has it.
            guard !next.isEmpty else { return (nil, 0) }
            masks += place!
            reached = next
        }
        for state in reached {
            guard state >= acceptFrom else { return (nil, 0) }
            for c in 0..<k where table[state + c] != 0 { return (nil, 0) }
        }
        guard !masks.isEmpty else { return (nil, 0) }
        let p = UnsafeMutablePointer<UInt64>.allocate(capacity: masks.count)
        p.initialize(from: masks, count: masks.count)
        return (p, masks.count / 4)
    }

    deinit {
        ascii.deallocate()
        bmp.deallocate()
        blocks.deallocate()
        table?.deallocate()
        places?.deallocate()
        spans?.deallocate()
    }

    /// The class of a scalar beyond the BMP.
    func astralClass(_ v: UInt32) -> Int {
        var lo = 0, hi = starts.count
        while lo < hi {
            let mid = (lo + hi) >> 1
            if starts[mid] <= v { lo = mid + 1 } else { hi = mid }
        }
        return Int(startClass[lo - 1])
    }

    /// One non-ASCII scalar from well-formed UTF-8 at `i`, moving past it; nil when malformed.
    @inline(__always)
    static func decode(_ base: UnsafeRawPointer, _ n: Int, _ i: inout Int) -> UInt32? {
        let b0 = UInt32(base.load(fromByteOffset: i, as: UInt8.self))
        @inline(__always) func cont(_ k: Int) -> UInt32? {
            guard i &+ k < n else { return nil }
            let b = UInt32(base.load(fromByteOffset: i &+ k, as: UInt8.self))
            return b & 0xC0 == 0x80 ? b & 0x3F : nil
        }
        switch b0 {
        case 0xC2...0xDF:
            guard let b1 = cont(1) else { return nil }
            i &+= 2
            return (b0 & 0x1F) << 6 | b1
        case 0xE0...0xEF:
            guard let b1 = cont(1), let b2 = cont(2) else { return nil }
            let v = (b0 & 0x0F) << 12 | b1 << 6 | b2
            guard v >= 0x800, !(0xD800...0xDFFF).contains(v) else { return nil }
            i &+= 3
            return v
        case 0xF0...0xF4:
            guard let b1 = cont(1), let b2 = cont(2), let b3 = cont(3) else { return nil }
            let v = (b0 & 0x07) << 18 | b1 << 12 | b2 << 6 | b3
            guard v >= 0x10000, v <= 0x10FFFF else { return nil }
            i &+= 4
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
