#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
internal import Crypto
import Dispatch
import Synchronization
import TallyCore

/// Bounds that keep a hostile or broken input from exhausting memory.
public struct InputLimits: Sendable, Equatable {
    /// The longest line (or CSV record) accepted, in bytes.
    public var maxLineBytes: Int
    /// The largest decompressed-to-compressed ratio accepted for gzip input.
    public var maxRatio: Int
    /// Decompressed bytes allowed before the ratio is enforced (small files compress oddly).
    public var ratioGraceBytes: Int

    /// 8 MiB lines; gzip ratio at most 250:1 once past 16 MiB decompressed.
    public static let standard = InputLimits(maxLineBytes: 8 << 20, maxRatio: 250, ratioGraceBytes: 16 << 20)

    public init(maxLineBytes: Int, maxRatio: Int, ratioGraceBytes: Int = 16 << 20) {
        self.maxLineBytes = maxLineBytes
        self.maxRatio = maxRatio
        self.ratioGraceBytes = ratioGraceBytes
    }
}

/// One input of a stage: a file path, or standard input for `-`/no path, plain or gzip.
///
/// Gzip is recognised by its magic bytes (`1f 8b`), never by the name, and every member of a
/// multi-member stream is read. The SHA-256 of the bytes as delivered (compressed, if they were)
/// is computed while streaming and available from `finishDigest()` at the end. Memory does not
/// depend on the file's size.
///
/// ```swift
/// let input = try InputFile.open("transit-20261127.csv.gz")
/// let lines = LineReader(input)
/// while let line = try lines.next() { … }
/// let sha = try input.finishDigest()
/// ```
public final class InputFile {
    /// The name used in messages: the path as given, or `-` for standard input.
    public let name: String
    /// The path, or nil for standard input.
    public let path: String?
    /// Whether the bytes are gzip.
    public private(set) var isGzip = false
    /// The limits in force.
    public let limits: InputLimits
    /// Bytes read from the file as delivered.
    public private(set) var rawBytes = 0
    /// Bytes handed to the reader after decompression.
    public private(set) var decodedBytes = 0
    /// Where the current window of the expansion bound began (decompressed, compressed bytes).
    var windowStart: (decoded: Int, consumed: Int) = (0, 0)

    private let fd: Int32
    private let ownsDescriptor: Bool
    private var hasher = SHA256()
    /// Off for inputs whose hash nobody asks for (JSON Lines between stages): a tenth of
    /// tally-link's time went to hashing its input.
    private var hashing = true
    private var digest: String?
    private var rawEnded = false
    /// Bytes read to look for the gzip magic, served before the descriptor.
    private var prefix: [UInt8] = []
    private var prefixOffset = 0
    private var inflater: GzipInflater?

    private init(name: String, path: String?, fd: Int32, ownsDescriptor: Bool, limits: InputLimits) {
        self.name = name
        self.path = path
        self.fd = fd
        self.ownsDescriptor = ownsDescriptor
        self.limits = limits
    }

    deinit { if ownsDescriptor { close(fd) } }

    /// The base name of the file as it is named (`-` for standard input, a spooled stream by the
    /// name it was given), as provenance records it.
    public var baseName: String {
        name.split(separator: "/", omittingEmptySubsequences: true).last.map(String.init) ?? name
    }

