import Testing
@testable import TallyCore

/// `memcmpEqual` compares in words whose last one overlaps the one before it; every length from
/// 0 to 40 and every position of a single differing byte must be judged as a byte loop would.
@Suite struct ByteCompareTests {
    @Test func agreesWithAByteLoopAtEveryLengthAndPosition() {
        let a: [UInt8] = (0..<48).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
        for n in 0...40 {
            for offset in 0..<4 {
                var b = a
                a.withUnsafeBufferPointer { pa in
                    b.withUnsafeBufferPointer { pb in
                        #expect(memcmpEqual(pa.baseAddress! + offset, pb.baseAddress! + offset, n), "length \(n)")
                    }
                }
                for i in 0..<n {
                    b = a
                    b[offset + i] ^= 0x40
                    a.withUnsafeBufferPointer { pa in
                        b.withUnsafeBufferPointer { pb in
                            #expect(!memcmpEqual(pa.baseAddress! + offset, pb.baseAddress! + offset, n), "length \(n), byte \(i)")
                        }
                    }
                }
                // A difference just past the end is not looked at.
                b = a
                b[offset + n] ^= 0x40
                a.withUnsafeBufferPointer { pa in
                    b.withUnsafeBufferPointer { pb in
                        #expect(memcmpEqual(pa.baseAddress! + offset, pb.baseAddress! + offset, n), "length \(n), byte past the end")
                    }
                }
            }
        }
    }
}

/// The string scan reads sixteen bytes a step (SSE2) and the rest one by one; over random runs
/// of every length up to 70, with quotes, backslashes, control and high bytes at every position,
/// it must find the same stop and the same high-bit answer as a byte loop, and never look at or
/// past `end` (a stop there must not be found).
@Suite struct PlainRunTests {
    @Test func agreesWithAByteLoop() {
        var state: UInt64 = 0x5EED
        func next() -> UInt8 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return UInt8(truncatingIfNeeded: state >> 40)
        }
        let specials: [UInt8] = [0x22, 0x5C, 0x00, 0x1F, 0x20, 0x7F, 0x80, 0xE6, 0xFF, 0x21, 0x5B, 0x5D]
        var checked = 0
        for n in 0...70 {
            for trial in 0..<40 {
                // Plain ASCII letters, then one or two special bytes at random places.
                var bytes = (0..<(n + 16)).map { _ in 0x61 &+ next() % 26 }
                for _ in 0..<(trial % 3) where n > 0 { bytes[Int(next()) % n] = specials[Int(next()) % specials.count] }
                bytes[n] = 0x22  // a stop just at `end`, which must not be seen
                var expectedStop = n, expectedHigh = false
                for i in 0..<n {
                    let c = bytes[i]
                    if c == 0x22 || c == 0x5C || c < 0x20 { expectedStop = i; break }
                    if c >= 0x80 { expectedHigh = true }
                }
                bytes.withUnsafeBufferPointer { b in
                    let (stop, high) = jsonPlainRun(from: b.baseAddress!, to: b.baseAddress! + n)
                    #expect(stop - b.baseAddress! == expectedStop, "length \(n), trial \(trial)")
                    #expect(high == expectedHigh, "length \(n), trial \(trial)")
                }
                checked += 1
            }
        }
        #expect(checked == 71 * 40)
    }
}

@Suite struct HexTests {
    /// Every byte value, at odd and even places, after what the buffer already holds.
    @Test func everyByteBecomesTwoLowerCaseDigits() {
        let digits = Array("0123456789abcdef".utf8)
        let bytes: [UInt8] = (0...255).map(UInt8.init) + [0xFF, 0x00, 0x7F]
        let buffer = ByteBuffer(capacity: 4)
        buffer.append("x")
        bytes.withUnsafeBytes { buffer.appendHex($0) }
        buffer.appendHex(UnsafeRawBufferPointer(start: nil, count: 0))
        let expected = [UInt8(ascii: "x")] + bytes.flatMap { [digits[Int($0 >> 4)], digits[Int($0 & 15)]] }
        #expect(buffer.withBytes { Array($0) } == expected)
    }
}
