import Foundation
import Testing
import TallyCore

/// The pattern engine against Python's `re.fullmatch` (what Frictionless checks a Table Schema
/// `pattern` with): hand-picked patterns, then thousands of generated ones, ASCII and CJK.
@Suite struct PatternOracleTests {
    struct Case: Codable {
        var p: String
        var s: [String]
    }

    enum Verdict: Equatable {
        case refused
        /// Python's backtracking took over a second (nested quantifiers): no verdict to compare.
        case tooSlow
        case matches([Bool])
    }

    /// Python's verdict on each case.
    static func python(_ cases: [Case]) throws -> [Verdict] {
        let job = try JSONEncoder().encode(cases)
        if let dump = ProcessInfo.processInfo.environment["TALLY_PATTERN_DUMP"] { try job.write(to: URL(fileURLWithPath: dump)) }
        let oracle = try Harness.run("/usr/bin/env", ["python3", Harness.root + "/Tests/oracles/pattern_verdicts.py"], stdin: job)
        guard oracle.status == 0 else { throw OracleFailure(text: oracle.stderr) }
        let lines = oracle.text.split(separator: "\n", omittingEmptySubsequences: false).dropLast()
        guard lines.count == cases.count else { throw OracleFailure(text: "\(lines.count) lines for \(cases.count) cases") }
        return lines.map { $0.hasPrefix("E") ? .refused : $0 == "T" ? .tooSlow : .matches($0.map { $0 == "1" }) }
    }

    struct OracleFailure: Error { var text: String }

    static func tally(_ pattern: Pattern, _ text: String) -> Bool {
        var text = text
        return text.withUTF8 { pattern.matches(UnsafeRawBufferPointer($0)) }
    }

    struct Comparison {
        var disagreements: [String] = []
        /// Pattern and string pairs whose verdicts were compared.
        var pairs = 0
        var matched = 0
        var tooSlow = 0
    }

    /// Compares one batch with Python.
    static func compare(_ cases: [Case]) throws -> Comparison {
        var result = Comparison()
        for (c, verdict) in zip(cases, try python(cases)) {
            let compiled = Result { try Pattern(c.p) }
            switch (compiled, verdict) {
            case (.failure(let error), .matches), (.failure(let error), .tooSlow):
                result.disagreements.append("\(c.p.debugDescription): Python takes it, tally refuses: \(error)")
            case (.success, .refused):
                result.disagreements.append("\(c.p.debugDescription): Python refuses it, tally takes it")
            case (.success, .tooSlow):
                result.tooSlow += 1
            case (.success(let pattern), .matches(let expected)):
                for (text, want) in zip(c.s, expected) {
                    result.pairs += 1
                    if want { result.matched += 1 }
                    if tally(pattern, text) != want {
                        result.disagreements.append("\(c.p.debugDescription) on \(text.debugDescription): Python \(want), tally \(!want)")
                    }
                }
            case (.failure, .refused):
                break
            }
        }
        return result
    }

    static let patterns = [
        "[0-9]{16}", "[0-9]{17}[0-9Xx]", "A[0-9]{10}", "[0-9A-Za-z]{18}", "[0-9]+(\\.[0-9]{1,2})?",
        "(ab|cd)*e", "a?b+c{2,3}", "[^0-9]+", "\\d{2,}-\\w*", "x(?:y|z){0,2}", "[a\\-z]+", "\\.\\s?", ".*q",
        "[一-龥]{2,3}", "[\\u4e00-\\u9fa5·]{2,20}", "\\w+", "\\d{6}", "[0-9]{1,100}", "(?:[A-Z]{2}[0-9]{2}){20,30}",
        "^[0-9]{6}$", "^a|b$", "a{,3}", "a{2,}?", "a{x}", "a{}", "x{2", "[]a]+", "[^]a]", "[a-]+", "\\x41\\u4E00\\101\\0",
        "(a|b)*a(a|b){14}", "3[09]{2222222222222222222217u{X", "(?P<year>\\d{4})-(?P<month>\\d\\d)", "\\S+\\s\\S+", "[\\d\\s]+", "\\W*", "[\\b]", "()*a|",
        "[\\U0001F600-\\U0001F64F]+", "\\w{1,3}😀?", "[^\\ud800]+", "[\\u0100-\\U0010FFFF]*",
    ]

