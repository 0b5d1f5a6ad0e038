/// A parsed pattern: what the automaton is built from.
indirect enum PatternNode {
    case set(ScalarSet)
    case empty
    case concat([PatternNode])
    case alternation([PatternNode])
    case repeated(PatternNode, min: Int, max: Int?)
}

/// Reads Python `re` syntax, as a Table Schema `pattern` carries it, over Unicode scalars.
///
/// Everything whose meaning under `re.fullmatch` is a plain regular language is taken, with the
/// same reading as Python's `sre_parse`: a `{` that does not make a quantifier is a literal, `]`
/// first in a class is a literal, lazy quantifiers (`*?`) are accepted since laziness never
/// changes whether a whole value matches. What would need more than a finite automaton, or whose
/// meaning depends on flags, is refused: backreferences, lookaround, conditionals, atomic groups
/// and possessive quantifiers, `\b \B \A \Z`, `\N{…}`, inline flags, comments. `^` is taken only
/// at the start of a top-level branch and `$` only at its end, where under fullmatch they change
/// nothing. Python's own syntax errors are errors here too.
struct PatternParser {
    let scalars: [UInt32]
    var i = 0
    var depth = 0
    var groupNames: Set<String> = []
    static let maximumDepth = 100
    static let maximumCount = 1000

    init(_ source: String) { scalars = source.unicodeScalars.map(\.value) }

    struct Failure: Error {
        var message: String
        var position: Int?
    }

    private func fail(_ message: String, at position: Int? = nil) -> Failure {
        Failure(message: message, position: position ?? i)
    }

    private var atEnd: Bool { i >= scalars.count }
    private func peek(_ offset: Int = 0) -> UInt32? { i + offset < scalars.count ? scalars[i + offset] : nil }
    private func isChar(_ c: Unicode.Scalar, at offset: Int = 0) -> Bool { peek(offset) == c.value }

    mutating func parse() throws(Failure) -> PatternNode {
        let node = try parseAlternation(topLevel: true)
        if !atEnd { throw fail("unbalanced parenthesis") }
        return node
    }

    private mutating func parseAlternation(topLevel: Bool) throws(Failure) -> PatternNode {
        var branches = [try parseSequence(topLevel: topLevel)]
        while isChar("|") {
            i += 1
            branches.append(try parseSequence(topLevel: topLevel))
        }
        return branches.count == 1 ? branches[0] : .alternation(branches)
    }

    /// One branch: atoms and their quantifiers, up to `|`, `)` or the end.
    private mutating func parseSequence(topLevel: Bool) throws(Failure) -> PatternNode {
        var items: [PatternNode] = []
        var lastIsRepeat = false
        var afterAnchor = false
        while let c = peek(), c != 0x7C /* | */, c != 0x29 /* ) */ {
            let start = i
            i += 1
            switch c {
            case 0x5E: // ^
                guard topLevel && items.isEmpty && !afterAnchor else {
                    throw fail("'^' is supported only at the start of the pattern (where it changes nothing)", at: start)
                }
                afterAnchor = true
                continue
            case 0x24: // $
                guard topLevel, atEnd || isChar("|") else {
                    throw fail("'$' is supported only at the end of the pattern (where it changes nothing)", at: start)
                }
                continue
            case 0x2A, 0x2B, 0x3F: // * + ?
                let (min, max) = c == 0x2A ? (0, nil) : c == 0x2B ? (1, nil) : (0, Optional(1))
                try quantify(&items, min: min, max: max, lastIsRepeat: lastIsRepeat, afterAnchor: afterAnchor, at: start)
                lastIsRepeat = true
                continue
            case 0x7B: // {
                if let (min, max) = try countedRepeat() {
                    try quantify(&items, min: min, max: max, lastIsRepeat: lastIsRepeat, afterAnchor: afterAnchor, at: start)
                    lastIsRepeat = true
                    continue
                }
                items.append(.set(ScalarSet(c)))
            case 0x28: items.append(try parseGroup(at: start)) // (
            case 0x5B: items.append(.set(try parseClass(at: start))) // [
            case 0x2E: items.append(.set(ScalarSet(0x0A).inverted())) // .
            case 0x5C: items.append(.set(try escape(at: start)))
            default: items.append(.set(ScalarSet(c)))
            }
            lastIsRepeat = false
            afterAnchor = false
        }
        switch items.count {
        case 0: return .empty
        case 1: return items[0]
        default: return .concat(items)
        }
    }

