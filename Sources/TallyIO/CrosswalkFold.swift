#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CTally
internal import CIsal
import TallyCore

/// The crosswalk folded into one binary file (`tally-link --fold`): what every crosswalk file
/// read so far says, identifier by identifier, so that a night reads only its new files instead
/// of every file since the first (1.25 GB of JSON at a tenth of the city, twice a night).
///
/// It holds no keys and nothing the crosswalk files do not: an identifier's entry is a pure
/// function of the lines naming it (one person, or a conflict), and the crosswalk only grows, so
/// the fold of some files with the entries of one more file is the fold of all of them. The file
/// lists the files folded in (identity: CRC-64 and size, as a persons file names them; stamp:
/// device, inode, size, modification and change times; lines), the packed identifiers in
/// ascending order with their values, the identifiers that cannot be packed, and for every
/// identifier in conflict the crosswalk lines behind it. Made again from the crosswalk files
/// alone, it is the same bytes. It ends with a CRC-64 of all before it; a file that does not
/// check is not used (and is made again).
///
/// Format 1, all integers little-endian: the line `tally-crosswalk-fold 1`; the counts of files,
/// packed entries, other entries and conflicts (u64 each); per file the identity (u32 length,
/// bytes), 7 stamp fields (i64) and its lines (u64); the packed keys (u64 each), then their
/// values; per other entry its name (u32 length, bytes) and value; per conflict its name and its
/// lines (u32 count, then each as u32 length and bytes); the CRC-64 (ECMA, reflected) of it all.
public struct CrosswalkFold {
    public struct File: Equatable, Sendable {
        /// CRC-64 and size, as `ScoringStore.Persons.CrosswalkFile.identity`.
        public var identity: String
        /// `FileStatus.stamp`: only while it is the same is a file held (a CRC could be made to
        /// match; the stamp's change time cannot be set back without the clock).
        public var stamp: [Int64]
        public var lines: Int
        public init(identity: String, stamp: [Int64], lines: Int) {
            self.identity = identity
            self.stamp = stamp
            self.lines = lines
        }
    }

    public var files: [File]
    public var entries: SortedCrosswalk
    /// Identifiers `CrosswalkTable.packIdentifier` cannot pack, by "SCHEME:ID".
    public var others: [String: UInt64]
    /// For each identifier in conflict ("SCHEME:ID"), the crosswalk lines that name it.
    public var conflictLines: [String: [String]]

    public init(files: [File], entries: SortedCrosswalk, others: [String: UInt64], conflictLines: [String: [String]]) {
        self.files = files
        self.entries = entries
        self.others = others
        self.conflictLines = conflictLines
    }

    static let magic = Array("tally-crosswalk-fold 1\n".utf8)

    /// Why a fold file cannot be used.
    public struct Unusable: Error, CustomStringConvertible {
        public var description: String
    }