    @Test func agreesWithPythonOnChosenPatterns() throws {
        var rng = TestRandom(state: 99)
        let alphabet = Array("0123456789AXxabcdeqyz-. _\n马丽王一龥·０٣\u{3000}{}]^\u{8}\u{0}😀🙏𠀀é\u{10FFFF}")
        var inputs = ["", "0", "1234567890123456", "12345678901234567X", "A0123456789", "12.5", "12.345", "abe", "cdabe", "e",
                      "abbcc", "bccc", "xyz", "xzz", "12-ab", "1-", "a-z", ".", ". ", "qq", "11010519491231002x", "9111000060003734IL",
                      "马丽", "马", "王一龥丽", "张·三", "2026-12", "a{x}", "a{}", "x{2", "]]a", "b", "a\n",
                      String(repeating: "7", count: 100), String(repeating: "7", count: 101), String(repeating: "AB12", count: 25),
                      "aaaaaaaaaaaaaaaaab", "babbbbbbbbbbbbbbbb", "39{2222222222222222222217u{X"]
        for _ in 0..<2000 {
            let n = Int.random(in: 0...20, using: &rng)
            inputs.append(String((0..<n).map { _ in alphabet.randomElement(using: &rng)! }))
        }
        let result = try Self.compare(Self.patterns.map { Case(p: $0, s: inputs) })
        #expect(result.tooSlow == 0)
        #expect(result.disagreements.isEmpty, "\(result.disagreements.count) disagreements, first: \(result.disagreements.prefix(5))")
    }

    /// At least 10,000 generated pattern and string pairs, half ASCII, half CJK.
    @Test func agreesWithPythonOnGeneratedPatterns() throws {
        let seed = ProcessInfo.processInfo.environment["TALLY_PATTERN_SEED"].flatMap(UInt64.init) ?? 20261205
        print("PatternOracleTests: seed \(seed) (TALLY_PATTERN_SEED to repeat)")
        var cases: [Case] = []
        for n in 0..<1100 {
            var generator = PatternGenerator(rng: TestRandom(state: seed &+ UInt64(n)), cjk: n % 2 == 1)
            cases.append(generator.makeCase(strings: 12))
        }
        let result = try Self.compare(cases)
        print("PatternOracleTests: \(result.pairs) pairs compared, \(result.matched) matching; \(result.tooSlow) patterns too slow for Python")
        #expect(result.pairs >= 10_000)
        // The sampled strings must exercise both verdicts, or the comparison says little.
        #expect(result.matched > result.pairs / 5 && result.matched < result.pairs * 4 / 5, "\(result.matched) of \(result.pairs) match")
        #expect(result.disagreements.isEmpty, "seed \(seed): \(result.disagreements.count) disagreements, first: \(result.disagreements.prefix(5))")
    }

    /// Python refuses these, and so does tally.
    @Test func refusesWhatPythonRefuses() throws {
        let broken = ["[0-9", "*a", "(ab", "ab)", "a{5,2}", "\\q", "a**", "a{2}{3}", "{2}", "|*", "[z-a]", "[\\d-z]", "[a-\\w]",
                      "(?P<1x>a)", "(?P<x>a)(?P<x>b)", "\\x4", "\\u12", "\\777", "[\\8]", "[]", "[^]", "a\\", "^*", "(*)", "\\U00110000"]
        let verdicts = try Self.python(broken.map { Case(p: $0, s: []) })
        for (pattern, verdict) in zip(broken, verdicts) {
            #expect(verdict == .refused, "Python takes \(pattern.debugDescription); the list is wrong")
            #expect(throws: Pattern.SyntaxError.self, "\(pattern.debugDescription)") { _ = try Pattern(pattern) }
        }
    }

