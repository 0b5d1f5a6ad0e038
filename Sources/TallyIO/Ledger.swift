#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
internal import Crypto
import TallyCore

/// The ledger: every record and correction ever ingested, once, in an SQLite file (WAL).
///
/// A record is kept under its id. Ingesting it again with the same content (everything but
/// `prov`, which says where it was delivered) is a no-op; the same id with other content is an
/// amendment: the new line replaces the old, which is kept in `amendments` with its version.
/// `files` is the manifest of the feed files the records came from, by SHA-256, so a file is
/// taken once under whatever name. New ledgers are created mode 0600: they hold identifiers.
///
/// Which version of a record wins: the one delivered in the later-dated file (the `YYYYMMDD` in
/// `SOURCE-YYYYMMDD.EXT`), and between files of the same date, or without one, the one ingested
/// later. An agency restates a record in a later day's file; a file from an earlier day ingested
/// afterwards (a backfill, a recovery, a late delivery) is older news, so its version is kept out
/// and counted as `stale`, and so is any version the ledger has already replaced. Never silently:
/// each is reported.
///
/// What is stored is verified when it is read: every line's content must still hash to what was
/// stored with it, and every line must still be a valid record; a damaged page is SQLite's
/// SQLITE_CORRUPT. Either is an error naming the row (exit 65), never dumped as true.
///
/// A file delivered again with other bytes but the same records (gzipped after plain, say) is
/// known by its content digest (the SHA-256 of its records' content hashes and lines, in order)
/// and listed in the manifest as the same as the first delivery.
///
/// Schema versions: 1 had `records` (without `version`) and `files`; 2 adds `records.version`
/// and `amendments`; 3 adds `files.content` and `files.same_as`. Older ledgers are migrated on
/// open; a newer one is refused.
public final class Ledger {
    /// The schema this code writes.
    public static let schemaVersion: Int64 = 3

    let db: SQLiteDatabase
    /// The ledger's path.
    public let path: String

    /// What an ingest did.
    public struct IngestCounts: Sendable {
        public var read = 0, inserted = 0, skipped = 0, amended = 0, rejected = 0
        /// Versions older than the ledger's, or already replaced: not applied (see `Ledger`).
        public var stale = 0
    }

