/// The identifier schemes the feeds use (docs/feeds.md, "Identifiers").
public enum IdentifierScheme: String, CaseIterable, Sendable {
    /// PRC resident identity number, GB 11643-1999: 18 characters, MOD 11-2 check.
    case cnRid = "cn-rid"
    /// Unified Social Credit Code of an organisation, GB 32100-2015: 18 characters, MOD 31 check.
    case cnUscc = "cn-uscc"
    /// A metro card: 16 decimal digits.
    case transitCard = "transit-card"
    /// An e-commerce account: `A` and 10 digits.
    case shopAccount = "shop-account"
}

/// Why an identifier was refused.
public enum IdentifierFault: Error, Equatable, Sendable, CustomStringConvertible {
    case length(expected: Int, actual: Int)
    case character(position: Int)
    case birthDate
    case futureBirthDate
    case checksum(expected: Character, actual: Character)

    public var description: String {
        switch self {
        case let .length(expected, actual): return "has \(actual) characters, expected \(expected)"
        case let .character(position): return "invalid character at position \(position)"
        case .birthDate: return "birth date is not a calendar date"
        case .futureBirthDate: return "birth date is in the future"
        case let .checksum(expected, actual): return "check character is \(actual), expected \(expected)"
        }
    }
}

/// Identifier validation and normalisation. Works on bytes so that feed parsers need no `String`.
public enum Identifier {
    /// Checks `bytes` under `scheme`. On success returns the normalised form's bytes count-for-count
    /// (only `cn-rid`'s lower-case `x` changes, to `X`, reported through `upperX`).
    ///
    /// - Parameter notAfter: the latest birth date a `cn-rid` may carry (today, in China).
    public static func check(_ scheme: IdentifierScheme, _ bytes: UnsafeRawBufferPointer, notAfter: CivilDate) -> IdentifierFault? {
        switch scheme {
        case .cnRid: return checkResidentID(bytes, notAfter: notAfter)
        case .cnUscc: return checkUSCC(bytes)
        case .transitCard: return checkDigits(bytes, count: 16, from: 0)
        case .shopAccount:
            guard bytes.count == 11 else { return .length(expected: 11, actual: bytes.count) }
            guard bytes[0] == UInt8(ascii: "A") else { return .character(position: 1) }
            return checkDigits(bytes, count: 11, from: 1)
        }
    }

    /// Checks and normalises a string identifier (tests and small inputs).
    public static func normalise(_ scheme: IdentifierScheme, _ text: String, notAfter: CivilDate) -> Result<String, IdentifierFault> {
        var text = text
        let fault = text.withUTF8 { check(scheme, UnsafeRawBufferPointer($0), notAfter: notAfter) }
        if let fault { return .failure(fault) }
        return .success(scheme == .cnRid && text.hasSuffix("x") ? String(text.dropLast()) + "X" : text)
    }

    static func checkDigits(_ b: UnsafeRawBufferPointer, count: Int, from: Int) -> IdentifierFault? {
        guard b.count == count else { return .length(expected: count, actual: b.count) }
        for i in from..<count where b[i] &- 0x30 >= 10 { return .character(position: i + 1) }
        return nil
    }

    /// The MOD 11-2 check character for the first 17 digits of a resident identity number.
    ///
    /// PERF: the weights of GB 11643 (7 9 10 5 8 4 2 1 6 3 7 9 10 5 8 4 2) are written out and
    /// the character computed, not read from global arrays: every record a stage reads with a
    /// resident number comes through here (`RecordRules.residentIDPasses`), and each global read
    /// was a call.
    @inline(__always)
    public static func residentIDCheck(_ first17: UnsafeRawBufferPointer) -> UInt8 {
        @inline(__always) func d(_ i: Int) -> Int { Int(first17[i] &- 0x30) }
        var sum = d(0) * 7 + d(1) * 9 + d(2) * 10 + d(3) * 5 + d(4) * 8 + d(5) * 4 + d(6) * 2 + d(7) * 1 + d(8) * 6
        sum += d(9) * 3 + d(10) * 7 + d(11) * 9 + d(12) * 10 + d(13) * 5 + d(14) * 8 + d(15) * 4 + d(16) * 2
        // sum % 11 maps 0...10 to 1 0 X 9 8 7 6 5 4 3 2.
        switch sum % 11 {
        case 0: return UInt8(ascii: "1")
        case 1: return UInt8(ascii: "0")
        case 2: return UInt8(ascii: "X")
        case let r: return UInt8(0x30 + 12 - r)
        }
    }

    static func checkResidentID(_ b: UnsafeRawBufferPointer, notAfter: CivilDate) -> IdentifierFault? {
        guard b.count == 18 else { return .length(expected: 18, actual: b.count) }
        for i in 0..<17 where b[i] &- 0x30 >= 10 { return .character(position: i + 1) }
        let last = b[17]
        guard last &- 0x30 < 10 || last == UInt8(ascii: "X") || last == UInt8(ascii: "x") else { return .character(position: 18) }
        guard let birth = CivilDate.parseCompact(UnsafeRawBufferPointer(rebasing: b[6..<14])), birth.year >= 1850 else { return .birthDate }
        guard birth <= notAfter else { return .futureBirthDate }
        let expected = residentIDCheck(b)
        let actual = last == UInt8(ascii: "x") ? UInt8(ascii: "X") : last
        guard expected == actual else {
            return .checksum(expected: Character(Unicode.Scalar(expected)), actual: Character(Unicode.Scalar(last)))
        }
        return nil
    }

    /// The 31 characters of the USCC alphabet, in value order (no I, O, S, V, Z).
    public static let usccAlphabet: [UInt8] = Array("0123456789ABCDEFGHJKLMNPQRTUWXY".utf8)
    static let usccWeights: [Int] = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]
    static let usccValue: [Int8] = {
        var table = [Int8](repeating: -1, count: 256)
        for (v, c) in usccAlphabet.enumerated() { table[Int(c)] = Int8(v) }
        return table
    }()

    /// The check character for the first 17 characters of a USCC, or nil if one is outside the alphabet.
    public static func usccCheck(_ first17: UnsafeRawBufferPointer) -> UInt8? {
        var sum = 0
        for i in 0..<17 {
            let v = usccValue[Int(first17[i])]
            guard v >= 0 else { return nil }
            sum += Int(v) * usccWeights[i]
        }
        return usccAlphabet[(31 - sum % 31) % 31]
    }

    static func checkUSCC(_ b: UnsafeRawBufferPointer) -> IdentifierFault? {
        guard b.count == 18 else { return .length(expected: 18, actual: b.count) }
        for i in 0..<18 where usccValue[Int(b[i])] < 0 { return .character(position: i + 1) }
        // Characters 3 to 8 are the administrative region code: digits only.
        for i in 2..<8 where b[i] &- 0x30 >= 10 { return .character(position: i + 1) }
        let expected = usccCheck(b)!
        guard expected == b[17] else {
            return .checksum(expected: Character(Unicode.Scalar(expected)), actual: Character(Unicode.Scalar(b[17])))
        }
        return nil
    }
}
