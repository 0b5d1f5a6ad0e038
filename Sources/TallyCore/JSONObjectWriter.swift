/// Writes one JSON object member by member, with the commas and escapes: for the cold paths
/// (stats files, rejects, validation reports), where a mistyped comma or quote by hand would be
/// the bug. The hot paths (records, scores) keep their hand-written encoders.
///
///     var o = JSONObjectWriter(into: buffer)
///     o.member("file", "a.csv"); o.member("rows", 12)
///     o.array("codes") { a in a.element("x") }
///     o.end()
public struct JSONObjectWriter {
    let out: ByteBuffer
    var first = true

    /// Opens the object (`{`).
    public init(into out: ByteBuffer) {
        self.out = out
        out.append(UInt8(ascii: "{"))
    }

    mutating func key(_ key: String) {
        if !first { out.append(UInt8(ascii: ",")) }
        first = false
        out.appendJSONString(key)
        out.append(UInt8(ascii: ":"))
    }

    public mutating func member(_ key: String, _ value: String) { self.key(key); out.appendJSONString(value) }
    public mutating func member(_ key: String, _ value: Int) { self.key(key); out.appendDecimal(Int64(value)) }
    public mutating func member(_ key: String, _ value: Int64) { self.key(key); out.appendDecimal(value) }
    public mutating func member(_ key: String, _ value: Bool) { self.key(key); out.append(value ? "true" : "false") }
    public mutating func member(_ key: String, _ strings: [String]) { self.key(key); out.appendJSONStringArray(strings) }
    /// A number already written as JSON (a fixed-point decimal, say): not quoted, not checked.
    public mutating func member(_ key: String, number: String) { self.key(key); out.append(number) }
    public mutating func member(_ key: String, _ date: CivilDate) { self.key(key); out.append(UInt8(ascii: "\"")); out.appendDate(date); out.append(UInt8(ascii: "\"")) }
    public mutating func member(_ key: String, _ time: Timestamp) { self.key(key); out.append(UInt8(ascii: "\"")); out.appendTimestamp(time); out.append(UInt8(ascii: "\"")) }
    public mutating func null(_ key: String) { self.key(key); out.append("null") }

    /// A member whose value is an object, written by `body`.
    public mutating func object(_ key: String, _ body: (inout JSONObjectWriter) -> Void) {
        self.key(key)
        var inner = JSONObjectWriter(into: out)
        body(&inner)
        inner.end()
    }

    /// A member whose value is an array of objects, one for each of `items`.
    public mutating func objects<S: Sequence>(_ key: String, _ items: S, _ body: (inout JSONObjectWriter, S.Element) -> Void) {
        self.key(key)
        out.append(UInt8(ascii: "["))
        var first = true
        for item in items {
            if !first { out.append(UInt8(ascii: ",")) }
            first = false
            var inner = JSONObjectWriter(into: out)
            body(&inner, item)
            inner.end()
        }
        out.append(UInt8(ascii: "]"))
    }

    /// Closes the object (`}`).
    public func end() { out.append(UInt8(ascii: "}")) }
}
