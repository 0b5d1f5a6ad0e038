#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
internal import Crypto
import CTally
internal import CIsal
import TallyCore

/// What tally-score needs of the ledger, kept beside it in fixed-width rows so that a night
/// scores the history without dumping, parsing and relinking it as JSON: a directory (mode
/// 0700) that `update` brings up to the ledger from marks it keeps, and that `rebuild` makes
/// again from the ledger alone, to the same bytes. The ledger stays the one source of truth.
///
/// - `rows`: one 64-byte row per record (corrections are not rows), in the ledger's sequence
///   order: the sequence number, the subject identifier's 128-bit hash, the record id's 128
///   bits, `at` in seconds, `amount_fen` (-1 for none), and 32-bit hashes of the id's source
///   and of the kind. An amended record's row is rewritten where it is.
/// - `identifiers`: every identifier a row names, once, ordered by hash: what tally-link
///   turns into person keys each night (`--store`). Records hold identifiers, not person keys,
///   so a new crosswalk entry relinks every old record of its identifier without touching a row.
/// - `names`: the source and kind names the rows' hashes stand for, ordered by hash.
/// - `corrections.jsonl`: every correction, as the ledger holds it, in sequence order.
/// - `state`: the marks (the last sequence number and its record's id, the last amendment,
///   the row count) and the SHA-256 of `identifiers`; renamed into place last, so it is the
///   commit: a run killed at any point leaves the previous state, and the next update does
///   again what was lost.
///
/// Hashes are SipHash-128 under a fixed key (no secret: the store is the ledger's content
/// in another shape); two names or identifiers with one hash are refused, never merged.
public enum ScoringStore {
    /// The format this code writes and reads (in `state`).
    public static let format = 1
    public static let rowBytes = 64

    /// One record as tally-score needs it.
    public struct Row: Equatable, Sendable {
        public var seq: Int64
        public var identifier: Hash128
        public var id: Hash128
        public var at: Int64
        public var amountFen: Int64
        public var source: UInt32
        public var kind: UInt32

        func write(to p: UnsafeMutableRawPointer) {
            p.storeBytes(of: seq.littleEndian, toByteOffset: 0, as: Int64.self)
            p.storeBytes(of: identifier.hi.littleEndian, toByteOffset: 8, as: UInt64.self)
            p.storeBytes(of: identifier.lo.littleEndian, toByteOffset: 16, as: UInt64.self)
            p.storeBytes(of: id.hi.littleEndian, toByteOffset: 24, as: UInt64.self)
            p.storeBytes(of: id.lo.littleEndian, toByteOffset: 32, as: UInt64.self)
            p.storeBytes(of: at.littleEndian, toByteOffset: 40, as: Int64.self)
            p.storeBytes(of: amountFen.littleEndian, toByteOffset: 48, as: Int64.self)
            p.storeBytes(of: source.littleEndian, toByteOffset: 56, as: UInt32.self)
            p.storeBytes(of: kind.littleEndian, toByteOffset: 60, as: UInt32.self)
        }

        @inlinable
        public init(_ p: UnsafeRawPointer) {
            func u64(_ o: Int) -> UInt64 { UInt64(littleEndian: p.loadUnaligned(fromByteOffset: o, as: UInt64.self)) }
            seq = Int64(bitPattern: u64(0))
            identifier = Hash128(hi: u64(8), lo: u64(16))
            id = Hash128(hi: u64(24), lo: u64(32))
            at = Int64(bitPattern: u64(40))
            amountFen = Int64(bitPattern: u64(48))
            source = UInt32(littleEndian: p.loadUnaligned(fromByteOffset: 56, as: UInt32.self))
            kind = UInt32(littleEndian: p.loadUnaligned(fromByteOffset: 60, as: UInt32.self))
        }

        /// The identifier of the row at `p`, alone.
        @inlinable @inline(__always)
        public static func identifier(at p: UnsafeRawPointer) -> Hash128 {
            Hash128(hi: UInt64(littleEndian: p.loadUnaligned(fromByteOffset: 8, as: UInt64.self)),
                    lo: UInt64(littleEndian: p.loadUnaligned(fromByteOffset: 16, as: UInt64.self)))
        }

        init(seq: Int64, identifier: Hash128, id: Hash128, at: Int64, amountFen: Int64, source: UInt32, kind: UInt32) {
            self.seq = seq; self.identifier = identifier; self.id = id; self.at = at
            self.amountFen = amountFen; self.source = source; self.kind = kind
        }
    }

