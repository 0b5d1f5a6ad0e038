import TallyCore
import TallyIO

/// What tally-link does: loads the crosswalk (parsed `crosswalk.link` records) once, then gives
/// every record a pseudonymous `person` key and says how it was found (`link`), passing each
/// line's own bytes through. Correction records pass unchanged. read = written + rejected.
public final class LinkStage {
    public struct Options {
        public var crosswalkPaths: [String]
        public var secret: [UInt8]
        public var redact: Bool
        /// Replace the person and link of records that have them, instead of rejecting them.
        public var relink = false
        /// Exit 0 although lines were rejected.
        public var keepGoing = false
        public var paths: [String]
        public var limits: InputLimits
        public var rejectsPath: String?
        public var statsPath: String?
        public var strict: Bool
        public init(crosswalkPaths: [String], secret: [UInt8], redact: Bool, paths: [String], limits: InputLimits,
                    rejectsPath: String?, statsPath: String?, strict: Bool) {
            self.crosswalkPaths = crosswalkPaths
            self.secret = secret
            self.redact = redact
            self.paths = paths
            self.limits = limits
            self.rejectsPath = rejectsPath
            self.statsPath = statsPath
            self.strict = strict
        }
    }

    /// The counts a run reports.
    public struct Counts {
        public var read = 0, written = 0, rejected = 0
        public var direct = 0, crosswalk = 0, unlinked = 0, corrections = 0
        public var crosswalkLines = 0, crosswalkIdentifiers = 0, conflicts = 0
        /// Keys made with an HMAC; the others were written again from the memo.
        public var keysMade = 0
    }

    let options: Options
    let name = "tally-link"
    let keyer: PersonKeyer
    var table = CrosswalkTable()
    /// Keys made so far, by the identity they were made from (sized once the crosswalk is in).
    var memo = KeyMemo(entries: 0)
    var counts = Counts()
    var conflictReports: [String] = []

    public init(_ options: Options) {
        self.options = options
        keyer = PersonKeyer(secret: options.secret)
    }

    /// Links every input; returns the exit status.
    public func run() throws -> Int32 {
        var status = try loadCrosswalk()
        // Room for about one key per crosswalk identifier: people hold one or more identifiers,
        // and identifiers nobody claims take places of their own.
        memo = KeyMemo(entries: min(table.count, 1 << 23))
        let out = OutputSink.standardOutput()
        let rejects = try RejectLog(stage: name, path: options.rejectsPath)
        var scanner = RecordViewScanner()
        var input = LineInput(paths: options.paths, limits: options.limits, stage: name)
        var stripped: [UInt8] = []
        // Lines are staged where the reader holds them and linked in batches; the batch is linked
        // before the reader moves them.
        try input.forEachLine(linesWillMove: { try linkStaged(out) }) { file, lineNumber, line in
            counts.read += 1
            let view: RecordView
            do { view = try scanner.view(line) } catch {
                try rejects.add(file: file, line: lineNumber, code: "not-a-record", reason: "not a tally.record: \(error)", raw: line.text)
                return
            }
            if options.relink, !view.isCorrection, view.person != nil || view.link != nil {
                view.unlinkedLine(into: &stripped)
                // Link again from scratch: the stripped copy is scanned as a fresh record. It is
                // kept in `relinkSpace` until written, so relinked lines are batched like others.
                if stripped.count > relinkSpace.count - relinkUsed { try linkStaged(out) }
                func relink(_ copy: UnsafeRawBufferPointer) throws {
                    let again: RecordView
                    do { again = try scanner.view(copy) } catch {
                        try rejects.add(file: file, line: lineNumber, code: "not-a-record", reason: "not a tally.record once unlinked: \(error)", raw: line.text)
                        return
                    }
                    try linkOne(again, copy, file: file, lineNumber: lineNumber, out: out, rejects: rejects)
                }
                if stripped.count <= relinkSpace.count - relinkUsed {
                    let place = UnsafeMutableRawBufferPointer(rebasing: relinkSpace[relinkUsed..<(relinkUsed + stripped.count)])
                    stripped.withUnsafeBytes { place.copyMemory(from: $0) }
                    relinkUsed += stripped.count
                    try relink(UnsafeRawBufferPointer(place))
                } else {
                    // Longer than the whole space: linked at once, while its copy lasts.
                    try stripped.withUnsafeBytes { try relink($0) }
                    try linkStaged(out)
                }
            } else {
                try linkOne(view, line, file: file, lineNumber: lineNumber, out: out, rejects: rejects)
            }
        }
        try linkStaged(out)
        try out.flush()
        try rejects.finish()
        counts.rejected = rejects.count
        status = ExitStatus.worst(status, input.status)
        let c = counts
        Stage.report(name, "read \(c.read), written \(c.written), rejected \(c.rejected) (direct \(c.direct), crosswalk \(c.crosswalk), unlinked \(c.unlinked), corrections \(c.corrections)); crosswalk \(c.crosswalkIdentifiers) identifiers from \(c.crosswalkLines) lines, \(c.conflicts) in conflict")
        if let path = options.statsPath { try writeStats(path) }
        if (c.rejected > 0 && !options.keepGoing) || (options.strict && c.conflicts > 0) { status = ExitStatus.worst(status, ExitStatus.data) }
        return status
    }

