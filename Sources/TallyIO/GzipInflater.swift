internal import CZlib
internal import CIsal

/// Which library inflates gzip input. Both read the same streams and refuse the same faults;
/// ISA-L does it about five times faster on this project's feeds (BENCHMARKS.md, "Input
/// layer"), so it is the default. zlib stays as the fallback: `TALLY_INFLATE=zlib` in the
/// environment selects it for every stage, and the tests run every gzip fixture through both.
public enum InflateEngine: String, Sendable, CaseIterable {
    case isal
    case zlib

    /// The engine `TALLY_INFLATE` names, or ISA-L when it names none. An unknown name is
    /// refused by `InputFile.open`, not quietly replaced.
    public static func fromEnvironment() throws(InputError) -> InflateEngine {
        guard let raw = getenvString("TALLY_INFLATE"), !raw.isEmpty else { return .isal }
        guard let engine = InflateEngine(rawValue: raw) else {
            throw InputError(.config, file: "TALLY_INFLATE", "names no inflate engine: \(raw) (isal or zlib)")
        }
        return engine
    }
}

/// What one call into an engine came to.
enum InflateStep {
    /// Progress was made, or more input is needed; the member goes on.
    case going
    /// The member's trailer was read and checked.
    case memberEnded
    /// The engine could make no progress with the input it had.
    case stalled
    case corrupt(String)
    case outOfMemory
}

/// One deflate library behind the member framing `GzipInflater` keeps: it inflates one gzip
/// member (header, deflate data, CRC-32 and length trailer) from `nextIn` into `nextOut`.
protocol InflateCore: AnyObject {
    var nextIn: UnsafeMutablePointer<UInt8>? { get set }
    var availIn: Int { get set }
    var nextOut: UnsafeMutablePointer<UInt8>? { get set }
    var availOut: Int { get set }
    func step() -> InflateStep
    /// Makes ready for the next member, keeping the unread input.
    func reset()
}

final class ZlibCore: InflateCore {
    private var stream = z_stream()

    init(file: String) throws(InputError) {
        // 15 + 16: a 32 KiB window, gzip wrapper only (the caller saw the magic bytes).
        let status = czlib_inflate_init2(&stream, 15 + 16)
        guard status == Z_OK else { throw InputError(.io, file: file, "cannot start zlib (status \(status))") }
    }

    deinit { inflateEnd(&stream) }

    var nextIn: UnsafeMutablePointer<UInt8>? { get { stream.next_in } set { stream.next_in = newValue } }
    var availIn: Int { get { Int(stream.avail_in) } set { stream.avail_in = UInt32(newValue) } }
    var nextOut: UnsafeMutablePointer<UInt8>? { get { stream.next_out } set { stream.next_out = newValue } }
    var availOut: Int { get { Int(stream.avail_out) } set { stream.avail_out = UInt32(newValue) } }

    func step() -> InflateStep {
        switch inflate(&stream, Z_NO_FLUSH) {
        case Z_OK: return .going
        case Z_STREAM_END: return .memberEnded
        // No progress possible with what we have: with input left, the stream is at fault.
        case Z_BUF_ERROR: return stream.avail_in > 0 ? .stalled : .going
        case Z_DATA_ERROR: return .corrupt(stream.msg.map { String(cString: $0) } ?? "invalid data")
        case Z_MEM_ERROR: return .outOfMemory
        case let status: return .corrupt("zlib status \(status)")
        }
    }

    func reset() { inflateReset(&stream) }
}

final class IsalCore: InflateCore {
    /// About 40 KiB of tables and history: on the heap, once.
    private let state = UnsafeMutablePointer<inflate_state>.allocate(capacity: 1)
    private var header = GzipHeader()

    init() {
        isal_inflate_init(state)
        state.pointee.crc_flag = UInt32(ISAL_GZIP_NO_HDR_VER)
    }

    deinit { state.deallocate() }