    private mutating func quantify(_ items: inout [PatternNode], min: Int, max: Int?, lastIsRepeat: Bool,
                                   afterAnchor: Bool, at start: Int) throws(Failure) {
        guard let last = items.last, !afterAnchor else { throw fail("nothing to repeat", at: start) }
        guard !lastIsRepeat else { throw fail("multiple repeat", at: start) }
        if isChar("?") {
            i += 1 // lazy: the same verdict under fullmatch
        } else if isChar("+") {
            throw fail("possessive quantifiers are not supported", at: start)
        }
        items[items.count - 1] = .repeated(last, min: min, max: max)
    }

    /// After `{`: `{n}`, `{n,}`, `{,m}`, `{n,m}` or `{,}` as Python reads them; nil (with the
    /// position back after the `{`) when the text is no quantifier and `{` is a literal.
    private mutating func countedRepeat() throws(Failure) -> (Int, Int?)? {
        let after = i
        if isChar("}") { return nil }
        let lo = digits()
        var hi: (digits: Int, value: Int)
        if isChar(",") {
            i += 1
            hi = digits()
        } else {
            hi = lo
        }
        guard isChar("}") else { i = after; return nil }
        i += 1
        let min = lo.digits > 0 ? lo.value : 0
        let max: Int? = hi.digits > 0 ? hi.value : nil
        guard min <= Self.maximumCount, (max ?? 0) <= Self.maximumCount else {
            throw fail("a repetition count above \(Self.maximumCount) is not supported", at: after - 1)
        }
        if let max, max < min { throw fail("min repeat greater than max repeat", at: after - 1) }
        return (min, max)
    }

    private mutating func digits() -> (digits: Int, value: Int) {
        var value = 0, count = 0
        while let d = peek(), d >= 0x30, d <= 0x39 {
            value = Swift.min(value * 10 + Int(d - 0x30), 1_000_000_000)
            count += 1
            i += 1
        }
        return (count, value)
    }

    private mutating func parseGroup(at start: Int) throws(Failure) -> PatternNode {
        if isChar("?") {
            if isChar(":", at: 1) {
                i += 2
            } else if isChar("P", at: 1) && isChar("<", at: 2) {
                i += 3
                var name = ""
                while let c = peek(), c != 0x3E /* > */ {
                    name.unicodeScalars.append(Unicode.Scalar(c) ?? "\u{FFFD}")
                    i += 1
                }
                guard !atEnd else { throw fail("missing >, unterminated name", at: start + 3) }
                i += 1
                guard Self.isIdentifier(name) else { throw fail("bad character in group name '\(name)'", at: start + 3) }
                guard groupNames.insert(name).inserted else { throw fail("redefinition of group name '\(name)'", at: start + 3) }
            } else {
                throw fail("'(?' groups other than (?:…) and (?P<name>…) are not supported (lookaround, backreferences, flags, comments)", at: start)
            }
        }
        depth += 1
        guard depth <= Self.maximumDepth else { throw fail("groups nested more than \(Self.maximumDepth) deep are not supported", at: start) }
        let inner = try parseAlternation(topLevel: false)
        depth -= 1
        guard isChar(")") else { throw fail("missing ), unterminated subpattern", at: start) }
        i += 1
        return inner
    }

    static func isIdentifier(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, first == "_" || first.properties.isXIDStart else { return false }
        return name.unicodeScalars.dropFirst().allSatisfy { $0.properties.isXIDContinue }
    }

    // MARK: Escapes and classes

    /// What one escape means: a class (`\d`) or one scalar.
    private enum Escaped {
        case scalar(UInt32)
        case set(ScalarSet)

        var asSet: ScalarSet {
            switch self {
            case .scalar(let v): return ScalarSet(v)
            case .set(let s): return s
            }
        }
    }

    /// An escape outside a class, after the backslash.
    private mutating func escape(at start: Int) throws(Failure) -> ScalarSet {
        switch try escaped(inClass: false, at: start) {
        case .scalar(let v): return ScalarSet(v)
        case .set(let s): return s
        }
    }

