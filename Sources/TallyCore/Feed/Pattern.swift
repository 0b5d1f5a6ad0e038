/// A Table Schema `pattern` constraint: an anchored regular expression, matched against a cell's
/// bytes as Frictionless does (`^(?:PATTERN)$`).
///
/// Compiled to a Glushkov position automaton and run bit-parallel, one step per byte with no
/// backtracking and no allocation, because patterns guard hot fields (card numbers on every
/// transit row). The syntax covers what feed schemas use: literals, `.`, escapes (`\d \w \s \.`
/// and the like), classes `[a-z0-9_]` and `[^…]`, groups `( )` and `(?: )`, alternation `|`,
/// and the quantifiers `? * + {n} {n,} {n,m}`. At most 64 positions after counted repetitions
/// are expanded; anything else is refused when the schema loads.
public struct Pattern: Sendable {
    public let source: String
    private let first: UInt64
    private let last: UInt64
    private let nullable: Bool
    private let follow: [UInt64]
    /// For each byte, the positions whose class holds it.
    private let accepts: [UInt64]

    public struct SyntaxError: Error, CustomStringConvertible {
        public var description: String
    }

    public init(_ source: String) throws(SyntaxError) {
        self.source = source
        var parser = Parser(bytes: Array(source.utf8))
        let tree = try parser.parseAlternation()
        guard parser.i == parser.bytes.count else { throw SyntaxError(description: "unbalanced ')' in pattern \"\(source)\"") }
        var builder = Builder()
        let info = try builder.build(tree)
        first = info.first
        last = info.last
        nullable = info.nullable
        follow = builder.follow
        var accepts = [UInt64](repeating: 0, count: 256)
        for (position, set) in builder.sets.enumerated() {
            for b in 0..<256 where set[b] { accepts[b] |= 1 << UInt64(position) }
        }
        self.accepts = accepts
    }

    /// Whether the whole of `bytes` matches.
    @inline(__always)
    public func matches(_ bytes: UnsafeRawBufferPointer) -> Bool {
        if bytes.isEmpty { return nullable }
        var state = first & accepts[Int(bytes[0])]
        var i = 1
        while i < bytes.count {
            if state == 0 { return false }
            var next: UInt64 = 0
            var s = state
            while s != 0 {
                let p = s.trailingZeroBitCount
                next |= follow[p]
                s &= s &- 1
            }
            state = next & accepts[Int(bytes[i])]
            i &+= 1
        }
        return state & last != 0
    }

    // MARK: - Parsing

    indirect enum Node {
        case set([Bool])
        case empty
        case concat([Node])
        case alternation([Node])
        case repeated(Node, min: Int, max: Int?)
        case optional(Node)
        case star(Node)
    }

    struct Parser {
        let bytes: [UInt8]
        var i = 0

        mutating func parseAlternation() throws(SyntaxError) -> Node {
            var branches = [try parseConcat()]
            while i < bytes.count && bytes[i] == UInt8(ascii: "|") {
                i += 1
                branches.append(try parseConcat())
            }
            return branches.count == 1 ? branches[0] : .alternation(branches)
        }

        mutating func parseConcat() throws(SyntaxError) -> Node {
            var items: [Node] = []
            while i < bytes.count && bytes[i] != UInt8(ascii: "|") && bytes[i] != UInt8(ascii: ")") {
                var atom = try parseAtom()
                while i < bytes.count {
                    switch bytes[i] {
                    case UInt8(ascii: "?"): atom = .repeated(atom, min: 0, max: 1); i += 1
                    case UInt8(ascii: "*"): atom = .repeated(atom, min: 0, max: nil); i += 1
                    case UInt8(ascii: "+"): atom = .repeated(atom, min: 1, max: nil); i += 1
                    case UInt8(ascii: "{"):
                        i += 1
                        let lo = try number()
                        var hi: Int? = lo
                        if i < bytes.count && bytes[i] == UInt8(ascii: ",") {
                            i += 1
                            hi = (i < bytes.count && bytes[i] == UInt8(ascii: "}")) ? nil : try number()
                        }
                        guard i < bytes.count && bytes[i] == UInt8(ascii: "}"), hi.map({ $0 >= lo }) ?? true else { throw SyntaxError(description: "bad {n,m} quantifier") }
                        i += 1
                        atom = .repeated(atom, min: lo, max: hi)
                    default:
                        items.append(atom)
                        atom = .empty
                    }
                    if case .empty = atom { break }
                }
                if case .empty = atom {} else { items.append(atom) }
            }
            return items.count == 1 ? items[0] : .concat(items)
        }

