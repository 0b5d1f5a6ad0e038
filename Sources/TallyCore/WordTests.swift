/// Tests of eight ASCII bytes at a time, loaded as one little-endian word: the digits of the
/// identifiers every record line carries. (Hex digits of ids and keys are checked sixteen bytes
/// a step with SSE2: `tally_lower_hex32` in CTally.)
///
/// PERF: a byte loop with a branch per byte was most of the record rules' cost (callgrind).
/// Each test holds for any word: bytes at or above 0x80 never pass.
public enum WordTests {
    static let ones: UInt64 = 0x0101_0101_0101_0101
    static let highs: UInt64 = 0x8080_8080_8080_8080

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
}
