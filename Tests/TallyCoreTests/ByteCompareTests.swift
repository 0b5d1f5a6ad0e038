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
