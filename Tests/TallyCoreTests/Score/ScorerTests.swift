import Dispatch
import Testing
import TallyCore

/// Small rules whose numbers make hand computation easy.
let fixtureRules = """
tally_rules: 1
score: {base: 500, min: 100, max: 900}
lowest_tier:
  decision_grade: [court.dishonest-debtor]
kinds:
  court.dishonest-debtor: {points: -100, half_life_days: 10, expire_days: 30, cap: 150, per_yuan: -0.01, per_yuan_limit: 20}
  transit.fare-evasion: {points: -40, half_life_days: 10, expire_days: 30, cap: 100}
  tax.paid: {points: 10, half_life_days: 10, expire_days: 30, cap: 1000}
tiers:
  - {name: low, from: 100, to: 399, means: "restricted"}
  - {name: mid, from: 400, to: 699, means: "standard"}
  - {name: high, from: 700, to: 900, means: "green lane"}
"""

let fixtureKinds: Set<String> = ["court.dishonest-debtor", "court.consumption-restriction", "transit.fare-evasion", "tax.paid", "tax.late"]
let asOfDay = CivilDate(year: 2026, month: 11, day: 28)!

func loadRules(_ yaml: String = fixtureRules) throws -> Rules {
    try Rules.load(yaml: yaml, digest: "sha256:test", knownKinds: fixtureKinds)
}

/// A record `daysOld` days before the end of the as-of day (midnight China time), so its age is
/// exactly that many days; 0 means one second before the end (a fresh record, age 1 s).
func event(_ n: Int, kind: String, person: Int = 1, daysOld: Int, amountFen: Int64? = nil) -> Record {
    let source = String(kind.prefix { $0 != "." })
    return Record(id: source + ":" + hex32(n), source: source, kind: kind, subject: Subject(scheme: "cn-rid", id: "990106199001011232"),
                  at: Timestamp(chinaMidnightOf: asOfDay.adding(days: 1 - daysOld)).adding(seconds: daysOld == 0 ? -1 : 0), amountFen: amountFen,
                  prov: Provenance(file: "f", sha256: String(repeating: "5", count: 64), line: n + 1), person: "p_" + hex32(person), link: .direct)
}

func correction(_ n: Int, _ action: String, target: Record, daysOld: Int = 1) -> Record {
    Record(id: "corrections:" + hex32(1000 + n), source: "corrections", kind: "correction." + action, subject: Subject(scheme: "record", id: target.id),
           at: Timestamp(chinaMidnightOf: asOfDay.adding(days: 1 - daysOld)).adding(seconds: Int64(n)), target: target.id,
           prov: Provenance(file: "c", sha256: String(repeating: "5", count: 64), line: n + 1))
}

func hex32(_ n: Int) -> String {
    let s = String(n, radix: 16)
    return String(repeating: "0", count: 32 - s.count) + s
}

extension Timestamp {
    func adding(seconds: Int64) -> Timestamp { Timestamp(seconds: self.seconds + seconds) }
}

/// Scores `records` (corrections first) through the real line scanner.
func scoreLines(_ rules: Rules, _ records: [Record], corrections: [Record] = []) throws -> [Score] {
    try fed(rules, records, corrections: corrections).finish()
}