    public struct Hash128: Hashable, Comparable, Sendable {
        public var hi: UInt64
        public var lo: UInt64
        @inlinable public init(hi: UInt64, lo: UInt64) { self.hi = hi; self.lo = lo }
        public static func < (a: Hash128, b: Hash128) -> Bool { a.hi != b.hi ? a.hi < b.hi : a.lo < b.lo }
    }

    /// A subject identifier.
    public struct Identifier: Equatable, Sendable {
        public var scheme: [UInt8]
        public var id: [UInt8]
        public init(scheme: [UInt8], id: [UInt8]) { self.scheme = scheme; self.id = id }
        /// Whether this is the identifier `scheme`:`id`, byte for byte.
        func names(_ scheme: UnsafeRawBufferPointer, _ id: UnsafeRawBufferPointer) -> Bool {
            self.scheme.elementsEqual(scheme) && self.id.elementsEqual(id)
        }
    }

    static let hasher = SipHash128(k0: 0x7461_6c6c_792d_7363, k1: 0x6f72_696e_672d_3031)

    /// The hash rows keep of an identifier: over its scheme's length, the scheme and the id.
    public static func hash(scheme: UnsafeRawBufferPointer, id: UnsafeRawBufferPointer) -> Hash128 {
        // Laid out byte by byte: two memmove calls an identifier were a seventh of tally-link
        // --store's time (perf). Identifiers are short, so the bytes are mostly on the stack.
        func layOut(_ b: UnsafeMutableRawBufferPointer) -> Hash128 {
            b.storeBytes(of: UInt32(scheme.count).littleEndian, toByteOffset: 0, as: UInt32.self)
            var o = 4
            for byte in scheme { b[o] = byte; o += 1 }
            for byte in id { b[o] = byte; o += 1 }
            let (hi, lo) = hasher.hash(UnsafeRawBufferPointer(rebasing: b[0..<o]))
            return Hash128(hi: hi, lo: lo)
        }
        guard 4 + scheme.count + id.count <= 64 else {
            return withUnsafeTemporaryAllocation(byteCount: 4 + scheme.count + id.count, alignment: 8) { layOut($0) }
        }
        var buffer: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0, 0, 0)
        return withUnsafeMutableBytes(of: &buffer) { layOut($0) }
    }

    /// The 32-bit hash rows keep of a source or kind name.
    public static func nameHash(_ name: UnsafeRawBufferPointer) -> UInt32 {
        UInt32(truncatingIfNeeded: hasher.hash(name, wide: false).0)
    }

    /// Why the store cannot be updated or read. `code` is the exit status a stage should give.
    public struct Fault: Error, CustomStringConvertible {
        public var description: String
        public var code: Int32
        static func data(_ s: String) -> Fault { Fault(description: s, code: 65) }
        static func io(_ s: String) -> Fault { Fault(description: s, code: 74) }
    }

    /// The default place of a ledger's store: beside it, `LEDGER.scoring`.
    public static func defaultPath(ledger: String) -> String { ledger + ".scoring" }
}

// MARK: The state file

extension ScoringStore {
    /// The marks of the last committed update.
    public struct State: Equatable, Sendable {
        public var seq: Int64 = 0
        /// SHA-256 (hex) of the id of the record at `seq`: which ledger the store follows.
        public var seqID = ""
        public var amendment: Int64 = 0
        public var rows: Int64 = 0
        public var identifiers: Int64 = 0
        /// SHA-256 of the identifiers file, hex: what tally-link's persons file is made from.
        public var identifiersSHA256 = ""

        /// The file's text: a first line naming the format, then one `key value` line each.
        var text: String {
            """
            tally-scoring-store \(ScoringStore.format)
            seq \(seq)
            seq_id_sha256 \(seqID.isEmpty ? "-" : seqID)
            amendment \(amendment)
            rows \(rows)
            identifiers \(identifiers)
            identifiers_sha256 \(identifiersSHA256.isEmpty ? "-" : identifiersSHA256)

            """
        }

