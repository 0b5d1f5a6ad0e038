#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Splits an `InputFile` into lines, with their numbers and byte offsets, in bounded memory.
///
/// A line is handed out without its `\n` (and without a `\r` before it when `stripCarriageReturn`
/// is on). The bytes stay valid until the next call. A line longer than the input's
/// `maxLineBytes` is an error naming its line number, raised before the line is held whole.
public final class LineReader {
    private let input: InputFile
    private var buffer: UnsafeMutableRawPointer
    private var capacity: Int
    private var start = 0
    private var end = 0
    private var scanFrom = 0
    private var ended = false
    /// Decompressed offset of `buffer[0]`.
    private var baseOffset = 0
    private let stripCarriageReturn: Bool
    private let maxLineBytes: Int

    /// The 1-based number of the line last returned.
    public private(set) var lineNumber = 0
    /// The decompressed byte offset where the line last returned starts.
    public private(set) var lineOffset = 0

    public init(_ input: InputFile, bufferSize: Int = 1 << 20, stripCarriageReturn: Bool = true) {
        self.input = input
        self.maxLineBytes = input.limits.maxLineBytes
        self.capacity = max(min(bufferSize, input.limits.maxLineBytes + 2), 64)
        self.buffer = .allocate(byteCount: capacity, alignment: 16)
        self.stripCarriageReturn = stripCarriageReturn
    }

    deinit { buffer.deallocate() }

    /// The next line, or nil at the end of the input.
    public func next() throws(InputError) -> UnsafeRawBufferPointer? {
        while true {
            if scanFrom < end, let hit = memchr(buffer + scanFrom, 0x0A, end - scanFrom) {
                let newline = buffer.distance(to: hit)
                return try emit(lineEnd: newline, next: newline + 1)
            }
            scanFrom = end
            if end - start > maxLineBytes {
                throw InputError(.data, file: input.name, line: lineNumber + 1, "line longer than \(maxLineBytes) bytes")
            }
            if ended {
                if start < end { return try emit(lineEnd: end, next: end) }
                return nil
            }
            try fill()
        }
    }

    private func emit(lineEnd: Int, next: Int) throws(InputError) -> UnsafeRawBufferPointer {
        var stop = lineEnd
        if stripCarriageReturn, stop > start, buffer.load(fromByteOffset: stop - 1, as: UInt8.self) == 0x0D { stop -= 1 }
        if stop - start > maxLineBytes {
            throw InputError(.data, file: input.name, line: lineNumber + 1, "line longer than \(maxLineBytes) bytes")
        }
        let line = UnsafeRawBufferPointer(start: buffer + start, count: stop - start)
        lineNumber += 1
        lineOffset = baseOffset + start
        start = next
        scanFrom = next
        return line
    }

    private func fill() throws(InputError) {
        if start > 0 {
            let live = end - start
            if live > 0 { memmove(buffer, buffer + start, live) }
            baseOffset += start
            scanFrom -= start
            end = live
            start = 0
        }
        if end == capacity {
            let newCapacity = min(capacity * 2, maxLineBytes + 2)
            if newCapacity <= capacity {
                throw InputError(.data, file: input.name, line: lineNumber + 1, "line longer than \(maxLineBytes) bytes")
            }
            let grown = UnsafeMutableRawPointer.allocate(byteCount: newCapacity, alignment: 16)
            grown.copyMemory(from: buffer, byteCount: end)
            buffer.deallocate()
            buffer = grown
            capacity = newCapacity
        }
        let n = try input.read(into: buffer + end, count: capacity - end)
        if n == 0 { ended = true }
        end += n
    }
}
