import Testing
import TallyCore

func withBytes<R>(_ a: String, _ b: String, _ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) -> R) -> R {
    var a = a, b = b
    return a.withUTF8 { x in b.withUTF8 { y in body(UnsafeRawBufferPointer(x), UnsafeRawBufferPointer(y)) } }
}

@Suite struct CrosswalkTableTests {
    @Test func residentNumbersPackAndUnpackExactly() {
        for rid in ["990106199001011232", "99000019560829000X", "000000000000000000", "999999999999999999"] {
            var rid = rid
            let packed = rid.withUTF8 { CrosswalkTable.packPerson(UnsafeRawBufferPointer($0)) }!
            var back: [UInt8] = []
            CrosswalkTable.unpackPerson(packed, into: &back)
            #expect(String(decoding: back, as: UTF8.self) == rid)
        }
        for bad in ["99010619900101123", "99010619900101123x", "9901061990010112A2"] {
            var bad = bad
            #expect(bad.withUTF8 { CrosswalkTable.packPerson(UnsafeRawBufferPointer($0)) } == nil)
        }
    }

    @Test func growsKeepsEveryEntryAndMarksConflicts() {
        var table = CrosswalkTable(expected: 10)
        let n = 50_000
        func card(_ i: Int) -> String { "80" + String(repeating: "0", count: 14 - String(i).count) + String(i) }
        for i in 0..<n {
            #expect(withBytes("transit-card", card(i)) { table.insert(scheme: $0, id: $1, person: UInt64(i)) } == .added)
        }
        // The same account number under another scheme is another identifier.
        #expect(withBytes("shop-account", "A0000000007") { table.insert(scheme: $0, id: $1, person: 99) } == .added)
        #expect(withBytes("transit-card", card(7)) { table.insert(scheme: $0, id: $1, person: 7) } == .repeated)
        #expect(withBytes("transit-card", card(8)) { table.insert(scheme: $0, id: $1, person: 1234) } == .conflict)
        #expect(withBytes("transit-card", card(8)) { table.insert(scheme: $0, id: $1, person: 8) } == .conflict, "a conflict stays one")
        #expect(table.count == n + 1)
        for i in stride(from: 0, to: n, by: 97) where i != 8 {
            #expect(withBytes("transit-card", card(i)) { table.lookup(scheme: $0, id: $1) } == .person(UInt64(i)))
        }
        #expect(withBytes("transit-card", card(8)) { table.lookup(scheme: $0, id: $1) } == .conflict)
        #expect(withBytes("transit-card", card(n)) { table.lookup(scheme: $0, id: $1) } == nil)
        #expect(withBytes("shop-account", "A0000000007") { table.lookup(scheme: $0, id: $1) } == .person(99))
        // Identifiers of other shapes are kept exactly, beside the packed table.
        #expect(withBytes("library-card", "L-17") { table.insert(scheme: $0, id: $1, person: 5) } == .added)
        #expect(withBytes("library-card", "L-17") { table.lookup(scheme: $0, id: $1) } == .person(5))
        #expect(withBytes("library-card", "L-170") { table.lookup(scheme: $0, id: $1) } == nil)
        #expect(table.memoryBytes <= 16 * 131_072)
    }

    @Test func personKeysMatchPythonsHMAC() {
        // Expected values from: "p_" + hmac.new(key, b"SCHEME:ID", hashlib.sha256).hexdigest()[:32]
        let keyer = PersonKeyer(secret: Array("0123456789abcdef".utf8))
        #expect(keyer.key(scheme: "cn-rid", id: "990106199001011232") == "p_71d956ec7ca734ea4160e8895a3d394f")
        // A key longer than SHA-256's block is hashed first, as RFC 2104 says.
        let long = PersonKeyer(secret: Array(repeating: UInt8(ascii: "k"), count: 100))
        #expect(long.key(scheme: "transit-card", id: "8000000000000000") == "p_e860874accaf976df83ec9fd808f6584")
        #expect(keyer.key(scheme: "cn-rid", id: "990106199001011232") == keyer.key(scheme: "cn-rid", id: "990106199001011232"))
    }

    /// Packing reads digits eight at a time; it must agree with reading them one by one, for
    /// every byte value at every position of a card, an account and a resident number.
    @Test func packingAgreesWithADigitByDigitReading() {
        func reference(_ bytes: [UInt8]) -> UInt64? {
            var v: UInt64 = 0
            for b in bytes {
                guard b >= 0x30 && b <= 0x39 else { return nil }
                v = v * 10 + UInt64(b - 0x30)
            }
            return v
        }
        func pack(_ scheme: String, _ id: [UInt8]) -> UInt64? {
            var scheme = scheme
            return scheme.withUTF8 { s in id.withUnsafeBytes { CrosswalkTable.packIdentifier(scheme: UnsafeRawBufferPointer(s), id: $0) } }
        }
        let card = Array("8012345678901234".utf8), account = Array("A9876543210".utf8), rid = Array("99010619900101123X".utf8)
        var checked = 0
        for position in 0..<18 {
            for value in 0...255 {
                let b = UInt8(value)
                if position < card.count {
                    var c = card; c[position] = b
                    #expect(pack("transit-card", c) == reference(c).map { 1 << 60 | $0 }, "card \(c)")
                    checked += 1
                }
                if position < account.count {
                    var a = account; a[position] = b
                    let expected: UInt64? = a[0] == UInt8(ascii: "A") ? reference(Array(a[1...])).map { 2 << 60 | $0 } : nil
                    #expect(pack("shop-account", a) == expected, "account \(a)")
                    checked += 1
                }
                var r = rid; r[position] = b
                let check: UInt64? = r[17] == UInt8(ascii: "X") ? 10 : (r[17] >= 0x30 && r[17] <= 0x39 ? UInt64(r[17] - 0x30) : nil)
                let expected = reference(Array(r[0..<17])).flatMap { body in check.map { body * 11 + $0 } }
                #expect(r.withUnsafeBytes { CrosswalkTable.packPerson($0) } == expected, "rid \(r)")
                checked += 1
            }
        }
        #expect(checked == 256 * (16 + 11 + 18))
        // Several bytes wrong at once, next to digits (a carry between bytes must not hide one).
        let alphabet = Array("0123456789:;/?@ \u{7F}".utf8) + [0xB9, 0xF9, 0x00]
        var state: UInt64 = 5
        for _ in 0..<20_000 {
            let c = (0..<16).map { _ -> UInt8 in
                state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                let r = Int(state >> 33)
                return r % 4 == 0 ? alphabet[r / 4 % alphabet.count] : UInt8(0x30 + r / 4 % 10)
            }
            #expect(pack("transit-card", c) == reference(c).map { 1 << 60 | $0 }, "card \(c)")
        }
        #expect(pack("shop-account", Array("80123456789".utf8)) == nil, "an account starts with A")
        #expect(pack("transit-card", Array("801234567890123".utf8)) == nil, "a card has 16 digits")
        #expect(pack("bus-card", card) == nil, "another scheme is not packed")
    }
}