    /// Opens `path`, creating it (mode 0600) when `create` is set and it does not exist.
    public init(path: String, create: Bool) throws(DatabaseError) {
        self.path = path
        var info = stat()
        let exists = stat(path, &info) == 0
        if !exists {
            guard create else { throw DatabaseError(message: "\(path): no such ledger (tally-store ingest creates one)", code: 14) }
            let fd = open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0o600)
            guard fd >= 0 else { throw DatabaseError(message: "\(path): cannot create the ledger: \(String(cString: strerror(errno)))", code: 14) }
            close(fd)
        }
        db = try SQLiteDatabase(path: path, create: false)
        try prepareSchema()
    }

    /// Opens `path` for reading only (dump, files, check): no migration, no journal change, so a
    /// ledger on a read-only file system can still be read.
    public init(readingOnly path: String) throws(DatabaseError) {
        self.path = path
        var info = stat()
        guard stat(path, &info) == 0 else { throw DatabaseError(message: "\(path): no such ledger (tally-store ingest creates one)", code: 14) }
        func probe(_ db: SQLiteDatabase) throws(DatabaseError) -> Int64 {
            let version = try db.integer("PRAGMA user_version") ?? 0
            _ = try db.integer("SELECT count(*) FROM sqlite_master")
            return version
        }
        var opened: SQLiteDatabase
        var version: Int64
        do {
            opened = try SQLiteDatabase(path: path, create: false, readOnly: true)
            version = try probe(opened)
        } catch where error.code == 26 {
            throw DatabaseError(message: "\(path): not a tally ledger (\(error.message))", code: 26)
        } catch {
            // A WAL ledger on a read-only file system: SQLite cannot make its shared memory.
            // Opened as immutable, SQLite would not read the write-ahead log at all: committed
            // records still in it (an ingest with --no-checkpoint) would be silently missing.
            var wal = stat()
            if stat(path + "-wal", &wal) == 0, wal.st_size > 0 {
                throw DatabaseError(message: "\(path): the ledger's write-ahead log \(path)-wal holds records not yet copied into it, which cannot be read where SQLite cannot write its shared memory (a read-only file system): run tally-store checkpoint where it is writable", code: 8)
            }
            do {
                opened = try SQLiteDatabase(path: path, create: false, readOnly: true, immutable: true)
                version = try probe(opened)
            } catch {
                throw DatabaseError(message: "\(path): not a tally ledger (\(error.message))", code: error.code)
            }
        }
        db = opened
        if version > Self.schemaVersion {
            throw DatabaseError(message: "\(path): the ledger has schema version \(version), written by a newer tally; this tally-store reads versions up to \(Self.schemaVersion). Upgrade tally; the ledger is left as it is.", code: 0)
        }
        guard version >= 1 else { throw DatabaseError(message: "\(path): an SQLite file that is not a tally ledger", code: 0) }
    }

    private func prepareSchema() throws(DatabaseError) {
        let version: Int64
        do {
            version = try db.integer("PRAGMA user_version") ?? 0
        } catch {
            throw DatabaseError(message: "\(path): not a tally ledger (\(error.message))", code: error.code)
        }
        if version > Self.schemaVersion {
            throw DatabaseError(message: "\(path): the ledger has schema version \(version), written by a newer tally; this tally-store reads versions up to \(Self.schemaVersion). Upgrade tally; the ledger is left as it is.", code: 0)
        }
        try db.execute("PRAGMA journal_mode=WAL")
        // WAL with synchronous NORMAL survives a killed process whole (every transaction either is
        // in the ledger or is not); only a power cut can lose the last commits, never corrupt it.
        try db.execute("PRAGMA synchronous=NORMAL")
        switch version {
        case 0:
            let tables = try db.integer("SELECT count(*) FROM sqlite_master") ?? 0
            guard tables == 0 else { throw DatabaseError(message: "\(path): an SQLite file that is not a tally ledger; refusing to touch it", code: 0) }
            try db.execute("""
                BEGIN IMMEDIATE;
                CREATE TABLE records(
                    seq INTEGER PRIMARY KEY,
                    id TEXT NOT NULL UNIQUE,
                    correction INTEGER NOT NULL,
                    content BLOB NOT NULL,
                    line TEXT NOT NULL,
                    version INTEGER NOT NULL DEFAULT 1);
                CREATE INDEX records_corrections ON records(seq) WHERE correction = 1;
                CREATE TABLE files(
                    sha256 TEXT PRIMARY KEY,
                    name TEXT NOT NULL,
                    records INTEGER NOT NULL,
                    ingested_at TEXT NOT NULL,
                    content BLOB,
                    same_as TEXT);
                \(Self.amendmentsTable)
                PRAGMA user_version = 3;
                COMMIT;
                """)
        case 1:
            try db.execute("""
                BEGIN IMMEDIATE;
                ALTER TABLE records ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
                \(Self.amendmentsTable)
                \(Self.version3)
                COMMIT;
                """)
        case 2:
            try db.execute("BEGIN IMMEDIATE; \(Self.version3) COMMIT;")
        default:
            break
        }
    }

    /// Version 2's history of amended records; version 1 had none.
    static let amendmentsTable = """
        CREATE TABLE amendments(
            id TEXT NOT NULL,
            version INTEGER NOT NULL,
            line TEXT NOT NULL,
            superseded_at TEXT NOT NULL,
            PRIMARY KEY (id, version));
        """

    /// Version 3's manifest columns: the content digest and the delivery it repeats.
    static let version3 = """
        ALTER TABLE files ADD COLUMN content BLOB;
        ALTER TABLE files ADD COLUMN same_as TEXT;
        PRAGMA user_version = 3;
        """

    /// The schema version on disk.
    public var version: Int64 { (try? db.integer("PRAGMA user_version")) ?? 0 }

    // MARK: Ingest

    /// One ingest: statements prepared once, and one transaction, so that an ingest is kept
    /// whole or not at all (a killed one, or one that met a line that was not a record).
    public final class Ingest {
        let ledger: Ledger
        let insert: SQLiteDatabase.Statement
        let lookup: SQLiteDatabase.Statement
        let keepOld: SQLiteDatabase.Statement
        let replace: SQLiteDatabase.Statement
        public private(set) var counts = IngestCounts()
        /// Per delivered file: its name, its records, and the digest of their contents in order.
        var files: [String: (name: String, records: Int, content: SHA256)] = [:]
        let now: String
        /// What the operator should know: stale versions and files delivered again.
        public private(set) var notes: [String] = []
        var scanner = RecordViewScanner()
        let olderVersions: SQLiteDatabase.Statement
        /// The current record's content hash, bound to statements without copying.
        let contentSpace = UnsafeMutableRawBufferPointer.allocate(byteCount: 32, alignment: 8)

        deinit { contentSpace.deallocate() }

        init(_ ledger: Ledger, now: String) throws(DatabaseError) {
            self.ledger = ledger
            self.now = now
            insert = try ledger.db.prepare("INSERT INTO records(id, correction, content, line) VALUES (?1, ?2, ?3, ?4) ON CONFLICT(id) DO NOTHING")
            lookup = try ledger.db.prepare("SELECT content, line, version FROM records WHERE id = ?1")
            keepOld = try ledger.db.prepare("INSERT INTO amendments(id, version, line, superseded_at) VALUES (?1, ?2, ?3, ?4)")
            replace = try ledger.db.prepare("UPDATE records SET content = ?2, line = ?3, version = version + 1 WHERE id = ?1")
            olderVersions = try ledger.db.prepare("SELECT line FROM amendments WHERE id = ?1")
            try ledger.db.execute("BEGIN IMMEDIATE")
        }

        /// Adds one record line (already checked as a record: `view` is its view).
        public func add(_ line: UnsafeRawBufferPointer, _ view: RecordView) throws(DatabaseError) {
            counts.read += 1
            // Content: the line without its prov object, so a delivery of the same record in
            // another file (or under another name) is the same record.
            Ledger.contentHash(line, view).withUnsafeBytes { contentSpace.copyMemory(from: $0) }
            let c = UnsafeRawBufferPointer(contentSpace)
            let id = view.id.content
            do {
                insert.bind(1, borrowing: id)
                insert.bind(2, view.isCorrection ? 1 : 0)
                insert.bindBlob(3, borrowing: c)
                insert.bind(4, borrowing: line)
                _ = try insert.step()
                insert.reset()
                if ledger.db.changes == 1 {
                    counts.inserted += 1
                } else {
                    lookup.bind(1, borrowing: id)
                    guard try lookup.step() else { lookup.reset(); throw DatabaseError(message: "record vanished during ingest", code: 0) }
                    let same = lookup.bytes(0).elementsEqual(c)
                    let oldLine = lookup.text(1), oldVersion = lookup.int(2)
                    lookup.reset()
                    if same {
                        counts.skipped += 1
                    } else if let why = try staleness(id: id, incoming: view, current: oldLine, content: c) {
                        counts.stale += 1
                        if notes.count < 20 { notes.append("\(view.file.string):\(view.line): record \(view.id.string): \(why); the ledger's version stays") }
                    } else {
                        keepOld.bind(1, borrowing: id); keepOld.bind(2, oldVersion); keepOld.bind(3, oldLine); keepOld.bind(4, now)
                        _ = try keepOld.step(); keepOld.reset()
                        replace.bind(1, borrowing: id); replace.bindBlob(2, borrowing: c); replace.bind(3, borrowing: line)
                        _ = try replace.step(); replace.reset()
                        counts.amended += 1
                    }
                }
            }
            let file = view.file.string, sha = view.sha256.string
            if files[sha] == nil { files[sha] = (file, 0, SHA256()) }
            files[sha]!.records += 1
            var line = UInt64(view.line).littleEndian
            files[sha]!.content.update(bufferPointer: c)
            withUnsafeBytes(of: &line) { files[sha]!.content.update(bufferPointer: $0) }
        }

        /// Why the incoming version must not replace the ledger's, or nil when it may: it comes
        /// from an earlier-dated file, or the ledger has replaced this very content before.
        func staleness(id: UnsafeRawBufferPointer, incoming: RecordView, current: String, content: UnsafeRawBufferPointer) throws(DatabaseError) -> String? {
            let incomingFile = incoming.file.string
            var currentFile = ""
            var copy = current
            copy.withUTF8 { u in
                if let v = try? scanner.view(UnsafeRawBufferPointer(u)) { currentFile = v.file.string }
            }
            if let new = FileContext.date(inFileName: incomingFile), let old = FileContext.date(inFileName: currentFile), new < old {
                return "this version comes from \(incomingFile), delivered before \(currentFile), which holds the newer one"
            }
            olderVersions.bind(1, borrowing: id)
            defer { olderVersions.reset() }
            while try olderVersions.step() {
                if Ledger.contentHash(olderVersions.bytes(0), scanner: &scanner).map({ $0.elementsEqual(content) }) == true {
                    return "this version was replaced by a later amendment already"
                }
            }
            return nil
        }

        /// Counts a line that was not a record.
        public func reject() { counts.read += 1; counts.rejected += 1 }

        /// Keeps nothing of this ingest.
        public func abandon() { try? ledger.db.execute("ROLLBACK") }

        /// Registers the feed files seen and commits. Until this returns, a file is not in the
        /// manifest, so a killed ingest is simply run again.
        public func finish() throws(DatabaseError) {
            let known = try ledger.db.prepare("SELECT 1 FROM files WHERE sha256 = ?1")
            let sameContent = try ledger.db.prepare("SELECT sha256, name, ingested_at FROM files WHERE content = ?1 AND sha256 != ?2 AND same_as IS NULL ORDER BY ingested_at LIMIT 1")
            let register = try ledger.db.prepare("INSERT INTO files(sha256, name, records, ingested_at, content, same_as) VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT(sha256) DO UPDATE SET records = max(records, excluded.records), content = coalesce(content, excluded.content)")
            for (sha, f) in files.sorted(by: { $0.key < $1.key }) {
                let digest = Array(f.content.finalize())
                var sameAs: String?
                known.bind(1, sha)
                let isKnown = try known.step()
                known.reset()
                if !isKnown {
                    sameContent.bindBlob(1, copying: digest); sameContent.bind(2, sha)
                    if try sameContent.step() {
                        sameAs = sameContent.text(0)
                        notes.append("\(f.name) (\(sha)) holds the same records as \(sameContent.text(1)), taken \(sameContent.text(2)): already taken, delivered again with other bytes")
                    }
                    sameContent.reset()
                }
                register.bind(1, sha); register.bind(2, f.name); register.bind(3, Int64(f.records)); register.bind(4, now)
                register.bindBlob(5, copying: digest)
                if let sameAs { register.bind(6, sameAs) }
                _ = try register.step()
                register.reset()
            }
            try ledger.db.execute("COMMIT")
        }
    }

    /// Starts an ingest; `now` is the time written into the manifest and amendments.
    public func ingest(now: String) throws(DatabaseError) -> Ingest { try Ingest(self, now: now) }

    /// Leaves this connection's commits in the write-ahead log (DB-wal) for a later
    /// `checkpoint`, where they are as safe from a killed process as in the ledger's file: an
    /// ingest then writes each page once, and its fsyncs wait for the checkpoint.
    public func deferCheckpoints() throws(DatabaseError) { try db.deferCheckpoints() }

    /// Copies the write-ahead log into the ledger's file, syncs it and empties the log (`tally-store
    /// checkpoint`): the frames the log held, those copied, and whether the log was emptied (a
    /// reader still in it keeps it; the next writer starts it again from its beginning).
    public func checkpoint() throws(DatabaseError) -> (frames: Int, copied: Int, emptied: Bool) { try db.checkpoint() }

    /// Copies what it can of the write-ahead log without waiting for writers or readers: for a
    /// checkpoint that follows a night's ingests as they commit.
    public func checkpointWhatIsCommitted() throws(DatabaseError) -> (frames: Int, copied: Int) { try db.checkpointPassive() }

    /// Closes the ledger and removes its files (the database, its WAL and shared memory): for a
    /// ledger that this run created and then kept nothing in.
    public func removeFiles() {
        db.close()
        for suffix in ["", "-wal", "-shm"] { unlink(path + suffix) }
    }

    // MARK: Reading

    /// The content hash of a record line: SHA-256 of the line without its prov object (so a
    /// delivery of the same record in another file is the same content); nil for a line that is
    /// not a valid record.
    static func contentHash(_ line: UnsafeRawBufferPointer, scanner: inout RecordViewScanner) -> [UInt8]? {
        guard let view = try? scanner.view(line) else { return nil }
        return contentHash(line, view)
    }

    static func contentHash(_ line: UnsafeRawBufferPointer, _ view: RecordView) -> [UInt8] {
        var hasher = SHA256()
        let provStart = view.provObject.baseAddress! - line.baseAddress!
        hasher.update(bufferPointer: UnsafeRawBufferPointer(rebasing: line[0..<provStart]))
        hasher.update(bufferPointer: UnsafeRawBufferPointer(rebasing: line[(provStart + view.provObject.count)...]))
        return Array(hasher.finalize())
    }

    /// Why a stored row is not what was stored, or nil when it is: its line must be a valid
    /// record with the row's id, and hash to the stored content.
    static func damage(seq: Int64, id: String, content: UnsafeRawBufferPointer, line: UnsafeRawBufferPointer, scanner: inout RecordViewScanner) -> String? {
        verified(seq: seq, id: id, content: content, line: line, scanner: &scanner).damage
    }

    /// The stored line's view when it is what was stored, else why not.
    static func verified(seq: Int64, id: String, content: UnsafeRawBufferPointer, line: UnsafeRawBufferPointer, scanner: inout RecordViewScanner) -> (view: RecordView?, damage: String?) {
        let view: RecordView
        do { view = try scanner.view(line) } catch {
            return (nil, "row \(seq) (id \(InertText.quoted(id, limit: 80))): the stored line is not a valid record: \(error)")
        }
        if let why = damage(seq: seq, id: id, content: content, line: line, view: view) { return (nil, why) }
        return (view, nil)
    }

    static func damage(seq: Int64, id: String, content: UnsafeRawBufferPointer, line: UnsafeRawBufferPointer, view: RecordView) -> String? {
        guard view.id.string == id else {
            return "row \(seq): the stored line's id \(InertText.quoted(view.id.string, limit: 80)) is not the row's \(InertText.quoted(id, limit: 80))"
        }
        guard contentHash(line, view).elementsEqual(content) else {
            return "row \(seq) (id \(id)): the stored line no longer hashes to its stored content: it was changed outside tally"
        }
        return nil
    }

    /// The code of a verification failure or a damaged page (SQLITE_CORRUPT).
    public static let damaged: Int32 = 11

    /// Calls `body` with every record line, corrections first, each group in ingest order, each
    /// verified first (see `Ledger`): damage is thrown as a `DatabaseError` with code `damaged`,
    /// naming the row, before anything of that row is handed on.
    public func dump(_ body: (UnsafeRawBufferPointer) throws -> Void) throws {
        for sql in ["SELECT seq, id, content, line FROM records WHERE correction = 1 ORDER BY seq", "SELECT seq, id, content, line FROM records WHERE correction = 0 ORDER BY seq"] {
            try forEachVerified(try db.prepare(sql)) { _, line, _ in try body(line) }
        }
    }

    static func pageDamage(_ error: DatabaseError, path: String, after seq: Int64) -> DatabaseError {
        let code = error.code & 0xFF
        guard code == 11 || code == 26 else { return error }
        return DatabaseError(message: "\(path): damaged\(seq > 0 ? " after row \(seq)" : ""): \(error.message)", code: damaged)
    }

    /// What `check` found.
    public struct CheckResult: Sendable {
        public var records = 0, corrections = 0, amendments = 0, files = 0
        public var faults: [String] = []
    }

    /// Verifies the whole ledger: SQLite's integrity check, every record (a valid record, its
    /// id, its content hash) and every kept amendment (a valid record with its id). Goes on past
    /// faults, keeping the first `maxFaults`.
    public func check(maxFaults: Int = 100) throws(DatabaseError) -> CheckResult {
        var result = CheckResult()
        var faultCount = 0
        func fault(_ text: String) {
            faultCount += 1
            if result.faults.count < maxFaults { result.faults.append(text) }
        }
        do {
            let integrity = try db.prepare("PRAGMA integrity_check(100)")
            while try integrity.step() {
                let text = integrity.text(0)
                if text != "ok" { fault("SQLite's integrity check: \(text)") }
            }
        } catch {
            fault("SQLite's integrity check failed: \(error.message)")
        }
        var scanner = RecordViewScanner()
        let records = try db.prepare("SELECT seq, id, content, line, correction FROM records ORDER BY seq")
        var last: Int64 = 0
        while true {
            let more: Bool
            do { more = try records.step() } catch {
                fault(Self.pageDamage(error, path: path, after: last).message)
                break
            }
            guard more else { break }
            last = records.int(0)
            if records.int(4) == 1 { result.corrections += 1 } else { result.records += 1 }
            if let why = Self.damage(seq: last, id: records.text(1), content: records.bytes(2), line: records.bytes(3), scanner: &scanner) { fault(why) }
        }
        if version >= 2 {
            let amendments = try db.prepare("SELECT id, version, line FROM amendments")
            do {
                while try amendments.step() {
                    result.amendments += 1
                    let id = amendments.text(0), kept = amendments.int(1)
                    do {
                        let v = try scanner.view(amendments.bytes(2))
                        if v.id.string != id { fault("amendment \(id) version \(kept): its line holds another id") }
                    } catch {
                        fault("amendment \(id) version \(kept): the kept line is not a valid record: \(error)")
                    }
                }
            } catch {
                fault(Self.pageDamage(error, path: path, after: 0).message)
            }
        }
        result.files = Int(try db.integer("SELECT count(*) FROM files") ?? 0)
        if faultCount > result.faults.count { result.faults.append("… and \(faultCount - result.faults.count) more") }
        return result
    }

    /// One file of the manifest.
    public struct FileEntry: Sendable {
        public var sha256: String
        public var name: String
        public var records: Int
        public var ingestedAt: String
        /// The earlier delivery with the same records, when this one repeats it with other bytes.
        public var sameAs: String?
    }

    /// The manifest, in the order files were taken (or the one file with `sha256`).
    public func files(sha256: String? = nil) throws(DatabaseError) -> [FileEntry] {
        let sameAs = version >= 3 ? "same_as" : "NULL"
        let s = try db.prepare(sha256 == nil ? "SELECT sha256, name, records, ingested_at, \(sameAs) FROM files ORDER BY ingested_at, name"
                                             : "SELECT sha256, name, records, ingested_at, \(sameAs) FROM files WHERE sha256 = ?1")
        if let sha256 { s.bind(1, sha256) }
        var out: [FileEntry] = []
        while try s.step() {
            out.append(FileEntry(sha256: s.text(0), name: s.text(1), records: Int(s.int(2)), ingestedAt: s.text(3), sameAs: s.isNull(4) ? nil : s.text(4)))
        }
        return out
    }
}

