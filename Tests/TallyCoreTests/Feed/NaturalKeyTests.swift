import Testing
import TallyCore
import TallyIO

/// `NaturalKey`, the one definition of a record's key and id. Expected ids are SHA-256 prefixes
/// computed apart from this code (Python's hashlib).
@Suite struct NaturalKeyTests {
    /// A CSV feed keyed on a free text field and a resident number, with an enumeration.
    static let feed = """
        {"feed": "demo", "format": "csv", "table": "demo.schema.json", "naturalKey": ["rid", "ref"],
         "subject": {"field": "rid", "scheme": "cn-rid"}, "at": {"fileDate": true}, "attrs": ["rid", "ref", "kind"],
         "kind": {"constant": "demo.event"}}
        """
    static let table = """
        {"fields": [
          {"name": "rid", "type": "string", "constraints": {"required": true}, "tally:identifier": "cn-rid"},
          {"name": "ref", "type": "string", "constraints": {"required": true}},
          {"name": "kind", "type": "string", "constraints": {"required": true, "enum": ["a", "b"]}}
        ], "primaryKey": ["rid", "ref"]}
        """

    static func spec(_ feed: String = feed, _ table: String = table) throws -> FeedSpec {
        try FeedSpec.load(feedFile: "demo.feed.json", bytes: Array(feed.utf8)) { _ in Array(table.utf8) }
    }

    static func row(_ cells: [String]) -> Row {
        let row = Row()
        row.replaceFields(cells.map { Array($0.utf8) })
        return row
    }

    static func key(_ k: NaturalKey, _ cells: [String]) -> String {
        let out = ByteBuffer()
        k.append(row(cells), to: out)
        return out.string
    }

    @Test func theKeyJoinsItsFieldsAndUpperCasesAResidentNumbersX() throws {
        let k = NaturalKey(spec: try Self.spec())
        #expect(Self.key(k, ["11010119900307109x", "A", "a"]) == "11010119900307109X|A")
        #expect(Self.key(k, ["11010119900307109X", "A", "a"]) == "11010119900307109X|A")
        // Only a resident number's x: the free text keeps its case.
        #expect(Self.key(k, ["11010119900307109X", "box", "a"]) == "11010119900307109X|box")
        #expect(NaturalKey.recordID(source: "demo", key: "11010119900307109X|A") == "demo:36978e7f350fec49dcfc0efcd077e9fd")
        #expect(NaturalKey.recordID(source: "court", key: "C1|K-1") == "court:95d5a91c52a988b11e02711685df13a6")
    }

    @Test func onlyTheFreeFieldMayHoldABar() throws {
        let spec = try Self.spec()
        let k = NaturalKey(spec: spec)
        #expect(k.free == spec.index(of: "ref"))
        #expect(k.misplacedBar(Self.row(["11010119900307109X", "A|B", "a"])) == nil)
        #expect(k.misplacedBar(Self.row(["1101|0119900307109X", "A", "a"])) == spec.index(of: "rid"))
        // The validator turns it into a fault of that field, so no two rows share an id by it.
        var faults: [RowFault] = []
        let validator = RowValidator(spec: spec, today: CivilDate(year: 2026, month: 12, day: 5)!)
        validator.validate(Self.row(["11010119900307109X", "A|B", "a"]), into: &faults)
        #expect(faults.isEmpty)
        // Two free text fields: the last is the free one, a bar in the first is a fault.
        let two = try Self.spec(Self.feed.replacingOccurrences(of: "[\"rid\", \"ref\"]", with: "[\"kind\", \"ref\", \"rid\"]"),
                                Self.table.replacingOccurrences(of: "\"enum\": [\"a\", \"b\"]", with: "\"maxLength\": 9"))
        let k2 = NaturalKey(spec: two)
        #expect(k2.free == two.index(of: "ref"))
        let bad = Self.row(["11010119900307109X", "A", "x|y"])
        #expect(k2.misplacedBar(bad) == two.index(of: "kind"))
        RowValidator(spec: two, today: CivilDate(year: 2026, month: 12, day: 5)!).validate(bad, into: &faults)
        #expect(faults.map(\.code) == ["constraint-error"] && faults[0].field == "kind" && faults[0].reason.contains("only ref"))
    }

    @Test func aQuotedKeyAlwaysLeadsToItsRecord() throws {
        func record(_ id: String, _ attrs: Attributes) -> Record {
            Record(id: id, source: "demo", kind: "demo.event", subject: Subject(scheme: "cn-rid", id: "x"),
                   at: Timestamp(seconds: 0), attrs: attrs, prov: Provenance(file: "f", sha256: "s", line: 2))
        }
        let id = "demo:36978e7f350fec49dcfc0efcd077e9fd"
        #expect(NaturalKey.quote(record(id, ["rid": "11010119900307109X", "ref": "A"]), names: ["rid", "ref"]) == "11010119900307109X|A")
        // The attribute kept the lower-case x the feed wrote; the key to quote is the record's.
        #expect(NaturalKey.quote(record(id, ["rid": "11010119900307109x", "ref": "A"]), names: ["rid", "ref"]) == "11010119900307109X|A")
        // Values that do not make the record's id, or are missing, give no key at all.
        #expect(NaturalKey.quote(record(id, ["rid": "11010119900307109X", "ref": "B"]), names: ["rid", "ref"]) == nil)
        #expect(NaturalKey.quote(record(id, ["rid": "11010119900307109X"]), names: ["rid", "ref"]) == nil)
    }
}