        static func parse(_ text: String, path: String) throws(Fault) -> State {
            let bad = Fault.data("\(path): not a scoring store's state file; rebuild the store (tally-store rebuild-scoring)")
            var lines = text.split(separator: "\n", omittingEmptySubsequences: false)
            guard lines.first?.hasPrefix("tally-scoring-store ") == true else { throw bad }
            let format = lines.removeFirst().dropFirst("tally-scoring-store ".count)
            guard format == "\(ScoringStore.format)" else {
                throw Fault.data("\(path): a scoring store of format \(format), not \(ScoringStore.format); rebuild it (tally-store rebuild-scoring)")
            }
            var state = State()
            var seen = Set<Substring>()
            for line in lines where !line.isEmpty {
                let parts = line.split(separator: " ", maxSplits: 1)
                guard parts.count == 2, seen.insert(parts[0]).inserted else { throw bad }
                let value = parts[1]
                func number() throws(Fault) -> Int64 {
                    guard let n = Int64(value), n >= 0 else { throw bad }
                    return n
                }
                func hex() throws(Fault) -> String {
                    if value == "-" { return "" }
                    guard value.count == 64, value.allSatisfy({ $0.isHexDigit && !$0.isUppercase }) else { throw bad }
                    return String(value)
                }
                switch parts[0] {
                case "seq": state.seq = try number()
                case "seq_id_sha256": state.seqID = try hex()
                case "amendment": state.amendment = try number()
                case "rows": state.rows = try number()
                case "identifiers": state.identifiers = try number()
                case "identifiers_sha256": state.identifiersSHA256 = try hex()
                default: throw bad
                }
            }
            guard seen.count == 6 else { throw bad }
            return state
        }
    }
}

// MARK: Reading a store

extension ScoringStore {
    /// A store opened for reading (tally-link and tally-score `--store`): its committed state,
    /// and its files up to it.
    public final class Reader {
        public let path: String
        public let state: State

        public init(path: String) throws {
            self.path = path
            guard let text = try Files.readText(path + "/state") else {
                throw Fault(description: "\(path): no scoring store here (tally-store update-scoring LEDGER makes one)", code: 66)
            }
            state = try State.parse(text, path: path + "/state")
        }

        /// Every identifier, ordered by hash; refused when the file is not the one the state
        /// names (an update cut short: run it again).
        public func forEachIdentifier(_ body: (Hash128, UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws -> Void) throws {
            let bytes = try Files.readAll(path + "/identifiers") ?? []
            guard Files.sha256Hex(bytes) == state.identifiersSHA256 else {
                throw Fault.data("\(path)/identifiers: not the file the store's state names (an update was cut short): run tally-store update-scoring again")
            }
            try parseIdentifiers(bytes, path: path + "/identifiers", body)
        }

        /// The source and kind names, by hash.
        public func names() throws -> (sources: [UInt32: String], kinds: [UInt32: String]) {
            var sources: [UInt32: String] = [:], kinds: [UInt32: String] = [:]
            try parseNames(try Files.readAll(path + "/names") ?? [], path: path + "/names") { isKind, hash, name in
                if isKind { kinds[hash] = String(decoding: name, as: UTF8.self) } else { sources[hash] = String(decoding: name, as: UTF8.self) }
            }
            return (sources, kinds)
        }

        /// The corrections, as JSON Lines.
        public var correctionsPath: String { path + "/corrections.jsonl" }

        /// Every committed row, a block at a time (`count` rows at the pointer).
        public func forEachRowBlock(_ body: (UnsafeRawPointer, Int) throws -> Void) throws {
            let fd = try Files.open(path + "/rows", write: false)
            defer { close(fd) }
            try ScoringStore.forEachRowBlock(fd: fd, count: Int(state.rows), path: path + "/rows", body)
        }
    }
}

// MARK: Person keys of a store's identifiers

extension ScoringStore {
    /// The person key of each of a store's identifiers, as tally-link found them for one
    /// night's crosswalk (a file of its own: the keys depend on the secret, the store does
    /// not). The file: a line `tally-persons 2 IDENTIFIERS-SHA256 COUNT KEY-CHECK CROSSWALKS`,
    /// then COUNT entries of 32 bytes (the identifier's hash, then the key's two halves,
    /// little-endian), in the order of the store's identifiers (by hash). KEY-CHECK is the key
    /// the secret gives a fixed name (which secret made the keys, without saying it); CROSSWALKS
    /// the identity (CRC-64 and size) of each crosswalk file linked with, sorted and joined by
    /// commas (`-` when one was a stream or changed while read, `none` when there were none):
    /// what the next night needs to take the keys of the identifiers its new crosswalk files do
    /// not name from this file (`tally-link --previous`). Format 1 had neither; it is still read.
    public final class Persons {
        static let header = "tally-persons 2"
        /// Open addressing on the identifier hash (already uniform), at most half full.
        @usableFromInline var slots: UnsafeMutablePointer<UInt64>
        @usableFromInline let mask: Int
        public let count: Int