    var nextIn: UnsafeMutablePointer<UInt8>? { get { state.pointee.next_in } set { state.pointee.next_in = newValue } }
    var availIn: Int { get { Int(state.pointee.avail_in) } set { state.pointee.avail_in = UInt32(newValue) } }
    var nextOut: UnsafeMutablePointer<UInt8>? { get { state.pointee.next_out } set { state.pointee.next_out = newValue } }
    var availOut: Int { get { Int(state.pointee.avail_out) } set { state.pointee.avail_out = UInt32(newValue) } }

    func step() -> InflateStep {
        if !header.done {
            // The member's header is read here, not by ISA-L: its own reader fails a header CRC
            // that arrives split across two reads, and never looks at the reserved flags.
            let n = state.pointee.avail_in
            let taken: Int
            do { taken = try header.feed(state.pointee.next_in, Int(n)) } catch { return .corrupt(error.detail) }
            state.pointee.next_in += taken
            state.pointee.avail_in -= UInt32(taken)
            if !header.done || state.pointee.avail_in == 0 { return .going }
        }
        let inBefore = state.pointee.avail_in, outBefore = state.pointee.avail_out
        let status = isal_inflate(state)
        switch status {
        case ISAL_DECOMP_OK, ISAL_END_INPUT, ISAL_OUT_OVERFLOW:
            if state.pointee.block_state == ISAL_BLOCK_FINISH { return .memberEnded }
            // ISA-L reports no stall of its own: input left, room left, nothing moved.
            if inBefore > 0 && state.pointee.avail_in == inBefore && state.pointee.avail_out == outBefore && outBefore > 0 {
                return .stalled
            }
            return .going
        case ISAL_INVALID_BLOCK: return .corrupt("invalid deflate block")
        case ISAL_INVALID_SYMBOL: return .corrupt("invalid deflate symbol")
        case ISAL_INVALID_LOOKBACK: return .corrupt("invalid distance too far back")
        case ISAL_INVALID_WRAPPER: return .corrupt("invalid gzip header")
        case ISAL_UNSUPPORTED_METHOD: return .corrupt("unknown compression method")
        case ISAL_INCORRECT_CHECKSUM: return .corrupt("incorrect data check")
        case ISAL_NEED_DICT: return .corrupt("a preset dictionary is needed")
        default: return .corrupt("ISA-L status \(status)")
        }
    }

    func reset() {
        // Reset forgets the input pointers with the rest of the state; the unread bytes after
        // the member are given back.
        let next = state.pointee.next_in, avail = state.pointee.avail_in
        isal_inflate_reset(state)
        header = GzipHeader()
        state.pointee.crc_flag = UInt32(ISAL_GZIP_NO_HDR_VER)
        state.pointee.next_in = next
        state.pointee.avail_in = avail
    }
}

/// A gzip member's header (RFC 1952), read as its bytes arrive, in pieces of any size: the
/// fixed ten bytes, then the optional extra field, name, comment and header CRC its flags name.
struct GzipHeader {
    struct Fault: Error { var detail: String }

    private enum Part { case fixed, extraLength, extra, name, comment, crc, done }
    private var part = Part.fixed
    private var flags: UInt8 = 0
    /// Bytes still wanted for the part (fixed, extra length, extra, header CRC).
    private var wanted = 10
    private var taken = 0
    private var extraLength = 0
    private var storedCRC = 0
    /// CRC-32 of the header's bytes before the header CRC.
    private var crc = UInt(czlib_crc32_start())

    var done: Bool { part == .done }

    /// Takes header bytes from `bytes`; returns how many it took (all of them, unless the header
    /// ends inside them).
    mutating func feed(_ bytes: UnsafeMutablePointer<UInt8>, _ count: Int) throws(Fault) -> Int {
        var i = 0
        while i < count && part != .done {
            let byte = bytes[i]
            i += 1
            if part != .crc { crc = UInt(czlib_crc32_byte(crc, byte)) }
            switch part {
            case .fixed:
                switch taken {
                case 0 where byte != 0x1F, 1 where byte != 0x8B: throw Fault(detail: "incorrect header check")
                case 2 where byte != 8: throw Fault(detail: "unknown compression method")
                case 3:
                    guard byte & 0xE0 == 0 else { throw Fault(detail: "unknown header flags set") }
                    flags = byte
                default: break
                }
                taken += 1
                if taken == 10 { advance(from: .fixed) }
            case .extraLength:
                extraLength |= Int(byte) << (8 * (2 - wanted))
                wanted -= 1
                if wanted == 0 {
                    wanted = extraLength
                    part = .extra
                    if wanted == 0 { advance(from: .extra) }
                }
            case .extra:
                wanted -= 1
                if wanted == 0 { advance(from: .extra) }
            case .name:
                if byte == 0 { advance(from: .name) }
            case .comment:
                if byte == 0 { advance(from: .comment) }
            case .crc:
                storedCRC |= Int(byte) << (8 * (2 - wanted))
                wanted -= 1
                if wanted == 0 {
                    guard storedCRC == Int(crc & 0xFFFF) else { throw Fault(detail: "header crc mismatch") }
                    part = .done
                }
            case .done: break
            }
        }
        return i
    }