    /// A line waiting for its crosswalk slot, its bytes still where the reader put them: what
    /// goes out before the person key (the line up to its closing brace, with the subject object
    /// cut out and written again without its id when redacting), or a correction's whole line;
    /// the identifier in it.
    struct Staged {
        var head: UnsafeRawBufferPointer
        /// When redacting: where the subject object lies in `head`.
        var subject: Range<Int>?
        /// The scheme with its quotes, and the id without.
        var scheme: UnsafeRawBufferPointer
        var id: UnsafeRawBufferPointer
        var how: How
        /// What the key is made from, packed (see `KeyMemo`), or `Staged.unpacked`: a resident
        /// number (`direct`), an identifier to look up (`packed`), and once looked up the person
        /// it links to (`crosswalk`) or still the identifier (`unlinked`).
        var identity: UInt64
        enum How { case verbatim, direct, packed, other, crosswalk, unlinked }
        static let unpacked = UInt64.max
        static var nothing: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: nil, count: 0) }
        var schemeContent: UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: scheme[(scheme.startIndex + 1)..<(scheme.endIndex - 1)]) }
    }
    /// Lines go through three steps a batch at a time, each step one batch behind the one before,
    /// so that what a step needs from memory was asked for a batch earlier: a crosswalk slot or a
    /// memo place is a random spot in a table of hundreds of megabytes (perf: the lookup was 14%
    /// of the run, waiting). When a batch is full its crosswalk slots (or, for resident numbers,
    /// memo places) are prefetched, all at once so that the misses overlap; the batch before is
    /// resolved (looked up in the crosswalk, its persons' memo places prefetched); the one before
    /// that is written.
    static let batch = 32
    static let ringSize = 128   // a power of two of at least four batches
    var ring = [Staged](repeating: Staged(head: Staged.nothing, subject: nil, scheme: Staged.nothing, id: Staged.nothing,
                                          how: .verbatim, identity: Staged.unpacked), count: ringSize)
    /// How many lines have been staged, prefetched, resolved and written (their places in `ring`
    /// are these counts modulo its size).
    var stagedCount = 0, prefetchedCount = 0, resolvedCount = 0, writtenCount = 0
    /// The unlinked copies of `--relink` lines, kept until they are written: one block that never
    /// moves, emptied whenever every staged line has been written.
    let relinkSpace = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 1)
    var relinkUsed = 0
    deinit { relinkSpace.deallocate() }
    /// A crosswalk person's resident number, unpacked for keying (reused).
    var rid: [UInt8] = []

    /// Checks one record line and stages it for linking, or rejects it. The line's bytes must
    /// stay where they are until `linkStaged` has run.
    func linkOne(_ view: RecordView, _ line: UnsafeRawBufferPointer, file: String, lineNumber: Int, out: OutputSink, rejects: RejectLog) throws {
        if view.isCorrection {
            try stage(Staged(head: line, subject: nil, scheme: Staged.nothing, id: Staged.nothing, how: .verbatim, identity: Staged.unpacked), out)
        } else if view.person != nil || view.link != nil {
            try rejects.add(file: file, line: lineNumber, field: "person", code: "already-linked", reason: "the record is already linked", raw: line.text)
            return
        } else if let id = view.subjectID, !id.escaped, !view.scheme.escaped {
            var subject: Range<Int>?
            if options.redact {
                let before = view.subjectObject.baseAddress! - line.baseAddress!
                subject = before..<(before + view.subjectObject.count)
            }
            let scheme = view.scheme.content, idBytes = id.content
            var how = Staged.How.other
            var identity = Staged.unpacked
            if scheme.equals("cn-rid") {
                how = .direct
                if let person = CrosswalkTable.packPerson(idBytes) { identity = person }
            } else if let packed = CrosswalkTable.packIdentifier(scheme: scheme, id: idBytes) {
                how = .packed
                identity = packed
            }
            try stage(Staged(head: UnsafeRawBufferPointer(rebasing: line[0..<view.closingBrace]), subject: subject, scheme: view.scheme.quoted,
                             id: idBytes, how: how, identity: identity), out)
        } else {
            let reason = view.subjectID == nil ? "the subject has no id (was it redacted before linking?)" : "the subject's scheme or id is written with escapes, which no feed produces"
            try rejects.add(file: file, line: lineNumber, field: "subject", code: "no-identifier", reason: reason, raw: line.text)
            return
        }
    }

    /// Adds a line; when a batch is full, moves every batch on by a step.
    @inline(__always)
    func stage(_ s: Staged, _ out: OutputSink) throws {
        ring[stagedCount & (Self.ringSize - 1)] = s
        stagedCount += 1
        guard stagedCount - prefetchedCount == Self.batch else { return }
        prefetchStaged()
        while resolvedCount < prefetchedCount - Self.batch { resolve() }
        while writtenCount < resolvedCount - Self.batch { try write(out) }
    }

    /// Resolves and writes every staged line, in the order they came.
    func linkStaged(_ out: OutputSink) throws {
        prefetchStaged()
        while resolvedCount < stagedCount { resolve() }
        while writtenCount < resolvedCount { try write(out) }
        relinkUsed = 0
    }

    /// Asks for the crosswalk slot (or memo place) of every line staged since the last call.
    func prefetchStaged() {
        while prefetchedCount < stagedCount {
            let s = ring[prefetchedCount & (Self.ringSize - 1)]
            prefetchedCount += 1
            switch s.how {
            case .packed: table.prefetch(packed: s.identity)
            case .direct where s.identity != Staged.unpacked: memo.prefetch(s.identity)
            default: break
            }
        }
    }

    /// Finds the next line's person in the crosswalk and asks for its memo place.
    @inline(__always)
    func resolve() {
        let i = resolvedCount & (Self.ringSize - 1)
        resolvedCount += 1
        let found: CrosswalkTable.Entry?
        switch ring[i].how {
        case .packed: found = table.lookup(packed: ring[i].identity)
        case .other: found = table.lookupOther(scheme: ring[i].schemeContent, id: ring[i].id)
        default: return
        }
        if case .person(let person) = found {
            ring[i].how = .crosswalk
            ring[i].identity = person
        } else {
            // Not in the crosswalk, or in conflict there: the identifier's own key.
            ring[i].how = .unlinked
        }
        if ring[i].identity != Staged.unpacked { memo.prefetch(ring[i].identity) }
    }

    /// Writes the next resolved line with its person key, from the memo or made now.
    @inline(__always)
    func write(_ out: OutputSink) throws {
        let s = ring[writtenCount & (Self.ringSize - 1)]
        writtenCount += 1
        let b = out.buffer
        if case .verbatim = s.how {
            b.append(s.head)
            b.append(UInt8(ascii: "\n"))
            counts.corrections += 1
            counts.written += 1
            try out.flushIfFull()
            return
        }
        if let cut = s.subject {
            b.append(UnsafeRawBufferPointer(rebasing: s.head[0..<cut.lowerBound]))
            b.append("{\"scheme\":")
            b.append(s.scheme)
            b.append(UInt8(ascii: "}"))
            b.append(UnsafeRawBufferPointer(rebasing: s.head[cut.upperBound...]))
        } else {
            b.append(s.head)
        }
        b.append(",\"person\":\"")
        withUnsafeTemporaryAllocation(byteCount: 16, alignment: 8) { tagBuffer in
            let tag = tagBuffer.baseAddress!
            if s.identity == Staged.unpacked || !memo.lookup(s.identity, into: tag) {
                if case .crosswalk = s.how {
                    let ridLiteral: StaticString = "cn-rid"
                    CrosswalkTable.unpackPerson(s.identity, into: &rid)
                    rid.withUnsafeBytes { keyer.makeTag(scheme: UnsafeRawBufferPointer(start: ridLiteral.utf8Start, count: ridLiteral.utf8CodeUnitCount), id: $0, into: tag) }
                } else {
                    keyer.makeTag(scheme: s.schemeContent, id: s.id, into: tag)
                }
                if s.identity != Staged.unpacked { memo.store(s.identity, tag: tag) }
                counts.keysMade += 1
            }
            PersonKeyer.appendKey(tag: tag, to: b)
        }
        let link: StaticString
        switch s.how {
        case .direct:
            link = "\",\"link\":\"direct\"}\n"
            counts.direct += 1
        case .crosswalk:
            link = "\",\"link\":\"crosswalk\"}\n"
            counts.crosswalk += 1
        default:
            link = "\",\"link\":\"unlinked\"}\n"
            counts.unlinked += 1
        }
        b.append(link)
        counts.written += 1
        try out.flushIfFull()
    }

    /// Loads every crosswalk file; a conflict is reported with every line that takes part in it.
    func loadCrosswalk() throws -> Int32 {
        var scanner = RecordViewScanner()
        var conflicted: [String: [String]] = [:]
        var input = LineInput(paths: options.crosswalkPaths, limits: options.limits, stage: name)
        // Inserted in batches, as records are linked: each identifier's slot is prefetched as its
        // line is read, and the batch is inserted when full. The order of insertion changes
        // nothing: an identifier is in conflict when it is mapped to two persons, whenever.
        var batch: [(key: UInt64, person: UInt64, name: Range<Int>)] = []
        let names = ByteBuffer()
        func insertBatch() {
            names.withBytes { bytes in
                for e in batch where table.insert(packed: e.key, person: e.person) == .conflict {
                    conflicted[String(decoding: bytes[e.name], as: UTF8.self)] = []
                }
            }
            batch.removeAll(keepingCapacity: true)
            names.removeAll()
        }
        try input.forEachLine { file, lineNumber, line in
            let (scheme, id, person, _) = try crosswalkEntry(&scanner, file: file, lineNumber: lineNumber, line: line)
            counts.crosswalkLines += 1
            guard let key = CrosswalkTable.packIdentifier(scheme: scheme, id: id) else {
                if table.insert(scheme: scheme, id: id, person: person) == .conflict { conflicted[scheme.text + ":" + id.text] = [] }
                return
            }
            table.prefetch(packed: key)
            let start = names.count
            names.append(scheme)
            names.append(UInt8(ascii: ":"))
            names.append(id)
            batch.append((key, person, start..<names.count))
            if batch.count == Self.batch { insertBatch() }
        }
        insertBatch()
        guard input.status == ExitStatus.ok else {
            throw StageFailure("the crosswalk could not be read whole, so nothing was linked", status: input.status)
        }
        counts.crosswalkIdentifiers = table.count
        counts.conflicts = conflicted.count
        if !conflicted.isEmpty {
            // A second pass finds every line behind each conflict, so the report names them all
            // without the table having to remember where each identifier came from.
            var again = LineInput(paths: options.crosswalkPaths, limits: options.limits, stage: name)
            try again.forEachLine { file, lineNumber, line in
                let (scheme, id, _, view) = try crosswalkEntry(&scanner, file: file, lineNumber: lineNumber, line: line)
                let key = scheme.text + ":" + id.text
                guard conflicted[key] != nil else { return }
                let person = view.attrs.first { $0.key.equals("person") }?.value.string ?? "?"
                conflicted[key]!.append("\(view.file.string):\(view.line) (\(file):\(lineNumber)) says person \(person)")
            }
            for key in conflicted.keys.sorted() {
                let report = "crosswalk conflict: \(key) is mapped to more than one person, so it stays unlinked: " + conflicted[key]!.joined(separator: "; ")
                Stage.report(name, report)
                conflictReports.append(report)
            }
        }
        return ExitStatus.ok
    }

    func crosswalkEntry(_ scanner: inout RecordViewScanner, file: String, lineNumber: Int, line: UnsafeRawBufferPointer)
        throws -> (UnsafeRawBufferPointer, UnsafeRawBufferPointer, UInt64, RecordView) {
        func bad(_ why: String) -> StageFailure {
            StageFailure("\(file):\(lineNumber): crosswalk: \(why)", status: ExitStatus.data)
        }
        let view: RecordView
        do { view = try scanner.view(line) } catch { throw bad("not a tally.record: \(error)") }
        guard view.kind.equals("crosswalk.link") else { throw bad("not a crosswalk.link record (kind \(view.kind.string)); give tally-parse --feed crosswalk output") }
        guard let id = view.subjectID, !id.escaped, !view.scheme.escaped else { throw bad("the subject has no plain id") }
        guard let person = view.attrs.first(where: { $0.key.equals("person") })?.value, !person.escaped,
              let packed = CrosswalkTable.packPerson(person.content) else {
            throw bad("attrs.person is not a resident identity number")
        }
        return (view.scheme.content, id.content, packed, view)
    }

    func writeStats(_ path: String) throws {
        let c = counts
        try StatsFile.write(path, counts: [("read", c.read), ("written", c.written), ("rejected", c.rejected), ("direct", c.direct),
                                           ("crosswalk", c.crosswalk), ("unlinked", c.unlinked), ("corrections", c.corrections),
                                           ("crosswalk_lines", c.crosswalkLines), ("crosswalk_identifiers", c.crosswalkIdentifiers),
                                           ("conflicts", c.conflicts), ("keys_made", c.keysMade)]) { b in
            b.append(",\"conflict_reports\":")
            b.appendJSONStringArray(conflictReports)
        }
    }
}

