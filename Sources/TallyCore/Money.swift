/// Money as the feeds write it: yuan with at most two decimals, read exactly into integer fen.
///
/// Amounts never pass through a binary floating-point type: `"12345.67"` becomes `1234567`.
public enum Yuan {
    /// Why an amount was refused.
    public enum Fault: Error, Equatable, Sendable, CustomStringConvertible {
        case empty, notAnAmount, tooManyDecimals, negative, tooLarge

        public var description: String {
            switch self {
            case .empty: return "empty amount"
            case .notAnAmount: return "not a yuan amount"
            case .tooManyDecimals: return "more than two decimals"
            case .negative: return "negative amount"
            case .tooLarge: return "amount too large"
            }
        }
    }

    /// The largest amount accepted, in fen (a trillion yuan).
    public static let maxFen: Int64 = 100_000_000_000_000

    /// Parses `D+(.D{1,2})?` into fen. A leading `-` is reported as `.negative`.
    public static func parseFen(_ b: UnsafeRawBufferPointer) -> Result<Int64, Fault> {
        guard !b.isEmpty else { return .failure(.empty) }
        if b[0] == UInt8(ascii: "-") { return .failure(.negative) }
        var fen: Int64 = 0
        var i = 0
        var integerDigits = 0
        while i < b.count, b[i] &- 0x30 < 10 {
            fen = fen * 10 + Int64(b[i] &- 0x30)
            integerDigits += 1
            i += 1
            if integerDigits > 13 { return .failure(.tooLarge) }
        }
        guard integerDigits > 0 else { return .failure(.notAnAmount) }
        fen *= 100
        if i < b.count {
            guard b[i] == UInt8(ascii: ".") else { return .failure(.notAnAmount) }
            i += 1
            var decimals = 0
            var scale: Int64 = 10
            while i < b.count, b[i] &- 0x30 < 10 {
                decimals += 1
                if decimals > 2 { return .failure(.tooManyDecimals) }
                fen += Int64(b[i] &- 0x30) * scale
                scale /= 10
                i += 1
            }
            guard decimals > 0, i == b.count else { return .failure(.notAnAmount) }
        }
        guard fen <= maxFen else { return .failure(.tooLarge) }
        return .success(fen)
    }

    /// Parses a string amount into fen.
    public static func parseFen(_ text: String) -> Result<Int64, Fault> {
        var text = text
        return text.withUTF8 { parseFen(UnsafeRawBufferPointer($0)) }
    }

    /// Formats fen as yuan with exactly two decimals (`1234567` → `"12345.67"`).
    public static func format(fen: Int64) -> String {
        let out = ByteBuffer(capacity: 24)
        out.appendYuan(fen: fen)
        return out.string
    }
}

extension ByteBuffer {
    /// Appends fen as yuan with two decimals.
    public func appendYuan(fen: Int64) {
        if fen < 0 { append(UInt8(ascii: "-")) }
        let m = fen.magnitude
        appendDecimal(Int64(m / 100))
        append(UInt8(ascii: "."))
        appendPadded(Int(m % 100), width: 2)
    }
}
