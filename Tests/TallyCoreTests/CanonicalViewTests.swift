import Foundation
import Testing
import TallyCore

/// The scanner's fast path (lines laid out as tally writes them) must be invisible: on any line,
/// `view` (fast path first) and the strict reader (`generalView`, the general scanner alone, then
/// the schema's rules) accept the same lines, with the same fields at the same places, and refuse
/// the same lines with the same message. Lines are generated valid, then some break one rule of
/// the record schema and some are mutated byte by byte.
@Suite struct CanonicalViewTests {
    /// A small deterministic generator, so a failure names a reproducible case.
    struct Mix {
        var x: UInt64
        mutating func next() -> UInt64 { x = x &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407; return x >> 11 }
        mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
        mutating func chance(_ percent: Int) -> Bool { below(100) < percent }
    }

    static let pieces = ["a", "Z9", "浙0106执", "😀", "\"", "\\", "\n", "\u{1}", "/", " ", "é", "transit", "0"]

    static func text(_ m: inout Mix, _ maxPieces: Int) -> String {
        var s = ""
        for _ in 0..<m.below(maxPieces + 1) {
            // Mostly plain text; now and then a character that must be escaped.
            s += m.chance(85) ? pieces[[0, 1, 2, 3, 9, 10, 11, 12][m.below(8)]] : pieces[m.below(pieces.count)]
        }
        return s
    }

    static func hex(_ m: inout Mix, _ n: Int) -> String {
        let digits = Array("0123456789abcdef")
        return String((0..<n).map { _ in digits[m.below(16)] })
    }

    /// A valid resident number with a birth date in 1900-2026.
    static func residentID(_ m: inout Mix) -> String {
        let birth = CivilDate(daysSinceEpoch: -25_000 + m.below(45_000))
        var first17 = Array("99\(String(format: "%04d", m.below(10_000)))".utf8)
        let out = ByteBuffer()
        out.appendDate(birth)
        first17 += Array(out.string.utf8).filter { $0 != UInt8(ascii: "-") }
        first17 += Array(String(format: "%03d", m.below(1000)).utf8)
        let check = first17.withUnsafeBytes { Identifier.residentIDCheck($0) }
        return String(decoding: first17 + [check], as: UTF8.self)
    }

    /// A record that keeps every rule of the schema (attribute text aside, which is free).
    static func record(_ m: inout Mix) -> Record {
        var attrs = Attributes()
        for i in 0..<m.below(6) { attrs.append(key: "k\(i)" + text(&m, 2), value: text(&m, 6)) }
        let source = ["transit", "court", "tax", "commerce", "parking-2"][m.below(5)]
        let correction = m.chance(10)
        let subject: Subject
        if correction {
            subject = Subject(scheme: "record", id: "tax:" + hex(&m, 32))
        } else {
            switch m.below(4) {
            case 0: subject = Subject(scheme: "cn-rid", id: m.chance(90) ? residentID(&m) : nil)
            case 1: subject = Subject(scheme: "transit-card", id: String(format: "%016llu", m.next() % 10_000_000_000_000_000))
            case 2: subject = Subject(scheme: "shop-account", id: "A" + String(format: "%010llu", m.next() % 10_000_000_000))
            default:
                let first17 = Array("9199\(String(format: "%04d", m.below(10_000)))MA2B3C4D5".utf8)
                let check = first17.withUnsafeBytes { Identifier.usccCheck($0)! }
                subject = Subject(scheme: "cn-uscc", id: String(decoding: first17 + [check], as: UTF8.self))
            }
        }
        let linked = !correction && m.chance(60)
        return Record(
            id: source + ":" + hex(&m, 32), source: source, kind: correction ? "correction.retract" : source + ".fare-evasion",
            subject: subject, at: Timestamp(seconds: Int64(m.below(2_000_000_000))), amountFen: m.chance(50) ? Int64(m.below(1_000_000)) : nil,
            target: correction ? subject.id : nil, attrs: attrs,
            prov: Provenance(file: text(&m, 4) + ".csv", sha256: hex(&m, 64), line: 1 + m.below(100_000)),
            person: linked ? "p_" + hex(&m, 32) : nil, link: linked ? [.direct, .crosswalk, .unlinked][m.below(3)] : nil)
    }

