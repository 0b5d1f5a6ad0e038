import Testing
import TallyCore

@Suite struct IdentifierTests {
    let today = CivilDate(year: 2026, month: 11, day: 28)!

    func check(_ scheme: IdentifierScheme, _ text: String) -> IdentifierFault? {
        var text = text
        return text.withUTF8 { Identifier.check(scheme, UnsafeRawBufferPointer($0), notAfter: today) }
    }

    @Test(arguments: ["11010519491231002X", "11010519491231002x", "440524188001010014", "990106199001011232"])
    func acceptsValidResidentIDs(id: String) {
        #expect(check(.cnRid, id) == nil)
    }

    @Test func normalisesLowerCaseX() {
        #expect(Identifier.normalise(.cnRid, "11010519491231002x", notAfter: today) == .success("11010519491231002X"))
    }

    /// Every string that differs from `valid` in exactly one character drawn from `alphabet`.
    func singleCharacterCorruptions(of valid: String, alphabet: String) -> [String] {
        let chars = Array(valid)
        var out: [String] = []
        for position in chars.indices {
            for replacement in alphabet where replacement != chars[position] {
                var corrupt = chars
                corrupt[position] = replacement
                out.append(String(corrupt))
            }
        }
        return out
    }

    @Test func rejectsEverySingleCharacterCorruptionOfAResidentID() {
        let corruptions = singleCharacterCorruptions(of: "11010519491231002X", alphabet: "0123456789X")
        #expect(corruptions.count == 18 * 10)
        for corrupt in corruptions {
            #expect(check(.cnRid, corrupt) != nil, "accepted \(corrupt)")
        }
    }

    @Test func rejectsEverySingleCharacterCorruptionOfAUSCC() {
        #expect(check(.cnUscc, "91110000600037341L") == nil)
        let corruptions = singleCharacterCorruptions(of: "91110000600037341L", alphabet: "0123456789ABCDEFGHJKLMNPQRTUWXY")
        #expect(corruptions.count == 18 * 30)
        for corrupt in corruptions {
            #expect(check(.cnUscc, corrupt) != nil, "accepted \(corrupt)")
        }
    }

    @Test(arguments: [
        ("1101051949123100", IdentifierFault.length(expected: 18, actual: 16)),
        ("11010519491231002Y", .character(position: 18)),
        ("1101051949123A002X", .character(position: 14)),
        ("110105194902300025", .birthDate),
        ("110105180001010012", .birthDate),
        ("110105203001010013", .futureBirthDate),
        ("110105194912310021", .checksum(expected: "X", actual: "1")),
    ])
    func explainsResidentIDFaults(id: String, fault: IdentifierFault) {
        #expect(check(.cnRid, id) == fault)
    }

    @Test func checksOtherSchemes() {
        #expect(check(.cnUscc, "91110000600037341I") == .character(position: 18))
        #expect(check(.cnUscc, "91AB0000600037341L") == .character(position: 3))
        #expect(check(.transitCard, "8000000000000000") == nil)
        #expect(check(.transitCard, "800000000000000") == .length(expected: 16, actual: 15))
        #expect(check(.transitCard, "80000000000000a0") == .character(position: 15))
        #expect(check(.shopAccount, "A0123456789") == nil)
        #expect(check(.shopAccount, "B0123456789") == .character(position: 1))
        #expect(check(.shopAccount, "A012345678") == .length(expected: 11, actual: 10))
    }
}
