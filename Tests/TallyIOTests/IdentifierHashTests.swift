import Testing
import TallyCore
import TallyIO

/// The scoring store's identifier hash: SipHash-128 (the store's fixed key) over the scheme's
/// length (4 bytes, little-endian), the scheme and the id. Short identifiers are laid out on the
/// stack, long ones in a temporary allocation; every length must give the hash of the same bytes.
@Suite struct IdentifierHashTests {
    static let hasher = SipHash128(k0: 0x7461_6c6c_792d_7363, k1: 0x6f72_696e_672d_3031)

    @Test func everyLengthHashesTheLengthTheSchemeAndTheId() {
        var state: UInt64 = 7
        func byte() -> UInt8 { state = state &* 6364136223846793005 &+ 1442695040888963407; return UInt8(truncatingIfNeeded: state >> 56) }
        for total in 0...120 {
            for schemeLength in [0, 1, 6, 12, total].filter({ $0 <= total }) {
                let scheme = (0..<schemeLength).map { _ in byte() }
                let id = (0..<(total - schemeLength)).map { _ in byte() }
                var laid: [UInt8] = withUnsafeBytes(of: UInt32(schemeLength).littleEndian) { Array($0) }
                laid += scheme + id
                let expected = laid.withUnsafeBytes { Self.hasher.hash($0) }
                let got = scheme.withUnsafeBytes { s in id.withUnsafeBytes { i in ScoringStore.hash(scheme: s, id: i) } }
                #expect(got.hi == expected.0 && got.lo == expected.1, "scheme \(schemeLength) bytes, id \(total - schemeLength)")
            }
        }
    }
}