        deinit { slots.deallocate() }

        init(capacityFor n: Int) {
            var capacity = 16
            while capacity < 2 * n { capacity <<= 1 }
            mask = capacity - 1
            count = n
            slots = .allocate(capacity: capacity * 4)
            slots.initialize(repeating: 0, count: capacity * 4)
        }

        /// The key of the identifier `h`, or nil when the file has none for it.
        @inlinable @inline(__always)
        public func person(_ h: Hash128) -> (hi: UInt64, lo: UInt64)? {
            var i = Int(truncatingIfNeeded: h.hi) & mask
            while true {
                let s = slots + 4 * i
                if s[0] == h.hi && s[1] == h.lo && (s[2] | s[3]) != 0 { return (s[2], s[3]) }
                if (s[2] | s[3]) == 0 { return nil }
                i = (i + 1) & mask
            }
        }

        @inlinable @inline(__always)
        public func prefetch(_ h: Hash128) {
            tally_prefetch(UnsafeRawPointer(slots + 4 * (Int(truncatingIfNeeded: h.hi) & mask)))
        }

        func insert(_ h: Hash128, _ hi: UInt64, _ lo: UInt64) {
            var i = Int(truncatingIfNeeded: h.hi) & mask
            while (slots[4 * i + 2] | slots[4 * i + 3]) != 0 { i = (i + 1) & mask }
            slots[4 * i] = h.hi; slots[4 * i + 1] = h.lo; slots[4 * i + 2] = hi; slots[4 * i + 3] = lo
        }

        /// Writes a persons file for the identifiers whose file has SHA-256 `digest`: through a
        /// temporary file and a rename, mode 0600.
        public static func write(_ path: String, identifiersSHA256 digest: String, keyCheck: String, crosswalks: [String]?,
                                 entries: [(Hash128, UInt64, UInt64)]) throws {
            let out = ByteBuffer(capacity: entries.count * 32 + 128)
            out.append("\(header) \(digest) \(entries.count) \(keyCheck) \(crosswalks.map { $0.isEmpty ? "none" : $0.sorted().joined(separator: ",") } ?? "-")\n")
            for (h, hi, lo) in entries {
                Files.append(h.hi, to: out); Files.append(h.lo, to: out)
                Files.append(hi, to: out); Files.append(lo, to: out)
            }
            try Files.replace(path, temporary: path + ".tmp") { fd, temporary in
                try out.withBytes { try Files.write(fd, $0, at: 0, what: temporary) }
            }
        }

        /// A persons file's bytes, its header's fields (4 in format 1, 6 in format 2), where its
        /// entries start and how many there are.
        static func readFile(_ path: String) throws -> (bytes: [UInt8], fields: [Substring], start: Int, count: Int) {
            guard let bytes = try Files.readAll(path) else { throw Fault(description: "\(path): no such persons file (tally-link --store writes it)", code: 66) }
            guard let newline = bytes.firstIndex(of: UInt8(ascii: "\n")) else { throw Fault.data("\(path): not a persons file") }
            let fields = String(decoding: bytes[0..<newline], as: UTF8.self).split(separator: " ")
            guard (fields.count == 4 && "\(fields[0]) \(fields[1])" == "tally-persons 1") || (fields.count == 6 && "\(fields[0]) \(fields[1])" == header),
                  let n = Int(fields[3]), n >= 0, bytes.count - newline - 1 == n * 32 else { throw Fault.data("\(path): not a persons file, or cut short") }
            return (bytes, fields, newline + 1, n)
        }

