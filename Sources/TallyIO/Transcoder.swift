#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import TallyCore

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