// MARK: Reading what changed (the scoring store's updates)

extension Ledger {
    /// Runs `body` in one read transaction: everything it reads is one state of the ledger,
    /// whatever an ingest commits meanwhile.
    public func snapshot<T>(_ body: () throws -> T) throws -> T {
        try db.execute("BEGIN")
        do {
            let value = try body()
            try db.execute("COMMIT")
            return value
        } catch {
            try? db.execute("ROLLBACK")
            throw error
        }
    }

    /// The highest record sequence number (0 for an empty ledger).
    public func lastSequence() throws(DatabaseError) -> Int64 { try db.integer("SELECT coalesce(max(seq), 0) FROM records") ?? 0 }

    /// The highest row of the amendments table (0 when nothing was ever amended): amendments
    /// are only ever added, so a row past a mark is an amendment made since.
    public func lastAmendment() throws(DatabaseError) -> Int64 { try db.integer("SELECT coalesce(max(rowid), 0) FROM amendments") ?? 0 }

    /// The id of the record at `seq`, or nil when there is none.
    public func id(atSequence seq: Int64) throws(DatabaseError) -> String? {
        let s = try db.prepare("SELECT id FROM records WHERE seq = ?1")
        s.bind(1, seq)
        return try s.step() ? s.text(0) : nil
    }

