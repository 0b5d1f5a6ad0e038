#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The byte helpers every hot path shares, in one place: comparing runs of bytes, testing eight
/// ASCII bytes at a time as one little-endian word, and hex digits both ways. (Hex digits of ids
/// and keys are also checked sixteen bytes a step with SSE2: `tally_lower_hex32` in CTally, and
/// written by `tally_hex` through `ByteBuffer.appendHex`.)
///
/// PERF: a byte loop with a branch per byte was most of the record rules' cost (callgrind).
/// Each word test holds for any word: bytes at or above 0x80 never pass.
public enum Bytes {
    /// 0x01 in every byte, and 0x80 in every byte.
    public static let ones: UInt64 = 0x0101_0101_0101_0101
    public static let highs: UInt64 = 0x8080_8080_8080_8080

    /// The high bit of each zero byte of `x` is set (and, above the first zero byte, perhaps of
    /// others: a borrow spills upwards), so the lowest set bit marks the first zero byte exactly.
    @inline(__always)
    public static func zeroBytes(_ x: UInt64) -> UInt64 { (x &- ones) & ~x & highs }

    /// `zeroBytes` of the bytes equal to `byte`: the lowest set bit marks the first.
    @inline(__always)
    public static func bytes(_ x: UInt64, equalTo byte: UInt8) -> UInt64 { zeroBytes(x ^ (ones &* UInt64(byte))) }

    /// Whether all eight bytes are ASCII (below 0x80).
    @inline(__always)
    public static func isASCII(_ x: UInt64) -> Bool { x & highs == 0 }

    /// Whether all eight bytes are ASCII digits. A byte below '0' borrows into its high bit, one
    /// above '9' carries into it; the lowest bad byte is always caught exactly, whatever it does
    /// to the bytes above it.
    @inline(__always)
    public static func eightDigits(_ x: UInt64) -> Bool {
        ((x &- 0x3030_3030_3030_3030) | (x &+ 0x4646_4646_4646_4646) | x) & highs == 0
    }

    /// Whether the `count` bytes at `p` are ASCII digits (eight at a time, then one by one).
    @inline(__always)
    public static func digits(_ p: UnsafeRawPointer, count: Int) -> Bool {
        var i = 0
        while i &+ 8 <= count {
            guard eightDigits(p.loadUnaligned(fromByteOffset: i, as: UInt64.self)) else { return false }
            i &+= 8
        }
        while i < count {
            guard p.load(fromByteOffset: i, as: UInt8.self) &- 0x30 < 10 else { return false }
            i &+= 1
        }
        return true
    }

    /// Eight ASCII hex digits, lower-case (the first in the lowest byte), as a 32-bit number;
    /// nil when any byte is not one.
    @inline(__always)
    public static func hex8(_ x: UInt64) -> UInt64? {
        guard x & highs == 0 else { return nil }
        // For bytes below 0x80, each sum or difference stays inside its byte: a high bit says
        // byte >= lower bound, or byte <= upper bound.
        @inline(__always) func atLeast(_ a: UInt64) -> UInt64 { (x &+ ones &* (0x80 - a)) & highs }
        @inline(__always) func atMost(_ z: UInt64) -> UInt64 { (ones &* (0x80 + z) &- x) & highs }
        let digit = atLeast(0x30) & atMost(0x39), letter = atLeast(0x61) & atMost(0x66)
        guard digit | letter == highs else { return nil }
        var t = (x & (ones &* 0x0F)) &+ (letter >> 7) &* 9
        t = (t << 4 | t >> 8) & 0x00FF_00FF_00FF_00FF
        t = (t << 8 | t >> 16) & 0x0000_FFFF_0000_FFFF
        t = (t << 16 | t >> 32) & 0xFFFF_FFFF
        return t
    }

    /// Writes `v` as 16 lower-case hex digits, most significant first.
    @inline(__always)
    public static func writeHex16(_ v: UInt64, to out: UnsafeMutablePointer<UInt8>) {
        let digits: StaticString = "0123456789abcdef"
        for i in 0..<16 { out[i] = digits.utf8Start[Int((v >> UInt64(60 - 4 * i)) & 0xF)] }
    }

