#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import TallyCore
internal import CZlib

/// Why output could not be written.
public enum OutputError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The reader went away (`| head`): the stage should end quietly with status 0.
    case brokenPipe
    /// Any other write or open failure (exit 74).
    case io(String)

    public var description: String {
        switch self {
        case .brokenPipe: return "broken pipe"
        case let .io(message): return message
        }
    }
}

/// A buffered writer to a descriptor: stages append encoded lines to `buffer` and call
/// `flushIfFull()` after each; a broken pipe surfaces as `OutputError.brokenPipe`.
public final class OutputSink {
    /// Where lines are built; its bytes are written on flush.
    public let buffer: ByteBuffer
    private let fd: Int32
    private let name: String
    private let ownsDescriptor: Bool
    private let threshold: Int
    private var deflater: GzipDeflater?

    /// A sink for standard output.
    public static func standardOutput(threshold: Int = 1 << 18) -> OutputSink {
        OutputSink(fd: 1, name: "stdout", ownsDescriptor: false, threshold: threshold, gzip: false)
    }

    /// Creates (or truncates) `path` with `mode`; with `gzip`, writes one gzip member at
    /// compression `level` (1 fastest to 9 smallest).
    public static func create(_ path: String, mode: UInt32 = 0o644, gzip: Bool = false, level: Int32 = 6, threshold: Int = 1 << 18) throws(OutputError) -> OutputSink {
        let fd = POSIX.open(path, flags: O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode: mode_t(mode))
        guard fd >= 0 else { throw .io("\(path): cannot create: \(POSIX.errorText(errno))") }
        return OutputSink(fd: fd, name: path, ownsDescriptor: true, threshold: threshold, gzip: gzip, level: level)
    }

    private init(fd: Int32, name: String, ownsDescriptor: Bool, threshold: Int, gzip: Bool, level: Int32 = 6) {
        self.fd = fd
        self.name = name
        self.ownsDescriptor = ownsDescriptor
        self.threshold = threshold
        self.buffer = ByteBuffer(capacity: threshold + (1 << 16))
        if gzip { deflater = GzipDeflater(level: level) }
    }

    deinit { if ownsDescriptor { close(fd) } }

    /// Whether the buffer has grown past the threshold, where `flushIfFull` writes it.
    @inline(__always)
    public var isFull: Bool { buffer.count >= threshold }

    /// Writes the buffer out when it has grown past the threshold.
    @inline(__always)
    public func flushIfFull() throws(OutputError) {
        if buffer.count >= threshold { try flush() }
    }

    /// Buffers `line` and a newline, writing the buffer out when it has grown past the threshold.
    @inline(__always)
    public func putLine(_ line: UnsafeRawBufferPointer) throws(OutputError) {
        buffer.append(line)
        buffer.append(UInt8(ascii: "\n"))
        try flushIfFull()
    }

    /// Writes everything buffered.
    public func flush() throws(OutputError) {
        guard buffer.count > 0 else { return }
        try emit(buffer.contents)
        buffer.removeAll()
    }

    /// Writes what is buffered, then the bytes of `other` (a buffer made on another thread).
    public func put(_ other: ByteBuffer) throws(OutputError) {
        try flush()
        if other.count > 0 { try emit(other.contents) }
    }

    /// Bytes out, through the gzip member if there is one.
    private func emit(_ bytes: UnsafeRawBufferPointer) throws(OutputError) {
        if let deflater {
            try deflater.compress(bytes, finish: false) { (chunk) throws(OutputError) in try writeAll(chunk) }
        } else {
            try writeAll(bytes)
        }
    }

    /// Flushes, ends the gzip member if any, and closes a file the sink created.
    public func finish() throws(OutputError) {
        try flush()
        if let deflater {
            try deflater.compress(UnsafeRawBufferPointer(start: nil, count: 0), finish: true) { (chunk) throws(OutputError) in try writeAll(chunk) }
            self.deflater = nil
        }
    }

    private func writeAll(_ bytes: UnsafeRawBufferPointer) throws(OutputError) {
        guard var p = bytes.baseAddress else { return }
        var left = bytes.count
        while left > 0 {
            let n = write(fd, p, left)
            if n < 0 {
                if errno == EINTR { continue }
                if errno == EPIPE { throw .brokenPipe }
                throw .io("\(name): write failed: \(POSIX.errorText(errno))")
            }
            p += n
            left -= n
        }
    }
}

/// Compresses into a single gzip member (used by tally-synth and tests).
final class GzipDeflater {
    private var stream = z_stream()
    private let out: UnsafeMutablePointer<UInt8>
    private let outCapacity = 1 << 18

    init(level: Int32 = 6) {
        out = .allocate(capacity: outCapacity)
        let status = czlib_deflate_init2(&stream, level, 15 + 16)
        precondition(status == Z_OK, "deflateInit2 failed: \(status)")
    }

    deinit {
        deflateEnd(&stream)
        out.deallocate()
    }

    func compress(_ bytes: UnsafeRawBufferPointer, finish: Bool, emit: (UnsafeRawBufferPointer) throws(OutputError) -> Void) throws(OutputError) {
        stream.next_in = UnsafeMutablePointer(mutating: bytes.baseAddress?.assumingMemoryBound(to: UInt8.self))
        stream.avail_in = UInt32(bytes.count)
        while true {
            stream.next_out = out
            stream.avail_out = UInt32(outCapacity)
            let status = deflate(&stream, finish ? Z_FINISH : Z_NO_FLUSH)
            guard status == Z_OK || status == Z_STREAM_END || status == Z_BUF_ERROR else {
                throw .io("deflate failed (zlib status \(status))")
            }
            let produced = outCapacity - Int(stream.avail_out)
            if produced > 0 { try emit(UnsafeRawBufferPointer(start: out, count: produced)) }
            if finish { if status == Z_STREAM_END { return } } else if stream.avail_in == 0 && stream.avail_out > 0 { return }
        }
    }
}
