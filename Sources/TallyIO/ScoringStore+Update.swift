#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
internal import Crypto
import TallyCore

extension ScoringStore {
    /// What an update did.
    public struct UpdateCounts: Sendable {
        /// Rows appended (records new since the last update) and rewritten (amended since).
        public var added = 0, amended = 0
        /// Corrections now in the store, rows in all, identifiers in all.
        public var corrections = 0, rows = 0, identifiers = 0
        /// Whether the identifier and name tables were made again from every row (after an
        /// amendment changed what a row names, or after an update that was cut short).
        public var tablesRemade = false
    }

    /// Brings the store at `path` up to the ledger (made if missing); with `rebuild`, makes it
    /// again from nothing. Holds the store's lock while it works; another update running is
    /// refused (75).
    public static func update(store path: String, ledger: Ledger, rebuild: Bool = false) throws -> UpdateCounts {
        try Files.makeDirectory(path)
        let lock = try Files.lock(path + "/lock")
        defer { close(lock) }
        var state = State()
        if !rebuild, let text = try Files.readText(path + "/state") {
            state = try State.parse(text, path: path + "/state")
        } else {
            // A store made from nothing: an ordered copy of another one's rows goes.
            Ordered.remove(store: path)
        }
        var work = try Update(path: path, state: state)
        defer { work.closeFiles() }
        try ledger.snapshot { try work.run(ledger) }
        return work.counts
    }

    /// One update: the rows file open, the tables in memory.
    struct Update {
        let path: String
        var state: State
        var counts = UpdateCounts()
        /// Every identifier when `allLoaded`; otherwise only those first named tonight, the
        /// others staying in `oldIdentifiers`, the committed file's bytes, to be merged with
        /// them in one pass at the end. Parsing millions of identifiers into a table, sorting
        /// and writing them back made the update's time grow with the history (10 s a night
        /// at a tenth of the city); the merge copies the old ones through in order.
        var identifiers: [Hash128: Identifier] = [:]
        /// The committed identifiers not yet in `identifiers` (the file's bytes).
        var oldIdentifiers: [UInt8] = []
        var allLoaded: Bool { oldIdentifiers.isEmpty }
        /// Where each identifier first named tonight was met (for a refusal that names it).
        var firstNamed: [Hash128: (seq: Int64, id: String)] = [:]
        var sources: [UInt32: [UInt8]] = [:]
        var kinds: [UInt32: [UInt8]] = [:]
        let rows: Int32
        /// Whether the tables must be made again from the rows.
        var remake = false

        init(path: String, state: State) throws {
            self.path = path
            self.state = state
            rows = try Files.open(path + "/rows", write: true)
            guard ftruncate(rows, off_t(state.rows) * off_t(rowBytes)) == 0 else {
                throw Fault.io("\(path)/rows: cannot cut it to its committed \(state.rows) rows: \(POSIX.errorText(errno))")
            }
            counts.rows = Int(state.rows)
        }

        func closeFiles() { close(rows) }

