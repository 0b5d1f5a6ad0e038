internal import CZlib

/// Streams the decompressed bytes of a gzip stream, every member of a multi-member file included.
///
/// zlib's status codes become `InputError`s here: a stream that ends inside a member is
/// "truncated", a bad header or checksum is "corrupt", and bytes after the last member that do not
/// begin another member are refused rather than ignored.
final class GzipInflater {
    private var stream = z_stream()
    private let input: UnsafeMutablePointer<UInt8>
    private let inputCapacity: Int
    private var inputEnded = false
    private var memberEnded = false
    private let file: String
    /// Compressed bytes consumed so far, for the ratio bound.
    private(set) var consumed: Int = 0
    /// Number of members begun.
    private(set) var members = 0

    /// - Parameter pull: fills a buffer with raw bytes, returning 0 at end of input.
    private let pull: (UnsafeMutableRawPointer, Int) throws(InputError) -> Int

    init(file: String, inputCapacity: Int = 1 << 18,
         pull: @escaping (UnsafeMutableRawPointer, Int) throws(InputError) -> Int) throws(InputError) {
        self.file = file
        self.pull = pull
        self.inputCapacity = inputCapacity
        input = .allocate(capacity: inputCapacity)
        // 15 + 16: a 32 KiB window, gzip wrapper only (the caller saw the magic bytes).
        let status = czlib_inflate_init2(&stream, 15 + 16)
        guard status == Z_OK else {
            input.deallocate()
            throw InputError(.io, file: file, "cannot start zlib (status \(status))")
        }
        members = 1
    }

    deinit {
        inflateEnd(&stream)
        input.deallocate()
    }

    private func refill() throws(InputError) {
        let n = try pull(input, inputCapacity)
        if n == 0 { inputEnded = true }
        stream.next_in = input
        stream.avail_in = UInt32(n)
    }

    /// An error found after some bytes of a read were produced: those bytes are handed out
    /// first, and the error is raised on the next read, so nothing before a fault is lost and
    /// nothing after it is invented.
    private var pendingError: InputError?

    /// Fills `buffer` with decompressed bytes; returns 0 only at the end of the last member.
    func read(into buffer: UnsafeMutableRawPointer, count: Int) throws(InputError) -> Int {
        if let pendingError { throw pendingError }
        do {
            return try inflateInto(buffer, count: count)
        } catch {
            let produced = count - Int(stream.avail_out)
            if produced > 0 {
                pendingError = error
                return produced
            }
            throw error
        }
    }

    private func inflateInto(_ buffer: UnsafeMutableRawPointer, count: Int) throws(InputError) -> Int {
        stream.next_out = buffer.assumingMemoryBound(to: UInt8.self)
        stream.avail_out = UInt32(min(count, Int(UInt32.max)))
        while stream.avail_out > 0 {
            if memberEnded {
                // After a member: more bytes must start another member; none means the end.
                if stream.avail_in == 0 && !inputEnded { try refill() }
                if stream.avail_in == 0 { break }
                guard stream.next_in.pointee == 0x1F else {
                    throw InputError(.data, file: file, "trailing bytes after the last gzip member are not a gzip member")
                }
                inflateReset(&stream)
                memberEnded = false
                members += 1
            }
            if stream.avail_in == 0 {
                if inputEnded {
                    throw InputError(.data, file: file, "truncated gzip stream (ends inside member \(members))")
                }
                try refill()
                if stream.avail_in == 0 {
                    throw InputError(.data, file: file, "truncated gzip stream (ends inside member \(members))")
                }
            }
            let before = stream.avail_in
            let status = inflate(&stream, Z_NO_FLUSH)
            consumed += Int(before - stream.avail_in)
            switch status {
            case Z_OK:
                continue
            case Z_STREAM_END:
                memberEnded = true
            case Z_BUF_ERROR:
                // No progress possible with what we have: loop to refill (or report truncation).
                if stream.avail_in > 0 { throw InputError(.data, file: file, "corrupt gzip stream (no progress)") }
            case Z_DATA_ERROR:
                let detail = stream.msg.map { String(cString: $0) } ?? "invalid data"
                throw InputError(.data, file: file, "corrupt gzip stream in member \(members): \(detail)")
            case Z_MEM_ERROR:
                throw InputError(.io, file: file, "out of memory while decompressing")
            default:
                throw InputError(.data, file: file, "corrupt gzip stream (zlib status \(status))")
            }
        }
        return count - Int(stream.avail_out)
    }
}
