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

    @Test func rejectsEverySingleCharacterCorruptionOfAResidentID() {
        let valid = Array("11010519491231002X")
        var tried = 0
        for position in valid.indices {
            for replacement in "0123456789X" where replacement != valid[position] {
                var corrupt = valid
                corrupt[position] = replacement
                tried += 1
                #expect(check(.cnRid, String(corrupt)) != nil, "accepted \(String(corrupt))")
            }
        }
        #expect(tried == 18 * 10)
    }

    @Test func rejectsEverySingleCharacterCorruptionOfAUSCC() {
        let valid = Array("91110000600037341L")
        #expect(check(.cnUscc, String(valid)) == nil)
        var tried = 0
        for position in valid.indices {
            for replacement in "0123456789ABCDEFGHJKLMNPQRTUWXY" where replacement != valid[position] {
                var corrupt = valid
                corrupt[position] = replacement
                tried += 1
                #expect(check(.cnUscc, String(corrupt)) != nil, "accepted \(String(corrupt))")
            }
        }
        #expect(tried == 18 * 30)
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