        mutating func run(_ ledger: Ledger) throws {
            if state.seq > 0 {
                guard let id = try ledger.id(atSequence: state.seq), Files.sha256Hex(Array(id.utf8)) == state.seqID,
                      try ledger.lastAmendment() >= state.amendment else {
                    throw Fault.data("\(path): the scoring store does not follow the ledger \(ledger.path) (made from another ledger, or the ledger was restored from an older copy): make it again with tally-store rebuild-scoring")
                }
            }
            if state.rows > 0 || state.identifiers > 0 {
                let loaded = try loadTables()
                // A file renamed by an update cut short before its state: made again from the rows.
                if !loaded { remake = true }
            }
            // Amended records, where their rows are; each first noted in the ordered copy's log
            // (when there is one), so that the copy's stale version is never scored.
            var amended: [(Int64, Row)] = []
            try ledger.forEachAmended(after: state.amendment, upTo: state.seq) { seq, _, view in
                amended.append((seq, try makeRow(seq: seq, view)))
            }
            try Ordered.noteRewritten(amended.map(\.0), store: path)
            for (seq, row) in amended {
                let at = try position(of: seq)
                var old = [UInt8](repeating: 0, count: rowBytes)
                try Files.read(rows, into: &old, at: at, what: "\(path)/rows")
                let before = old.withUnsafeBytes { Row($0.baseAddress!) }
                if before.identifier != row.identifier || before.source != row.source || before.kind != row.kind { remake = true }
                try writeRows([row], at: at)
                counts.amended += 1
            }
            // New records, appended.
            var batch: [Row] = []
            batch.reserveCapacity(1 << 16)
            var end = off_t(state.rows) * off_t(rowBytes)
            try ledger.forEachRecord(after: state.seq, corrections: false) { seq, _, view in
                batch.append(try makeRow(seq: seq, view))
                if batch.count == 1 << 16 {
                    try writeRows(batch, at: end)
                    end += off_t(batch.count * rowBytes)
                    counts.added += batch.count
                    batch.removeAll(keepingCapacity: true)
                }
            }
            try writeRows(batch, at: end)
            counts.added += batch.count
            counts.rows = Int(state.rows) + counts.added
            guard fsync(rows) == 0 else { throw Fault.io("\(path)/rows: cannot sync: \(POSIX.errorText(errno))") }
            if remake {
                try loadAllIdentifiers()
                try remakeTables()
            }
            counts.tablesRemade = remake
            // Every correction, as the ledger holds it now.
            let corrections = ByteBuffer(capacity: 1 << 16)
            try ledger.forEachRecord(after: 0, corrections: true) { _, line, _ in
                corrections.append(line)
                corrections.append(UInt8(ascii: "\n"))
                counts.corrections += 1
            }
            try Files.replace(path + "/corrections.jsonl", with: corrections.bytes)
            try writeNames()
            let digest: String
            (digest, counts.identifiers) = allLoaded ? try writeIdentifiers() : try mergeIdentifiers()
            let last = try ledger.lastSequence()
            state = State(seq: last, seqID: last > 0 ? Files.sha256Hex(Array((try ledger.id(atSequence: last) ?? "").utf8)) : "",
                          amendment: try ledger.lastAmendment(), rows: Int64(counts.rows), identifiers: Int64(counts.identifiers),
                          identifiersSHA256: digest)
            try Files.replace(path + "/state", with: Array(state.text.utf8))
            Files.syncDirectory(path)
        }

        /// The row of a record, its identifier and names filed in the tables.
        mutating func makeRow(seq: Int64, _ v: RecordView) throws -> Row {
            func refuse(_ why: String) -> Fault {
                Fault.data("ledger row \(seq) (id \(InertText.quoted(v.id.string, limit: 80))): \(why); it cannot be scored")
            }
            guard !v.isCorrection else { throw refuse("a correction stored among the records") }
            guard let subject = v.subjectID else { throw refuse("the subject has no id (was it redacted before linking?)") }
            guard !subject.escaped, !v.scheme.escaped else { throw refuse("the subject's scheme or id is written with escapes") }
            let idText = v.id.content
            guard !v.id.escaped, idText.count > 33, idText[idText.count - 33] == UInt8(ascii: ":"),
                  let hi = SourceNames.hex(idText, from: idText.count - 32), let lo = SourceNames.hex(idText, from: idText.count - 16) else {
                throw refuse("the id is not SOURCE: and 32 lower-case hex digits")
            }
            guard !v.kind.escaped else { throw refuse("the kind is written with escapes") }
            let source = UnsafeRawBufferPointer(rebasing: idText[0..<(idText.count - 33)])
            let identifier = ScoringStore.hash(scheme: v.scheme.content, id: subject.content)
            if let known = identifiers[identifier] {
                guard known.names(v.scheme.content, subject.content) else {
                    throw refuse("its identifier has the 128-bit hash of another (\(InertText.quoted(String(decoding: known.scheme, as: UTF8.self), limit: 40))); the store refuses to merge them")
                }
            } else {
                identifiers[identifier] = Identifier(scheme: Array(v.scheme.content), id: Array(subject.content))
                if !allLoaded { firstNamed[identifier] = (seq, v.id.string) }
            }
            let sourceHash = try Self.file(source, in: &sources, what: "source", refuse)
            let kindHash = try Self.file(v.kind.content, in: &kinds, what: "kind", refuse)
            return Row(seq: seq, identifier: identifier, id: Hash128(hi: hi, lo: lo), at: v.at.seconds, amountFen: v.amountFen ?? -1,
                       source: sourceHash, kind: kindHash)
        }

        static func file(_ name: UnsafeRawBufferPointer, in table: inout [UInt32: [UInt8]], what: String, _ refuse: (String) -> Fault) throws -> UInt32 {
            let h = ScoringStore.nameHash(name)
            if let known = table[h] {
                guard known.elementsEqual(name) else { throw refuse("its \(what) name has the hash of another (\(InertText.quoted(String(decoding: known, as: UTF8.self), limit: 40)))") }
            } else {
                table[h] = Array(name)
            }
            return h
        }

