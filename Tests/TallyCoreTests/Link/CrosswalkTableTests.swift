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
}
