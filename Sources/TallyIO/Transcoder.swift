#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import TallyCore
import CTally

/// Converts text between UTF-8 and a legacy encoding (GB18030) through the C library's iconv.
///
/// Feeds from older agencies arrive in GB18030; records are UTF-8. A byte sequence that is not
/// valid in the source encoding is reported, never replaced.
public final class Transcoder {
    /// A conversion failure: the input is not valid in the source encoding (or not representable).
    public struct Invalid: Error, Equatable, Sendable {
        /// Byte offset in the input where conversion stopped.
        public var offset: Int
    }

    private let handle: iconv_t

    /// Makes a converter; nil if the C library does not know one of the encodings.
    public init?(from: String, to: String) {
        let h = iconv_open(to, from)
        guard let h, h != iconv_t(bitPattern: -1) else { return nil }
        handle = h
    }

    deinit { iconv_close(handle) }

    /// Converts all of `input`, returning the converted bytes.
    public func convert(_ input: UnsafeRawBufferPointer) throws(Invalid) -> [UInt8] {
        let out = ByteBuffer(capacity: input.count * 4 + 16)
        try convert(input, appendingTo: out)
        return out.bytes
    }

    /// Converts all of `input`, appending the converted bytes to `output` (some of them, when it
    /// throws). The CSV reader converts a GB18030 row's cells this way, one after the other into
    /// one buffer: an array for each cell and for the row took a quarter of the reading thread
    /// in allocations (perf).
    public func convert(_ input: UnsafeRawBufferPointer, appendingTo output: ByteBuffer) throws(Invalid) {
        // Reset the shift state between independent inputs.
        iconv(handle, nil, nil, nil, nil)
        guard input.count > 0 else { return }
        var failure: Int?
        output.append(atMost: input.count * 4 + 16) { outBytes in
            var inPtr = UnsafeMutablePointer(mutating: input.baseAddress?.assumingMemoryBound(to: CChar.self))
            var inLeft = input.count
            var outPtr: UnsafeMutablePointer<CChar>? = outBytes.baseAddress!.assumingMemoryBound(to: CChar.self)
            var outLeft = outBytes.count
            if iconv(handle, &inPtr, &inLeft, &outPtr, &outLeft) == -1 { failure = input.count - inLeft }
            return outBytes.count - outLeft
        }
        if let failure { throw Invalid(offset: failure) }
    }

    /// Converts a Swift string (UTF-8) with a UTF-8 → X transcoder.
    public func convert(_ text: String) throws(Invalid) -> [UInt8] {
        var text = text
        let result: Result<[UInt8], Invalid> = text.withUTF8 { u in
            do throws(Invalid) { return .success(try convert(UnsafeRawBufferPointer(u))) } catch { return .failure(error) }
        }
        return try result.get()
    }
}

/// Converts GB18030 cells to UTF-8: most text through a table of the two-byte codes
/// (`tally_gb18030_decode`), the rest through iconv, with the same result either way.
///
/// The table is iconv's own answer for each of the 23,940 two-byte codes, asked once per
/// process, so the two ways cannot disagree: GB18030 has no shift state, and text made only of
/// ASCII and codes in the table converts character by character. Anything else (a four-byte code,
/// an invalid or cut sequence) goes to iconv whole, which also gives the offset of a fault. Cell
/// by cell through iconv, gconv was 13% of parsing the wide export in GB18030 (perf).
public final class GB18030Decoder {
    /// iconv itself, for what the table does not speak for.
    let iconv: Transcoder
    /// `twoByteCodes`, for `tally_gb18030_decode` and `tally_gb18030_cells`.
    let two: UnsafePointer<UInt32>

    /// Nil when the C library has no GB18030 converter.
    public init?() {
        guard let iconv = Transcoder(from: "GB18030", to: "UTF-8"), let two = GB18030Decoder.twoByteCodes else { return nil }
        self.iconv = iconv
        self.two = two
    }

    /// The two-byte table, made once: 126 leads (0x81–0xFE) by 192 trails (0x40–0xFF), each the
    /// code's UTF-8 bytes packed from the low byte up, 0 where iconv rejects the code.
    /// (Read-only once made, so shared by every thread.)
    nonisolated(unsafe) static let twoByteCodes: UnsafePointer<UInt32>? = {
        guard let iconv = Transcoder(from: "GB18030", to: "UTF-8") else { return nil }
        let codes = Int(TALLY_GB18030_CODES)
        let table = UnsafeMutablePointer<UInt32>.allocate(capacity: codes)
        table.initialize(repeating: 0, count: codes)
        let out = ByteBuffer(capacity: 16)
        for lead in 0x81...0xFE {
            for trail in 0x40...0xFF {
                let code = [UInt8(lead), UInt8(trail)]
                out.removeAll()
                let converted: Bool = code.withUnsafeBytes { bytes in
                    do throws(Transcoder.Invalid) {
                        try iconv.convert(bytes, appendingTo: out)
                        return true
                    } catch { return false }
                }
                guard converted, (2...4).contains(out.count) else { continue }
                var packed: UInt32 = 0
                for (i, b) in out.contents.enumerated() { packed |= UInt32(b) << (8 * i) }
                table[(lead - 0x81) * 192 + (trail - 0x40)] = packed
            }
        }
        return UnsafePointer(table)
    }()

    /// What the table alone makes of `input`: its UTF-8, or nil where it leaves the text to iconv
    /// (for the tests, which hold the two ways against each other).
    func tableConversion(_ input: [UInt8]) -> [UInt8]? {
        var out = [UInt8](repeating: 0, count: 2 * input.count + 16)
        let n = input.withUnsafeBufferPointer { i in
            out.withUnsafeMutableBufferPointer { o in tally_gb18030_decode(i.baseAddress, i.count, o.baseAddress!, two) }
        }
        return n < 0 ? nil : Array(out[0..<n])
    }

    /// Converts `input` (GB18030), appending its UTF-8 to `output`; throws where iconv would.
    public func convert(_ input: UnsafeRawBufferPointer, appendingTo output: ByteBuffer) throws(Transcoder.Invalid) {
        guard let p = input.baseAddress, input.count > 0 else { return }
        var done = false
        output.append(atMost: 2 * input.count + 4) { room in
            let n = tally_gb18030_decode(p.assumingMemoryBound(to: UInt8.self), input.count,
                                         room.baseAddress!.assumingMemoryBound(to: UInt8.self), two)
            done = n >= 0
            return max(n, 0)
        }
        if !done { try iconv.convert(input, appendingTo: output) }
    }
}
