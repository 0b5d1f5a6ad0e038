import TallyCore
import TallyIO

/// What tally-score does: corrections (from --corrections, and from the input wherever they are)
/// and every linked record, into one score line per person, ordered by person key.
///
/// Only per-person sums are kept, so a correction must be known before the records it corrects
/// are summed. The input is read once while its corrections come first (as `tally-store dump`
/// writes them). At the first correction after a record, the rest is read for its corrections
/// only, and then the whole input again, with every correction known, into fresh sums. Files are
/// simply read again; a stream (standard input, a pipe) is copied to a temporary file as it is
/// read, under the same bound and clean-up as tally-parse's copy, so that it can be.
public final class ScoreStage {
    public struct Options {
        public var rules: Rules
        public var asOf: CivilDate
        public var correctionPaths: [String]
        public var paths: [String]
        public var limits: InputLimits
        public var rejectsPath: String?
        public var statsPath: String?
        public var strict: Bool
        /// Copy streams as they are read, so that a late correction can be applied; without the
        /// copy (the caller promises corrections first) a late correction in a stream stops the stage.
        public var copyStreams: Bool
        public init(rules: Rules, asOf: CivilDate, correctionPaths: [String], paths: [String], limits: InputLimits,
                    rejectsPath: String?, statsPath: String?, strict: Bool, copyStreams: Bool = true) {
            self.rules = rules
            self.asOf = asOf
            self.correctionPaths = correctionPaths
            self.paths = paths
            self.limits = limits
            self.rejectsPath = rejectsPath
            self.statsPath = statsPath
            self.strict = strict
            self.copyStreams = copyStreams
        }
    }

    let options: Options
    let name = "tally-score"
    var scorer: Scorer

    public init(_ options: Options) {
        self.options = options
        scorer = Scorer(rules: options.rules, asOf: options.asOf, today: Timestamp.now.chinaDate)
    }

    /// Where a line is: the input's index, then its line number.
    struct Position: Comparable {
        var input: Int
        var line: Int
        static func < (a: Position, b: Position) -> Bool { (a.input, a.line) < (b.input, b.line) }
    }

