#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
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
        /// Link a scoring store's identifiers (this directory) into a persons file (`personsPath`)
        /// instead of record lines.
        public var storePath: String?
        /// With `storePath`: last night's persons file, whose keys are kept for the identifiers
        /// the crosswalk files it was not linked with do not name.
        public var previousPath: String?
        public var personsPath: String?
        /// Write each input's records to this directory, under the input's base name, instead
        /// of all of them to standard output: one crosswalk load for a night's files.
        public var outputDirectory: String?
        /// The crosswalk's folded file (`CrosswalkFold`): read with the crosswalk files it does not
        /// hold yet, instead of every file, and brought up to date.
        public var foldPath: String?
        /// With `foldPath`: bring the fold up to date and link nothing.
        public var foldOnly = false
        /// With `foldPath`: search the fold (true), put it in one table (false), or choose by how
        /// many identifiers are to be linked (nil).
        public var searchFold: Bool?
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

    /// What the stage counts itself; the linker counts what it wrote (`Linker.Counts`).
    public struct Counts {
        public var read = 0, rejected = 0
        public var crosswalkLines = 0, crosswalkIdentifiers = 0, conflicts = 0
        /// With a fold: the crosswalk lines read from files it did not hold (the others are in it).
        public var crosswalkRead: Int?
        /// With a fold: whether its identifiers were searched in it (rather than put in one table).
        public var foldSearched = false
        /// With --previous: identifiers whose keys were kept from it.
        public var kept = 0
    }

    let options: Options
    let name = "tally-link"
    /// The policy and the pipeline (TallyCore); this stage reads, rejects and reports.
    let linker: Linker
    var counts = Counts()
    var conflictReports: [String] = []

    public init(_ options: Options) {
        self.options = options
        linker = Linker(secret: options.secret, redact: options.redact, table: CrosswalkTable())
    }

    /// Links every input; returns the exit status.
    public func run() throws -> Int32 {
        if let directory = options.outputDirectory {
            for path in options.paths {
                if let input = Self.realPath(path), let output = Self.realPath(directory), output + "/" + Self.baseName(path) == input {
                    throw StageFailure("\(path): --output-dir would write its records over it; give another directory", status: ExitStatus.usage)
                }
            }
        }
        var status: Int32
        if let foldPath = options.foldPath, let plan = try planFold(foldPath) {
            var none = Set<ScoringStore.Hash128>()
            status = try loadCrosswalk(through: plan, manyLookups: manyLookups(manyRecords(against: plan)), naming: [], into: &none)
        } else {
            status = try loadCrosswalk()
        }
        if options.foldOnly {
            let c = counts
            let how = c.crosswalkRead.map { "\($0) read from files now, the rest held" } ?? "all read from files; no fold written"
            Stage.report(name, "\(options.foldPath ?? "-"): crosswalk \(c.crosswalkIdentifiers) identifiers from \(c.crosswalkLines) lines (\(how)), \(c.conflicts) in conflict")
            if let path = options.statsPath { try writeStats(path) }
            return options.strict && c.conflicts > 0 ? ExitStatus.worst(status, ExitStatus.data) : status
        }
        linker.crosswalkLoaded()
        let rejects = try RejectLog(stage: name, path: options.rejectsPath)
        var scanner = RecordViewScanner()
        if let directory = options.outputDirectory {
            for path in options.paths {
                status = ExitStatus.worst(status, try link(path, into: directory, rejects, &scanner))
            }
        } else {
            status = ExitStatus.worst(status, try link(options.paths, into: OutputSink.standardOutput(), rejects, &scanner))
        }
        try rejects.finish()
        counts.rejected = rejects.count
        let c = counts, l = linker.counts
        Stage.report(name, "read \(c.read), written \(l.written), rejected \(c.rejected) (direct \(l.direct), crosswalk \(l.crosswalk), unlinked \(l.unlinked), corrections \(l.corrections)); crosswalk \(c.crosswalkIdentifiers) identifiers from \(c.crosswalkLines) lines\(foldNote), \(c.conflicts) in conflict")
        if let path = options.statsPath { try writeStats(path) }
        if (c.rejected > 0 && !options.keepGoing) || (options.strict && c.conflicts > 0) { status = ExitStatus.worst(status, ExitStatus.data) }
        return status
    }

    /// How much of the crosswalk was read from its files, when a fold held the rest.
    var foldNote: String {
        guard let read = counts.crosswalkRead, let fold = options.foldPath else { return "" }
        return " (\(read) read from files, the rest from \(fold), \(counts.foldSearched ? "searched" : "in one table"))"
    }

    /// Whether the records to link are many against the fold's entries: then one hash table of
    /// them all is built, else each identifier is searched for in the fold. Measured at a tenth of
    /// the city (BENCHMARKS.md, "The crosswalk folded"): building the table of 3.5M entries cost
    /// about 0.14 s, 40 ns an entry, and a binary search of an identifier not met before costs
    /// about what a dozen entries do.
    func manyRecords(against plan: FoldPlan) -> Bool {
        guard let fold = plan.fold else { return true }
        var bytes = 0
        for path in options.paths {
            guard path != "-", let stamp = FileStatus.stamp(path: path) else { return true }
            bytes += Int(stamp[2])
        }
        if options.paths.isEmpty { return true }
        return bytes / Self.bytesPerRecord * Self.entriesPerSearch > fold.entries.count
    }
    /// Whether the fold goes into one table: never with --fold-only (nothing is looked up), else
    /// as --fold-lookups says, else as `auto` says.
    func manyLookups(_ auto: @autoclosure () -> Bool) -> Bool {
        if options.foldOnly { return false }
        return options.searchFold.map { !$0 } ?? auto()
    }

    /// Fewer bytes than a record line takes (about 440 in a night's files): the estimate errs
    /// towards more records.
    static let bytesPerRecord = 256
    /// How many entries put in the table cost as much as one binary search in the fold.
    static let entriesPerSearch = 12

    /// `--output-dir DIR`: one input's records into DIR/BASENAME, through a temporary file
    /// beside it and a rename once the input is read to its end. An input that could not be
    /// read to its end leaves no file there (and nothing that was there is replaced).
    func link(_ path: String, into directory: String, _ rejects: RejectLog, _ scanner: inout RecordViewScanner) throws -> Int32 {
        let base = Self.baseName(path)
        let target = directory + "/" + base
        var status = ExitStatus.ok
        let written = try Stage.replaceFile(target, temporary: directory + "/." + base + ".tmp-\(getpid())", mode: 0o600) { out in
            status = try link([path], into: out, rejects, &scanner)
            return status == ExitStatus.ok
        }
        if !written { Stage.report(name, "\(target): not written, as \(path) was not read to its end") }
        return status
    }

    public static func baseName(_ path: String) -> String {
        path.split(separator: "/", omittingEmptySubsequences: true).last.map(String.init) ?? path
    }

    static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    /// Links the lines of `paths` into `out`; returns the status of reading them.
    func link(_ paths: [String], into out: OutputSink, _ rejects: RejectLog, _ scanner: inout RecordViewScanner) throws -> Int32 {
        var input = LineInput(paths: paths, limits: options.limits, stage: name)
        // Lines are staged where the reader holds them and linked in batches; the batch is linked
        // before the reader moves them.
        try input.forEachLine(linesWillMove: { linker.flush(out.buffer); try out.flushIfFull() }) { file, lineNumber, line in
            counts.read += 1
            guard let view = try rejects.view(line, &scanner, file: file, line: lineNumber) else { return }
            do {
                if options.relink, !view.isCorrection, view.person != nil || view.link != nil {
                    // Linked again from scratch: the copy without person and link is a fresh record.
                    try linker.stageRelinked(view, to: out.buffer) { copy in try scanner.view(copy) }
                } else {
                    try linker.stage(view, line, to: out.buffer)
                }
            } catch let refusal as Linker.Refusal {
                switch refusal {
                case .alreadyLinked:
                    try rejects.add(file: file, line: lineNumber, field: "person", code: "already-linked", reason: "the record is already linked", raw: line.text)
                case .noSubjectID:
                    try rejects.add(file: file, line: lineNumber, field: "subject", code: "no-identifier",
                                    reason: "the subject has no id (was it redacted before linking?)", raw: line.text)
                case .escapedSubject:
                    try rejects.add(file: file, line: lineNumber, field: "subject", code: "no-identifier",
                                    reason: "the subject's scheme or id is written with escapes, which no feed produces", raw: line.text)
                }
            } catch {
                try rejects.add(file: file, line: lineNumber, code: "not-a-record", reason: "not a tally.record once unlinked: \(error)", raw: line.text)
            }
            try out.flushIfFull()
        }
        linker.flush(out.buffer)
        try out.flush()
        return input.status
    }

    /// `--store DIR --output FILE`: every identifier of the scoring store, linked once, into a
    /// persons file that tally-score --store reads with the store's rows. A record's person is a
    /// function of its subject identifier and the crosswalk, so this gives each row the person
    /// that relinking its record line would.
    ///
    /// With `previousPath` (last night's persons file, made with the same secret and with crosswalk
    /// files all among tonight's), an identifier none of the crosswalk files new since names keeps
    /// its key from that file: the crosswalk only ever adds entries, and an identifier's person
    /// depends on its own entries alone. The others (named anew, or new to the store) are linked.
    /// The file written is the same bytes either way.
    public func runStore(store: String, output: String) throws -> Int32 {
        do {
            // Each crosswalk file's identity, for the file written (and the next night's --previous):
            // from the fold for the files it holds, else read whole for its CRC.
            let plan = try options.foldPath.flatMap { try planFold($0) }
            var files: [(index: Int, path: String, identity: String)]? = []
            var read: [(path: String, file: ScoringStore.Persons.CrosswalkFile)] = []
            if let plan {
                files = plan.given.map { ($0.index, $0.path, $0.identity) }
            } else {
                for (index, path) in options.crosswalkPaths.enumerated() where path != "/dev/null" {
                    if let file = try ScoringStore.Persons.crosswalkFile(path) {
                        files?.append((index, path, file.identity))
                        read.append((path, file))
                    } else {
                        files = nil
                    }
                }
            }
            let keyCheck = linker.keyCheck
            let usable = usablePrevious(files?.map { ($0.index, $0.identity) }, keyCheck: keyCheck)
            var previous = usable?.0
            var named = Set<ScoringStore.Hash128>()
            let status: Int32
            if let plan {
                status = try loadCrosswalk(through: plan, manyLookups: manyLookups(usable == nil), naming: usable?.1 ?? [], into: &named)
            } else {
                status = try loadCrosswalk(naming: usable?.1 ?? [], into: &named)
            }
            linker.crosswalkLoaded()
            // A file that changed after it was hashed: its hash may not be what was read, so no
            // file's hash is written (the next night links every identifier) and none is trusted.
            let changed = plan.map { !$0.changedSinceRead.isEmpty } ?? !read.allSatisfy({ ScoringStore.Persons.unchanged($0.path, since: $0.file) })
            if changed && files != nil {
                Stage.report(name, "a crosswalk file changed while it was read: every identifier is linked, and the persons file names no crosswalk")
                previous = nil
                files = nil
            }
            let reader = try ScoringStore.Reader(path: store)
            var entries: [(ScoringStore.Hash128, UInt64, UInt64)] = []
            entries.reserveCapacity(Int(reader.state.identifiers))
            try withUnsafeTemporaryAllocation(byteCount: 16, alignment: 8) { tag in
                try reader.forEachIdentifier { hash, scheme, id in
                    counts.read += 1
                    if previous != nil, !named.contains(hash), let key = previous!.key(for: hash) {
                        counts.kept += 1
                        entries.append((hash, key.hi, key.lo))
                        return
                    }
                    _ = linker.tag(scheme: scheme, id: id, into: tag.baseAddress!)
                    let hi = UInt64(bigEndian: tag.loadUnaligned(fromByteOffset: 0, as: UInt64.self))
                    let lo = UInt64(bigEndian: tag.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
                    entries.append((hash, hi, lo))
                }
            }
            try ScoringStore.Persons.write(output, identifiersSHA256: reader.state.identifiersSHA256, keyCheck: keyCheck,
                                           crosswalks: files.map { $0.map(\.identity) }, entries: entries)
            let c = counts, l = linker.counts
            let kept = options.previousPath == nil ? "" : "; \(c.kept) kept from \(options.previousPath!)"
            Stage.report(name, "\(store): \(c.read) identifiers linked into \(output) (direct \(l.direct), crosswalk \(l.crosswalk), unlinked \(l.unlinked)\(kept)); crosswalk \(c.crosswalkIdentifiers) identifiers from \(c.crosswalkLines) lines\(foldNote), \(c.conflicts) in conflict")
            if let path = options.statsPath { try writeStats(path) }
            if options.strict && c.conflicts > 0 { return ExitStatus.worst(status, ExitStatus.data) }
            return status
        } catch let fault as ScoringStore.Fault {
            throw StageFailure(fault.description, status: fault.code)
        }
    }

    /// Last night's persons file (`--previous`) when it can stand in for tonight's links, with
    /// the indices of the crosswalk paths new since it was made; nil (and why, on stderr) when it
    /// cannot: it is only ever a shortcut, so a file that cannot be read costs only the time.
    func usablePrevious(_ files: [(index: Int, identity: String)]?, keyCheck: String) -> (ScoringStore.Persons.Previous, Set<Int>)? {
        guard let path = options.previousPath else { return nil }
        func no(_ why: String) -> (ScoringStore.Persons.Previous, Set<Int>)? {
            Stage.report(name, "\(why): every identifier is linked")
            return nil
        }
        let previous: ScoringStore.Persons.Previous
        do { previous = try ScoringStore.Persons.Previous(path) } catch let fault as ScoringStore.Fault { return no(fault.description) } catch { return no("\(path): \(error)") }
        guard previous.keyCheck == keyCheck else { return no("\(path): made with another secret (or by an older tally)") }
        guard let files else { return no("a crosswalk is a stream, so which entries are new cannot be known") }
        guard let before = previous.crosswalks, before.isSubset(of: Set(files.map(\.identity))) else {
            return no("\(path): linked with crosswalk files not given now (or not known)")
        }
        return (previous, Set(files.filter { !before.contains($0.identity) }.map(\.index)))
    }

    /// Loads every crosswalk file; a conflict is reported with every line that takes part in it.
    func loadCrosswalk() throws -> Int32 {
        var none = Set<ScoringStore.Hash128>()
        return try loadCrosswalk(naming: [], into: &none)
    }

    /// The same, putting into `named` the store hash of every identifier the files at the
    /// indices `naming` (of the crosswalk paths) name.
    func loadCrosswalk(naming: Set<Int>, into named: inout Set<ScoringStore.Hash128>) throws -> Int32 {
        var scanner = RecordViewScanner()
        var conflicted = Set<String>()
        var input = LineInput(paths: options.crosswalkPaths, limits: options.limits, stage: name)
        // Inserted in batches, as records are linked: each identifier's slot is prefetched as its
        // line is read, and the batch is inserted when full. The order of insertion changes
        // nothing: an identifier is in conflict when it is mapped to two persons, whenever.
        var batch: [(key: UInt64, person: UInt64, name: Range<Int>)] = []
        let names = ByteBuffer()
        func insertBatch() {
            names.withBytes { bytes in
                for e in batch where linker.table.insert(packed: e.key, person: e.person) == .conflict {
                    conflicted.insert(String(decoding: bytes[e.name], as: UTF8.self))
                }
            }
            batch.removeAll(keepingCapacity: true)
            names.removeAll()
        }
        try input.forEachLine(skipping: []) { index, file, lineNumber, line in
            let (scheme, id, person, _) = try crosswalkEntry(&scanner, file: file, lineNumber: lineNumber, line: line)
            counts.crosswalkLines += 1
            if naming.contains(index) { named.insert(ScoringStore.hash(scheme: scheme, id: id)) }
            guard let key = CrosswalkTable.packIdentifier(scheme: scheme, id: id) else {
                if linker.table.insert(scheme: scheme, id: id, person: person) == .conflict { conflicted.insert(scheme.text + ":" + id.text) }
                return
            }
            linker.table.prefetch(packed: key)
            let start = names.count
            names.append(scheme)
            names.append(UInt8(ascii: ":"))
            names.append(id)
            batch.append((key, person, start..<names.count))
            if batch.count == Linker.batch { insertBatch() }
        }
        insertBatch()
        guard input.status == ExitStatus.ok else {
            throw StageFailure("the crosswalk could not be read whole, so nothing was linked", status: input.status)
        }
        counts.crosswalkIdentifiers = linker.table.count
        counts.conflicts = conflicted.count
        if !conflicted.isEmpty {
            // A second pass finds every line behind each conflict, so the report names them all
            // without the table having to remember where each identifier came from.
            reportConflicts(try linesBehind(conflicted, in: Set(options.crosswalkPaths.indices)).mapValues { $0.map(\.text) })
        }
        return ExitStatus.ok
    }

    /// Reports each conflict ("SCHEME:ID") with the crosswalk lines behind it, in the order of
    /// the names, on stderr and for --stats.
    func reportConflicts(_ lines: [String: [String]]) {
        for key in lines.keys.sorted() {
            let report = "crosswalk conflict: \(key) is mapped to more than one person, so it stays unlinked: " + lines[key]!.joined(separator: "; ")
            Stage.report(name, report)
            conflictReports.append(report)
        }
    }

    func crosswalkEntry(_ scanner: inout RecordViewScanner, file: String, lineNumber: Int, line: UnsafeRawBufferPointer)
        throws -> (UnsafeRawBufferPointer, UnsafeRawBufferPointer, UInt64, RecordView) {
        func bad(_ why: String) -> StageFailure {
            StageFailure("\(file):\(lineNumber): crosswalk: \(why)", status: ExitStatus.data)
        }
        let view: RecordView
        do { view = try scanner.view(line) } catch { throw bad("not a tally.record: \(error)") }
        do {
            let entry = try Linker.crosswalkEntry(view)
            return (entry.scheme, entry.id, entry.person, view)
        } catch { throw bad(error.description) }
    }

    func writeStats(_ path: String) throws {
        let c = counts, l = linker.counts
        try StatsFile.write(path, counts: [("read", c.read), ("written", l.written), ("rejected", c.rejected), ("direct", l.direct),
                                           ("crosswalk", l.crosswalk), ("unlinked", l.unlinked), ("corrections", l.corrections),
                                           ("crosswalk_lines", c.crosswalkLines), ("crosswalk_lines_read", c.crosswalkRead ?? c.crosswalkLines), ("crosswalk_identifiers", c.crosswalkIdentifiers),
                                           ("conflicts", c.conflicts), ("keys_made", l.keysMade)]) { o in
            o.member("conflict_reports", conflictReports)
        }
    }
}