    /// Calls `body` with every record (or, with `corrections`, every correction) whose sequence
    /// number is above `seq`, in sequence order, each verified first like `dump`'s lines.
    public func forEachRecord(after seq: Int64, corrections: Bool, _ body: (Int64, UnsafeRawBufferPointer, RecordView) throws -> Void) throws {
        let s = try db.prepare("SELECT seq, id, content, line FROM records WHERE correction = ?1 AND seq > ?2 ORDER BY seq")
        s.bind(1, corrections ? 1 : 0)
        s.bind(2, seq)
        try forEachVerified(s, body)
    }

    /// Calls `body` with the current line of every record amended after the amendments-table
    /// row `rowid` and stored at or before `seq` (those after it are read as new), once each, in
    /// sequence order, verified.
    public func forEachAmended(after rowid: Int64, upTo seq: Int64, _ body: (Int64, UnsafeRawBufferPointer, RecordView) throws -> Void) throws {
        let s = try db.prepare("""
            SELECT seq, id, content, line FROM records WHERE seq <= ?2 AND correction = 0
                AND id IN (SELECT id FROM amendments WHERE rowid > ?1) ORDER BY seq
            """)
        s.bind(1, rowid)
        s.bind(2, seq)
        try forEachVerified(s, body)
    }

    /// Calls `body` with the current line of each record (not correction) stored at one of
    /// `seqs` or under one of `ids`, once each, in sequence order, verified: what a record's new
    /// home takes when its subject moves to another partition of the history.
    public func forEachRecord(atSequences seqs: [Int64], withIDs ids: [String], _ body: (Int64, UnsafeRawBufferPointer, RecordView) throws -> Void) throws {
        var wanted = Set(seqs)
        let byID = try db.prepare("SELECT seq FROM records WHERE id = ?1 AND correction = 0")
        for id in ids {
            byID.reset()
            byID.bind(1, id)
            if try byID.step() { wanted.insert(byID.int(0)) }
        }
        let s = try db.prepare("SELECT seq, id, content, line FROM records WHERE seq = ?1 AND correction = 0")
        for seq in wanted.sorted() {
            s.reset()
            s.bind(1, seq)
            try forEachVerified(s, body)
        }
    }

    func forEachVerified(_ s: SQLiteDatabase.Statement, _ body: (Int64, UnsafeRawBufferPointer, RecordView) throws -> Void) throws {
        var scanner = RecordViewScanner()
        var last: Int64 = 0
        while true {
            let more: Bool
            do { more = try s.step() } catch { throw Self.pageDamage(error, path: path, after: last) }
            guard more else { break }
            last = s.int(0)
            let line = s.bytes(3)
            let (view, damage) = Self.verified(seq: last, id: s.text(1), content: s.bytes(2), line: line, scanner: &scanner)
            guard let view else { throw DatabaseError(message: "\(path): \(damage ?? "damaged")", code: Self.damaged) }
            try body(last, line, view)
        }
    }
}