        mutating func number() throws(SyntaxError) -> Int {
            var n = 0, digits = 0
            // Counted past 64 is refused below; stop counting before the number can overflow
            // (fuzzing found `{2222222222222222222217}` trapping the loader).
            while i < bytes.count, bytes[i] &- 0x30 < 10 {
                n = min(n * 10 + Int(bytes[i] - 0x30), 1_000_000)
                i += 1
                digits += 1
            }
            guard digits > 0, n <= 64 else { throw SyntaxError(description: "bad repetition count") }
            return n
        }

        mutating func parseAtom() throws(SyntaxError) -> Node {
            let c = bytes[i]
            i += 1
            switch c {
            case UInt8(ascii: "("):
                if i + 1 < bytes.count && bytes[i] == UInt8(ascii: "?") && bytes[i + 1] == UInt8(ascii: ":") { i += 2 }
                let inner = try parseAlternation()
                guard i < bytes.count && bytes[i] == UInt8(ascii: ")") else { throw SyntaxError(description: "unclosed '('") }
                i += 1
                return inner
            case UInt8(ascii: "["): return .set(try parseClass())
            case UInt8(ascii: "."):
                var s = [Bool](repeating: true, count: 256); s[0x0A] = false
                return .set(s)
            case UInt8(ascii: "\\"): return .set(try escape(inClass: false))
            case UInt8(ascii: "^"), UInt8(ascii: "$"): throw SyntaxError(description: "anchors are implied (the whole value must match)")
            case UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "?"), UInt8(ascii: "{"): throw SyntaxError(description: "quantifier with nothing to repeat")
            default:
                var s = [Bool](repeating: false, count: 256); s[Int(c)] = true
                return .set(s)
            }
        }

        mutating func escape(inClass: Bool) throws(SyntaxError) -> [Bool] {
            guard i < bytes.count else { throw SyntaxError(description: "pattern ends with '\\'") }
            let e = bytes[i]
            i += 1
            var s = [Bool](repeating: false, count: 256)
            func add(_ r: ClosedRange<UInt8>) { for b in r { s[Int(b)] = true } }
            switch e {
            case UInt8(ascii: "d"): add(0x30...0x39)
            case UInt8(ascii: "w"): add(0x30...0x39); add(0x41...0x5A); add(0x61...0x7A); s[0x5F] = true
            case UInt8(ascii: "s"): for b in [0x20, 0x09, 0x0A, 0x0D, 0x0B, 0x0C] { s[b] = true }
            case UInt8(ascii: "D"), UInt8(ascii: "W"), UInt8(ascii: "S"):
                var lowered = Parser(bytes: [e | 0x20])
                s = try lowered.escape(inClass: inClass).map { !$0 }
            case UInt8(ascii: "n"): s[0x0A] = true
            case UInt8(ascii: "t"): s[0x09] = true
            case UInt8(ascii: "r"): s[0x0D] = true
            default:
                guard !(e >= 0x30 && e <= 0x39) && !((e | 0x20) >= 0x61 && (e | 0x20) <= 0x7A) else {
                    throw SyntaxError(description: "unsupported escape '\\\(Character(Unicode.Scalar(e)))'")
                }
                s[Int(e)] = true
            }
            return s
        }

