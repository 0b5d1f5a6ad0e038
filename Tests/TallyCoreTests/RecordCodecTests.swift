import Testing
import TallyCore

/// A record with every optional field set and awkward text in it.
func sampleRecord(person: Bool = true) -> Record {
    Record(
        id: "court:3f9c0d1e2a7b4c55e81f0a9d6c2b7e40", source: "court", kind: "court.dishonest-debtor",
        subject: Subject(scheme: "cn-rid", id: "990106199001011232"),
        at: Timestamp(chinaMidnightOf: CivilDate(year: 2026, month: 11, day: 27)!), amountFen: 1_234_567,
        attrs: ["court": "330106", "case": "(2026)浙0106执1234号", "note": "tab\there \"quoted\" back\\slash\nnew line \u{1} 😀"],
        prov: Provenance(file: "court-20261127.xml.gz", sha256: String(repeating: "ab", count: 32), line: 42),
        person: person ? "p_5d41402abc4b2a76b9719d911017c592" : nil, link: person ? .direct : nil)
}

func encodeLine(_ record: Record) -> String {
    let out = ByteBuffer()
    record.encode(into: out)
    return out.string
}

@Suite struct RecordCodecTests {
    @Test func encodesTheDocumentedShape() {
        let line = encodeLine(sampleRecord(person: false))
        #expect(line.hasPrefix(#"{"v":1,"id":"court:3f9c0d1e2a7b4c55e81f0a9d6c2b7e40","source":"court","kind":"court.dishonest-debtor","subject":{"scheme":"cn-rid","id":"990106199001011232"},"at":"2026-11-26T16:00:00Z","amount_fen":1234567,"attrs":{"court":"330106","case":"(2026)浙0106执1234号","#))
        #expect(line.contains(#""note":"tab\there \"quoted\" back\\slash\nnew line \u0001 😀""#))
        #expect(line.hasSuffix(#""prov":{"file":"court-20261127.xml.gz","sha256":"\#(String(repeating: "ab", count: 32))","line":42}}"# + "\n"))
    }

    @Test func roundTrips() throws {
        var decoder = RecordDecoder()
        for record in [sampleRecord(), sampleRecord(person: false)] {
            let line = encodeLine(record)
            let back = try decoder.decode(String(line.dropLast()))
            #expect(back == record)
        }
    }

    @Test func roundTripsCorrectionsAndRedactedSubjects() throws {
        var record = sampleRecord()
        record.kind = "correction.retract"
        record.target = "court:00000000000000000000000000000001"
        record.subject = Subject(scheme: "record", id: nil)
        record.amountFen = nil
        record.attrs = Attributes()
        var decoder = RecordDecoder()
        #expect(try decoder.decode(String(encodeLine(record).dropLast())) == record)
    }

    @Test func acceptsKeysInAnyOrderAndEscapesOfEveryForm() throws {
        let line = #"{ "prov":{"line":7,"sha256":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","file":"f"}, "attrs":{"a":"\u00e9\u4e2d\ud83d\ude00\/\b\f"}, "at":"2026-01-01T00:00:00Z","subject":{"id":"1234567890123456","scheme":"transit-card"},"kind":"k.k","source":"s","id":"s:0123456789abcdef0123456789abcdef","v":1 }"#
        var decoder = RecordDecoder()
        let record = try decoder.decode(line)
        #expect(record.attrs["a"] == "é中😀/\u{8}\u{c}")
        #expect(record.prov.line == 7)
        #expect(record.subject.id == "1234567890123456")
    }

    @Test func acceptsEscapedKeys() throws {
        let line = #"{"\u0076":1,"id":"s:0123456789abcdef0123456789abcdef","source":"s","kind":"k.k","subject":{"sch\u0065me":"cn-rid"},"at":"2026-01-01T00:00:00Z","attrs":{"caf\u00e9":"x","\"q\"":"y"},"prov":{"file":"f","sha256":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","line":1}}"#
        var decoder = RecordDecoder()
        let record = try decoder.decode(line)
        #expect(record.attrs["café"] == "x")
        #expect(record.attrs["\"q\""] == "y")
        #expect(record.subject.scheme == "cn-rid")
    }

