import Testing
import TallyCore

/// `Linker`: the policy, the batched pipeline that applies it, and the one-identifier question
/// tally-explain asks, which must give the pipeline's answer.
@Suite struct LinkerTests {
    static let secret = Array("linker tests: a secret of enough bytes".utf8)
    static let alice = "990106199001011232", bob = "11010119900307109X"
    static let card = "8000000000000001", conflicted = "8000000000000002", stranger = "8000000000000003"

    /// A crosswalk: the card is Alice's, the conflicted card is claimed by Alice and Bob, and the
    /// shop account (a scheme that does not pack) is Bob's.
    static func linker(redact: Bool = false) -> Linker {
        var table = CrosswalkTable(expected: 16)
        func person(_ rid: String) -> UInt64 { var r = rid; return r.withUTF8 { CrosswalkTable.packPerson(UnsafeRawBufferPointer($0))! } }
        _ = withBytes("transit-card", card) { table.insert(scheme: $0, id: $1, person: person(alice)) }
        _ = withBytes("transit-card", conflicted) { table.insert(scheme: $0, id: $1, person: person(alice)) }
        _ = withBytes("transit-card", conflicted) { table.insert(scheme: $0, id: $1, person: person(bob)) }
        _ = withBytes("shop-account", "A0000000007") { table.insert(scheme: $0, id: $1, person: person(bob)) }
        let linker = Linker(secret: secret, redact: redact, table: table)
        linker.crosswalkLoaded()
        return linker
    }

    static func record(_ scheme: String, _ id: String?, kind: String = "transit.fare-evasion") -> Record {
        var r = sampleRecord(person: false)
        r.kind = kind
        r.subject = Subject(scheme: scheme, id: id)
        return r
    }

    /// Links the lines through the pipeline, one refusal or output line each.
    static func link(_ records: [Record], redact: Bool = false) -> [String] {
        let linker = linker(redact: redact)
        var scanner = RecordViewScanner()
        let out = ByteBuffer()
        var results: [String] = []
        // Every line stays put until the flush (the pipeline's contract): one buffer holds them all.
        let all = ByteBuffer()
        var ranges: [Range<Int>] = []
        for r in records {
            let start = all.count
            r.encode(into: all)
            all.removeLast(1)
            ranges.append(start..<all.count)
        }
        var refused: [Int: Linker.Refusal] = [:]
        let bytes = all.contents
        for (i, range) in ranges.enumerated() {
            let line = UnsafeRawBufferPointer(rebasing: bytes[range])
            do { try linker.stage(try! scanner.view(line), line, to: out) } catch { refused[i] = error }
        }
        linker.flush(out)
        var written = out.string.split(separator: "\n").map(String.init).makeIterator()
        for i in ranges.indices { results.append(refused[i].map { "refused \($0)" } ?? written.next()!) }
        return results
    }

    @Test func thePolicyDirectCrosswalkOrUnlinked() {
        let keyer = PersonKeyer(secret: Self.secret)
        let cases: [(String, String, Link, String)] = [
            ("cn-rid", Self.bob, .direct, keyer.key(scheme: "cn-rid", id: Self.bob)),
            ("transit-card", Self.card, .crosswalk, keyer.key(scheme: "cn-rid", id: Self.alice)),
            ("shop-account", "A0000000007", .crosswalk, keyer.key(scheme: "cn-rid", id: Self.bob)),
            // In conflict, or nobody's: the identifier's own key, merged with no one.
            ("transit-card", Self.conflicted, .unlinked, keyer.key(scheme: "transit-card", id: Self.conflicted)),
            ("transit-card", Self.stranger, .unlinked, keyer.key(scheme: "transit-card", id: Self.stranger)),
            ("shop-account", "A0000000008", .unlinked, keyer.key(scheme: "shop-account", id: "A0000000008")),
        ]
        let linker = Self.linker()
        let lines = Self.link(cases.map { Self.record($0.0, $0.1) })
        for (c, line) in zip(cases, lines) {
            let one = linker.person(scheme: c.0, id: c.1)
            #expect(one.key == c.3 && one.link == c.2, "\(c.0):\(c.1)")
            #expect(one.inConflict == (c.1 == Self.conflicted))
            // The pipeline writes what Record.encode would for the record with that person and link.
            var expected = Self.record(c.0, c.1)
            expected.person = c.3
            expected.link = c.2
            #expect(line + "\n" == encodeLine(expected), "\(c.0):\(c.1)")
        }
    }