    /// Moves past `finished` to the next part the flags name.
    private mutating func advance(from finished: Part) {
        let order: [(Part, UInt8)] = [(.extraLength, 0x04), (.name, 0x08), (.comment, 0x10), (.crc, 0x02)]
        let start: Int
        switch finished {
        case .fixed: start = 0
        case .extraLength, .extra: start = 1
        case .name: start = 2
        case .comment: start = 3
        case .crc, .done: start = 4
        }
        for (next, flag) in order[start...] where flags & flag != 0 {
            part = next
            wanted = next == .extraLength || next == .crc ? 2 : 0
            return
        }
        part = .done
    }
}

/// Streams the decompressed bytes of a gzip stream, every member of a multi-member file included.
///
/// The engines' status codes become `InputError`s here, the same for both: a stream that ends
/// inside a member is "truncated", a bad header or checksum is "corrupt", and bytes after the
/// last member that do not begin another member are refused rather than ignored.
final class GzipInflater {
    private let core: any InflateCore
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

    init(file: String, engine: InflateEngine, inputCapacity: Int = 1 << 18,
         pull: @escaping (UnsafeMutableRawPointer, Int) throws(InputError) -> Int) throws(InputError) {
        self.file = file
        self.pull = pull
        self.inputCapacity = inputCapacity
        switch engine {
        case .zlib: core = try ZlibCore(file: file)
        case .isal: core = IsalCore()
        }
        input = .allocate(capacity: inputCapacity)
        core.availIn = 0
        members = 1
    }

    deinit { input.deallocate() }

    private func refill() throws(InputError) {
        let n = try pull(input, inputCapacity)
        if n == 0 { inputEnded = true }
        core.nextIn = input
        core.availIn = n
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
            let produced = count - core.availOut
            if produced > 0 {
                pendingError = error
                return produced
            }
            throw error
        }
    }

    private func truncated() -> InputError {
        InputError(.data, file: file, "truncated gzip stream (ends inside member \(members))")
    }

    private func inflateInto(_ buffer: UnsafeMutableRawPointer, count: Int) throws(InputError) -> Int {
        core.nextOut = buffer.assumingMemoryBound(to: UInt8.self)
        core.availOut = min(count, Int(UInt32.max))
        while core.availOut > 0 {
            if memberEnded {
                // After a member: more bytes must start another member; none means the end.
                if core.availIn == 0 && !inputEnded { try refill() }
                if core.availIn == 0 { break }
                guard core.nextIn!.pointee == 0x1F else {
                    throw InputError(.data, file: file, "trailing bytes after the last gzip member are not a gzip member")
                }
                core.reset()
                memberEnded = false
                members += 1
            }
            if core.availIn == 0 {
                if inputEnded { throw truncated() }
                try refill()
                if core.availIn == 0 { throw truncated() }
            }
            let before = core.availIn
            let step = core.step()
            consumed += before - core.availIn
            switch step {
            case .going: continue
            case .memberEnded: memberEnded = true
            case .stalled: throw InputError(.data, file: file, "corrupt gzip stream (no progress)")
            case .corrupt(let detail): throw InputError(.data, file: file, "corrupt gzip stream in member \(members): \(detail)")
            case .outOfMemory: throw InputError(.io, file: file, "out of memory while decompressing")
            }
        }
        return count - core.availOut
    }
}
