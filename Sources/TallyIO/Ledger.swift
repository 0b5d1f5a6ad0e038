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
/// Schema versions: 1 had `records` (without `version`) and `files`; 2 adds `records.version`
/// and `amendments`. A version-1 ledger is migrated on open; a newer one is refused.
public final class Ledger {
    /// The schema this code writes.
    public static let schemaVersion: Int64 = 2

    let db: SQLiteDatabase
    /// The ledger's path.
    public let path: String

    /// What an ingest did.
    public struct IngestCounts: Sendable {
        public var read = 0, inserted = 0, skipped = 0, amended = 0, rejected = 0
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
                    ingested_at TEXT NOT NULL);
                \(Self.amendmentsTable)
                PRAGMA user_version = 2;
                COMMIT;
                """)
        case 1:
            try db.execute("""
                BEGIN IMMEDIATE;
                ALTER TABLE records ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
                \(Self.amendmentsTable)
                PRAGMA user_version = 2;
                COMMIT;
                """)
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
        var files: [String: (name: String, records: Int)] = [:]
        let now: String
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
            try ledger.db.execute("BEGIN IMMEDIATE")
        }

        /// Adds one record line (already checked as a record: `view` is its view).
        public func add(_ line: UnsafeRawBufferPointer, _ view: RecordView) throws(DatabaseError) {
            counts.read += 1
            // Content: the line without its prov object, so a delivery of the same record in
            // another file (or under another name) is the same record.
            var hasher = SHA256()
            let provStart = view.provObject.baseAddress! - line.baseAddress!
            hasher.update(bufferPointer: UnsafeRawBufferPointer(rebasing: line[0..<provStart]))
            hasher.update(bufferPointer: UnsafeRawBufferPointer(rebasing: line[(provStart + view.provObject.count)...]))
            hasher.finalize().withUnsafeBytes { contentSpace.copyMemory(from: $0) }
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
            files[sha, default: (file, 0)].records += 1
        }

        /// Counts a line that was not a record.
        public func reject() { counts.read += 1; counts.rejected += 1 }

        /// Keeps nothing of this ingest.
        public func abandon() { try? ledger.db.execute("ROLLBACK") }

        /// Registers the feed files seen and commits. Until this returns, a file is not in the
        /// manifest, so a killed ingest is simply run again.
        public func finish() throws(DatabaseError) {
            let register = try ledger.db.prepare("INSERT INTO files(sha256, name, records, ingested_at) VALUES (?1, ?2, ?3, ?4) ON CONFLICT(sha256) DO UPDATE SET records = max(records, excluded.records)")
            for (sha, f) in files.sorted(by: { $0.key < $1.key }) {
                register.bind(1, sha); register.bind(2, f.name); register.bind(3, Int64(f.records)); register.bind(4, now)
                _ = try register.step()
                register.reset()
            }
            try ledger.db.execute("COMMIT")
        }
    }

    /// Starts an ingest; `now` is the time written into the manifest and amendments.
    public func ingest(now: String) throws(DatabaseError) -> Ingest { try Ingest(self, now: now) }

    /// Closes the ledger and removes its files (the database, its WAL and shared memory): for a
    /// ledger that this run created and then kept nothing in.
    public func removeFiles() {
        db.close()
        for suffix in ["", "-wal", "-shm"] { unlink(path + suffix) }
    }

    // MARK: Reading

    /// Calls `body` with every record line, corrections first, each group in ingest order.
    public func dump(_ body: (UnsafeRawBufferPointer) throws -> Void) throws {
        for sql in ["SELECT line FROM records WHERE correction = 1 ORDER BY seq", "SELECT line FROM records WHERE correction = 0 ORDER BY seq"] {
            let s = try db.prepare(sql)
            while try s.step() { try body(s.bytes(0)) }
        }
    }

    /// One file of the manifest.
    public struct FileEntry: Sendable {
        public var sha256: String
        public var name: String
        public var records: Int
        public var ingestedAt: String
    }

    /// The manifest, in the order files were taken (or the one file with `sha256`).
    public func files(sha256: String? = nil) throws(DatabaseError) -> [FileEntry] {
        let s = try db.prepare(sha256 == nil ? "SELECT sha256, name, records, ingested_at FROM files ORDER BY ingested_at, name"
                                             : "SELECT sha256, name, records, ingested_at FROM files WHERE sha256 = ?1")
        if let sha256 { s.bind(1, sha256) }
        var out: [FileEntry] = []
        while try s.step() { out.append(FileEntry(sha256: s.text(0), name: s.text(1), records: Int(s.int(2)), ingestedAt: s.text(3))) }
        return out
    }
}
