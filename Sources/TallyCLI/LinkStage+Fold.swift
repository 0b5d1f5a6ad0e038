import TallyCore
import TallyIO

/// `--fold FILE`: the crosswalk read from its folded file and the crosswalk files it does not yet
/// hold, instead of from every crosswalk file; the fold brought up to date.
extension LinkStage {
    /// One crosswalk file given, as the fold sees it.
    struct GivenFile {
        var index: Int
        var path: String
        var identity: String
        var stamp: [Int64]
        /// Its lines, when the fold already holds it.
        var lines: Int?
    }

    /// What the fold holds of the crosswalk files given, and what must be read.
    struct FoldPlan {
        var path: String
        /// The fold read, when it holds only files given now.
        var fold: CrosswalkFold?
        var given: [GivenFile]
        /// Indices (of the crosswalk paths) of the files the fold does not hold: read now.
        var unread: Set<Int>
        /// Whether the fold file is to be written (something new, a stamp changed, or no fold).
        var rewrite: Bool

        /// The files read now whose stamp is no longer the one they were planned with: what was
        /// read of them may not be what their identity says.
        var changedSinceRead: [GivenFile] {
            given.filter { unread.contains($0.index) && FileStatus.stamp(path: $0.path) != $0.stamp }
        }
    }

    /// Reads the fold and sorts the crosswalk files given into those it holds (known by their
    /// stamp) and those it does not (read now). A fold that cannot
    /// be read, or that holds a file not given now, is not used: every file is read, and the fold
    /// made again. Nil when a crosswalk is not a regular file: then no fold is used or written.
    func planFold(_ path: String) throws -> FoldPlan? {
        var given: [GivenFile] = []
        for (index, file) in options.crosswalkPaths.enumerated() where file != "/dev/null" {
            guard let stamp = FileStatus.stamp(path: file) else {
                Stage.report(name, "--fold: \(file) is not a regular file, so the crosswalk is read whole and \(path) is left as it is")
                return nil
            }
            given.append(GivenFile(index: index, path: file, identity: "", stamp: stamp, lines: nil))
        }
        var fold: CrosswalkFold?
        do { fold = try CrosswalkFold.read(path) } catch { Stage.report(name, "\(error); it is made again from every crosswalk file") }
        var rewrite = fold == nil
        var byStamp: [[Int64]: CrosswalkFold.File] = [:]
        for f in fold?.files ?? [] { byStamp[f.stamp] = f }
        for i in given.indices {
            if let known = byStamp[given[i].stamp] {
                given[i].identity = known.identity
                given[i].lines = known.lines
                continue
            }
            do {
                guard let file = try ScoringStore.Persons.crosswalkFile(given[i].path) else {
                    Stage.report(name, "--fold: \(given[i].path) is not a regular file, so the crosswalk is read whole and \(path) is left as it is")
                    return nil
                }
                given[i].identity = file.identity
            } catch let fault as ScoringStore.Fault { throw StageFailure(fault.description, status: fault.code) }
            // Under another stamp (copied, touched, or changed) a file is read again, whatever its
            // CRC says: a CRC can be made to match, a stamp (whose change time no one sets back
            // without the clock) cannot. Its identity still tells whether the fold's files are all given.
            rewrite = true
        }
        if let held = fold?.files, !Set(held.map(\.identity)).isSubset(of: Set(given.map(\.identity))) {
            Stage.report(name, "\(path) holds a crosswalk file not given now (one changed or was taken away); it is made again from every crosswalk file")
            fold = nil
            rewrite = true
            for i in given.indices { given[i].lines = nil }
        }
        let unread = Set(given.filter { $0.lines == nil }.map(\.index))
        return FoldPlan(path: path, fold: fold, given: given, unread: unread, rewrite: rewrite || !unread.isEmpty)
    }

