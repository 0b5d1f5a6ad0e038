#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
internal import CSQLite

/// A failure reported by SQLite, with its message.
public struct DatabaseError: Error, CustomStringConvertible, Sendable {
    public var message: String
    /// SQLite's result code (SQLITE_BUSY is 5, SQLITE_CORRUPT 11, SQLITE_NOTADB 26).
    public var code: Int32
    public var description: String { message }
}

/// One SQLite connection: the only file that talks to the C library. Statements are prepared
/// once and reused; text is bound without copying where the caller's bytes outlive the step.
final class SQLiteDatabase {
    private var handle: OpaquePointer?
    let path: String

    /// Opens `path`; `readOnly` opens it for reading only, and `immutable` also tells SQLite
    /// that nothing can change the file (a ledger on a read-only file system, where SQLite could
    /// not create the WAL's shared-memory file).
    init(path: String, create: Bool, readOnly: Bool = false, immutable: Bool = false) throws(DatabaseError) {
        self.path = path
        var flags = (readOnly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE) | (create ? SQLITE_OPEN_CREATE : 0) | SQLITE_OPEN_NOMUTEX
        var name = path
        if immutable {
            flags |= SQLITE_OPEN_URI
            // A URI path: '%', '?' and '#' must be escaped.
            var escaped = ""
            for c in path.unicodeScalars {
                switch c {
                case "%": escaped += "%25"
                case "?": escaped += "%3F"
                case "#": escaped += "%23"
                default: escaped.unicodeScalars.append(c)
                }
            }
            name = "file:" + escaped + "?immutable=1"
        }
        let rc = sqlite3_open_v2(name, &handle, flags, nil)
        guard rc == SQLITE_OK else {
            let message = handle.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            sqlite3_close(handle)
            handle = nil
            throw DatabaseError(message: "\(path): cannot open the ledger: \(message)", code: rc)
        }
        sqlite3_busy_timeout(handle, 10_000)
    }

    deinit { close() }

    func close() {
        if let h = handle {
            sqlite3_close_v2(h)
            handle = nil
        }
    }

    func error(_ rc: Int32, _ what: String) -> DatabaseError {
        let message = handle.map { String(cString: sqlite3_errmsg($0)) } ?? "closed"
        return DatabaseError(message: "\(path): \(what): \(message)", code: rc)
    }

    func execute(_ sql: String) throws(DatabaseError) {
        let rc = sqlite3_exec(handle, sql, nil, nil, nil)
        guard rc == SQLITE_OK else { throw error(rc, "cannot run \(sql.prefix(60))") }
    }

    /// The first column of the first row of `sql`, as an integer.
    func integer(_ sql: String) throws(DatabaseError) -> Int64? {
        let s = try prepare(sql)
        return try s.step() ? s.int(0) : nil
    }

    func prepare(_ sql: String) throws(DatabaseError) -> Statement {
        var stmt: OpaquePointer?
        let rc = sqlite3_prepare_v3(handle, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &stmt, nil)
        guard rc == SQLITE_OK, let stmt else { throw error(rc, "cannot prepare \(sql.prefix(60))") }
        return Statement(stmt, database: self)
    }

    /// Leaves the write-ahead log to a later `checkpoint`: no checkpoint as the log grows, and
    /// none when this connection closes (the last one to close would otherwise copy it).
    func deferCheckpoints() throws(DatabaseError) {
        try execute("PRAGMA wal_autocheckpoint=0")
        let rc = csqlite_no_checkpoint_on_close(handle)
        guard rc == SQLITE_OK else { throw error(rc, "cannot defer checkpoints") }
    }

    /// Copies what it can of the write-ahead log into the database file without waiting for
    /// anyone (what writers commit meanwhile stays for the next one): the log's frames, and
    /// those copied so far.
    func checkpointPassive() throws(DatabaseError) -> (frames: Int, copied: Int) {
        let (rc, frames, copied) = walCheckpoint(SQLITE_CHECKPOINT_PASSIVE)
        guard rc == SQLITE_OK || rc == SQLITE_BUSY else { throw error(rc, "checkpoint") }
        return (frames, copied)
    }