        func writeRows(_ batch: [Row], at offset: off_t) throws {
            guard !batch.isEmpty else { return }
            var bytes = [UInt8](repeating: 0, count: batch.count * rowBytes)
            bytes.withUnsafeMutableBytes { b in
                for (i, row) in batch.enumerated() { row.write(to: b.baseAddress! + i * rowBytes) }
            }
            try Files.write(rows, bytes, at: offset, what: "\(path)/rows")
        }

        /// Where the row of the record `seq` is (rows are in sequence order).
        func position(of seq: Int64) throws -> off_t {
            guard let i = try ScoringStore.rowIndex(of: seq, fd: rows, within: Int(state.rows), path: path + "/rows") else {
                throw Fault.data("\(path)/rows: no row for ledger row \(seq), which the store should hold: make it again with tally-store rebuild-scoring")
            }
            return off_t(i) * off_t(rowBytes)
        }

        /// Reads the tables; false when the identifiers file is not the one the state names
        /// (then every identifier is read into the table, for the rows to decide which stay).
        mutating func loadTables() throws -> Bool {
            let bytes = try Files.readAll(path + "/identifiers") ?? []
            let ok = Files.sha256Hex(bytes) == state.identifiersSHA256
            oldIdentifiers = bytes
            if !ok { try loadAllIdentifiers() }
            try ScoringStore.parseNames(try Files.readAll(path + "/names") ?? [], path: path + "/names") { isKind, hash, name in
                if isKind { kinds[hash] = Array(name) } else { sources[hash] = Array(name) }
            }
            return ok
        }

        /// The committed identifiers read into the table beside tonight's (when the tables are
        /// made again from the rows).
        mutating func loadAllIdentifiers() throws {
            guard !allLoaded else { return }
            var table = identifiers
            table.reserveCapacity(identifiers.count + oldIdentifiers.count / 32)
            try ScoringStore.parseIdentifiers(oldIdentifiers, path: path + "/identifiers") { hash, scheme, id in
                if let tonight = table[hash] {
                    guard tonight.names(scheme, id) else { throw collision(hash, with: scheme) }
                } else {
                    table[hash] = Identifier(scheme: Array(scheme), id: Array(id))
                }
            }
            identifiers = table
            oldIdentifiers = []
        }

        /// The refusal of an identifier first named tonight whose hash an older one has.
        func collision(_ hash: Hash128, with scheme: UnsafeRawBufferPointer) -> Fault {
            let (seq, id) = firstNamed[hash] ?? (0, "")
            return Fault.data("ledger row \(seq) (id \(InertText.quoted(id, limit: 80))): its identifier has the 128-bit hash of another (\(InertText.quoted(String(decoding: scheme, as: UTF8.self), limit: 40))); the store refuses to merge them; it cannot be scored")
        }

        /// Keeps in the tables only what some row names, and checks that every row's names are there.
        mutating func remakeTables() throws {
            var usedIdentifiers = Set<Hash128>(minimumCapacity: identifiers.count)
            var usedSources = Set<UInt32>(), usedKinds = Set<UInt32>()
            try ScoringStore.forEachRow(fd: rows, count: counts.rows, path: "\(path)/rows") { row in
                usedIdentifiers.insert(row.identifier)
                usedSources.insert(row.source)
                usedKinds.insert(row.kind)
            }
            identifiers = identifiers.filter { usedIdentifiers.contains($0.key) }
            sources = sources.filter { usedSources.contains($0.key) }
            kinds = kinds.filter { usedKinds.contains($0.key) }
            guard identifiers.count == usedIdentifiers.count, sources.count == usedSources.count, kinds.count == usedKinds.count else {
                throw Fault.data("\(path): rows name identifiers or names the store's tables lack: make it again with tally-store rebuild-scoring")
            }
        }

        func writeNames() throws {
            let out = ByteBuffer(capacity: 4096)
            for (isKind, table) in [(false, sources), (true, kinds)] {
                for h in table.keys.sorted() {
                    let name = table[h]!
                    out.append(isKind ? 1 : 0)
                    Files.append(UInt32(h), to: out)
                    Files.append(UInt16(name.count), to: out)
                    name.withUnsafeBytes { out.append($0) }
                }
            }
            try Files.replace(path + "/names", with: out.bytes)
        }