/// Finds the person key of an identifier as tally-link would give it.
public enum PersonFinder {
    public static func key(for identifier: String, secret: [UInt8], crosswalk: [String], limits: InputLimits) throws -> String {
        let colon = identifier.firstIndex(of: ":")!
        let scheme = String(identifier[..<colon]), id = String(identifier[identifier.index(after: colon)...])
        let keyer = PersonKeyer(secret: secret)
        if scheme == "cn-rid" { return keyer.key(scheme: scheme, id: id) }
        guard !crosswalk.isEmpty else {
            Stage.report("tally-explain", "no --crosswalk given: using \(identifier)'s own (unlinked) key")
            return keyer.key(scheme: scheme, id: id)
        }
        let stage = LinkStage(.init(crosswalkPaths: crosswalk, secret: secret, redact: false, paths: [], limits: limits,
                                    rejectsPath: nil, statsPath: nil, strict: false))
        _ = try stage.loadCrosswalk()
        var s = scheme, i = id
        let found = s.withUTF8 { sb in i.withUTF8 { ib in stage.table.lookup(scheme: UnsafeRawBufferPointer(sb), id: UnsafeRawBufferPointer(ib)) } }
        if case .person(let packed) = found {
            var rid: [UInt8] = []
            CrosswalkTable.unpackPerson(packed, into: &rid)
            return keyer.key(scheme: "cn-rid", id: String(decoding: rid, as: UTF8.self))
        }
        Stage.report("tally-explain", "\(identifier) is not in the crosswalk\(found == .conflict ? " (it is in conflict there)" : ""): using its own (unlinked) key")
        return keyer.key(scheme: scheme, id: id)
    }
}
