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
    private var window: ReadWindow
    private var scanFrom = 0
    private let stripCarriageReturn: Bool

    /// The 1-based number of the line last returned.
    public private(set) var lineNumber = 0
    /// The decompressed byte offset where the line last returned starts.
    public private(set) var lineOffset = 0

    public init(_ input: InputFile, bufferSize: Int = 1 << 20, stripCarriageReturn: Bool = true) {
        self.input = input
        self.window = ReadWindow(bufferSize: bufferSize, maxSpan: input.limits.maxLineBytes)
        self.stripCarriageReturn = stripCarriageReturn
    }

    deinit { window.deallocate() }

    /// The next line, or nil at the end of the input.
    public func next() throws(InputError) -> UnsafeRawBufferPointer? {
        while true {
            if let line = try nextBuffered() { return line }
            if window.end - window.start > window.maxSpan { throw tooLong() }
            if window.ended {
                if window.start < window.end { return try emit(lineEnd: window.end, next: window.end) }
                return nil
            }
            scanFrom -= try window.fill(from: input, tooLong: tooLong)
        }
    }

    /// The next line if it is already read whole, or nil (at the end of the input too) when
    /// `next()` would have to read more. Unlike `next()`, it never moves or reuses the bytes of
    /// lines handed out before: a caller that holds on to several lines calls this until nil,
    /// finishes with the lines it holds, then calls `next()`.
    @inline(__always)
    public func nextBuffered() throws(InputError) -> UnsafeRawBufferPointer? {
        let buffer = window.buffer
        if scanFrom < window.end, let hit = memchr(buffer + scanFrom, 0x0A, window.end - scanFrom) {
            let newline = buffer.distance(to: hit.assumingMemoryBound(to: UInt8.self))
            return try emit(lineEnd: newline, next: newline + 1)
        }
        scanFrom = window.end
        return nil
    }

    private func tooLong() -> InputError {
        InputError(.data, file: input.name, line: lineNumber + 1, "line longer than \(window.maxSpan) bytes")
    }

    private func emit(lineEnd: Int, next: Int) throws(InputError) -> UnsafeRawBufferPointer {
        let start = window.start
        var stop = lineEnd
        if stripCarriageReturn, stop > start, window.buffer[stop - 1] == 0x0D { stop -= 1 }
        if stop - start > window.maxSpan { throw tooLong() }
        let line = UnsafeRawBufferPointer(start: window.buffer + start, count: stop - start)
        lineNumber += 1
        lineOffset = window.baseOffset + start
        window.start = next
        scanFrom = next
        return line
    }
}