    /// Python takes these, but their meaning needs more than an automaton, or depends on flags, or
    /// is out of bounds: tally refuses them when the schema loads, and says which pattern.
    @Test(arguments: [
        ("a(?=b)b", "not supported"), ("(?!x)a", "not supported"), ("(?<=a)b", "not supported"), ("(a)\\1", "backreferences"),
        ("(?P<x>a)(?P=x)", "not supported"), ("(?i)abc", "not supported"), ("(?#note)a", "not supported"), ("(?>a)", "not supported"),
        ("a*+", "possessive"), ("\\bword\\b", "zero-width"), ("\\Aabc\\Z", "zero-width"), ("a^b", "'^'"), ("a$b", "'$'"),
        ("(^a)", "'^'"), ("\\N{DIGIT ONE}", "named"), ("a{1001}", "above 1000"), ("a{99999999999999999999}", "above 1000"),
(String(repeating: "(", count: 101) + "a" + String(repeating: ")", count: 101), "nested"),
        ("(\\d{100}){41}", "positions"), ("0(||||)" + String(repeating: "+", count: 40), "possessive"), ("a{2}+", "possessive"), ("(a)++", "possessive"),
        ("((|){1000}){1000}", "too complex"),
    ])
    func refusesWhatItCannotCheck(pattern: String, reason: String) {
        do {
            _ = try Pattern(pattern)
            Issue.record("\(pattern.debugDescription) was taken")
        } catch {
            #expect(error.description.contains(reason), "\(error.description)")
            #expect(error.description.contains(pattern), "the message names the pattern: \(error.description)")
        }
    }

