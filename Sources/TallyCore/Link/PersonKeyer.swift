import Crypto

/// Makes pseudonymous person keys: `p_` and the first 32 hex digits (128 bits) of
/// HMAC-SHA256(secret, canonical identifier), where the canonical identifier is `SCHEME:ID`
/// (`cn-rid:990106199001011232` for a resident; `transit-card:8000…` for a card nobody claims).
///
/// The same identifier gets the same key under the same secret, night after night; without the
/// secret the key says nothing about the identifier (HMAC is a PRF), and with 128 bits two
/// people never share a key at any population size.
public struct PersonKeyer {
    /// HMAC (RFC 2104) as SHA-256 states that have already absorbed the key's inner and outer
    /// pads, so each key costs two SHA-256 blocks and nothing else. swift-crypto's `HMAC` gives
    /// the same bytes (tests compare both with Python's hmac) but only through its generic
    /// `update(data:)`, whose metadata look-ups took 41% of tally-link's time (perf).
    private let inner: SHA256
    private let outer: SHA256

    /// The shortest secret accepted, in bytes.
    public static let minimumSecretBytes = 16

    public init(secret: [UInt8]) {
        var key = secret.count > 64 ? Array(SHA256.hash(data: secret)) : secret
        key += [UInt8](repeating: 0, count: 64 - key.count)
        var i = SHA256(), o = SHA256()
        i.update(data: key.map { $0 ^ 0x36 })
        o.update(data: key.map { $0 ^ 0x5C })
        inner = i
        outer = o
    }

    /// Appends the key (`p_` + 32 hex digits) for `scheme:id` to `out`.
    @inline(__always)
    public func appendKey(scheme: UnsafeRawBufferPointer, id: UnsafeRawBufferPointer, to out: ByteBuffer) {
        withUnsafeTemporaryAllocation(byteCount: 16, alignment: 8) { tag in
            makeTag(scheme: scheme, id: id, into: tag.baseAddress!)
            Self.appendKey(tag: UnsafeRawPointer(tag.baseAddress!), to: out)
        }
    }

    /// Writes the key's 128 bits (the first 16 bytes of the HMAC of `scheme:id`) to `tag`.
    @inline(__always)
    public func makeTag(scheme: UnsafeRawBufferPointer, id: UnsafeRawBufferPointer, into tag: UnsafeMutableRawPointer) {
        // `SCHEME:ID` goes in as one update: each call into swift-crypto costs more than the
        // bytes it hashes (perf), so one message, one update, one finalize per state.
        let n = scheme.count + 1 + id.count
        withUnsafeTemporaryAllocation(byteCount: n, alignment: 1) { message in
            message.copyMemory(from: scheme)
            message[scheme.count] = UInt8(ascii: ":")
            UnsafeMutableRawBufferPointer(rebasing: message[(scheme.count + 1)...]).copyMemory(from: id)
            var h = inner
            h.update(bufferPointer: UnsafeRawBufferPointer(message))
            var o = outer
            h.finalize().withUnsafeBytes { o.update(bufferPointer: $0) }
            o.finalize().withUnsafeBytes { tag.copyMemory(from: $0.baseAddress!, byteCount: 16) }
        }
    }

    /// Appends the key (`p_` + 32 hex digits) whose 128 bits are at `tag`.
    @inline(__always)
    public static func appendKey(tag: UnsafeRawPointer, to out: ByteBuffer) {
        out.append(UInt8(ascii: "p"))
        out.append(UInt8(ascii: "_"))
        out.appendHex(UnsafeRawBufferPointer(start: tag, count: 16))
    }

    /// The key for `scheme:id`.
    public func key(scheme: String, id: String) -> String {
        let out = ByteBuffer(capacity: 40)
        var scheme = scheme, id = id
        scheme.withUTF8 { s in id.withUTF8 { i in appendKey(scheme: UnsafeRawBufferPointer(s), id: UnsafeRawBufferPointer(i), to: out) } }
        return out.string
    }
}
