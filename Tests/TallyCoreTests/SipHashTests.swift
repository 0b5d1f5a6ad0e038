import TallyCore
import Testing

/// SipHash128 against the reference vectors of SipHash-2-4 (key 00…0f, message 00…(n-1)), in
/// its 64-bit and 128-bit forms, and the keyed 1-3 form tally uses: deterministic per key,
/// different per key, and sensitive to every byte.
@Suite struct SipHashTests {
    static let key = SipHash128(k0: 0x0706_0504_0302_0100, k1: 0x0f0e_0d0c_0b0a_0908)

    static func hash(_ n: Int, wide: Bool) -> (UInt64, UInt64) {
        let message = (0..<n).map { UInt8($0) }
        return message.withUnsafeBytes { key.hash($0, rounds: 2, finalRounds: 4, wide: wide) }
    }

    @Test func matchesTheReferenceVectors() {
        // vectors_sip64[0], [1], [7], [8] and [15] of the reference implementation, as words.
        #expect(Self.hash(0, wide: false).0 == 0x726f_db47_dd0e_0e31)
        #expect(Self.hash(1, wide: false).0 == 0x74f8_39c5_93dc_67fd)
        #expect(Self.hash(7, wide: false).0 == 0xab02_00f5_8b01_d137)
        #expect(Self.hash(8, wide: false).0 == 0x93f5_f579_9a93_2462)
        #expect(Self.hash(15, wide: false).0 == 0xa129_ca61_49be_45e5)
        // vectors_sip128[0]: a3 81 7f 04 ba 25 a8 e6 | 6d f6 72 14 c7 55 02 93.
        let empty = Self.hash(0, wide: true)
        #expect(empty.0 == 0xe6a8_25ba_047f_81a3 && empty.1 == 0x9302_55c7_1472_f66d)
    }

    @Test func everyByteAndTheKeyCount() {
        let other = SipHash128(k0: 1, k1: 2)
        var seen = Set<[UInt64]>()
        for n in 0..<40 {
            var message = [UInt8](repeating: 0x41, count: n)
            let base = message.withUnsafeBytes { Self.key.hash($0) }
            #expect(seen.insert([base.0, base.1]).inserted)
            #expect(message.withUnsafeBytes { Self.key.hash($0) } == base, "deterministic")
            #expect(message.withUnsafeBytes { other.hash($0) } != base, "keyed")
            for i in 0..<n {
                message[i] ^= 1
                #expect(message.withUnsafeBytes { Self.key.hash($0) } != base, "byte \(i) of \(n)")
                message[i] ^= 1
            }
        }
    }

    /// The stream (bytes fed one piece at a time, in registers) gives `hash`'s digest of the
    /// bytes put together, however they are cut: messages of 0 to 70 bytes, cut at random into
    /// single bytes and runs.
    @Test func theStreamGivesTheDigestOfTheWholeWhateverTheCuts() {
        var rng = UInt64(12345)
        func next(_ n: Int) -> Int {
            rng = rng &* 6364136223846793005 &+ 1442695040888963407
            return Int((rng >> 33) % UInt64(n))
        }
        for round in 0..<2_000 {
            var whole: [UInt8] = []
            var stream = SipHash128.Stream(Self.key)
            while whole.count < round % 71 {
                switch next(2) {
                case 0:
                    let b = UInt8(next(256))
                    whole.append(b)
                    stream.feed(b)
                default:
                    let run = (0..<next(20)).map { _ in UInt8(next(256)) }
                    whole += run
                    run.withUnsafeBytes { stream.feed($0) }
                }
            }
            let expected = whole.withUnsafeBytes { Self.key.hash($0) }
            #expect(stream.finish() == expected, "\(whole)")
        }
    }

    /// `feedWords` hashes, for each run, its count as a little-endian word and then its bytes
    /// padded with zeros to whole words: the digest of those words put together. Runs of 0 to
    /// 40 bytes, so that every length of the last word comes up.
    @Test func feedWordsHashesTheCountThenTheBytesInWholeWords() {
        var rng = UInt64(777)
        func next(_ n: Int) -> Int {
            rng = rng &* 6364136223846793005 &+ 1442695040888963407
            return Int((rng >> 33) % UInt64(n))
        }
        for _ in 0..<1_000 {
            var whole: [UInt8] = []
            var stream = SipHash128.Stream(Self.key)
            for _ in 0..<(1 + next(4)) {
                let run = (0..<next(41)).map { _ in UInt8(next(256)) }
                withUnsafeBytes(of: UInt64(run.count).littleEndian) { whole += $0 }
                whole += run + Array(repeating: 0, count: (8 - run.count % 8) % 8)
                run.withUnsafeBytes { stream.feedWords($0) }
            }
            let expected = whole.withUnsafeBytes { Self.key.hash($0) }
            #expect(stream.finish() == expected, "\(whole)")
        }
    }
}