    private mutating func escaped(inClass: Bool, at start: Int) throws(Failure) -> Escaped {
        guard let e = peek() else { throw fail("bad escape (end of pattern)", at: start) }
        i += 1
        switch e {
        case 0x64: return .set(ScalarSet.digit) // d
        case 0x44: return .set(ScalarSet.digit.inverted()) // D
        case 0x77: return .set(ScalarSet.word) // w
        case 0x57: return .set(ScalarSet.word.inverted()) // W
        case 0x73: return .set(ScalarSet.space) // s
        case 0x53: return .set(ScalarSet.space.inverted()) // S
        case 0x61: return .scalar(0x07) // a
        case 0x66: return .scalar(0x0C) // f
        case 0x6E: return .scalar(0x0A) // n
        case 0x72: return .scalar(0x0D) // r
        case 0x74: return .scalar(0x09) // t
        case 0x76: return .scalar(0x0B) // v
        case 0x62 where inClass: return .scalar(0x08) // b, backspace in a class
        case 0x78: return .scalar(try hex(2, at: start)) // x
        case 0x75: return .scalar(try hex(4, at: start)) // u
        case 0x55: // U
            let v = try hex(8, at: start)
            guard v <= ScalarSet.limit else { throw fail("bad escape \\U", at: start) }
            return .scalar(v)
        case 0x4E: throw fail("named characters (\\N{…}) are not supported", at: start)
        case 0x62, 0x42, 0x41, 0x5A: // b B A Z outside a class
            throw fail("zero-width assertions (\\b \\B \\A \\Z) are not supported", at: start)
        case 0x30...0x39:
            return .scalar(try octalOrReference(first: e, inClass: inClass, at: start))
        case 0x41...0x5A, 0x61...0x7A:
            throw fail("bad escape \\\(Character(Unicode.Scalar(UInt8(e))))", at: start)
        default:
            return .scalar(e)
        }
    }

    private mutating func hex(_ count: Int, at start: Int) throws(Failure) -> UInt32 {
        var v: UInt32 = 0
        for _ in 0..<count {
            guard let c = peek(), let d = Bytes.hexValue(c) else { throw fail("incomplete escape", at: start) }
            v = v << 4 | d
            i += 1
        }
        return v
    }


    private static func isOctal(_ c: UInt32?) -> Bool { c.map { $0 >= 0x30 && $0 <= 0x37 } ?? false }

    /// `\0`, `\012`, `\101` are octal, as in Python; `\1` … `\99` outside a class are group
    /// references, which need more than an automaton and are refused.
    private mutating func octalOrReference(first: UInt32, inClass: Bool, at start: Int) throws(Failure) -> UInt32 {
        let octal: Bool
        if inClass {
            guard Self.isOctal(first) else { throw fail("bad escape", at: start) }
            octal = true
        } else {
            octal = first == 0x30 || (Self.isOctal(first) && Self.isOctal(peek()) && Self.isOctal(peek(1)))
        }
        guard octal else { throw fail("backreferences are not supported", at: start) }
        var v = first - 0x30
        // Outside a class `\0` takes up to two more digits and `\NNN` exactly two; in a class, up to two.
        var more = 0
        while more < 2, Self.isOctal(peek()) {
            v = v * 8 + (peek()! - 0x30)
            i += 1
            more += 1
        }
        guard v <= 0o377 else { throw fail("octal escape value outside of range 0-0o377", at: start) }
        return v
    }

    /// After `[`: a set, as Python reads one.
    private mutating func parseClass(at start: Int) throws(Failure) -> ScalarSet {
        var negate = false
        if isChar("^") { negate = true; i += 1 }
        var set = ScalarSet()
        var first = true
        while true {
            guard let c = peek() else { throw fail("unterminated character set", at: start) }
            if c == 0x5D && !first { i += 1; break } // ]
            first = false
            let itemStart = i
            let low = try classItem(at: start)
            if isChar("-") {
                i += 1
                guard let next = peek() else { throw fail("unterminated character set", at: start) }
                if next == 0x5D { // `a-]`: the dash is a literal and the set ends
                    i += 1
                    set = set.union(low.asSet).union(ScalarSet(0x2D))
                    break
                }
                let high = try classItem(at: start)
                guard case .scalar(let lo) = low, case .scalar(let hi) = high, lo <= hi else {
                    throw fail("bad character range", at: itemStart)
                }
                set = set.union(ScalarSet(lo...hi))
            } else {
                set = set.union(low.asSet)
            }
        }
        return negate ? set.inverted() : set
    }

    private mutating func classItem(at start: Int) throws(Failure) -> Escaped {
        guard let c = peek() else { throw fail("unterminated character set", at: start) }
        i += 1
        if c == 0x5C { return try escaped(inClass: true, at: i - 1) }
        return .scalar(c)
    }
}