    /// Breaks one rule of the record schema that the line's shape does not show; every one of
    /// them must be refused.
    static func breakRule(_ r: inout Record, _ m: inout Mix) -> String {
        let rules = ["source", "id-source", "id-hex", "id-short", "kind", "correction-kind", "target-on-event", "no-target",
                     "scheme", "record-scheme", "checksum", "lower-x", "empty-id", "at-early", "at-late", "amount", "file",
                     "sha-upper", "sha-short", "person", "person-no-link", "link-no-person"]
        let rule = rules[m.below(rules.count)]
        switch rule {
        case "source": r.source = ["Transit", "", "1tax", "tax_x", "tä"][m.below(5)]
        case "id-source": r.id = "other" + r.id[r.id.firstIndex(of: ":")!...]
        case "id-hex": r.id = r.source + ":" + hex(&m, 31) + ["A", "g", "-", " "][m.below(4)]
        case "id-short": r.id = r.source + ":" + hex(&m, [0, 31, 33, 64][m.below(4)])
        case "kind": r.kind = ["transit", "transit.", ".x", "Transit.x", "a.b.c", "a..b"][m.below(6)]
        case "correction-kind": r.kind = "correction.delete"; r.target = "tax:" + hex(&m, 32); r.subject = Subject(scheme: "record", id: r.target)
        case "target-on-event": r.kind = "transit.fare-evasion"; r.target = "tax:" + hex(&m, 32); if r.subject.scheme == "record" { r.subject = Subject(scheme: "transit-card", id: "1234567890123456") }
        case "no-target": r.kind = "correction.uphold"; r.target = nil; r.subject = Subject(scheme: "record", id: "tax:" + hex(&m, 32)); r.person = nil; r.link = nil
        case "scheme": r.subject = Subject(scheme: ["CN-RID", "passport", "", "cn_rid"][m.below(4)], id: "1"); r.kind = "transit.x"; r.target = nil
        case "record-scheme": r.subject = Subject(scheme: "record", id: "tax:" + hex(&m, 32)); r.kind = "transit.x"; r.target = nil
        case "checksum":
            var id = Array(residentID(&m).utf8)
            id[17] = id[17] == UInt8(ascii: "0") ? UInt8(ascii: "1") : UInt8(ascii: "0")
            r.subject = Subject(scheme: "cn-rid", id: String(decoding: id, as: UTF8.self)); r.kind = "transit.x"; r.target = nil
        case "lower-x": r.subject = Subject(scheme: "cn-rid", id: "99010619900101123x"); r.kind = "transit.x"; r.target = nil
        case "empty-id": r.subject = Subject(scheme: ["cn-rid", "transit-card", "shop-account", "cn-uscc"][m.below(4)], id: ""); r.kind = "transit.x"; r.target = nil
        case "at-early": r.at = Timestamp(seconds: -2_209_017_601 - Int64(m.below(1_000_000_000)))
        case "at-late": r.at = Timestamp(seconds: 7_258_118_400 + Int64(m.below(1_000_000_000)))
        case "amount": r.amountFen = -1 - Int64(m.below(1_000_000))
        case "file": r.prov.file = ""
        case "sha-upper": r.prov.sha256 = hex(&m, 63) + "F"
        case "sha-short": r.prov.sha256 = hex(&m, [0, 32, 63, 65][m.below(4)])
        case "person": r.person = ["p_" + hex(&m, 31), "P_" + hex(&m, 32), "p_" + hex(&m, 31) + "G", "q_" + hex(&m, 32)][m.below(4)]; r.link = .direct
        case "person-no-link": r.person = "p_" + hex(&m, 32); r.link = nil
        default: r.person = nil; r.link = .direct
        }
        return rule
    }

    /// Small edits a damaged or hand-written line might have.
    static func mutate(_ line: [UInt8], _ m: inout Mix) -> [UInt8] {
        var b = line
        let noise: [UInt8] = Array("{}[]:,\" \\0123-.etrnufalsXZ\u{7f}".utf8) + [0x00, 0x0A, 0x09, 0x80, 0xC3, 0xE6, 0xFF]
        for _ in 0..<(1 + m.below(2)) {
            guard !b.isEmpty else { break }
            let i = m.below(b.count)
            switch m.below(4) {
            case 0: b.remove(at: i)
            case 1: b.insert(noise[m.below(noise.count)], at: i)
            case 2: b[i] = noise[m.below(noise.count)]
            default: b.insert(contentsOf: Array(" ,\"x\":1".utf8).prefix(1 + m.below(7)), at: i)
            }
        }
        return b
    }

    /// Everything a view says, with references as offsets into the line.
    static func describe(_ v: RecordView, _ line: UnsafeRawBufferPointer) -> String {
        func at(_ r: JSONStringRef?) -> String {
            guard let r else { return "-" }
            return "\(r.quoted.baseAddress! - line.baseAddress!)+\(r.quoted.count)\(r.escaped ? "e" : "")"
        }
        func span(_ b: UnsafeRawBufferPointer) -> String { "\(b.baseAddress! - line.baseAddress!)+\(b.count)" }
        let attrs = v.attrs.map { "\(at($0.key))=\(at($0.value))" }.joined(separator: ",")
        return [at(v.id), at(v.source), at(v.kind), at(v.scheme), at(v.subjectID), span(v.subjectObject), span(v.provObject),
                "\(v.at.seconds)", "\(v.amountFen.map(String.init) ?? "-")", at(v.target), attrs, at(v.file), at(v.sha256),
                "\(v.line)", at(v.person), "\(v.link.map { $0.rawValue } ?? "-")", "\(v.linkMembers)", "\(v.closingBrace)"]
            .joined(separator: " ")
    }