    public func run() throws -> Int32 {
        let rejects = try RejectLog(stage: name, path: options.rejectsPath)
        var scanner = RecordViewScanner()
        var (read, status) = try readCorrections(rejects, &scanner)
        let readFromCorrections = read

        // One pass while the corrections come first; streams are copied as they are read.
        let paths = options.paths
        let streams = paths.map { $0 == "-" || InputFile.isStream($0) }
        var spools: [Int: LineSpool] = [:]
        var copying = options.copyStreams
        var recordsBegan = false
        var late: Position?
        func tooLarge(_ file: String, _ lineNumber: Int) -> StageFailure {
            let why = options.copyStreams ? "in a stream too large to read twice (its copy would pass \(LineSpool.maximumBytes) bytes)"
                : "in a stream, with --corrections-first"
            return StageFailure("\(file):\(lineNumber): a correction after records, \(why); give the input as a file, or its corrections first (--corrections FILE, or tally-store dump, which puts them first)", status: ExitStatus.data)
        }
        var input = LineInput(paths: paths, limits: options.limits, stage: name)
        try input.forEachLine(skipping: []) { index, file, lineNumber, line in
            if copying && streams[index] {
                if spools[index] == nil { spools[index] = try LineSpool(shown: file) }
                if try !spools[index]!.add(line, number: lineNumber) {
                    copying = false
                    for spool in spools.values { spool.discard() }
                    spools = [:]
                    if late != nil { throw tooLarge(file, lineNumber) }
                }
            }
            if late != nil {
                // Past a late correction only corrections matter now: the records are read again.
                guard let v = try? scanner.view(line), v.isCorrection else { return }
                if let fault = scorer.corrections.add(v, sources: &scorer.sources) {
                    try rejects.add(file: file, line: lineNumber, code: "bad-correction", reason: fault, raw: line.text)
                }
                return
            }
            read += 1
            guard let v = try rejects.view(line, &scanner, file: file, line: lineNumber) else { return }
            if v.isCorrection {
                if recordsBegan {
                    // Without copies, no stream can be read again: not one already read, nor one
                    // still to come (the rest is read for corrections only).
                    guard copying || !streams.contains(true) else { throw tooLarge(file, lineNumber) }
                    late = Position(input: index, line: lineNumber)
                }
                if let fault = scorer.corrections.add(v, sources: &scorer.sources) {
                    try rejects.add(file: file, line: lineNumber, code: "bad-correction", reason: fault, raw: line.text)
                }
                return
            }
            recordsBegan = true
            do throws(Scorer.Fault) { try scorer.add(v) } catch {
                try rejects.add(file: file, line: lineNumber, code: "unscorable", reason: error.reason, raw: line.text)
            }
        }
        status = ExitStatus.worst(status, input.status)
        defer { for spool in spools.values { spool.discard() } }
        if let late {
            // Every correction is known: the records again, into fresh sums. Lines before the
            // late correction were reported the first time.
            for spool in spools.values { try spool.finish() }
            let fresh = Scorer(rules: options.rules, asOf: options.asOf, today: Timestamp.now.chinaDate)
            fresh.corrections = scorer.corrections
            fresh.sources = scorer.sources
            scorer = fresh
            read = readFromCorrections
            var again = LineInput(paths: paths.indices.map { spools[$0]?.path ?? paths[$0] }, limits: options.limits, stage: name, names: paths)
            try again.forEachLine(skipping: input.failed) { index, file, lineNumber, line in
                read += 1
                let reported = Position(input: index, line: lineNumber) < late
                guard let v = try rejects.view(line, &scanner, file: file, line: lineNumber, log: !reported) else { return }
                if v.isCorrection { return }
                do throws(Scorer.Fault) { try scorer.add(v) } catch {
                    if !reported { try rejects.add(file: file, line: lineNumber, code: "unscorable", reason: error.reason, raw: line.text) }
                }
            }
            status = ExitStatus.worst(status, again.status)
        }
        return try writeScores(read: read, rejects: rejects, status: status)
    }