/// A scorer for `asOf` (run on `today`) that has read `records` (corrections first) through the
/// real line scanner.
func fed(_ rules: Rules, _ records: [Record], corrections: [Record] = [], asOf: CivilDate = asOfDay, today: CivilDate? = nil) throws -> Scorer {
    let scorer = Scorer(rules: rules, asOf: asOf, today: today)
    var scanner = RecordViewScanner()
    for r in corrections + records {
        try viewing(r, with: &scanner) { v in
            if v.isCorrection { #expect(scorer.corrections.add(v, sources: &scorer.sources) == nil) } else { try scorer.add(v) }
        }
    }
    return scorer
}

/// Calls `body` with the view of `r`'s encoded line.
func viewing(_ r: Record, with scanner: inout RecordViewScanner, _ body: (RecordView) throws -> Void) throws {
    let out = ByteBuffer()
    r.encode(into: out)
    var line = out.string
    line.removeLast()
    try line.withUTF8 { u in try body(try scanner.view(UnsafeRawBufferPointer(u))) }
}

@Suite struct ScorerTests {
    @Test func decayHalvesAtTheHalfLife() throws {
        // -40 at 10 days (one half-life) = -20; -40 at 20 days = -10: 500 - 30 = 470.
        let s = try scoreLines(try loadRules(), [event(1, kind: "transit.fare-evasion", daysOld: 10), event(2, kind: "transit.fare-evasion", daysOld: 20)])
        #expect(s.map(\.score) == [470])
        #expect(s[0].reasons == [Score.Reason(code: "transit.fare-evasion", points: -30, records: ["transit:" + hex32(1), "transit:" + hex32(2)])])
        #expect(s[0].tier == "mid" && s[0].records == 2)
    }

    @Test func aKindsSumStopsAtItsCap() throws {
        // Four fresh -40s would be -160; the cap is 100.
        let s = try scoreLines(try loadRules(), (1...4).map { event($0, kind: "transit.fare-evasion", daysOld: 0) })
        #expect(s[0].score == 400)
        #expect(s[0].reasons[0].points == -100 && s[0].reasons[0].records.count == Scorer.reasonRecords)
    }

    @Test func expiredRecordsDoNotCountButAreCounted() throws {
        // Its 31st day: expired (expire_days 30). 29 days old: -40 × 0.5^2.9 = -5.359…
        let s = try scoreLines(try loadRules(), [event(1, kind: "transit.fare-evasion", daysOld: 31), event(2, kind: "transit.fare-evasion", daysOld: 29)])
#expect(s.count == 1 && s[0].score == 495 && s[0].records == 2, "\(s)")
    }

    @Test func perYuanPartIsLimited() throws {
        // -100 and 0.01/yuan on 1,000 yuan = -10 → -110; on 1,000,000 yuan the part stops at -20 → -120.
        let small = try scoreLines(try loadRules(), [event(1, kind: "court.dishonest-debtor", daysOld: 0, amountFen: 100_000)])
        let large = try scoreLines(try loadRules(), [event(1, kind: "court.dishonest-debtor", daysOld: 0, amountFen: 100_000_000)])
        #expect(small[0].score == 390 && large[0].score == 380)
    }

    @Test func retractionRemovesTheRecordAndReinstatementBringsItBack() throws {
        let rules = try loadRules()
        let court = event(1, kind: "court.dishonest-debtor", daysOld: 0)
        let retracted = try scoreLines(rules, [court], corrections: [correction(1, "retract", target: court)])
        #expect(retracted[0].score == 500 && retracted[0].retracted == [court.id] && retracted[0].reasons.isEmpty)
        // The latest decision wins, whatever order the corrections come in.
        let back = [correction(1, "retract", target: court, daysOld: 3), correction(2, "reinstate", target: court, daysOld: 1)]
        #expect(try scoreLines(rules, [court], corrections: back)[0].score == 400)
        #expect(try scoreLines(rules, [court], corrections: back.reversed())[0].score == 400)
    }

    @Test func anOpenDisputeKeepsTheRecordButNotTheLowestTier() throws {
        let rules = try loadRules()
        // Two fresh court marks: 500 - 150 (capped) = 350, in the lowest tier's range.
        let marks = [event(1, kind: "court.dishonest-debtor", daysOld: 0), event(2, kind: "court.dishonest-debtor", daysOld: 0)]
        #expect(try scoreLines(rules, marks)[0].tier == "low")
        let disputed = try scoreLines(rules, marks, corrections: [correction(1, "dispute", target: marks[0]), correction(2, "dispute", target: marks[1])])
        #expect(disputed[0].score == 350 && disputed[0].tier == "mid" && disputed[0].disputed.count == 2)
        // Upheld: the flag clears and the tier follows the score again.
        let upheld = try scoreLines(rules, marks, corrections: [correction(1, "dispute", target: marks[0], daysOld: 2), correction(2, "uphold", target: marks[0], daysOld: 1)])
        #expect(upheld[0].tier == "low" && upheld[0].disputed.isEmpty)
    }

    @Test func minorEventsAloneNeverReachTheLowestTier() throws {
        // Lowest tier needs a court record; transit alone (capped at -100, twice the half-life)
        // cannot get there even when its points would.
        let yaml = fixtureRules.replacingOccurrences(of: "cap: 100}", with: "cap: 450}")
        let s = try scoreLines(try loadRules(yaml), (1...12).map { event($0, kind: "transit.fare-evasion", daysOld: 0) })
        #expect(s[0].score == 100 && s[0].tier == "mid")
    }

    @Test func theScoreIsClampedAndRoundedHalfToEvenOnce() throws {
        // Good marks: 1000 cap, 10 points each fresh: 500 + 50×10 = 1000 → clamped to 900.
        #expect(try scoreLines(try loadRules(), (1...50).map { event($0, kind: "tax.paid", daysOld: 0) })[0].score == 900)
        // Exactly half a point: 1 point at one half-life is 0.5, 3 points 1.5.
        let half = """
        tally_rules: 1
        score: {base: 500, min: 0, max: 1000}
        lowest_tier: {decision_grade: [court.dishonest-debtor]}
        kinds:
          court.dishonest-debtor: {points: -1, half_life_days: 10, expire_days: 30, cap: 1}
          tax.paid: {points: 1, half_life_days: 10, expire_days: 30, cap: 100}
          tax.late: {points: 3, half_life_days: 10, expire_days: 30, cap: 100}
        tiers:
          - {name: a, from: 0, to: 499, means: "a"}
          - {name: b, from: 500, to: 1000, means: "b"}
        """
        let rules = try loadRules(half)
        #expect(try scoreLines(rules, [event(1, kind: "tax.paid", daysOld: 10)])[0].score == 500)   // 500.5 → 500
        #expect(try scoreLines(rules, [event(1, kind: "tax.late", daysOld: 10)])[0].score == 502)   // 501.5 → 502
        // Rounded once at the end: three parts of 0.5 make 501.5 → 502, not 500 + 3 × round(0.5).
        #expect(try scoreLines(rules, (1...3).map { event($0, kind: "tax.paid", daysOld: 10) })[0].score == 502)
    }

    @Test func recordsAfterTheAsOfDayAreIgnored() throws {
        let rules = try loadRules()
        let s = try scoreLines(rules, [event(1, kind: "court.dishonest-debtor", daysOld: -1), event(2, kind: "tax.paid", daysOld: 0)])
        #expect(s[0].score == 510 && s[0].records == 1)
    }

    @Test func peopleComeOutInKeyOrderWhateverTheInputOrder() throws {
        let rules = try loadRules()
        let records = (0..<200).map { event($0, kind: $0 % 3 == 0 ? "court.dishonest-debtor" : "transit.fare-evasion", person: ($0 * 7919) % 37, daysOld: $0 % 25) }
        let a = try scoreLines(rules, records)
        var shuffled = records
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<5 {
            shuffled.shuffle(using: &rng)
            #expect(try scoreLines(rules, shuffled) == a)
        }
        #expect(a.map(\.person) == a.map(\.person).sorted() && a.count == 37)
    }

    /// Random streams: a few people, every kind, ages across the expiry.
    static func randomStream(_ rng: inout some RandomNumberGenerator, count: Int) -> [Record] {
        let kinds = ["court.dishonest-debtor", "transit.fare-evasion", "tax.paid", "tax.late"]
        return (0..<count).map { i in
            event(i, kind: kinds.randomElement(using: &rng)!, person: Int.random(in: 0..<6, using: &rng), daysOld: Int.random(in: 0..<40, using: &rng),
                  amountFen: Bool.random(using: &rng) ? Int64.random(in: 0..<10_000_000, using: &rng) : nil)
        }
    }

    @Test func addingABadMarkNeverRaisesAScore() throws {
        let rules = try loadRules()
        var rng = SystemRandomNumberGenerator()
        for round in 0..<40 {
            let stream = Self.randomStream(&rng, count: Int.random(in: 1..<60, using: &rng))
            let before = Dictionary(uniqueKeysWithValues: try scoreLines(rules, stream).map { ($0.person, $0.score) })
            let mark = event(10_000 + round, kind: ["court.dishonest-debtor", "transit.fare-evasion"].randomElement()!, person: Int.random(in: 0..<6, using: &rng),
                             daysOld: Int.random(in: 0..<40, using: &rng))
            for s in try scoreLines(rules, stream + [mark]) {
                #expect(s.score <= before[s.person, default: rules.base], "\(s.person): \(before[s.person, default: rules.base]) → \(s.score)")
            }
        }
    }

    @Test func aRetractionGivesExactlyTheScoreWithoutTheRecord() throws {
        let rules = try loadRules()
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<40 {
            let stream = Self.randomStream(&rng, count: Int.random(in: 2..<60, using: &rng))
            let victim = stream.randomElement(using: &rng)!
            let retracted = try scoreLines(rules, stream, corrections: [correction(1, "retract", target: victim)])
            let without = try scoreLines(rules, stream.filter { $0.id != victim.id })
            for s in retracted {
                guard let w = without.first(where: { $0.person == s.person }) else {
                    // The victim was this person's only record: the base score, nothing else.
                    #expect(s.score == rules.base && s.reasons.isEmpty && s.retracted == [victim.id], "\(s) \(victim)")
                    continue
                }
                #expect(s.score == w.score && s.tier == w.tier && s.reasons == w.reasons)
            }
        }
    }

    /// tally-score writes its lines straight from the scorer's tables; they must be the bytes
    /// `Score.encode` gives for the scores `finish()` makes, whatever the stream: disputes,
    /// retractions, ties, several sources, one with a name that no rule mentions.
    @Test func theWrittenLinesAreTheScoresEncoded() throws {
        let rules = try loadRules()
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<30 {
            var stream = Self.randomStream(&rng, count: Int.random(in: 1..<300, using: &rng))
            for i in stream.indices where Int.random(in: 0..<10, using: &rng) == 0 {
                stream[i].id = "fayuan-2:" + String(stream[i].id.suffix(32))
                stream[i].source = "fayuan-2"
            }
            var corrections: [Record] = []
            for (n, victim) in stream.enumerated() where Int.random(in: 0..<8, using: &rng) == 0 {
                corrections.append(correction(n, ["dispute", "retract", "uphold"].randomElement(using: &rng)!, target: victim))
            }
            let scores = try fed(rules, stream, corrections: corrections).finish()
            let expected = ByteBuffer()
            for s in scores { s.encode(into: expected) }
            let written = ByteBuffer()
            var tiers: [Int] = []
            try fed(rules, stream, corrections: corrections).finish(into: written) { tiers.append($0) }
            #expect(written.string == expected.string)
            #expect(tiers.map { rules.tiers[$0].name } == scores.map(\.tier))

            // The same lines written as ranges cut at random, on two threads at once, each into
            // a buffer of its own, and put back in order.
            let scorer = try fed(rules, stream, corrections: corrections)
            let lines = scorer.finishLines()
            var cuts = [0, lines.count]
            for _ in 0..<Int.random(in: 0..<6, using: &rng) { cuts.append(Int.random(in: 0...lines.count, using: &rng)) }
            cuts.sort()
            let ranges = zip(cuts, cuts.dropFirst()).map { $0..<$1 }
            let pieces = ranges.map { _ in ByteBuffer() }
            let pieceTiers = UnsafeMutableBufferPointer<[Int]>.allocate(capacity: ranges.count)
            pieceTiers.initialize(repeating: [])
            defer { pieceTiers.deinitialize().deallocate() }
            nonisolated(unsafe) let shared = (scorer, lines, ranges, pieces, pieceTiers)
            DispatchQueue.concurrentPerform(iterations: ranges.count) { i in
                let (scorer, lines, ranges, pieces, pieceTiers) = shared
                scorer.appendLines(lines, ranges[i], into: pieces[i]) { pieceTiers[i].append($0) }
            }
            #expect(pieces.map(\.string).joined() == expected.string)
            #expect(pieceTiers.flatMap { $0 } == tiers)
        }
    }

    /// A reason names the two most harmful records of its kind (the more recent here; equal
    /// ones by id), one if the kind has one. Kept records move from one slot to a pair, and the
    /// freed slots are reused by other people's kinds: thousands of people, records interleaved.
    @Test func eachReasonNamesItsMostHarmfulRecordsWhateverTheOrder() throws {
        var rng = SystemRandomNumberGenerator()
        var records: [Record] = []
        var expected: [Int: [String: [(daysOld: Int, id: String)]]] = [:]
        var n = 0
        for person in 1...3_000 {
            for kind in ["transit.fare-evasion", "court.dishonest-debtor"] where Int.random(in: 0..<3, using: &rng) != 0 {
                for _ in 0..<Int.random(in: 1...5, using: &rng) {
                    n += 1
                    let daysOld = Int.random(in: 0..<4, using: &rng) * 5   // 0, 5, 10 or 15: ties are common
                    let r = event(n, kind: kind, person: person, daysOld: daysOld)
                    records.append(r)
                    expected[person, default: [:]][kind, default: []].append((daysOld, r.id))
                }
            }
        }
        records.shuffle(using: &rng)
        let scores = try scoreLines(try loadRules(), records)
        #expect(scores.count == expected.count)
        var checked = 0
        for s in scores {
            let person = Int(s.person.dropFirst(2), radix: 16)!
            for reason in s.reasons {
                let want = expected[person]![reason.code]!.sorted { $0.daysOld != $1.daysOld ? $0.daysOld < $1.daysOld : $0.id < $1.id }.prefix(2).map(\.id)
                #expect(reason.records == want, "\(s.person) \(reason.code)")
                checked += 1
            }
        }
        #expect(checked == expected.values.reduce(0) { $0 + $1.count })
    }

    /// Records are summed in batches, and the people table grows while they come: many people
    /// new in one batch whose rows sit close together must each keep their own row. (A batch
    /// that claimed rows without marking them at once gave two people one row, on 10M records.)
    @Test func manyNewPeopleInEveryBatchEachKeepTheirOwnSums() throws {
        let people = 60_000   // past the table's first growth (45,875 at 70% of 65,536)
        // Keys spread like HMAC output (sequential ones hash too evenly to ever share a probe).
        func key(_ p: Int) -> String {
            var x = UInt64(p) &* 0x9E37_79B9_7F4A_7C15
            x = (x ^ (x >> 30)) &* 0xBF58_476D_1CE4_E5B9
            x = (x ^ (x >> 27)) &* 0x94D0_49BB_1331_11EB
            let hex = String(x ^ (x >> 31), radix: 16)
            return "p_" + String(repeating: "0", count: 16 - hex.count) + hex + hex32(p).suffix(16)
        }
        func record(_ n: Int, _ kind: String, _ p: Int) -> Record {
            var r = event(n, kind: kind, person: p, daysOld: 10)
            r.person = key(p)
            return r
        }
        var records: [Record] = []
        for round in 0..<2 {
            for p in 1...people { records.append(record(round * people + p, "transit.fare-evasion", p)) }
        }
        for p in stride(from: 7, through: people, by: 7) { records.append(record(3 * people + p, "tax.paid", p)) }
        let scores = try scoreLines(try loadRules(), records)
        #expect(scores.count == people)
        // In key order: spread keys fill many buckets of the final sort.
        #expect(scores.map(\.person) == scores.map(\.person).sorted())
        var wrong = 0
        for s in scores {
            let p = Int(s.person.suffix(16), radix: 16)!
            #expect(s.person == key(p))
            // Two fare evasions at one half-life: -20 each; a paid tax at one half-life: +5.
            let expected = (score: p % 7 == 0 ? 465 : 460, records: p % 7 == 0 ? 3 : 2)
            if s.score != expected.score || s.records != expected.records { wrong += 1 }
        }
        #expect(wrong == 0)
    }

    /// Records person after person (`addInOrder`, as from a store's copy in person order), with
    /// some of them added through the batches in between (rows appended since, or of people
    /// relinked across), give the bytes of every record through the batches, past several growths
    /// of the people's table.
    @Test func recordsInPersonOrderScoreAsInAnyOrder() throws {
        let rules = try loadRules()
        let people = 120_000
        let kinds = ["transit.fare-evasion", "tax.paid", "court.dishonest-debtor"]
        var records: [(hi: UInt64, lo: UInt64, key: RecordKey, at: Timestamp, amount: Int64?, kind: Int)] = []
        var sources = SourceNames()
        for p in 0..<people {
            var x = UInt64(p + 1) &* 0x9E37_79B9_7F4A_7C15
            x = (x ^ (x >> 29)) &* 0xBF58_476D_1CE4_E5B9
            for r in 0..<(1 + p % 3) {
                let n = p * 3 + r
                let kind = kinds[(p + r) % kinds.count]
                let id = kind.prefix { $0 != "." } + ":" + hex32(n)
                let found = sources.key(String(id))
                let key = try #require(found)
                let at = Timestamp(chinaMidnightOf: asOfDay.adding(days: -(n % 40)))
                records.append((x, UInt64(p), key, at, kind.hasPrefix("court") ? Int64(n % 90_000) : nil, try #require(rules.index(of: kind))))
            }
        }
        func lines(_ feed: (Scorer) -> Void) -> [UInt8] {
            let scorer = Scorer(rules: rules, asOf: asOfDay)
            scorer.sources = sources
            feed(scorer)
            let out = ByteBuffer()
            scorer.finish(into: out) { _ in }
            return out.bytes
        }
        let batched = lines { s in
            for r in records.reversed() { s.add(personHi: r.hi, personLo: r.lo, key: r.key, at: r.at, amountFen: r.amount, kind: r.kind) }
        }
        let ordered = lines { s in
            for (i, r) in records.enumerated() {
                if i % 97 == 0 {
                    s.add(personHi: r.hi, personLo: r.lo, key: r.key, at: r.at, amountFen: r.amount, kind: r.kind)
                } else {
                    s.addInOrder(personHi: r.hi, personLo: r.lo, key: r.key, at: r.at, amountFen: r.amount, kind: r.kind)
                }
            }
        }
        #expect(batched.count > 10_000_000 && ordered == batched)
    }
}