        /// Writes the identifiers of the table, ordered by hash; returns the file's SHA-256
        /// and how many it holds.
        func writeIdentifiers() throws -> (String, Int) {
            let out = ByteBuffer(capacity: identifiers.count * 40 + 16)
            for h in identifiers.keys.sorted() { Self.append(h, identifiers[h]!, to: out) }
            return (try Self.commitIdentifiers(out, path: path), identifiers.count)
        }

        /// Writes the committed identifiers and tonight's in one ordered pass (each old one
        /// checked as it is read: its order and its hash); returns the file's SHA-256 and how
        /// many it holds.
        func mergeIdentifiers() throws -> (String, Int) {
            let tonight = identifiers.keys.sorted()
            let out = ByteBuffer(capacity: oldIdentifiers.count + tonight.count * 48 + 16)
            var next = 0, count = 0
            try ScoringStore.parseIdentifiers(oldIdentifiers, path: path + "/identifiers") { hash, scheme, id in
                while next < tonight.count && tonight[next] < hash {
                    Self.append(tonight[next], identifiers[tonight[next]]!, to: out)
                    next += 1; count += 1
                }
                if next < tonight.count && tonight[next] == hash {
                    guard identifiers[hash]!.names(scheme, id) else { throw collision(hash, with: scheme) }
                    next += 1
                }
                Self.append(hash, scheme: scheme, id: id, to: out)
                count += 1
            }
            for h in tonight[next...] { Self.append(h, identifiers[h]!, to: out) }
            count += tonight.count - next
            return (try Self.commitIdentifiers(out, path: path), count)
        }

        static func append(_ h: Hash128, _ e: Identifier, to out: ByteBuffer) {
            e.scheme.withUnsafeBytes { scheme in e.id.withUnsafeBytes { id in append(h, scheme: scheme, id: id, to: out) } }
        }

        /// One entry of the identifiers file: the hash, the two lengths, the scheme and the id.
        static func append(_ h: Hash128, scheme: UnsafeRawBufferPointer, id: UnsafeRawBufferPointer, to out: ByteBuffer) {
            Files.append(h.hi, to: out)
            Files.append(h.lo, to: out)
            Files.append(UInt16(scheme.count), to: out)
            Files.append(UInt16(id.count), to: out)
            out.append(scheme)
            out.append(id)
        }

        static func commitIdentifiers(_ out: ByteBuffer, path: String) throws -> String {
            let bytes = out.bytes
            try Files.replace(path + "/identifiers", with: bytes)
            return Files.sha256Hex(bytes)
        }
    }
}

// MARK: Reading the files

