import Testing
import TallyCore

/// The word-at-a-time tests against a byte loop: every byte value at every position of a word
/// whose other bytes are valid, and words with several bad bytes.
@Suite struct BytesTests {
    static func word(_ bytes: [UInt8]) -> UInt64 { bytes.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) } }

    @Test func everyByteAtEveryPosition() {
        for position in 0..<8 {
            for value in 0...255 {
                var digits = Array("01234567".utf8)
                digits[position] = UInt8(value)
                #expect(Bytes.eightDigits(Self.word(digits)) == digits.allSatisfy { $0 >= 0x30 && $0 <= 0x39 }, "\(position) \(value)")
            }
        }
    }

    @Test func wordsWithSeveralBadBytes() {
        var x: UInt64 = 0x2545_F491_4F6C_DD1D
        print("BytesTests seed 0x2545F4914F6CDD1D")
        let pool: [UInt8] = Array("0123456789abcdefABCDEF/:@`g".utf8) + [0x00, 0x7F, 0x80, 0xB0, 0xE6, 0xFF]
        for _ in 0..<100_000 {
            let bytes = (0..<8).map { _ -> UInt8 in
                x ^= x << 13; x ^= x >> 7; x ^= x << 17
                return pool[Int(x % UInt64(pool.count))]
            }
            #expect(Bytes.eightDigits(Self.word(bytes)) == bytes.allSatisfy { $0 >= 0x30 && $0 <= 0x39 })
            let digits = bytes.withUnsafeBytes { Bytes.digits($0.baseAddress!, count: 5 + Int(x % 4)) }
            #expect(digits == bytes.prefix(5 + Int(x % 4)).allSatisfy { $0 >= 0x30 && $0 <= 0x39 })
        }
    }

    /// The SSE2 hex check (record ids, person keys, file hashes) against a byte loop: every byte
    /// value at every one of the 64 positions of a hash.
    @Test func hexDigitsOfHashesAndKeys() {
        let good = Array("0123456789abcdef".utf8)
        for position in 0..<64 {
            for value in 0...255 {
                var hash = (0..<64).map { good[($0 * 7) % 16] }
                hash[position] = UInt8(value)
                let expected = hash.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }
                #expect(hash.withUnsafeBytes { RecordRules.isHex($0, digits: 64) } == expected, "\(position) \(value)")
                if position < 32 {
                    let key = Array("p_".utf8) + hash.prefix(32)
                    #expect(key.withUnsafeBytes { RecordRules.isPersonKey($0) } == expected, "p_ \(position) \(value)")
                }
            }
        }
    }
}