        mutating func parseClass() throws(SyntaxError) -> [Bool] {
            var s = [Bool](repeating: false, count: 256)
            var negate = false
            if i < bytes.count && bytes[i] == UInt8(ascii: "^") { negate = true; i += 1 }
            var firstItem = true
            while i < bytes.count && (bytes[i] != UInt8(ascii: "]") || firstItem) {
                firstItem = false
                var lo: UInt8
                if bytes[i] == UInt8(ascii: "\\") {
                    i += 1
                    let set = try escape(inClass: true)
                    let members = (0..<256).filter { set[$0] }
                    if members.count != 1 { for m in members { s[m] = true }; continue }
                    lo = UInt8(members[0])
                } else {
                    lo = bytes[i]
                    i += 1
                }
                if i + 1 < bytes.count && bytes[i] == UInt8(ascii: "-") && bytes[i + 1] != UInt8(ascii: "]") {
                    let hi = bytes[i + 1]
                    i += 2
                    guard hi >= lo else { throw SyntaxError(description: "bad range in character class") }
                    for b in lo...hi { s[Int(b)] = true }
                } else {
                    s[Int(lo)] = true
                }
            }
            guard i < bytes.count else { throw SyntaxError(description: "unclosed '['") }
            i += 1
            return negate ? s.map { !$0 } : s
        }
    }

    // MARK: - Glushkov construction

    struct Builder {
        var sets: [[Bool]] = []
        var follow: [UInt64] = []

        struct Info { var first: UInt64; var last: UInt64; var nullable: Bool }
        /// Nodes built so far. Repetition copies its operand, so nested quantifiers on what holds
        /// no position (`(|)++++…`) would copy without bound while the 64-position limit never
        /// trips (fuzzing found one that ran for minutes): past this many, the pattern is refused.
        var steps = 0
        static let maximumSteps = 100_000

        mutating func build(_ node: Node) throws(SyntaxError) -> Info {
            steps += 1
            guard steps <= Self.maximumSteps else { throw SyntaxError(description: "pattern too complex (nested repetition)") }
            switch node {
            case .empty:
                return Info(first: 0, last: 0, nullable: true)
            case .set(let s):
                guard sets.count < 64 else { throw SyntaxError(description: "pattern too long (more than 64 positions)") }
                sets.append(s)
                follow.append(0)
                let bit: UInt64 = 1 << UInt64(sets.count - 1)
                return Info(first: bit, last: bit, nullable: false)
            case .concat(let items):
                var info = Info(first: 0, last: 0, nullable: true)
                for item in items {
                    let next = try build(item)
                    link(info.last, to: next.first)
                    info = Info(first: info.nullable ? info.first | next.first : info.first,
                                last: next.nullable ? info.last | next.last : next.last,
                                nullable: info.nullable && next.nullable)
                }
                return info
            case .alternation(let branches):
                var info = Info(first: 0, last: 0, nullable: false)
                for branch in branches {
                    let b = try build(branch)
                    info = Info(first: info.first | b.first, last: info.last | b.last, nullable: info.nullable || b.nullable)
                }
                return info
            case .optional(let inner):
                let x = try build(inner)
                return Info(first: x.first, last: x.last, nullable: true)
            case .star(let inner):
                let x = try build(inner)
                link(x.last, to: x.first)
                return Info(first: x.first, last: x.last, nullable: true)
            case .repeated(let inner, let min, let max):
                // Counted repetition becomes copies, each with positions of its own:
                // X{2,4} = X X X? X?, X{2,} = X X X*.
                var parts: [Node] = Array(repeating: inner, count: min)
                if let max {
                    parts += Array(repeating: Node.optional(inner), count: max - min)
                } else {
                    parts.append(.star(inner))
                }
                return try build(.concat(parts))
            }
        }

        mutating func link(_ from: UInt64, to: UInt64) {
            var f = from
            while f != 0 {
                let p = f.trailingZeroBitCount
                follow[p] |= to
                f &= f &- 1
            }
        }
    }
}