    /// Patterns that take only ASCII strings of one length are checked place by place, a bit
    /// test a byte; every other pattern keeps its automaton. Both give the same verdict on
    /// near misses, other lengths, non-ASCII and malformed bytes.
    @Test func fixedASCIIPatternsAreCheckedPlaceByPlace() throws {
        let placed = ["[0-9]{16}", "[0-9]{17}[0-9Xx]", "A[0-9]{10}", "[0-9A-Za-z]{18}", "T[0-9]{15}", "L[0-9]{2}", "x",
                      "(?:ab|ab)c", "(?:a|b)c|(?:a|b)d", "[a-c][^\\x00-\\x60\\x7B-\\U0010FFFF]", "(?:a|b)(?:c|d){3}", String(repeating: "9", count: 64),
                      "[!-~]{8}[\\x00-\\x7F]{8}[a-a]{8}[A-Z0-9]", "[0-9]{7}[1-8]x{8}"]
        let automaton = ["[0-9]+(\\.[0-9]{1,2})?", "[一-龥]{2,8}", "\\d{6}", "a?b", "(ab)*", "[^0-9]{3}", ".{2}", "ab|cd|e",
                         "\\w{4}", "a{0}", "(?:ab|a)c", "ac|bd", String(repeating: "9", count: 65), "[0-9]{2}é"]
        for p in placed { #expect(try Pattern(p).matcher.checksPlaces, "\(p) is checked by its automaton") }
        for p in automaton { #expect(try !Pattern(p).matcher.checksPlaces, "\(p) is checked place by place") }
        // Places that each take one range are checked eight at a time, as far as they go.
        for (p, spanned) in [("[0-9]{16}", 16), ("[0-9]{17}[0-9Xx]", 16), ("[0-9A-Za-z]{18}", 0), ("L[0-9]{2}", 0), ("[0-9]{7}[1-8]x{8}", 16),
                             ("[!-~]{8}[\\x00-\\x7F]{8}[a-a]{8}[A-Z0-9]", 24), ("T[0-9]{15}", 16), ("(?:ab|ab)c", 0)] {
            #expect(try Pattern(p).matcher.spanned == spanned, "\(p)")
        }
        var rng = TestRandom(state: 1205)
        // The feeds' bytes, the bytes just outside their ranges, and bytes beyond ASCII.
        let bytes: [UInt8] = Array("0123456789AXxabcdTL/:@[`{ !~".utf8) + [0x00, 0x20, 0x7F, 0x80, 0xC3, 0xA9, 0xE4, 0xB8, 0x80, 0xFF, 0xB0, 0xBA]
        var compared = 0, matched = 0
        for p in placed {
            let pattern = try Pattern(p)
            guard pattern.matcher.checksPlaces else { continue }
            let length = pattern.matcher.length
            for n in 0..<3000 {
                var s: [UInt8]
                if n % 3 == 0 {
                    // A string the pattern takes, from its places' own bytes, then perhaps one byte changed.
                    s = Self.sample(pattern, &rng)
                    if n % 2 == 0 { s[Int.random(in: 0..<s.count, using: &rng)] = bytes.randomElement(using: &rng)! }
                } else {
                    s = (0..<Int.random(in: max(0, length - 2)...(length + 2), using: &rng)).map { _ in bytes.randomElement(using: &rng)! }
                }
                let fast = s.withUnsafeBytes { pattern.matches($0) }
                let slow = withExtendedLifetime(pattern) { s.withUnsafeBytes { pattern.matcher.matchesByAutomaton($0) } }
                #expect(fast == slow, "\(p) on \(s): place by place \(fast), automaton \(slow)")
                compared += 1
                if fast { matched += 1 }
            }
        }
        #expect(matched > compared / 10 && matched < compared / 2, "\(matched) of \(compared) match")
    }

    /// A string of the bytes `pattern`'s places each take, picked at random.
    static func sample(_ pattern: Pattern, _ rng: inout TestRandom) -> [UInt8] {
        withExtendedLifetime(pattern) { (0..<pattern.matcher.length).map { i in
            let taken = (0..<UInt8(128)).filter { pattern.matcher.placeTakes($0, at: i) }
            return taken.randomElement(using: &rng)!
        } }
    }

    /// A DFA too big to build (2^20 states) is run as an automaton of positions instead:
    /// same verdicts, still linear.
    @Test func patternsWithHugeDFAsStillMatch() throws {
        let pattern = try Pattern("(a|b)*a(a|b){20}")
        let hit = "bbb" + "a" + String(repeating: "b", count: 20)
        #expect(Self.tally(pattern, hit))
        #expect(!Self.tally(pattern, "bbbb" + String(repeating: "b", count: 20)))
        let long = String(repeating: "ab", count: 100_000)
        #expect(!Self.tally(pattern, long + "bb"))
        #expect(Self.tally(pattern, long + "b"))
        let result = try Self.compare([Case(p: "(a|b)*a(a|b){20}", s: [hit, long, long + "b", long + "bb", String(repeating: "a", count: 21)])])
        #expect(result.pairs == 5 && result.disagreements.isEmpty, "\(result.disagreements)")
    }
}

/// Random patterns in Python syntax, and strings sampled from each (most match, some are
/// mutated so they may not). It writes patterns itself, sharing nothing with the parser.
struct PatternGenerator {
    var rng: TestRandom
    let cjk: Bool
    var groups = 0

    static let asciiPool: [Character] = Array("abcxyzAXZ0129-_. ") + Array(".*+?()[]{}|\\^$")
    static let cjkPool: [Character] = Array("马丽王李张一中国人民龥丁·０５٣é\u{3000}") + Array("ab09_ -")
    static let digits: [Character] = Array("0179５٣")
    static let words: [Character] = Array("aZ_09马丽龥中é５")
    static let spaces: [Character] = [" ", "\t", "\u{3000}", "\n"]
    static let ranges: [(Character, Character)] = [("a", "z"), ("0", "9"), ("A", "Z"), ("一", "龥"), ("丁", "七"), ("０", "９"), ("x", "z")]

    var pool: [Character] { cjk ? Self.cjkPool : Self.asciiPool }

    mutating func pick<T>(_ items: [T]) -> T { items.randomElement(using: &rng)! }
    mutating func chance(_ p: Double) -> Bool { Double.random(in: 0..<1, using: &rng) < p }
    mutating func int(_ r: ClosedRange<Int>) -> Int { Int.random(in: r, using: &rng) }

    /// A piece of pattern text and a way to make a string it matches.
    struct Piece {
        var text: String
        var sample: (inout PatternGenerator) -> String
        var atom: Bool
    }

    mutating func makeCase(strings: Int) -> PatternOracleTests.Case {
        var top = alternation(depth: 0)
        if chance(0.1) { top.text = "^" + top.text }
        if chance(0.1) { top.text += "$" }
        var out: [String] = []
        for n in 0..<strings {
            var s = top.sample(&self)
            if n % 2 == 1 { s = mutate(s) }
            out.append(s)
        }
        return PatternOracleTests.Case(p: top.text, s: out)
    }

    mutating func mutate(_ s: String) -> String {
        var chars = Array(s)
        switch int(0...3) {
        case 0 where !chars.isEmpty: chars.remove(at: int(0...chars.count - 1))
        case 1: chars.insert(pick(pool), at: int(0...chars.count))
        case 2 where !chars.isEmpty: chars[int(0...chars.count - 1)] = pick(pool)
        default: chars.append(pick(pool))
        }
        return String(chars)
    }

    mutating func alternation(depth: Int) -> Piece {
        let n = depth < 2 && chance(0.25) ? int(2...3) : 1
        let branches = (0..<n).map { _ in sequence(depth: depth) }
        if n == 1 { return branches[0] }
        return Piece(text: branches.map(\.text).joined(separator: "|"), sample: { g in
            let b = branches.randomElement(using: &g.rng)!
            return b.sample(&g)
        }, atom: false)
    }

    mutating func sequence(depth: Int) -> Piece {
        let items = (0..<int(depth == 0 ? 1...4 : 0...3)).map { _ in quantified(depth: depth) }
        return Piece(text: items.map(\.text).joined(), sample: { g in items.map { $0.sample(&g) }.joined() }, atom: items.count == 1 && items[0].atom)
    }

    mutating func quantified(depth: Int) -> Piece {
        let item = atom(depth: depth)
        guard chance(0.45) else { return item }
        let big = depth == 0 && item.atom && chance(0.25)
        let n = big ? int(60...130) : int(0...4)
        let m = n + (big ? int(0...20) : int(0...3))
        let (text, lo, hi): (String, Int, Int?) = switch int(0...6) {
        case 0: ("?", 0, 1)
        case 1: ("*", 0, nil)
        case 2: ("+", 1, nil)
        case 3: ("{\(n)}", n, n)
        case 4: ("{\(n),}", n, nil)
        case 5: ("{,\(m)}", 0, m)
        default: ("{\(n),\(m)}", n, m)
        }
        let lazy = chance(0.15) ? "?" : ""
        return Piece(text: item.text + text + lazy, sample: { g in
            let count = Int.random(in: lo...(hi ?? lo + 3), using: &g.rng)
            return (0..<count).map { _ in item.sample(&g) }.joined()
        }, atom: false)
    }

    mutating func atom(depth: Int) -> Piece {
        switch int(0...9) {
        case 0...3: return literal()
        case 4: return Piece(text: ".", sample: { g in String(g.pick(g.pool.filter { $0 != "\n" })) }, atom: true)
        case 5: return escape()
        case 6, 7: return characterClass()
        default:
            guard depth < 3 else { return literal() }
            let inner = alternation(depth: depth + 1)
            groups += 1
            let open = pick(["(", "(?:", "(?P<g\(groups)>"])
            return Piece(text: open + inner.text + ")", sample: inner.sample, atom: false)
        }
    }

    mutating func literal() -> Piece {
        let c = pick(pool)
        return Piece(text: render(c, inClass: false), sample: { _ in String(c) }, atom: true)
    }

    mutating func render(_ c: Character, inClass: Bool) -> String {
        let v = c.unicodeScalars.first!.value
        if ".*+?()[]{}|\\^$-".contains(c) && (!inClass || "]\\^-".contains(c)) { return "\\" + String(c) }
        if v > 0x7F && chance(0.3) { return v > 0xFFFF ? String(format: "\\U%08x", v) : String(format: "\\u%04x", v) }
        if v < 0x7F && c.isLetter && chance(0.1) { return String(format: "\\x%02x", v) }
        return String(c)
    }

    mutating func escape() -> Piece {
        let e = pick(Array("dwsDWS"))
        return Piece(text: "\\" + String(e), sample: { g in
            switch e {
            case "d": String(g.pick(Self.digits))
            case "w": String(g.pick(Self.words))
            case "s": String(g.pick(Self.spaces))
            default: String(g.pick(g.pool))
            }
        }, atom: true)
    }

    mutating func characterClass() -> Piece {
        let negated = chance(0.2)
        var text = negated ? "[^" : "["
        var samplers: [(inout PatternGenerator) -> String] = []
        for _ in 0..<int(1...3) {
            switch int(0...2) {
            case 0:
                let c = pick(pool)
                text += render(c, inClass: true)
                samplers.append { _ in String(c) }
            case 1:
                let (lo, hi) = pick(Self.ranges)
                text += render(lo, inClass: true) + "-" + render(hi, inClass: true)
                let a = lo.unicodeScalars.first!.value, b = hi.unicodeScalars.first!.value
                samplers.append { g in String(Character(Unicode.Scalar(UInt32.random(in: a...b, using: &g.rng))!)) }
            default:
                let e = pick(Array("dws"))
                text += "\\" + String(e)
                samplers.append { g in String(g.pick(e == "d" ? Self.digits : e == "w" ? Self.words : Self.spaces)) }
            }
        }
        text += "]"
        return Piece(text: text, sample: { g in
            if negated { return String(g.pick(g.pool)) }
            let s = samplers.randomElement(using: &g.rng)!
            return s(&g)
        }, atom: true)
    }
}