    /// Loads the crosswalk through the fold: the files it does not hold into the linker's table,
    /// the fold beside it (`Linker.base`, searched) or, when `manyLookups`, into the table too;
    /// reports every conflict, as the full load does; writes the fold brought up to date.
    /// `naming` and `named` as in `loadCrosswalk(naming:into:)`.
    func loadCrosswalk(through plan: FoldPlan, manyLookups: Bool, naming: Set<Int>, into named: inout Set<ScoringStore.Hash128>) throws -> Int32 {
        var scanner = RecordViewScanner()
        var linesOf: [Int: Int] = [:]
        var input = LineInput(paths: options.crosswalkPaths, limits: options.limits, stage: name)
        let wanted = plan.unread.union(naming)
        let skipped = Set(options.crosswalkPaths.indices).subtracting(wanted)
        try input.forEachLine(skipping: skipped) { index, file, lineNumber, line in
            let (scheme, id, person, _) = try crosswalkEntry(&scanner, file: file, lineNumber: lineNumber, line: line)
            if naming.contains(index) { named.insert(ScoringStore.hash(scheme: scheme, id: id)) }
            guard plan.unread.contains(index) else { return }
            linesOf[index, default: 0] += 1
            if let key = CrosswalkTable.packIdentifier(scheme: scheme, id: id) {
                linker.table.prefetch(packed: key)
                _ = linker.table.insert(packed: key, person: person)
            } else {
                _ = linker.table.insert(scheme: scheme, id: id, person: person)
            }
        }
        guard input.status == ExitStatus.ok else {
            throw StageFailure("the crosswalk could not be read whole, so nothing was linked", status: input.status)
        }
        let base = plan.fold?.entries
        let baseOthers = plan.fold?.others ?? [:]
        // The identifiers the new files name that are in conflict once the fold's entries are
        // taken in: their lines are found again; the fold keeps the other conflicts' lines.
        var touched = Set<String>()
        var touchesFold = false
        linker.table.forEachPacked { key, value in
            let before = base?.lookup(packed: key)
            if before != nil { touchesFold = true }
            if CrosswalkTable.combine(before, value == CrosswalkTable.conflictMark ? .conflict : .person(value)) == .conflict {
                touched.insert(CrosswalkTable.unpackIdentifier(key))
            }
        }
        for (other, value) in linker.table.otherEntries {
            if baseOthers[other] != nil { touchesFold = true }
            if CrosswalkTable.combine(baseOthers[other] ?? value, value) == CrosswalkTable.conflictMark { touched.insert(other) }
        }
        for (other, value) in baseOthers { linker.table.insert(otherName: other, value: value) }
        let merged = base.map { linker.table.packedCount == 0 ? $0 : $0.merged(with: linker.table) } ?? SortedCrosswalk.sorted(linker.table)
        var conflictLines = plan.fold?.conflictLines ?? [:]
        if !touched.isEmpty {
            // An identifier the fold already named may have lines in any file; one new tonight
            // only in the new files. Its lines are kept in the order of file path and line, so
            // that the fold is the same bytes whatever order the files were given in.
            let scan = plan.fold == nil || touchesFold ? Set(options.crosswalkPaths.indices) : plan.unread
            for (name, lines) in try linesBehind(touched, in: scan) {
                conflictLines[name] = lines.sorted { $0.file != $1.file ? CrosswalkFold.byBytes($0.file, $1.file) : $0.line < $1.line }.map(\.text)
            }
        }
        // Lookups: a few searched in the fold, or many in one table holding it all.
        // (Without a fold to start from, the table already holds every entry.)
        if base != nil {
            if manyLookups {
                for i in 0..<merged.count { _ = linker.table.insert(packed: merged.keyBuffer[i], person: merged.valueBuffer[i]) }
            } else {
                linker.base = merged
                counts.foldSearched = true
            }
        }
        var files: [CrosswalkFold.File] = []
        for g in plan.given { files.append(CrosswalkFold.File(identity: g.identity, stamp: g.stamp, lines: g.lines ?? linesOf[g.index] ?? 0)) }
        var seen = Set<String>()
        let lines = files.filter { seen.insert($0.identity).inserted }.reduce(0) { $0 + $1.lines }
        var others: [String: UInt64] = [:]
        for (other, value) in linker.table.otherEntries { others[other] = value }
        let updated = CrosswalkFold(files: files, entries: merged, others: others, conflictLines: conflictLines)
        counts.crosswalkLines = lines
        counts.crosswalkRead = linesOf.values.reduce(0, +)
        counts.crosswalkIdentifiers = updated.identifiers
        counts.conflicts = updated.conflicts
        reportConflicts(conflictLines)
        // A file that changed while it was read may not be what its identity says: the fold is
        // not written (the next run reads it again).
        let changed = plan.changedSinceRead
        if !changed.isEmpty {
            Stage.report(name, "\(changed[0].path) changed while it was read; \(plan.path) is left as it was")
        } else if plan.rewrite {
            do { try updated.write(plan.path) } catch let fault as ScoringStore.Fault { throw StageFailure(fault.description, status: fault.code) }
        }
        return ExitStatus.ok
    }

    /// Every crosswalk line, in the files at `indices`, naming one of `names` ("SCHEME:ID"),
    /// as the conflict report writes it, in the order read, with the file and line it stands at.
    func linesBehind(_ names: Set<String>, in indices: Set<Int>) throws -> [String: [(file: String, line: Int, text: String)]] {
        var scanner = RecordViewScanner()
        var found: [String: [(file: String, line: Int, text: String)]] = [:]
        var input = LineInput(paths: options.crosswalkPaths, limits: options.limits, stage: name)
        // A line naming one of them holds its id as written (a crosswalk's ids are plain), and so
        // the name's tail after its last colon: lines holding none of the tails are passed over
        // unparsed (parsing every line of every file was most of a night whose new lines
        // conflicted with the fold's).
        let ids = names.map { name in Array((name.lastIndex(of: ":").map { name[name.index(after: $0)...] } ?? name[...]).utf8) }
        try input.forEachLine(skipping: Set(options.crosswalkPaths.indices).subtracting(indices)) { _, file, lineNumber, line in
            guard ids.contains(where: { $0.isEmpty || line.firstIndex(of: $0, from: 0) != nil }) else { return }
            let (scheme, id, _, view) = try crosswalkEntry(&scanner, file: file, lineNumber: lineNumber, line: line)
            let key = scheme.text + ":" + id.text
            guard names.contains(key) else { return }
            let person = view.attrs.first { $0.key.equals("person") }?.value.string ?? "?"
            found[key, default: []].append((file, lineNumber, "\(view.file.string):\(view.line) (\(file):\(lineNumber)) says person \(person)"))
        }
        return found
    }
}