    static func verdicts(_ bytes: [UInt8]) -> (fast: String, general: String) {
        bytes.withUnsafeBytes { line in
            var a = RecordViewScanner(), b = RecordViewScanner()
            let fast: String, general: String
            do { fast = describe(try a.view(line), line) } catch { fast = "error \(error)" }
            do {
                let v = try b.generalView(line)
                if let fault = v.schemaFault() { throw fault }
                general = describe(v, line)
            } catch { general = "error \(error)" }
            return (fast, general)
        }
    }

    @Test func theFastPathAgreesWithTheGeneralScannerOnEveryLine() throws {
        var m = Mix(x: 20261128)
        var accepted = 0, refused = 0, checked = 0, broken = 0
        for _ in 0..<8_000 {
            var r = Self.record(&m)
            var rule: String?
            if m.chance(30) { rule = Self.breakRule(&r, &m) }
            var line = Array(encodeLine(r).utf8.dropLast())
            if rule == nil, m.chance(35) { line = Self.mutate(line, &m) }
            let (fast, general) = Self.verdicts(line)
            #expect(fast == general, "line: \(String(decoding: line, as: UTF8.self))")
            if let rule {
                broken += 1
                #expect(fast.hasPrefix("error"), "\(rule) was not refused: \(String(decoding: line, as: UTF8.self))")
            }
            if fast.hasPrefix("error") { refused += 1 } else { accepted += 1 }
            checked += 1
        }
        print("CanonicalViewTests: accepted \(accepted), refused \(refused), broken \(broken) of \(checked)")
        // Both outcomes must be well represented, or the comparison proves little.
        #expect(accepted > 3_000 && refused > 2_000 && broken > 2_000, "accepted \(accepted), refused \(refused), broken \(broken) of \(checked)")
    }

    /// Attribute keys are compared only when a 64-bit summary of the keys before says they may
    /// repeat; keys that share the summary and keys that really repeat, anywhere in the object,
    /// must still be told apart exactly as the general scanner tells them.
    @Test func repeatedAttributeKeysAreFoundWhateverTheirPlace() throws {
        var r = sampleRecord()
        r.attrs = Attributes()
        let canonical = String(encodeLine(r).dropLast())
        let pool = ["a", "b", "ab", "ba", "aa", "k0", "k1", "x1", "line", "fare_fen", "paid_fen", "é", "", "kk0", "zz0"]
        var m = Mix(x: 77)
        var repeated = 0, distinct = 0
        for _ in 0..<4_000 {
            let keys = (0..<(1 + m.below(8))).map { _ in pool[m.below(pool.count)] }
            let attrs = keys.enumerated().map { "\"\($0.element)\":\"v\($0.offset)\"" }.joined(separator: ",")
            let line = canonical.replacingOccurrences(of: "\"attrs\":{}", with: "\"attrs\":{" + attrs + "}")
            let (fast, general) = Self.verdicts(Array(line.utf8))
            #expect(fast == general, "line: \(line)")
            if Set(keys).count < keys.count {
                #expect(fast.contains("appears twice"), "line: \(line)")
                repeated += 1
            } else {
                #expect(!fast.hasPrefix("error"), "line: \(line)")
                distinct += 1
            }
        }
        #expect(repeated > 1_000 && distinct > 1_000)
    }

    @Test func linesOutsideTheCanonicalLayoutStillReadTheSame() throws {
        let r = sampleRecord()
        let canonical = String(encodeLine(r).dropLast())
        // White space, another key order, an escaped key: the general scanner's business.
        let variants = [
            canonical.replacingOccurrences(of: ",\"source\":", with: ", \"source\" : "),
            "{\"source\":\"court\"," + canonical.dropFirst().replacingOccurrences(of: ",\"source\":\"court\"", with: ""),
            canonical.replacingOccurrences(of: "\"kind\"", with: "\"\\u006bind\""),
            canonical + "  ",
        ]
        var decoder = RecordDecoder()
        for v in variants {
            let (fast, general) = Self.verdicts(Array(v.utf8))
            #expect(fast == general)
            #expect(try decoder.decode(v) == r)
        }
    }