    /// `--store DIR --persons FILE`: the scoring store's corrections (and --corrections), then
    /// its rows, each with the person key tally-link --store found for its identifier. The
    /// same scores, to the byte, as the ledger's dump relinked and scored.
    /// `parts`: 1, or 2 to score on two threads. `skipping`: a file of identifiers whose rows
    /// are not scored (`IdentifierList`).
    public func runStore(store: String, persons personsPath: String, parts: Int = 1, skipping skipPath: String? = nil) throws -> Int32 {
        precondition(parts == 1 || parts == 2)
        let rejects = try RejectLog(stage: name, path: options.rejectsPath)
        var scanner = RecordViewScanner()
        do {
            let reader = try ScoringStore.Reader(path: store)
            let skipped = try skipPath.map { try IdentifierList.hashes($0, stage: name) } ?? []
            @inline(__always) func skips(_ row: ScoringStore.Row) -> Bool { !skipped.isEmpty && skipped.contains(row.identifier) }
            var (read, status) = try readCorrections(rejects, &scanner, extraCorrections: [reader.correctionsPath])
            let persons = try ScoringStore.Persons.load(personsPath, identifiersSHA256: reader.state.identifiersSHA256)
            // Each name hash once: sources numbered as the scorer numbers them, kinds as the rules do.
            let (sourceNames, kindNames) = try reader.names()
            // A handful of each: searched in small arrays, cheaper per row than a dictionary.
            var sourceHashes: [UInt32] = [], sourceNumbers: [UInt32] = [], kindHashes: [UInt32] = [], kindIndices: [Int] = []
            for (h, name) in sourceNames {
                var name = name
                sourceHashes.append(h)
                sourceNumbers.append(name.withUTF8 { scorer.sources.number(UnsafeRawBufferPointer($0)) })
            }
            for (h, name) in kindNames {
                kindHashes.append(h)
                kindIndices.append(options.rules.index(of: name) ?? -1)
            }
            // With two parts, each thread reads every row and scores the people of its half of
            // the key space (the first bit of the key), so their scores come out in key order one
            // half after the other.
            var scorers = [scorer]
            for _ in 1..<parts {
                let other = Scorer(rules: options.rules, asOf: options.asOf, today: Timestamp.now.chinaDate)
                other.corrections = scorer.corrections
                other.sources = scorer.sources
                scorers.append(other)
            }
            let sources = NameHashIndex(sourceHashes), kinds = NameHashIndex(kindHashes)
            let rows = Int(reader.state.rows)
            func unknown(_ row: ScoringStore.Row) -> StageFailure {
                StageFailure("\(store): ledger row \(row.seq) names an identifier or name the store's tables and persons file lack: make the store again (tally-store rebuild-scoring), then tally-link --store", status: ExitStatus.data)
            }
            @inline(__always) func person(_ row: ScoringStore.Row) throws -> (hi: UInt64, lo: UInt64) {
                guard let person = persons.person(row.identifier) else { throw unknown(row) }
                return person
            }
            @inline(__always) func partOf(_ person: (hi: UInt64, lo: UInt64)) -> Int {
                parts == 1 ? 0 : Int(person.hi.multipliedFullWidth(by: UInt64(parts)).high)
            }
            @inline(__always) func add(_ row: ScoringStore.Row, _ person: (hi: UInt64, lo: UInt64), to target: Scorer, inOrder: Bool = false) throws {
                guard let s = sources.position(of: row.source), let k = kinds.position(of: row.kind) else { throw unknown(row) }
                let key = RecordKey(hi: row.id.hi, lo: row.id.lo, source: sourceNumbers[s])
                let at = Timestamp(seconds: row.at), amount = row.amountFen < 0 ? nil : row.amountFen as Int64?
                if inOrder {
                    target.addInOrder(personHi: person.hi, personLo: person.lo, key: key, at: at, amountFen: amount, kind: kindIndices[k])
                } else {
                    target.add(personHi: person.hi, personLo: person.lo, key: key, at: at, amountFen: amount, kind: kindIndices[k])
                }
            }
            // Rows of the part's people, from blocks of rows every part reads.
            func feed(_ part: Int, _ block: UnsafeRawPointer, _ n: Int) throws {
                let target = scorers[part]
                for i in 0..<n {
                    if i + 8 < n { persons.prefetch(ScoringStore.Row(block + (i + 8) * ScoringStore.rowBytes).identifier) }
                    let row = ScoringStore.Row(block + i * ScoringStore.rowBytes)
                    if skips(row) { continue }
                    let p = try person(row)
                    if partOf(p) == part { try add(row, p, to: target) }
                }
            }
            let (copy, why) = try ScoringStore.Ordered.open(reader)
            if let why { Stage.report(name, why) }
            if let copy {
                // The copy ordered by person: each part reads its own half of it (the halves of
                // the key space when it was made), and hands the other part the rows of people
                // relinked across since. Then every part reads the rows appended since, and the
                // current versions of the rows rewritten since, which the copy's are skipped for.
                let held = Int(copy.header.rows)
                let current = try reader.rows(withSequenceNumbers: copy.changed.sorted(), within: held)
                let ranges = parts == 1 ? [0..<held] : [0..<Int(copy.header.split), Int(copy.header.split)..<held]
                func ordered(_ part: Int) throws -> [(ScoringStore.Row, (hi: UInt64, lo: UInt64))] {
                    let target = scorers[part]
                    var other: [(ScoringStore.Row, (hi: UInt64, lo: UInt64))] = []
                    // A person's rows are together, and so, mostly, are an identifier's: its
                    // person is looked up once for its run of rows.
                    var last: (identifier: ScoringStore.Hash128, person: (hi: UInt64, lo: UInt64))?
                    try copy.forEachRowBlock(ranges[part]) { block, n in
                        for i in 0..<n {
                            // Each identifier's first row misses the persons table: its slot is
                            // asked for some rows ahead (the miss was a tenth of the time, perf).
                            if i + 16 < n { persons.prefetch(ScoringStore.Row.identifier(at: block + (i + 16) * ScoringStore.rowBytes)) }
                            let row = ScoringStore.Row(block + i * ScoringStore.rowBytes)
                            if copy.isChanged(row.seq) { continue }
                            if skips(row) { continue }
                            if last?.identifier != row.identifier { last = (row.identifier, try person(row)) }
                            let p = last!.person
                            if partOf(p) == part { try add(row, p, to: target, inOrder: true) } else { other.append((row, p)) }
                        }
                    }
                    try reader.forEachRowBlock(from: held) { block, n in try feed(part, block, n) }
                    for row in current {
                        if skips(row) { continue }
                        let p = try person(row)
                        if partOf(p) == part { try add(row, p, to: target) }
                    }
                    return other
                }
                if parts == 2 {
                    var toSecond: [(ScoringStore.Row, (hi: UInt64, lo: UInt64))] = [], toFirst = toSecond
                    try BothAtOnce.run({ toSecond = try ordered(0) }, { toFirst = try ordered(1) })
                    for (row, p) in toFirst { try add(row, p, to: scorers[0]) }
                    for (row, p) in toSecond { try add(row, p, to: scorers[1]) }
                } else {
                    let none = try ordered(0)
                    precondition(none.isEmpty, "one part takes every person")
                }
            } else if parts == 2 {
                try BothAtOnce.run({ try reader.forEachRowBlock { try feed(0, $0, $1) } }, { try reader.forEachRowBlock { try feed(1, $0, $1) } })
            } else {
                try reader.forEachRowBlock { try feed(0, $0, $1) }
            }
            read += rows
            return try writeScores(read: read, rejects: rejects, status: status, scorers: scorers)
        } catch let fault as ScoringStore.Fault {
            throw StageFailure(fault.description, status: fault.code)
        }
    }