    /// The value of one hex digit of either case (a code point, so text and bytes can ask), or
    /// nil when it is not one: JSON's `\u` escapes and the patterns' `\x` and `\u`.
    @inline(__always)
    public static func hexValue(_ c: UInt32) -> UInt32? {
        switch c {
        case 0x30...0x39: return c - 0x30
        case 0x41...0x46: return c - 0x41 + 10
        case 0x61...0x66: return c - 0x61 + 10
        default: return nil
        }
    }

    /// Appends `b` as two upper-case hex digits (the `\xHH` of inert text).
    public static func appendUpperHex(_ b: UInt8, to out: inout [UInt8]) {
        let digits: StaticString = "0123456789ABCDEF"
        out.append(digits.utf8Start[Int(b >> 4)])
        out.append(digits.utf8Start[Int(b & 15)])
    }
}

/// Whether `n` bytes at `a` and `b` are the same: words, the last one overlapping the one before
/// it rather than a byte loop for the tail (most literals and cached values are not a multiple
/// of eight bytes long), never reading outside the `n` bytes.
@inline(__always)
func memcmpEqual(_ a: UnsafePointer<UInt8>, _ b: UnsafePointer<UInt8>, _ n: Int) -> Bool {
    let x = UnsafeRawPointer(a), y = UnsafeRawPointer(b)
    if n >= 8 {
        var i = 0
        while i &+ 8 < n {
            if x.loadUnaligned(fromByteOffset: i, as: UInt64.self) != y.loadUnaligned(fromByteOffset: i, as: UInt64.self) { return false }
            i &+= 8
        }
        return x.loadUnaligned(fromByteOffset: n &- 8, as: UInt64.self) == y.loadUnaligned(fromByteOffset: n &- 8, as: UInt64.self)
    }
    if n >= 4 {
        return x.loadUnaligned(as: UInt32.self) == y.loadUnaligned(as: UInt32.self)
            && x.loadUnaligned(fromByteOffset: n &- 4, as: UInt32.self) == y.loadUnaligned(fromByteOffset: n &- 4, as: UInt32.self)
    }
    if n >= 2 {
        return x.loadUnaligned(as: UInt16.self) == y.loadUnaligned(as: UInt16.self)
            && x.loadUnaligned(fromByteOffset: n &- 2, as: UInt16.self) == y.loadUnaligned(fromByteOffset: n &- 2, as: UInt16.self)
    }
    return n == 0 || a[0] == b[0]
}

extension UnsafeRawBufferPointer {
    /// Whether these bytes spell `literal` (used to match JSON keys without making Strings).
    @inline(__always)
    public func equals(_ literal: StaticString) -> Bool {
        count == literal.utf8CodeUnitCount
            && (count == 0 || memcmpEqual(baseAddress!.assumingMemoryBound(to: UInt8.self), literal.utf8Start, count))
    }

    /// The bytes as text, for messages.
    public var text: String { String(decoding: self, as: UTF8.self) }
}

extension UnsafeRawBufferPointer {
    /// Whether these bytes spell `string`. (Labelled, so that a literal picks the StaticString
    /// `equals(_:)`: with the same signature Swift chose this one for literals, and copied a
    /// String for every identifier tally-link compared with "cn-rid" (perf: 1.2% of linking).)
    public func equals(text string: String) -> Bool {
        var s = string
        return s.withUTF8 { u in u.count == count && (u.isEmpty || memcmpEqual(baseAddress!.assumingMemoryBound(to: UInt8.self), u.baseAddress!, u.count)) }
    }
}

extension UnsafeRawBufferPointer {
    /// Where `needle` first stands in these bytes at or after `from`: memchr for its first byte,
    /// then memcmp. The generic `firstRange(of:)` on a byte slice cost 150 µs a score line (perf:
    /// 9 s of tally-report for 60,000 people).
    public func firstIndex(of needle: [UInt8], from: Int) -> Int? {
        guard from <= count, !needle.isEmpty, let base = baseAddress else { return nil }
        return needle.withUnsafeBytes { n -> Int? in
            var i = from
            while count - i >= n.count {
                guard let hit = memchr(base + i, Int32(n[0]), count - i - n.count + 1) else { return nil }
                let at = UnsafeRawPointer(hit) - base
                if memcmp(base + at, n.baseAddress!, n.count) == 0 { return at }
                i = at + 1
            }
            return nil
        }
    }
}
