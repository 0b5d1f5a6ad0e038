import Crypto

/// Makes pseudonymous person keys: `p_` and the first 32 hex digits (128 bits) of
/// HMAC-SHA256(secret, canonical identifier), where the canonical identifier is `SCHEME:ID`
/// (`cn-rid:990106199001011232` for a resident; `transit-card:8000…` for a card nobody claims).
///
/// The same identifier gets the same key under the same secret, night after night; without the
/// secret the key says nothing about the identifier (HMAC is a PRF), and with 128 bits two
/// people never share a key at any population size.
public struct PersonKeyer {
    /// The HMAC with the secret already absorbed; each key copies it, so the key's pads are
    /// hashed once per run instead of once per record.
    private let keyed: HMAC<SHA256>
    private static let hexDigits = Array("0123456789abcdef".utf8)

    /// The shortest secret accepted, in bytes.
    public static let minimumSecretBytes = 16

    public init(secret: [UInt8]) {
        keyed = HMAC<SHA256>(key: SymmetricKey(data: secret))
    }

    /// Appends the key (`p_` + 32 hex digits) for `scheme:id` to `out`.
    @inline(__always)
    public func appendKey(scheme: UnsafeRawBufferPointer, id: UnsafeRawBufferPointer, to out: ByteBuffer) {
        var mac = keyed
        mac.update(data: scheme)
        withUnsafeBytes(of: UInt8(ascii: ":")) { mac.update(data: $0) }
        mac.update(data: id)
        let tag = mac.finalize()
        out.append(UInt8(ascii: "p"))
        out.append(UInt8(ascii: "_"))
        tag.withUnsafeBytes { raw in
            for i in 0..<16 {
                out.append(Self.hexDigits[Int(raw[i] >> 4)])
                out.append(Self.hexDigits[Int(raw[i] & 0x0F)])
            }
        }
    }

    /// The key for `scheme:id`.
    public func key(scheme: String, id: String) -> String {
        let out = ByteBuffer(capacity: 40)
        var scheme = scheme, id = id
        scheme.withUTF8 { s in id.withUTF8 { i in appendKey(scheme: UnsafeRawBufferPointer(s), id: UnsafeRawBufferPointer(i), to: out) } }
        return out.string
    }
}
