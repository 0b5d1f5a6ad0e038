import Foundation
import Testing
@testable import TallyCore

/// `UTF8Check.isValid` against the standard library's own UTF-8 validation, on the edge cases of
/// RFC 3629 and on many seeded strings of valid and broken sequences at every alignment (the
/// check takes eight ASCII bytes and three-byte sequences a load at a time, or sixteen bytes a
/// step with SSSE3; both ways are checked).
@Suite struct UTF8CheckTests {
    static func stdlib(_ bytes: [UInt8]) -> Bool { String(validating: bytes, as: UTF8.self) != nil }

    /// Our verdict, which the loop alone and the sixteen-byte check (`tally_utf8_valid`, where
    /// the processor has SSSE3) must both give.
    static func ours(_ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBufferPointer { b in
            let loop = UTF8Check.isValid(b, simd: false)
            if UTF8Check.simdReady {
                #expect(UTF8Check.isValid(b, simd: true) == loop, "sixteen at a time against the loop: \(Array(b).map { String($0, radix: 16) })")
            }
            return loop
        }
    }

    @Test func edgeCasesOfRFC3629() {
        let cases: [[UInt8]] = [
            [], [0x41], [0x7F], [0x80], [0xBF], [0xC0, 0x80], [0xC1, 0xBF], [0xC2, 0x80], [0xDF, 0xBF],
            [0xE0, 0x9F, 0xBF], [0xE0, 0xA0, 0x80], [0xE1, 0x80, 0x80], [0xEC, 0xBF, 0xBF],
            [0xED, 0x9F, 0xBF], [0xED, 0xA0, 0x80], [0xEE, 0x80, 0x80], [0xEF, 0xBF, 0xBF],
            [0xE4, 0xB8], [0xE4, 0xB8, 0x41], [0xE4, 0x41, 0xAD], [0xE4, 0xB8, 0xAD, 0x41],
            [0xF0, 0x8F, 0xBF, 0xBF], [0xF0, 0x90, 0x80, 0x80], [0xF4, 0x8F, 0xBF, 0xBF], [0xF4, 0x90, 0x80, 0x80],
            [0xF5, 0x80, 0x80, 0x80], [0xF8], [0xFF], Array("站名,北京西站".utf8), Array("aaaaaaaa中".utf8),
        ]
        for bytes in cases {
            #expect(Self.ours(bytes) == Self.stdlib(bytes), "\(bytes.map { String($0, radix: 16) })")
            // The same at every offset behind ASCII, so that each path meets it.
            for pad in 1...9 {
                let padded = [UInt8](repeating: 0x61, count: pad) + bytes + [UInt8](repeating: 0x62, count: pad % 4)
                #expect(Self.ours(padded) == Self.stdlib(padded), "pad \(pad): \(bytes.map { String($0, radix: 16) })")
            }
        }
    }

    @Test func agreesWithTheStandardLibraryOnRandomText() {
        var rng = SystemRandomNumberGenerator()
        let seed = ProcessInfo.processInfo.environment["TALLY_TEST_SEED"].flatMap { UInt64($0) } ?? UInt64.random(in: 1...UInt64.max, using: &rng)
        print("agreesWithTheStandardLibraryOnRandomText: seed \(seed) (TALLY_TEST_SEED=\(seed) replays it)")
        var state = seed
        func next() -> UInt64 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            let z = (state ^ (state >> 33)) &* 0xFF51_AFD7_ED55_8CCD
            return z ^ (z >> 29)
        }
        let pieces: [[UInt8]] = [
            Array("a".utf8), Array("0123456789".utf8), Array("é".utf8), Array("中".utf8), Array("龥".utf8),
            Array("😀".utf8), [0xED, 0x9F, 0xBF], [0xEF, 0xBF, 0xBD], [0xE0, 0xA0, 0x80], Array("龙阳路".utf8),
        ]
        var valid = 0
        for _ in 0..<20_000 {
            var bytes: [UInt8] = []
            for _ in 0..<Int(next() % 24) { bytes += pieces[Int(next() % UInt64(pieces.count))] }
            // Break about half of them: a byte changed, dropped or added.
            if next() % 2 == 0, !bytes.isEmpty {
                let at = Int(next() % UInt64(bytes.count))
                switch next() % 3 {
                case 0: bytes[at] = UInt8(truncatingIfNeeded: next())
                case 1: bytes.remove(at: at)
                default: bytes.insert(UInt8(0x80 | next() % 0x80), at: at)
                }
            }
            let expected = Self.stdlib(bytes)
            if expected { valid += 1 }
            #expect(Self.ours(bytes) == expected, "\(bytes.map { String($0, radix: 16) })")
        }
        #expect(valid > 5_000 && valid < 19_000, "both kinds were tried: \(valid) valid")
    }
}