    /// Integers are read without an overflow check for their first nineteen digits (which always
    /// fit in 64 bits); the edges of Int64 must still be exact, on both paths.
    @Test(arguments: [
        ("9223372036854775807", "9223372036854775807"), ("-9223372036854775808", "amount_fen must not be negative"),
        ("9223372036854775808", "integer out of range"), ("-9223372036854775809", "integer out of range"),
        ("18446744073709551615", "integer out of range"), ("18446744073709551616", "integer out of range"),
        ("99999999999999999999", "integer out of range"), ("1000000000000000000", "1000000000000000000"),
        ("0", "0"), ("-0", "0"), ("007", "leading zero in a number"),
    ])
    func amountsAtTheEdgesOfInt64(text: String, expected: String) {
        var r = sampleRecord()
        r.amountFen = 424_242
        let line = String(encodeLine(r).dropLast()).replacingOccurrences(of: "\"amount_fen\":424242", with: "\"amount_fen\":" + text)
        var decoder = RecordDecoder()
        let verdict: String
        do { verdict = String(try decoder.decode(line).amountFen!) } catch { verdict = error.message }
        #expect(verdict.hasPrefix(expected))
        let (fast, general) = Self.verdicts(Array(line.utf8))
        #expect(fast == general)
    }

    /// The fast identifier check (digits a word at a time, the weights written out) agrees with
    /// `identifierFault` on valid numbers and on every kind of damage to them.
    @Test func theFastIdentifierCheckAgreesWithTheFullOne() {
        var m = Mix(x: 11643)
        let noise = Array("0123456789Xx/:A ".utf8) + [0x00, 0x7F, 0x80, 0xFF]
        var passed = 0, failed = 0
        for _ in 0..<40_000 {
            var id: [UInt8]
            let scheme: RecordRules.Scheme
            switch m.below(3) {
            case 0: id = Array(Self.residentID(&m).utf8); scheme = .cnRid
            case 1: id = Array(String(format: "%016llu", m.next() % 10_000_000_000_000_000).utf8); scheme = .transitCard
            default: id = Array(("A" + String(format: "%010llu", m.next() % 10_000_000_000)).utf8); scheme = .shopAccount
            }
            for _ in 0..<m.below(3) {
                switch m.below(3) {
                case 0 where !id.isEmpty: id[m.below(id.count)] = noise[m.below(noise.count)]
                case 1 where !id.isEmpty: id.remove(at: m.below(id.count))
                default: id.insert(noise[m.below(noise.count)], at: m.below(id.count + 1))
                }
            }
            let (fast, full) = id.withUnsafeBytes { (RecordRules.identifierPasses(scheme, $0), RecordRules.identifierFault(scheme, $0) == nil) }
            #expect(fast == full, "\(scheme) \(String(decoding: id, as: UTF8.self))")
            if full { passed += 1 } else { failed += 1 }
        }
        #expect(passed > 10_000 && failed > 10_000, "passed \(passed), failed \(failed)")
    }

    /// A line with 400,000 attributes is read in linear time (it took over a minute when every
    /// key was compared with every key before it), and a repeat among them is still found, on
    /// both paths.
    @Test func manyAttributesAreReadInLinearTime() throws {
        var r = sampleRecord()
        r.attrs = Attributes()
        let canonical = String(encodeLine(r).dropLast())
        let n = 400_000
        var attrs = (0..<n).map { "\"k\($0)\":\"v\"" }
        let distinct = canonical.replacingOccurrences(of: "\"attrs\":{}", with: "\"attrs\":{" + attrs.joined(separator: ",") + "}")
        attrs[n - 1] = "\"k17\":\"again\""
        let repeated = canonical.replacingOccurrences(of: "\"attrs\":{}", with: "\"attrs\":{" + attrs.joined(separator: ",") + "}")
        let escapedRepeat = repeated.replacingOccurrences(of: "\"k17\":\"again\"", with: "\"k\\u0031\\u0037\":\"again\"")
        let clock = ContinuousClock()
        let elapsed = try clock.measure {
            var scanner = RecordViewScanner()
            var d = distinct, rep = repeated, esc = escapedRepeat
            let count = try d.withUTF8 { try scanner.view(UnsafeRawBufferPointer($0)).attrs.count }
            #expect(count == n)
            rep.withUTF8 { u in #expect(throws: JSONSyntaxError.self) { _ = try scanner.view(UnsafeRawBufferPointer(u)) } }
            esc.withUTF8 { u in #expect(throws: JSONSyntaxError.self) { _ = try scanner.view(UnsafeRawBufferPointer(u)) } }
        }
        // Not a timing test: a bound far above linear time, far below quadratic (the debug build
        // reads these three lines in about a second).
        #expect(elapsed < .seconds(30), "\(elapsed)")
    }
}