    /// Opens `path` (nil or `-` for standard input) and detects gzip.
    ///
    /// - Parameter hashing: false when `finishDigest()` will not be called, to skip SHA-256.
    /// - Parameter named: the name messages give the file (a spooled copy of standard input is
    ///   named `-`, not its temporary path).
    /// - Parameter inflate: the gzip engine; nil for the one `TALLY_INFLATE` names (ISA-L unless
    ///   it names zlib), asked only when the input is gzip.
    public static func open(_ path: String?, limits: InputLimits = .standard, hashing: Bool = true, named: String? = nil,
                            inflate: InflateEngine? = nil) throws(InputError) -> InputFile {
        let file: InputFile
        if path == nil || path == "-" {
            try refuseDevice(0, name: "-")
            file = InputFile(name: "-", path: nil, fd: 0, ownsDescriptor: false, limits: limits)
        } else {
            let path = path!
            let fd = POSIX.open(path, flags: O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else {
                let code = errno
                let kind: InputError.Kind = (code == ENOENT || code == ENOTDIR || code == EACCES) ? .noInput : .io
                throw InputError(kind, file: path, "cannot open: \(POSIX.errorText(code))")
            }
            var info = stat()
            if fstat(fd, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR {
                close(fd)
                throw InputError(.noInput, file: named ?? path, "is a directory")
            }
            do { try refuseDevice(fd, name: named ?? path) } catch { close(fd); throw error }
            file = InputFile(name: named ?? path, path: path, fd: fd, ownsDescriptor: true, limits: limits)
        }
        file.hashing = hashing
        try file.detect(inflate)
        return file
    }

    private func detect(_ inflate: InflateEngine?) throws(InputError) {
        let head = UnsafeMutableRawPointer.allocate(byteCount: 2, alignment: 1)
        defer { head.deallocate() }
        var got = 0
        while got < 2 {
            let n = try readRaw(head + got, 2 - got)
            if n == 0 { break }
            got += n
        }
        prefix = Array(UnsafeRawBufferPointer(start: head, count: got))
        if got == 2 && prefix[0] == 0x1F && prefix[1] == 0x8B {
            isGzip = true
            let engine: InflateEngine
            if let inflate { engine = inflate } else { engine = try InflateEngine.fromEnvironment() }
            inflater = try GzipInflater(file: name, engine: engine) { [unowned self] (buffer, count) throws(InputError) -> Int in
                try self.readServingPrefix(buffer, count)
            }
        }
    }

    /// Reads from the descriptor, hashing what it reads.
    private func readRaw(_ buffer: UnsafeMutableRawPointer, _ count: Int) throws(InputError) -> Int {
        if rawEnded { return 0 }
        let n = POSIX.read(fd, buffer, count)
        if n < 0 { throw InputError(.io, file: name, "read failed: \(POSIX.errorText(errno))") }
        if n == 0 { rawEnded = true; return 0 }
        if hashing { hasher.update(bufferPointer: UnsafeRawBufferPointer(start: buffer, count: n)) }
        rawBytes += n
        return n
    }

    private func readServingPrefix(_ buffer: UnsafeMutableRawPointer, _ count: Int) throws(InputError) -> Int {
        if prefixOffset < prefix.count {
            let n = min(count, prefix.count - prefixOffset)
            prefix.withUnsafeBytes { buffer.copyMemory(from: $0.baseAddress! + prefixOffset, byteCount: n) }
            prefixOffset += n
            return n
        }
        return try readRaw(buffer, count)
    }

    /// Fills `buffer` with the next decompressed bytes; returns 0 at the end.
    public func read(into buffer: UnsafeMutableRawPointer, count: Int) throws(InputError) -> Int {
        guard let inflater else {
            let n = try readServingPrefix(buffer, count)
            decodedBytes += n
            return n
        }
        let n = try inflater.read(into: buffer, count: count)
        decodedBytes += n
        if decodedBytes > limits.ratioGraceBytes && decodedBytes / max(inflater.consumed, 1) > limits.maxRatio {
            throw InputError(.data, file: name, "decompression ratio exceeds \(limits.maxRatio):1 (\(decodedBytes) bytes from \(inflater.consumed)); refusing a possible gzip bomb")
        }
        // The bound holds over every stretch of the stream, not only from its start: an
        // incompressible prefix must not buy room for a bomb after it. Each window of
        // `ratioGraceBytes` decompressed bytes is held to the ratio on its own.
        let windowDecoded = decodedBytes - windowStart.decoded
        if windowDecoded >= limits.ratioGraceBytes {
            let windowConsumed = inflater.consumed - windowStart.consumed
            if windowDecoded / max(windowConsumed, 1) > limits.maxRatio {
                throw InputError(.data, file: name, "decompression ratio exceeds \(limits.maxRatio):1 in a stretch of the stream (\(windowDecoded) bytes from \(windowConsumed), after \(windowStart.decoded)); refusing a possible gzip bomb")
            }
            windowStart = (decodedBytes, inflater.consumed)
        }
        return n
    }

    /// Gzip members read so far (0 for plain input).
    public var gzipMembers: Int { inflater?.members ?? 0 }

    /// Reads what is left of the raw input (so the hash covers every byte) and returns the
    /// lower-case hex SHA-256 of the file as delivered.
    public func finishDigest() throws(InputError) -> String {
        if let digest { return digest }
        precondition(hashing, "finishDigest() on an input opened without hashing")
        let scratch = UnsafeMutableRawPointer.allocate(byteCount: 1 << 16, alignment: 8)
        defer { scratch.deallocate() }
        // The prefix was hashed when it was read; only the descriptor's rest is left.
        while try readRaw(scratch, 1 << 16) > 0 {}
        let hex = Hex.encode(hasher.finalize())
        digest = hex
        return hex
    }

    /// Whether `path` is a pipe or socket (`<(…)`, a FIFO): read once, as a stream, like
    /// standard input.
    public static func isStream(_ path: String) -> Bool {
        var info = stat()
        guard stat(path, &info) == 0 else { return false }
        let type = info.st_mode & S_IFMT
        return type == S_IFIFO || type == S_IFSOCK
    }

    /// Refuses a descriptor that is a device, /dev/null aside: /dev/zero or /dev/urandom never
    /// end, and would be read (and hashed) forever.
    static func refuseDevice(_ fd: Int32, name: String) throws(InputError) {
        var info = stat()
        guard fstat(fd, &info) == 0 else { return }
        let type = info.st_mode & S_IFMT
        guard type == S_IFCHR || type == S_IFBLK else { return }
        var null = stat()
        if stat("/dev/null", &null) == 0, (null.st_mode & S_IFMT) == S_IFCHR, null.st_rdev == info.st_rdev, type == S_IFCHR { return }
        throw InputError(.noInput, file: name, "is a device, not a file or a pipe; refused")
    }

    /// Starts hashing the file at `path` (whole, with no decompression: the bytes as delivered,
    /// which records name in provenance) on a thread of its own; `FileDigest.wait()` gives the
    /// hex SHA-256. The file is opened here, so that a file that cannot be opened is refused at
    /// once.
    public static func digestInBackground(ofFileAt path: String) throws(InputError) -> FileDigest {
        FileDigest(try InputFile.openRaw(path))
    }

    private static func openRaw(_ path: String) throws(InputError) -> InputFile {
        let fd = POSIX.open(path, flags: O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            let code = errno
            throw InputError(code == ENOENT ? .noInput : .io, file: path, "cannot open: \(POSIX.errorText(code))")
        }
        do { try refuseDevice(fd, name: path) } catch { close(fd); throw error }
        return InputFile(name: path, path: path, fd: fd, ownsDescriptor: true, limits: .standard)
    }
}

/// A file's SHA-256, made on a thread of its own while the caller goes on (tally-parse reads and
/// checks rows meanwhile, and holds back the records that must name it). The thread owns the
/// file until it ends; `wait` hands over the result.
public final class FileDigest: @unchecked Sendable {
    private let file: InputFile
    private let done = DispatchSemaphore(value: 0)
    private let finished = Atomic<Bool>(false)
    // Written by the hashing thread before `finished` and `done`, read after them.
    private var result: Result<String, InputError>?

    fileprivate init(_ file: InputFile) {
        self.file = file
        startDetachedThread("the hashing thread") { [self] in
            result = Result { () throws(InputError) in try self.file.finishDigest() }
            finished.store(true, ordering: .releasing)
            done.signal()
        }
    }

    /// Whether `wait` would return at once.
    public var isReady: Bool { finished.load(ordering: .acquiring) }

    /// The lower-case hex SHA-256 of the file, once the thread has read it all.
    public func wait() throws(InputError) -> String {
        if !isReady {
            done.wait()
            done.signal() // for a later wait
        }
        return try result!.get()
    }
}

/// SHA-256 of bytes in memory.
public enum SHA256Digest {
    public static func of(_ bytes: [UInt8]) -> [UInt8] { Array(SHA256.hash(data: bytes)) }
}

public enum Hex {
    /// Encodes bytes as lower-case hex.
    public static func encode<S: Sequence>(_ bytes: S) -> String where S.Element == UInt8 {
        let out = ByteBuffer(capacity: 64)
        let array = Array(bytes)
        array.withUnsafeBytes { out.appendHex($0) }
        return out.string
    }

    /// Encodes a digest as lower-case hex.
    static func encode<D: Digest>(_ digest: D) -> String {
        digest.withUnsafeBytes { encode($0) }
    }
}