extension ScoringStore {
    /// Calls `body` with each identifier of an identifiers file's bytes, in order.
    public static func parseIdentifiers(_ bytes: [UInt8], path: String, _ body: (Hash128, UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws -> Void) throws {
        try bytes.withUnsafeBytes { b in
            var i = 0
            var last: Hash128?
            while i < b.count {
                guard b.count - i >= 20 else { throw Fault.data("\(path): cut short") }
                let hi = UInt64(littleEndian: b.loadUnaligned(fromByteOffset: i, as: UInt64.self))
                let lo = UInt64(littleEndian: b.loadUnaligned(fromByteOffset: i + 8, as: UInt64.self))
                let schemeCount = Int(UInt16(littleEndian: b.loadUnaligned(fromByteOffset: i + 16, as: UInt16.self)))
                let idCount = Int(UInt16(littleEndian: b.loadUnaligned(fromByteOffset: i + 18, as: UInt16.self)))
                i += 20
                guard b.count - i >= schemeCount + idCount else { throw Fault.data("\(path): cut short") }
                let h = Hash128(hi: hi, lo: lo)
                guard last.map({ $0 < h }) ?? true else { throw Fault.data("\(path): not in hash order") }
                last = h
                let scheme = UnsafeRawBufferPointer(rebasing: b[i..<(i + schemeCount)])
                let id = UnsafeRawBufferPointer(rebasing: b[(i + schemeCount)..<(i + schemeCount + idCount)])
                guard ScoringStore.hash(scheme: scheme, id: id) == h else { throw Fault.data("\(path): an identifier does not have its hash: the file was changed outside tally") }
                try body(h, scheme, id)
                i += schemeCount + idCount
            }
        }
    }

    /// Calls `body` with each name of a names file's bytes: whether it is a kind (else a
    /// source), its hash, its bytes.
    public static func parseNames(_ bytes: [UInt8], path: String, _ body: (Bool, UInt32, UnsafeRawBufferPointer) throws -> Void) throws {
        try bytes.withUnsafeBytes { b in
            var i = 0
            while i < b.count {
                guard b.count - i >= 7, b[i] <= 1 else { throw Fault.data("\(path): not a names file") }
                let isKind = b[i] == 1
                let h = UInt32(littleEndian: b.loadUnaligned(fromByteOffset: i + 1, as: UInt32.self))
                let n = Int(UInt16(littleEndian: b.loadUnaligned(fromByteOffset: i + 5, as: UInt16.self)))
                i += 7
                guard b.count - i >= n else { throw Fault.data("\(path): cut short") }
                let name = UnsafeRawBufferPointer(rebasing: b[i..<(i + n)])
                guard ScoringStore.nameHash(name) == h else { throw Fault.data("\(path): a name does not have its hash: the file was changed outside tally") }
                try body(isKind, h, name)
                i += n
            }
        }
    }

    /// The index of the row of the record `seq` among the first `within` rows of an open rows
    /// file (rows are in sequence order), or nil when there is none.
    static func rowIndex(of seq: Int64, fd: Int32, within: Int, path: String) throws -> Int? {
        var low = 0, high = within
        var cell = [UInt8](repeating: 0, count: 8)
        while low < high {
            let mid = (low + high) / 2
            try Files.read(fd, into: &cell, at: off_t(mid) * off_t(rowBytes), what: path)
            let found = cell.withUnsafeBytes { Int64(littleEndian: $0.loadUnaligned(as: Int64.self)) }
            if found == seq { return mid }
            if found < seq { low = mid + 1 } else { high = mid }
        }
        return nil
    }

    /// Reads `count` rows of an open rows file from its start, a block at a time.
    static func forEachRowBlock(fd: Int32, count: Int, path: String, _ body: (UnsafeRawPointer, Int) throws -> Void) throws {
        try forEachRowBlock(fd: fd, range: 0..<count, offset: 0, path: path, body)
    }

    /// Reads the rows `range` of a file whose rows begin at `offset`, a block at a time.
    static func forEachRowBlock(fd: Int32, range: Range<Int>, offset: off_t, path: String, _ body: (UnsafeRawPointer, Int) throws -> Void) throws {
        let blockRows = 1 << 15
        let block = UnsafeMutableRawPointer.allocate(byteCount: blockRows * rowBytes, alignment: 64)
        defer { block.deallocate() }
        var done = range.lowerBound
        while done < range.upperBound {
            let n = min(blockRows, range.upperBound - done)
            var got = 0
            while got < n * rowBytes {
                let r = pread(fd, block + got, n * rowBytes - got, offset + off_t(done * rowBytes + got))
                if r < 0 && errno == EINTR { continue }
                guard r > 0 else { throw Fault.data("\(path): holds fewer rows than its state says (\(range.upperBound)): make the store again with tally-store rebuild-scoring") }
                got += r
            }
            try body(UnsafeRawPointer(block), n)
            done += n
        }
    }

    static func forEachRow(fd: Int32, count: Int, path: String, _ body: (Row) throws -> Void) throws {
        try forEachRowBlock(fd: fd, count: count, path: path) { p, n in
            for i in 0..<n { try body(Row(p + i * rowBytes)) }
        }
    }
}

// MARK: Files

/// The few file operations the store needs, each failure a `ScoringStore.Fault`.
enum Files {
    static func makeDirectory(_ path: String) throws {
        if mkdir(path, 0o700) != 0 && errno != EEXIST {
            throw ScoringStore.Fault.io("\(path): cannot make the scoring store's directory: \(POSIX.errorText(errno))")
        }
        var info = stat()
        guard stat(path, &info) == 0, info.st_mode & S_IFMT == S_IFDIR else {
            throw ScoringStore.Fault.io("\(path): not a directory")
        }
    }

    static func open(_ path: String, write: Bool) throws -> Int32 {
        let fd = POSIX.open(path, flags: (write ? O_RDWR | O_CREAT : O_RDONLY) | O_CLOEXEC, mode: 0o600)
        guard fd >= 0 else { throw ScoringStore.Fault(description: "\(path): cannot open: \(POSIX.errorText(errno))", code: errno == ENOENT ? 66 : 74) }
        return fd
    }

    /// Takes the store's lock (an exclusive `flock` on `path`), or refuses at once (75).
    static func lock(_ path: String) throws -> Int32 {
        let fd = try open(path, write: true)
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            close(fd)
            throw ScoringStore.Fault(description: "\(path): another update of the scoring store is running", code: 75)
        }
        return fd
    }

