import Testing
import TallyCore

@Suite struct JSONObjectWriterTests {
    @Test func writesMembersWithCommasEscapesAndNesting() {
        let b = ByteBuffer()
        var o = JSONObjectWriter(into: b)
        o.member("file", "a \"b\"\n.csv")
        o.member("rows", 12)
        o.member("valid", false)
        o.member("codes", ["x", "y\\z"])
        o.object("counts") { c in c.member("type-error", 2); c.member("k\u{1}", Int64(-3)) }
        o.object("none") { _ in }
        o.objects("first", [1, 2]) { o, n in o.member("row", n) }
        o.objects("empty", [Int]()) { _, _ in }
        o.end()
        #expect(b.string == #"{"file":"a \"b\"\n.csv","rows":12,"valid":false,"codes":["x","y\\z"],"counts":{"type-error":2,"k\u0001":-3},"none":{},"first":[{"row":1},{"row":2}],"empty":[]}"#)
    }
}
