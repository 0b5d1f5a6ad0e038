#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The sliding window over an input's decompressed bytes that the line and CSV readers share:
/// `buffer[start..<end]` is what is read but not consumed. It grows only as far as one line or
/// record needs, up to the input's bound, so memory stays bounded whatever the file's size.
struct ReadWindow {
    private(set) var buffer: UnsafeMutablePointer<UInt8>
    private(set) var capacity: Int
    var start = 0
    private(set) var end = 0
    private(set) var ended = false
    /// The decompressed offset of `buffer[0]`.
    private(set) var baseOffset = 0
    /// The longest span (line or record) allowed.
    let maxSpan: Int

    init(bufferSize: Int, maxSpan: Int) {
        self.maxSpan = maxSpan
        capacity = max(min(bufferSize, maxSpan + 2), 64)
        buffer = .allocate(capacity: capacity)
    }

    /// Frees the buffer; the owner calls it from its deinit.
    func deallocate() { buffer.deallocate() }

    /// Moves the unconsumed bytes to the front, grows the buffer if it is full, and reads more.
    /// Returns how far positions moved down, for the caller's own offsets.
    ///
    /// - Parameter tooLong: the error for a span that would outgrow `maxSpan`.
    mutating func fill(from input: InputFile, tooLong: () -> InputError) throws(InputError) -> Int {
        let shift = start
        if start > 0 {
            let live = end - start
            if live > 0 { memmove(buffer, buffer + start, live) }
            baseOffset += start
            end = live
            start = 0
        }
        if end == capacity {
            let newCapacity = min(capacity * 2, maxSpan + 2)
            if newCapacity <= capacity { throw tooLong() }
            let grown = UnsafeMutablePointer<UInt8>.allocate(capacity: newCapacity)
            grown.update(from: buffer, count: end)
            buffer.deallocate()
            buffer = grown
            capacity = newCapacity
        }
        let n = try input.read(into: buffer + end, count: capacity - end)
        if n == 0 { ended = true }
        end += n
        return shift
    }
}