    @Test func redactionDropsTheSubjectIDAndKeepsTheKey() {
        let lines = Self.link([Self.record("transit-card", Self.card)], redact: true)
        var expected = Self.record("transit-card", nil)
        expected.person = PersonKeyer(secret: Self.secret).key(scheme: "cn-rid", id: Self.alice)
        expected.link = .crosswalk
        #expect(lines[0] + "\n" == encodeLine(expected))
    }

    @Test func correctionsPassAndWhatCannotBeLinkedIsRefused() {
        var linked = Self.record("cn-rid", Self.alice)
        linked.person = "p_00000000000000000000000000000000"
        linked.link = .direct
        var correction = Self.record("record", "court:0123456789abcdef0123456789abcdef", kind: "correction.dispute")
        correction.target = "court:0123456789abcdef0123456789abcdef"
        let lines = Self.link([correction, linked, Self.record("cn-rid", nil), Self.record("cn-rid", Self.alice)])
        #expect(lines[0] + "\n" == encodeLine(correction))
        #expect(lines[1] == "refused alreadyLinked" && lines[2] == "refused noSubjectID")
        #expect(lines[3].hasSuffix(#","link":"direct"}"#))
    }

    /// Many lines, so batches fill and the ring wraps: the same answers, in the same order, as
    /// asking one identifier at a time. The generator is seeded, and the seed is printed.
    @Test func batchesKeepOrderAndAnswers() {
        let seed = UInt64.random(in: 1...UInt64.max)
        print("LinkerTests.batchesKeepOrderAndAnswers seed \(seed)")
        var state = seed
        func next(_ n: Int) -> Int { state = state &* 6364136223846793005 &+ 1442695040888963407; return Int((state >> 33) % UInt64(n)) }
        let pool: [(String, String)] = [("cn-rid", Self.alice), ("cn-rid", Self.bob), ("transit-card", Self.card),
                                        ("transit-card", Self.conflicted), ("transit-card", Self.stranger), ("shop-account", "A0000000007")]
        let picks = (0..<1_000).map { _ in pool[next(pool.count)] }
        let linker = Self.linker()
        let lines = Self.link(picks.map { Self.record($0.0, $0.1) })
        for (p, line) in zip(picks, lines) {
            let one = linker.person(scheme: p.0, id: p.1)
            #expect(line.hasSuffix(#","person":"\#(one.key)","link":"\#(one.link.rawValue)"}"#), "seed \(seed)")
        }
    }

    /// A crosswalk line is an entry only when it is a crosswalk.link record with a plain
    /// identifier and a resident number for its person.
    @Test func crosswalkEntriesAreReadOrRefused() throws {
        func entry(_ r: Record) throws -> (String, String, UInt64)? {
            let b = ByteBuffer()
            r.encode(into: b)
            b.removeLast(1)
            var scanner = RecordViewScanner()
            let view = try scanner.view(b.contents)
            do { let e = try Linker.crosswalkEntry(view); return (e.scheme.text, e.id.text, e.person) } catch { return nil }
        }
        var link = Self.record("transit-card", Self.card, kind: "crosswalk.link")
        link.attrs = ["person": Self.alice]
        let found = try #require(try entry(link))
        var rid = Self.alice
        #expect(found.0 == "transit-card" && found.1 == Self.card
                && found.2 == rid.withUTF8 { CrosswalkTable.packPerson(UnsafeRawBufferPointer($0)) })
        var notPerson = link
        notPerson.attrs = ["person": "someone"]
        #expect(try entry(notPerson) == nil)
        var otherKind = link
        otherKind.kind = "transit.fare-evasion"
        #expect(try entry(otherKind) == nil)
    }
}