    /// Reads the corrections of --corrections (and `extraCorrections`) into the scorer.
    func readCorrections(_ rejects: RejectLog, _ scanner: inout RecordViewScanner, extraCorrections: [String] = []) throws -> (read: Int, status: Int32) {
        var read = 0
        var corrections = LineInput(paths: options.correctionPaths + extraCorrections, limits: options.limits, stage: name)
        try corrections.forEachLine { file, lineNumber, line in
            read += 1
            guard let v = try rejects.view(line, &scanner, file: file, line: lineNumber) else { return }
            guard v.isCorrection else {
                throw StageFailure("\(file):\(lineNumber): --corrections holds a record that is not a correction (kind \(v.kind.string))", status: ExitStatus.data)
            }
            if let fault = scorer.corrections.add(v, sources: &scorer.sources) {
                try rejects.add(file: file, line: lineNumber, code: "bad-correction", reason: fault, raw: line.text)
            }
        }
        return (read, corrections.status)
    }

    /// Writes the scores, reports the counts; returns the exit status.
    func writeScores(read: Int, rejects: RejectLog, status: Int32, scorers: [Scorer]? = nil) throws -> Int32 {
        var status = status
        let scorers = scorers ?? [scorer]
        let out = OutputSink.standardOutput()
        var tiers = [Int](repeating: 0, count: options.rules.tiers.count)
        var people = 0
        if scorers.count == 2 {
            // Two threads: each finishes its part (the rest summed, its people ordered), then
            // both write the lines of both parts, a chunk each in turn, in key order.
            var first: Scorer.Lines?, second: Scorer.Lines?
            try BothAtOnce.run({ first = scorers[0].finishLines() }, { second = scorers[1].finishLines() })
            let lines = [first!, second!]
            // Chunks of up to 16,384 lines (about 10 MB), at least 64 a part so the threads take
            // even shares, and of at least 256 lines.
            let size = max(256, min(16_384, (lines[0].count + lines[1].count) / 128))
            let chunks = lines.enumerated().flatMap { part, lines in
                stride(from: 0, to: lines.count, by: size).map { (part, $0..<min($0 + size, lines.count)) }
            }
            let turns = TakingTurns()
            func write(_ worker: Int) throws -> [Int] {
                var counted = tiers
                let buffer = ByteBuffer(capacity: 1 << 20)
                do {
                    for c in stride(from: worker, to: chunks.count, by: 2) {
                        let (part, range) = chunks[c]
                        buffer.removeAll()
                        scorers[part].appendLines(lines[part], range, into: buffer) { counted[$0] += 1 }
                        try turns.wait(for: c)
                        try out.put(buffer)
                        turns.done(c)
                    }
                } catch is TakingTurns.Abandoned {
                    // The other writer failed, and throws its own error.
                } catch {
                    turns.abandon()
                    throw error
                }
                return counted
            }
            var evens: [Int] = [], odds: [Int] = []
            try BothAtOnce.run({ evens = try write(0) }, { odds = try write(1) })
            for t in tiers.indices { tiers[t] = evens[t] + odds[t] }
            people = tiers.reduce(0, +)
        } else {
            for part in scorers {
                try part.finish(into: out.buffer) { tier in
                    try out.flushIfFull()
                    tiers[tier] += 1
                    people += 1
                }
            }
        }
        try out.flush()
        try rejects.finish()
        // Each part saw every correction; the records are split between them.
        var c = scorers[0].counts
        for part in scorers.dropFirst() {
            let d = part.counts
            c.records += d.records; c.counted += d.counted; c.expired += d.expired; c.future += d.future
            c.unscored += d.unscored; c.retracted += d.retracted; c.disputed += d.disputed; c.lapsed += d.lapsed
        }
        let memory = scorers.reduce(0) { $0 + $1.memoryBytes }
        let perTier = options.rules.tiers.enumerated().map { "\($1.name) \(tiers[$0])" }.joined(separator: ", ")
        Stage.report(name, "read \(read), corrections \(c.corrections) (after --as-of \(c.correctionsAfterAsOf)), records \(c.records) (counted \(c.counted), expired \(c.expired), after --as-of \(c.future), retracted \(c.retracted), dispute lapsed \(c.lapsed), not in the rules \(c.unscored)), rejected \(rejects.count); \(people) people: \(perTier)")
        if let path = options.statsPath {
            try StatsFile.write(path, counts: [("read", read), ("corrections", c.corrections), ("corrections_after_as_of", c.correctionsAfterAsOf), ("records", c.records), ("counted", c.counted),
                                               ("expired", c.expired), ("after_as_of", c.future), ("retracted", c.retracted), ("disputed", c.disputed), ("dispute_lapsed", c.lapsed),
                                               ("not_in_rules", c.unscored), ("rejected", rejects.count), ("people", people),
                                               ("memory_bytes", memory)]) { o in
                o.member("as_of", options.asOf.description)
                o.member("rules", options.rules.digest)
                o.object("tiers") { t in
                    for (i, tier) in options.rules.tiers.enumerated() { t.member(tier.name, tiers[i]) }
                }
            }
        }
        if options.strict && rejects.count > 0 { status = ExitStatus.worst(status, ExitStatus.data) }
        return status
    }
}

/// Where a name stands among a store's few source or kind names, by its 32-bit hash: one probe of
/// a table of 256 by the hash's low byte, the names sharing a slot searched in order. A linear
/// search of every row's two names was a tenth of scoring's time from the ordered copy (perf).
struct NameHashIndex {
    let hashes: [UInt32]
    /// Per slot: 0 for none, the name's position + 1, or -1 when several share it.
    var slots = [Int32](repeating: 0, count: 256)

    init(_ hashes: [UInt32]) {
        self.hashes = hashes
        for (i, h) in hashes.enumerated() {
            let s = Int(h & 255)
            slots[s] = slots[s] == 0 ? Int32(i + 1) : -1
        }
    }

    @inline(__always)
    func position(of h: UInt32) -> Int? {
        let s = slots[Int(h & 255)]
        if s > 0 { return hashes[Int(s) - 1] == h ? Int(s) - 1 : nil }
        return s == 0 ? nil : hashes.firstIndex(of: h)
    }
}