    /// Reads the fold at `path`; nil when there is none. Throws `Unusable` (saying why) for a file
    /// that is not a whole fold of format 1, or whose contents do not check.
    public static func read(_ path: String) throws(Unusable) -> CrosswalkFold? {
        let fd = POSIX.open(path, flags: O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            if errno == ENOENT { return nil }
            throw Unusable(description: "\(path): cannot open: \(POSIX.errorText(errno))")
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { throw Unusable(description: "\(path): not a regular file") }
        var r = Reader(fd: fd, size: Int(info.st_size), path: path)
        return try r.fold()
    }

    /// Writes the fold to `path` (mode 0600) through a temporary file beside it, synced, then
    /// renamed: a reader sees the old fold or the new, whole.
    public func write(_ path: String) throws {
        try Files.replace(path, temporary: path + ".tmp-\(getpid())") { fd, temporary in
            var w = Writer(fd: fd, path: temporary)
            w.bytes(Self.magic)
            for n in [files.count, entries.count, others.count, conflictLines.count] { w.u64(UInt64(n)) }
            for f in files.sorted(by: { $0.identity != $1.identity ? Self.byBytes($0.identity, $1.identity) : $0.stamp.lexicographicallyPrecedes($1.stamp) }) {
                w.text(f.identity)
                for v in f.stamp { w.u64(UInt64(bitPattern: v)) }
                w.u64(UInt64(f.lines))
            }
            try w.array(entries.keyBuffer)
            try w.array(entries.valueBuffer)
            for name in others.keys.sorted(by: Self.byBytes) {
                w.text(name)
                w.u64(others[name]!)
            }
            for name in conflictLines.keys.sorted(by: Self.byBytes) {
                w.text(name)
                let lines = conflictLines[name]!
                w.u32(UInt32(lines.count))
                for line in lines { w.text(line) }
            }
            try w.finish()
        }
        var directory = path
        if let slash = directory.lastIndex(of: "/") { directory = String(directory[..<slash]) } else { directory = "." }
        Files.syncDirectory(directory.isEmpty ? "/" : directory)
    }

    /// Names in the order of their UTF-8 bytes, whatever the platform's string order.
    public static func byBytes(_ a: String, _ b: String) -> Bool { a.utf8.lexicographicallyPrecedes(b.utf8) }

    /// How many identifiers it holds, and how many of them are in conflict.
    public var identifiers: Int { entries.count + others.count }
    public var conflicts: Int { entries.conflicts + others.values.filter { $0 == CrosswalkTable.conflictMark }.count }

    // MARK: Reading and writing, with the CRC kept on the way

    struct Writer {
        let fd: Int32
        let path: String
        var crc: UInt64 = 0
        var buffer = ByteBuffer(capacity: 1 << 20)
        var failure: ScoringStore.Fault?

        init(fd: Int32, path: String) {
            self.fd = fd
            self.path = path
        }

        mutating func bytes<C: Collection>(_ b: C) where C.Element == UInt8 {
            for byte in b { buffer.append(byte) }
            if buffer.count >= 1 << 20 { drain() }
        }
        mutating func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { raw(UnsafeRawBufferPointer($0)) } }
        mutating func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { raw(UnsafeRawBufferPointer($0)) } }
        mutating func text(_ s: String) {
            let utf8 = Array(s.utf8)
            u32(UInt32(utf8.count))
            utf8.withUnsafeBytes { raw($0) }
        }
        mutating func raw(_ b: UnsafeRawBufferPointer) {
            buffer.append(b)
            if buffer.count >= 1 << 20 { drain() }
        }
        mutating func array(_ values: UnsafeMutableBufferPointer<UInt64>) throws {
            #if _endian(big)
            for v in values { u64(v) }
            #else
            var i = 0
            while i < values.count {
                let n = min(1 << 17, values.count - i)
                raw(UnsafeRawBufferPointer(start: values.baseAddress! + i, count: 8 * n))
                i += n
            }
            #endif
            if let failure { throw failure }
        }
        mutating func drain() {
            guard failure == nil, buffer.count > 0 else { buffer.removeAll(); return }
            buffer.withBytes { b in
                crc = crc64_ecma_refl(crc, b.baseAddress!.assumingMemoryBound(to: UInt8.self), UInt64(b.count))
                var done = 0
                while done < b.count {
                    let n = Glibc.write(fd, b.baseAddress! + done, b.count - done)
                    if n < 0 && errno == EINTR { continue }
                    guard n > 0 else { failure = .io("\(path): cannot write: \(POSIX.errorText(errno))"); return }
                    done += n
                }
            }
            buffer.removeAll()
        }
        mutating func finish() throws {
            drain()
            let sum = crc
            withUnsafeBytes(of: sum.littleEndian) { buffer.append(UnsafeRawBufferPointer($0)) }
            let before = crc
            drain()
            crc = before
            if let failure { throw failure }
        }
    }

    struct Reader {
        let fd: Int32
        let size: Int
        let path: String
        var offset = 0
        var crc: UInt64 = 0

        init(fd: Int32, size: Int, path: String) {
            self.fd = fd
            self.size = size
            self.path = path
        }

        func bad(_ why: String) -> Unusable { Unusable(description: "\(path): \(why)") }

        /// Reads `count` bytes to `into`, keeping the CRC.
        mutating func read(_ into: UnsafeMutableRawPointer, _ count: Int) throws(Unusable) {
            guard count >= 0, count <= size - 8 - offset else { throw bad("cut short, or not a crosswalk fold") }
            var done = 0
            while done < count {
                let n = pread(fd, into + done, count - done, off_t(offset + done))
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else { throw bad("cannot read: \(n < 0 ? POSIX.errorText(errno) : "cut short")") }
                done += n
            }
            crc = crc64_ecma_refl(crc, into.assumingMemoryBound(to: UInt8.self), UInt64(count))
            offset += count
        }
        mutating func u64() throws(Unusable) -> UInt64 {
            var v: UInt64 = 0
            try withUnsafeMutableBytes(of: &v) { (b) throws(Unusable) in try read(b.baseAddress!, 8) }
            return UInt64(littleEndian: v)
        }
        mutating func u32() throws(Unusable) -> UInt32 {
            var v: UInt32 = 0
            try withUnsafeMutableBytes(of: &v) { (b) throws(Unusable) in try read(b.baseAddress!, 4) }
            return UInt32(littleEndian: v)
        }
        mutating func count(_ what: String, each: Int) throws(Unusable) -> Int {
            let v = try u64()
            guard v <= UInt64(size / each) else { throw bad("says it holds \(v) \(what), more than its size allows") }
            return Int(v)
        }
        mutating func text() throws(Unusable) -> String {
            let n = Int(try u32())
            return String(decoding: try bytes(n), as: UTF8.self)
        }
        mutating func bytes(_ n: Int) throws(Unusable) -> [UInt8] {
            // A length is checked against what is left before anything is allocated for it: a
            // damaged length must not ask for gigabytes (the fold fuzz target's first find).
            guard n <= size - 8 - offset else { throw bad("cut short, or not a crosswalk fold") }
            let p = UnsafeMutableRawPointer.allocate(byteCount: max(n, 1), alignment: 8)
            defer { p.deallocate() }
            try read(p, n)
            return Array(UnsafeRawBufferPointer(start: p, count: n))
        }

        mutating func fold() throws(Unusable) -> CrosswalkFold {
            guard size >= magic.count + 8 else { throw bad("not a crosswalk fold") }
            let head = try bytes(magic.count)
            guard head == magic else { throw bad("not a crosswalk fold of format 1") }
            let fileCount = try count("files", each: 64), packed = try count("entries", each: 16)
            let otherCount = try count("other entries", each: 12), conflictCount = try count("conflicts", each: 8)
            var files: [File] = []
            for _ in 0..<fileCount {
                let identity = try text()
                var stamp: [Int64] = []
                for _ in 0..<7 { stamp.append(Int64(bitPattern: try u64())) }
                files.append(File(identity: identity, stamp: stamp, lines: Int(try count("lines", each: 1))))
            }
            let entries = SortedCrosswalk(count: packed)
            try read(UnsafeMutableRawPointer(entries.keyBuffer.baseAddress!), 8 * packed)
            try read(UnsafeMutableRawPointer(entries.valueBuffer.baseAddress!), 8 * packed)
            #if _endian(big)
            for i in 0..<packed { entries.keyBuffer[i] = UInt64(littleEndian: entries.keyBuffer[i]); entries.valueBuffer[i] = UInt64(littleEndian: entries.valueBuffer[i]) }
            #endif
            var others: [String: UInt64] = [:]
            for _ in 0..<otherCount {
                let name = try text()
                others[name] = try u64()
            }
            var conflictLines: [String: [String]] = [:]
            for _ in 0..<conflictCount {
                let name = try text()
                let n = Int(try u32())
                var lines: [String] = []
                for _ in 0..<n { lines.append(try text()) }
                conflictLines[name] = lines
            }
            guard offset == size - 8 else { throw bad("has \(size - 8 - offset) bytes more than its contents") }
            let computed = crc
            let stored = try trailer()
            guard stored == computed else { throw bad("its CRC does not match its contents (damaged)") }
            // Binary search answers wrongly without a sign over keys out of order; every value
            // must be a packed resident number or the conflict mark.
            guard entries.isStrictlyAscending else { throw bad("its identifiers are not in ascending order") }
            let largest: UInt64 = 100_000_000_000_000_000 * 11
            for i in 0..<packed {
                let v = entries.valueBuffer[i], k = entries.keyBuffer[i]
                guard v == CrosswalkTable.conflictMark || v < largest, k >> 60 == 1 || k >> 60 == 2 else { throw bad("entry \(i) is not an identifier and a person") }
            }
            return CrosswalkFold(files: files, entries: entries, others: others, conflictLines: conflictLines)
        }

        mutating func trailer() throws(Unusable) -> UInt64 {
            var v: UInt64 = 0
            let n = withUnsafeMutableBytes(of: &v) { pread(fd, $0.baseAddress!, 8, off_t(offset)) }
            guard n == 8 else { throw bad("cut short") }
            return UInt64(littleEndian: v)
        }
    }
}