        /// Reads a persons file made for the store whose identifiers have SHA-256 `digest`.
        public static func load(_ path: String, identifiersSHA256 digest: String) throws -> Persons {
            let (bytes, fields, start, n) = try readFile(path)
            guard fields[2] == digest else {
                throw Fault.data("\(path): made for other identifiers than the scoring store's (the store was updated since): run tally-link --store again")
            }
            let table = Persons(capacityFor: n)
            bytes.withUnsafeBytes { b in
                for i in 0..<n {
                    let o = start + 32 * i
                    func u(_ k: Int) -> UInt64 { UInt64(littleEndian: b.loadUnaligned(fromByteOffset: o + 8 * k, as: UInt64.self)) }
                    table.insert(Hash128(hi: u(0), lo: u(1)), u(2), u(3))
                }
            }
            return table
        }
    }
}

extension ScoringStore.Persons {
    /// A persons file made on an earlier night, read in order to take the keys of identifiers
    /// whose crosswalk entries have not changed since (`tally-link --previous`).
    public struct Previous {
        public let keyCheck: String
        /// The identities of the crosswalk files it was linked with; nil when unknown (a stream,
        /// or format 1).
        public let crosswalks: Set<String>?
        let bytes: [UInt8]
        let start: Int
        public let count: Int
        var next = 0

        public init(_ path: String) throws {
            let (bytes, fields, start, n) = try ScoringStore.Persons.readFile(path)
            keyCheck = fields.count == 6 ? String(fields[4]) : ""
            crosswalks = fields.count == 6 && fields[5] != "-" ? Set(fields[5] == "none" ? [] : fields[5].split(separator: ",").map(String.init)) : nil
            self.bytes = bytes
            self.start = start
            count = n
        }

        /// The key kept for `hash`, if this file has one. Calls must come in increasing order of
        /// hash (the order of a store's identifiers, and of this file's entries).
        public mutating func key(for hash: ScoringStore.Hash128) -> (hi: UInt64, lo: UInt64)? {
            bytes.withUnsafeBytes { b in
                func u(_ i: Int, _ k: Int) -> UInt64 { UInt64(littleEndian: b.loadUnaligned(fromByteOffset: start + 32 * i + 8 * k, as: UInt64.self)) }
                while next < count {
                    let h = ScoringStore.Hash128(hi: u(next, 0), lo: u(next, 1))
                    if h < hash { next += 1; continue }
                    if h == hash { return (u(next, 2), u(next, 3)) }
                    return nil
                }
                return nil
            }
        }
    }
}

extension ScoringStore.Persons {
    /// What a crosswalk file was when it was read: what tells it from any other (its CRC-64 and
    /// size, as `CRC-SIZE`), and what says whether it changed since (`FileStatus.stamp`).
    ///
    /// A CRC, not a cryptographic hash: it tells last night's files from new and changed ones,
    /// and whoever could forge one could write the crosswalk itself. SHA-256 of the city's 1.25 GB
    /// of crosswalk took a fifth of tally-link --store's time; ISA-L's CRC-64 takes a tenth of that.
    public struct CrosswalkFile: Equatable, Sendable {
        public var identity: String
        var stamp: [Int64]
    }

    /// The identity of the regular file at `path`, read whole, and its stamp; nil for anything
    /// else (a stream can be read only once).
    public static func crosswalkFile(_ path: String) throws -> CrosswalkFile? {
        let fd = POSIX.open(path, flags: O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw ScoringStore.Fault(description: "\(path): cannot open: \(POSIX.errorText(errno))", code: 66) }
        defer { close(fd) }
        guard let before = FileStatus.stamp(fd: fd) else { return nil }
        var crc: UInt64 = 0
        var total = 0
        let size = 1 << 20
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 64)
        defer { buffer.deallocate() }
        while true {
            let n = read(fd, buffer, size)
            if n < 0 && errno == EINTR { continue }
            guard n >= 0 else { throw ScoringStore.Fault.io("\(path): cannot read: \(POSIX.errorText(errno))") }
            if n == 0 { break }
            crc = crc64_ecma_refl(crc, buffer.assumingMemoryBound(to: UInt8.self), UInt64(n))
            total += n
        }
        let out = ByteBuffer(capacity: 40)
        withUnsafeBytes(of: crc.bigEndian) { out.appendHex($0) }
        out.append("-\(total)")
        return CrosswalkFile(identity: out.string, stamp: before)
    }

    /// Whether the file at `path` is still the one `file` describes (by its stamp).
    public static func unchanged(_ path: String, since file: CrosswalkFile) -> Bool {
        let fd = POSIX.open(path, flags: O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        return FileStatus.stamp(fd: fd) == file.stamp
    }

}