    /// Copies every page of the write-ahead log into the database file and syncs it (waiting,
    /// up to the busy timeout, for a writer to finish and for readers to reach the newest
    /// snapshot), then empties the log unless a reader is still in it. The frames the log held,
    /// those copied (all, or SQLITE_BUSY is thrown; what was not copied stays in the log, safe),
    /// and whether the log was emptied.
    func checkpoint() throws(DatabaseError) -> (frames: Int, copied: Int, emptied: Bool) {
        // FULL copies and tells how much; TRUNCATE then empties the log (and reports zeros).
        let (rc, frames, copied) = walCheckpoint(SQLITE_CHECKPOINT_FULL)
        guard rc == SQLITE_OK else { throw error(rc, "checkpoint") }
        return (frames, copied, walCheckpoint(SQLITE_CHECKPOINT_TRUNCATE).rc == SQLITE_OK)
    }

    /// One checkpoint of the write-ahead log in `mode`: SQLite's result, the log's frames and
    /// those copied (-1, when the ledger is not in WAL mode, as 0).
    private func walCheckpoint(_ mode: Int32) -> (rc: Int32, frames: Int, copied: Int) {
        var frames: Int32 = 0, copied: Int32 = 0
        let rc = sqlite3_wal_checkpoint_v2(handle, nil, mode, &frames, &copied)
        return (rc, Int(max(frames, 0)), Int(max(copied, 0)))
    }

    /// Rows the last statement changed.
    var changes: Int { Int(sqlite3_changes(handle)) }

    /// One prepared statement.
    final class Statement {
        private let stmt: OpaquePointer
        private unowned let database: SQLiteDatabase

        init(_ stmt: OpaquePointer, database: SQLiteDatabase) {
            self.stmt = stmt
            self.database = database
        }

        deinit { sqlite3_finalize(stmt) }

        /// Binds bytes that stay valid until the statement has been stepped and reset.
        func bind(_ i: Int32, borrowing bytes: UnsafeRawBufferPointer) {
            if let base = bytes.baseAddress {
                _ = csqlite_bind_text_static(stmt, i, base.assumingMemoryBound(to: CChar.self), Int32(bytes.count))
            } else {
                _ = csqlite_bind_text_copy(stmt, i, "", 0)
            }
        }

        func bindBlob(_ i: Int32, borrowing bytes: UnsafeRawBufferPointer) {
            _ = csqlite_bind_blob_static(stmt, i, bytes.baseAddress, Int32(bytes.count))
        }

        /// Binds a copy of `bytes` as a blob.
        func bindBlob(_ i: Int32, copying bytes: [UInt8]) {
            bytes.withUnsafeBytes { b in _ = csqlite_bind_blob_copy(stmt, i, b.baseAddress, Int32(b.count)) }
        }

        func bind(_ i: Int32, _ text: String) {
            _ = csqlite_bind_text_copy(stmt, i, text, -1)
        }

        func bind(_ i: Int32, _ value: Int64) { sqlite3_bind_int64(stmt, i, value) }

        /// Steps once: true for a row, false when done.
        func step() throws(DatabaseError) -> Bool {
            let rc = sqlite3_step(stmt)
            if rc == SQLITE_ROW { return true }
            if rc == SQLITE_DONE { return false }
            sqlite3_reset(stmt)
            throw database.error(rc, "statement failed")
        }

        /// Resets for the next use, keeping no bound bytes.
        func reset() {
            sqlite3_reset(stmt)
            sqlite3_clear_bindings(stmt)
        }

        func int(_ column: Int32) -> Int64 { sqlite3_column_int64(stmt, column) }

        func isNull(_ column: Int32) -> Bool { sqlite3_column_type(stmt, column) == SQLITE_NULL }

        /// The column's bytes, valid until the next step or reset.
        func bytes(_ column: Int32) -> UnsafeRawBufferPointer {
            let p = sqlite3_column_blob(stmt, column)
            let n = Int(sqlite3_column_bytes(stmt, column))
            return UnsafeRawBufferPointer(start: p, count: n)
        }

        func text(_ column: Int32) -> String { String(decoding: bytes(column), as: UTF8.self) }
    }
}
