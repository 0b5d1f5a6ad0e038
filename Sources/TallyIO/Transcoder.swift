#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

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
    private var out: [UInt8] = []

    /// Makes a converter; nil if the C library does not know one of the encodings.
    public init?(from: String, to: String) {
        let h = iconv_open(to, from)
        guard let h, h != iconv_t(bitPattern: -1) else { return nil }
        handle = h
    }

    deinit { iconv_close(handle) }

    /// Converts all of `input`, returning the converted bytes.
    public func convert(_ input: UnsafeRawBufferPointer) throws(Invalid) -> [UInt8] {
        // Reset the shift state between independent inputs.
        iconv(handle, nil, nil, nil, nil)
        let capacity = input.count * 4 + 16
        if out.count < capacity { out = [UInt8](repeating: 0, count: capacity) }
        var failure: Int?
        let produced: Int = out.withUnsafeMutableBytes { outBytes in
            var inPtr = UnsafeMutablePointer(mutating: input.baseAddress?.assumingMemoryBound(to: CChar.self))
            var inLeft = input.count
            var outPtr: UnsafeMutablePointer<CChar>? = outBytes.baseAddress!.assumingMemoryBound(to: CChar.self)
            var outLeft = outBytes.count
            if input.count > 0 {
                let r = iconv(handle, &inPtr, &inLeft, &outPtr, &outLeft)
                if r == -1 { failure = input.count - inLeft }
            }
            return outBytes.count - outLeft
        }
        if let failure { throw Invalid(offset: failure) }
        return Array(out[0..<produced])
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