    @Test func aLinkedLineLosesItsPersonAndLinkWhateverTheirSpelling() throws {
        let plain = String(encodeLine(sampleRecord()).dropLast())
        let unlinked = String(encodeLine(sampleRecord(person: false)).dropLast())
        // The same members with escaped keys, and first in the object rather than last.
        let escaped = #"{"p\u0065rson":"p_5d41402abc4b2a76b9719d911017c592", "\u006cink":"direct","# + plain.dropFirst().replacingOccurrences(of: #","person":"p_5d41402abc4b2a76b9719d911017c592","link":"direct""#, with: "")
        var scanner = RecordViewScanner()
        var decoder = RecordDecoder()
        for line in [plain, escaped] {
            var out: [UInt8] = []
            var copy = line
            try copy.withUTF8 { u in
                let view = try scanner.view(UnsafeRawBufferPointer(u))
                #expect(view.linkMembers.count == 2)
                RecordLine.unlinked(view, into: &out)
            }
            let stripped = String(decoding: out, as: UTF8.self)
            #expect(try decoder.decode(stripped) == sampleRecord(person: false), "\(stripped)")
            if line == plain { #expect(stripped == unlinked) }
        }
    }

    /// `isCorrection` compares the kind's first eleven bytes as two words. (Read by the general
    /// scanner alone: most of these kinds break the schema's rules, which `view` then enforces.)
    @Test(arguments: [("correction.dispute", true), ("correction.x", true), ("correction.", false), ("correction", false),
                      ("correctionXdispute", false), ("xorrection.dispute", false), ("correctioN.dispute", false),
                      ("court.dishonest-debtor", false)])
    func aCorrectionIsKnownByItsKind(kind: String, expected: Bool) throws {
        var line = encodeLine(sampleRecord()).replacingOccurrences(of: #""kind":"court.dishonest-debtor""#, with: #""kind":""# + kind + #"""#)
        line.removeLast()
        var scanner = RecordViewScanner()
        try line.withUTF8 { u in
            let view = try scanner.generalView(UnsafeRawBufferPointer(u))
            #expect(view.isCorrection == expected, "\(kind)")
        }
    }

    @Test func repeatedValuesAcrossLinesStayCorrect() throws {
        // The decoder caches repeated strings; a changed value must never be served stale.
        var decoder = RecordDecoder()
        var a = sampleRecord()
        var b = sampleRecord()
        b.prov.file = "court-20261128.xml"
        b.kind = "court.consumption-restriction"
        b.attrs["court"] = "330107"
        a.attrs["court"] = "33010"
        for record in [a, b, a, b] {
            #expect(try decoder.decode(String(encodeLine(record).dropLast())) == record)
        }
    }

    /// Attributes live in one block shared between copies: a change to one copy must not show in
    /// another, and every way of changing them keeps the order and the values.
    @Test func attributesBehaveAsAnOrderedValue() {
        var a: Attributes = ["court": "330106", "case": "(2026)浙0106执1号"]
        let before = a
        var b = a
        b.append(key: "status", value: "unperformed")
        #expect(a == before && a.count == 2)
        #expect(b.entries.map(\.key) == ["court", "case", "status"])
        a["court"] = "330107"
        #expect(a["court"] == "330107" && before["court"] == "330106" && b["court"] == "330106")
        #expect(a.entries.map(\.key) == ["court", "case"])
        a["case"] = nil
        #expect(a.count == 1 && a["case"] == nil && a != before)
        a["new"] = ""
        #expect(a.entries == [Attributes.Entry(key: "court", value: "330107"), Attributes.Entry(key: "new", value: "")])
        // Growth past the first block, and an order that equality must respect.
        var big = Attributes()
        for i in 0..<300 { big.append(key: "k\(i)", value: String(repeating: "é", count: i)) }
        #expect(big.count == 300 && big["k299"] == String(repeating: "é", count: 299))
        #expect(Array(big).enumerated().allSatisfy { $0.element.key == "k\($0.offset)" })
        let ab: Attributes = ["a": "1", "b": "2"], ba: Attributes = ["b": "2", "a": "1"]
        #expect(ab != ba)
        // Same text split differently between key and value is not the same attribute.
        #expect(Attributes(dictionaryLiteral: ("ab", "c")) != Attributes(dictionaryLiteral: ("a", "bc")))
        var emptied = big
        emptied.removeAll()
        #expect(emptied.isEmpty && emptied == Attributes() && big.count == 300)
    }

    static let malformed: [(String, String)] = [
        ("", "expected '{'"),
        ("[]", "expected '{'"),
        (#"{"v":1"#, "line ends inside an object"),
        (#"{"v":2,"id":"a"}"#, "unsupported record version"),
        (#"{"v":1,"v":1}"#, "appears twice"),
        (#"{"v":1,"bogus":1}"#, "unknown key \"bogus\""),
        (#"{"v":1,"id":"a"}"#, "record lacks \"source\""),
        (#"{"v":1,"id":"a\u12"}"#, "four hex digits"),
        (#"{"v":1,"id":"a\ud800"}"#, "lone high surrogate"),
        (#"{"v":1,"id":"a\udc00"}"#, "lone low surrogate"),
        (#"{"v":1,"id":"a\x"}"#, "unknown escape"),
        ("{\"v\":1,\"id\":\"a\tb\"}", "control character"),
        (#"{"v":01}"#, "leading zero"),
        (#"{"v":1.0}"#, "fraction or exponent"),
        (#"{"v":1,"id":"a"} x"#, "unexpected text after the object"),
        (#"{"v":1,"id":"a","source":"s","kind":"k","subject":{"scheme":"cn-rid"},"at":"2026-01-01 00:00:00","attrs":{},"prov":{"file":"f","sha256":"s","line":1}}"#, "not a UTC time"),
        (#"{"v":1,"id":"a","source":"s","kind":"k","subject":{"scheme":"cn-rid"},"at":"2026-02-30T00:00:00Z","attrs":{},"prov":{"file":"f","sha256":"s","line":1}}"#, "not a UTC time"),
        (#"{"v":1,"id":"a","source":"s","kind":"k","subject":{},"at":"2026-01-01T00:00:00Z","attrs":{},"prov":{"file":"f","sha256":"s","line":1}}"#, "subject lacks"),
        (#"{"v":1,"id":"a","source":"s","kind":"k","subject":{"scheme":"x"},"at":"2026-01-01T00:00:00Z","attrs":{"a":1},"prov":{"file":"f","sha256":"s","line":1}}"#, "expected a string"),
        (#"{"v":1,"id":"a","source":"s","kind":"k","subject":{"scheme":"x"},"at":"2026-01-01T00:00:00Z","attrs":{"a":"1","a":"2"},"prov":{"file":"f","sha256":"s","line":1}}"#, "appears twice"),
        (#"{"v":1,"id":"a","source":"s","kind":"k","subject":{"scheme":"x"},"at":"2026-01-01T00:00:00Z","attrs":{"a":"1","\u0061":"2"},"prov":{"file":"f","sha256":"s","line":1}}"#, "appears twice"),
        (#"{"v":1,"id":"a","source":"s","kind":"k","subject":{"scheme":"x"},"at":"2026-01-01T00:00:00Z","attrs":{},"prov":{"file":"f","sha256":"s","line":0}}"#, "at least 1"),
        (#"{"v":1,"id":"a","source":"s","kind":"k","subject":{"scheme":"x"},"at":"2026-01-01T00:00:00Z","attrs":{},"prov":{"file":"f","line":1}}"#, "prov needs"),
        (#"{"v":1,"link":"guessed"}"#, "link: unknown value"),
        (#"{"v":1,"amount_fen":99999999999999999999}"#, "out of range"),
    ]

    @Test(arguments: malformed)
    func refusesMalformedLines(line: String, message: String) {
        var decoder = RecordDecoder()
        #expect {
            _ = try decoder.decode(line)
        } throws: { error in
            "\(error)".contains(message)
        }
    }

    @Test func refusesInvalidUTF8() {
        var bytes = Array(#"{"v":1,"id":"ab"}"#.utf8)
        bytes[13] = 0xC3 // a lead byte followed by an ASCII quote
        var decoder = RecordDecoder()
        let error = bytes.withUnsafeBytes { b -> DecodeError? in
            do throws(DecodeError) { _ = try decoder.decode(b); return nil } catch { return error }
        }
        #expect(error?.message == "string is not valid UTF-8")
    }

    @Test func errorsNameTheColumn() {
        var decoder = RecordDecoder()
        do {
            _ = try decoder.decode(#"{"v":1,"id":"a","zz":1}"#)
            Issue.record("accepted an unknown key")
        } catch {
            #expect(error.column == 22) // the value of the unknown key "zz"
        }
    }

    /// The decoder keeps strings it made and hands them out again when the same bytes come back.
    /// Over a stream with thousands of distinct values (far more than it keeps, so entries are
    /// replaced and hashes collide), values around its 64-byte limit, empty, non-ASCII and
    /// escaped ones, every record decoded by one long-lived decoder equals the record encoded.
    @Test func aLongLivedDecoderNeverHandsOutAnotherValuesString() throws {
        var state: UInt64 = 0x7A11
        func next(_ n: Int) -> Int {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int((state >> 33) % UInt64(n))
        }
        let letters = Array("abcdefghij0123456789-é浙")
        func text(_ length: Int) -> String { String((0..<length).map { _ in letters[next(letters.count)] }) }
        // A pool of 5,000 values of 0 to 70 characters; some share their first and last eight
        // bytes and length, which is all the cache's hash reads.
        var pool: [String] = (0..<4_000).map { _ in text(next(71)) }
        for i in 0..<1_000 { pool.append("same-head-" + String(i % 10) + String(repeating: "x", count: i % 40) + "-same-tail") }
        pool += ["", "\"", "tab\there", "line\nbreak"]
        // Hashes, some sharing their first and last eight bytes.
        let hexDigits = Array("0123456789abcdef")
        let hashes: [String] = (0..<600).map { i in
            let middle = String((0..<48).map { _ in hexDigits[next(16)] })
            return i % 3 == 0 ? "00000000" + middle + "ffffffff" : String((0..<8).map { _ in hexDigits[next(16)] }) + middle + String((0..<8).map { _ in hexDigits[next(16)] })
        }
        var decoder = RecordDecoder()
        for n in 0..<20_000 {
            var record = sampleRecord(person: n % 2 == 0)
            // Sources, kinds and hashes keep the schema's rules; the file names and attributes
            // are free text, drawn from the whole pool.
            record.source = pool[next(pool.count)].isEmpty ? "court" : "s" + String(next(50))
            record.id = record.source + ":" + String(format: "%032x", n)
            record.kind = "court.k" + String(next(3_000))
            let file = pool[next(pool.count)]
            record.prov.file = file.isEmpty ? "f" : file
            record.prov.sha256 = hashes[next(hashes.count)]
            var attrs = Attributes()
            for k in 0..<next(6) { attrs.append(key: "k\(k)" + pool[next(pool.count)], value: pool[next(pool.count)]) }
            record.attrs = attrs
            let line = encodeLine(record)
            let back = try decoder.decode(String(line.dropLast()))
            #expect(back == record, "record \(n)")
            if back != record { break }
        }
    }

}

@Suite struct ScoreCodecTests {
    let score = Score(person: "p_5d41402abc4b2a76b9719d911017c592", score: 612, tier: "standard",
                      asOf: CivilDate(year: 2026, month: 11, day: 28)!, rules: "sha256:" + String(repeating: "0", count: 64), records: 7,
                      reasons: [.init(code: "court.dishonest-debtor", points: -87, records: ["court:3f9c0d1e2a7b4c55e81f0a9d6c2b7e40"])],
                      disputed: ["tax:00000000000000000000000000000002"])

    @Test func encodesTheDocumentedShape() {
        let out = ByteBuffer()
        score.encode(into: out)
        #expect(out.string == #"{"v":1,"person":"p_5d41402abc4b2a76b9719d911017c592","score":612,"tier":"standard","as_of":"2026-11-28","rules":"sha256:0000000000000000000000000000000000000000000000000000000000000000","records":7,"reasons":[{"code":"court.dishonest-debtor","points":-87,"records":["court:3f9c0d1e2a7b4c55e81f0a9d6c2b7e40"]}],"disputed":["tax:00000000000000000000000000000002"]}"# + "\n")
    }

    @Test func roundTrips() throws {
        let out = ByteBuffer()
        score.encode(into: out)
        var decoder = ScoreDecoder()
        #expect(try decoder.decode(String(out.string.dropLast())) == score)
    }

    @Test(arguments: [
        (#"{"v":1,"person":"p"}"#, "score lacks"),
        (#"{"v":1,"reasons":[{"code":"a","points":1}]}"#, "a reason needs"),
        (#"{"v":1,"as_of":"2026-13-01"}"#, "as_of"),
        (#"{"v":1,"score":1.5}"#, "fraction"),
        (#"{"v":1,"colour":"red"}"#, "unknown key"),
    ])
    func refusesMalformedLines(line: String, message: String) {
        var decoder = ScoreDecoder()
        #expect {
            _ = try decoder.decode(line)
        } throws: { error in
            "\(error)".contains(message)
        }
    }
}