/// Finds the person key of an identifier as tally-link would give it (`Linker`'s policy).
public enum PersonFinder {
    public static func key(for identifier: String, secret: [UInt8], crosswalk: [String], limits: InputLimits) throws -> String {
        let colon = identifier.firstIndex(of: ":")!
        let scheme = String(identifier[..<colon])
        var id = String(identifier[identifier.index(after: colon)...])
        // Checked and written as tally-parse writes a record's subject (a resident number's x
        // upper-cased): otherwise a mistyped number, or a lower-case x, would find a person with
        // no records, and their notice would say there is nothing against them.
        guard let known = IdentifierScheme(rawValue: scheme) else {
            throw StageFailure("--id \(InertText.escaped(identifier, limit: 80)): unknown scheme \(InertText.quoted(scheme, limit: 40)) (\(IdentifierScheme.allCases.map(\.rawValue).joined(separator: ", ")))", status: ExitStatus.usage)
        }
        switch Identifier.normalise(known, id, notAfter: Timestamp.now.chinaDate) {
        case .success(let normalised): id = normalised
        case .failure(let fault):
            throw StageFailure("--id \(InertText.escaped(identifier, limit: 80)) is not a valid \(scheme): \(fault)", status: ExitStatus.usage)
        }
        if scheme != "cn-rid" && crosswalk.isEmpty {
            Stage.report("tally-explain", "no --crosswalk given: using \(identifier)'s own (unlinked) key")
        }
        let stage = LinkStage(.init(crosswalkPaths: crosswalk, secret: secret, redact: false, paths: [], limits: limits,
                                    rejectsPath: nil, statsPath: nil, strict: false))
        if scheme != "cn-rid" && !crosswalk.isEmpty { _ = try stage.loadCrosswalk() }
        let found = stage.linker.person(scheme: scheme, id: id)
        if found.link == .unlinked && !crosswalk.isEmpty {
            Stage.report("tally-explain", "\(identifier) is not in the crosswalk\(found.inConflict ? " (it is in conflict there)" : ""): using its own (unlinked) key")
        }
        return found.key
    }
}