    /// The whole file at `path`, or nil when there is none. Read straight into an array of the
    /// file's size (appending chunks to a growing array copied the store's 170 MB identifier file
    /// over and over: a fifth of tally-link --store's time, perf); a file that grows meanwhile is
    /// read to its end all the same.
    static func readAll(_ path: String) throws -> [UInt8]? {
        let fd = POSIX.open(path, flags: O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            if errno == ENOENT { return nil }
            throw ScoringStore.Fault.io("\(path): cannot open: \(POSIX.errorText(errno))")
        }
        defer { close(fd) }
        var info = stat()
        let size = fstat(fd, &info) == 0 && (info.st_mode & S_IFMT) == S_IFREG ? Int(info.st_size) : 0
        var failure: Int32 = 0
        var out = [UInt8](unsafeUninitializedCapacity: size) { buffer, initialized in
            initialized = 0
            while initialized < size {
                let n = POSIX.read(fd, buffer.baseAddress! + initialized, size - initialized)
                if n < 0 { failure = errno; return }
                if n == 0 { return }
                initialized += n
            }
        }
        guard failure == 0 else { throw ScoringStore.Fault.io("\(path): cannot read: \(POSIX.errorText(failure))") }
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = chunk.withUnsafeMutableBytes { POSIX.read(fd, $0.baseAddress!, $0.count) }
            guard n >= 0 else { throw ScoringStore.Fault.io("\(path): cannot read: \(POSIX.errorText(errno))") }
            if n == 0 { return out }
            out.append(contentsOf: chunk[0..<n])
        }
    }

    static func readText(_ path: String) throws -> String? { try readAll(path).map { String(decoding: $0, as: UTF8.self) } }

    static func read(_ fd: Int32, into buffer: inout [UInt8], at offset: off_t, what: String) throws {
        let want = buffer.count
        let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress!, want, offset) }
        guard n == want else { throw ScoringStore.Fault.data("\(what): cannot read \(want) bytes at \(offset)") }
    }

    static func write(_ fd: Int32, _ bytes: [UInt8], at offset: off_t, what: String) throws {
        try bytes.withUnsafeBytes { try write(fd, $0, at: offset, what: what) }
    }

    static func write(_ fd: Int32, _ b: UnsafeRawBufferPointer, at offset: off_t, what: String) throws {
        var done = 0
        while done < b.count {
            let n = pwrite(fd, b.baseAddress! + done, b.count - done, offset + off_t(done))
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw ScoringStore.Fault.io("\(what): cannot write: \(POSIX.errorText(errno))") }
            done += n
        }
    }

    /// Replaces `path` with `bytes` whole: a temporary file beside it, synced, then renamed.
    static func replace(_ path: String, with bytes: [UInt8]) throws {
        try replace(path, temporary: path + ".tmp") { fd, temporary in try write(fd, bytes, at: 0, what: temporary) }
    }

    /// Replaces `path` with what `body` writes to the descriptor of `temporary` (mode 0600),
    /// which is then synced and renamed over it; on any failure the temporary file is removed
    /// and `path` is left as it was.
    static func replace(_ path: String, temporary: String, _ body: (Int32, String) throws -> Void) throws {
        let fd = POSIX.open(temporary, flags: O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode: 0o600)
        guard fd >= 0 else { throw ScoringStore.Fault.io("\(temporary): cannot create: \(POSIX.errorText(errno))") }
        do {
            try body(fd, temporary)
            guard fsync(fd) == 0 else { throw ScoringStore.Fault.io("\(temporary): cannot sync: \(POSIX.errorText(errno))") }
        } catch {
            close(fd)
            unlink(temporary)
            throw error
        }
        close(fd)
        guard rename(temporary, path) == 0 else {
            let e = errno
            unlink(temporary)
            throw ScoringStore.Fault.io("\(path): cannot rename \(temporary) to it: \(POSIX.errorText(e))")
        }
    }

    static func syncDirectory(_ path: String) {
        let fd = POSIX.open(path, flags: O_RDONLY | O_CLOEXEC)
        if fd >= 0 { _ = fsync(fd); close(fd) }
    }

    static func sha256Hex(_ bytes: [UInt8]) -> String {
        let out = ByteBuffer(capacity: 64)
        SHA256.hash(data: bytes).withUnsafeBytes { out.appendHex($0) }
        return out.string
    }

    static func append<T: FixedWidthInteger>(_ v: T, to out: ByteBuffer) {
        withUnsafeBytes(of: v.littleEndian) { out.append($0) }
    }
}
