/// A line that could not be decoded, and why: the same type the scanner throws.
public typealias DecodeError = JSONSyntaxError

extension Record {
    /// Appends this record as one JSON line (with the trailing newline).
    public func encode(into out: ByteBuffer) {
        out.append("{\"v\":1,\"id\":")
        out.appendJSONString(id)
        out.append(",\"source\":")
        out.appendJSONString(source)
        out.append(",\"kind\":")
        out.appendJSONString(kind)
        out.append(",\"subject\":{\"scheme\":")
        out.appendJSONString(subject.scheme)
        if let sid = subject.id {
            out.append(",\"id\":")
            out.appendJSONString(sid)
        }
        out.append("},\"at\":\"")
        out.appendTimestamp(at)
        out.append(UInt8(ascii: "\""))
        if let amountFen {
            out.append(",\"amount_fen\":")
            out.appendDecimal(amountFen)
        }
        if let target {
            out.append(",\"target\":")
            out.appendJSONString(target)
        }
        out.append(",\"attrs\":{")
        var first = true
        for entry in attrs.entries {
            if !first { out.append(UInt8(ascii: ",")) }
            first = false
            out.appendJSONString(entry.key)
            out.append(UInt8(ascii: ":"))
            out.appendJSONString(entry.value)
        }
        out.append("},\"prov\":{\"file\":")
        out.appendJSONString(prov.file)
        out.append(",\"sha256\":")
        out.appendJSONString(prov.sha256)
        out.append(",\"line\":")
        out.appendDecimal(Int64(prov.line))
        out.append(UInt8(ascii: "}"))
        if let person {
            out.append(",\"person\":")
            out.appendJSONString(person)
        }
        if let link {
            out.append(",\"link\":\"")
            out.append(link.rawValue)
            out.append(UInt8(ascii: "\""))
        }
        out.append("}\n")
    }
}

/// Decodes `tally.record` lines. Keep one per input stream: it caches repeated strings between
/// lines (file names, hashes, kinds), which is where most of the decoding time would otherwise go.
public struct RecordDecoder {
    var source = InternSlot(), kind = InternSlot(), scheme = InternSlot()
    var file = InternSlot(), sha = InternSlot()
    var attrKeys: [InternSlot] = Array(repeating: InternSlot(), count: 16)
    var attrValues: [InternSlot] = Array(repeating: InternSlot(), count: 16)

    public init() {}

    /// Decodes one line (without its newline). Keys may come in any order; unknown or repeated
    /// keys, missing required keys, wrong types and `v` other than 1 are errors.
    public mutating func decode(_ line: UnsafeRawBufferPointer) throws(DecodeError) -> Record {
        try decodeThrowingSyntax(line)
    }

    /// Decodes a line given as a string (tests and small inputs).
    public mutating func decode(_ line: String) throws(DecodeError) -> Record {
        var line = line
        let result: Result<Record, DecodeError> = line.withUTF8 { u in
            do throws(DecodeError) { return .success(try decode(UnsafeRawBufferPointer(u))) } catch { return .failure(error) }
        }
        return try result.get()
    }

    private mutating func decodeThrowingSyntax(_ line: UnsafeRawBufferPointer) throws(JSONSyntaxError) -> Record {
        var s = JSONScanner(line)
        var seen: UInt32 = 0
        var id = "", sourceValue = "", kindValue = ""
        var subject = Subject(scheme: "", id: nil)
        var at = Timestamp(seconds: 0)
        var amount: Int64?
        var target: String?
        var attrs = Attributes()
        var prov = Provenance(file: "", sha256: "", line: 0)
        var person: String?
        var linkValue: Link?

        try s.forEachMember { (s: inout JSONScanner, key: JSONKey) throws(JSONSyntaxError) in
            let bit: UInt32
            switch key.count {
            case 1 where key.equals("v"):
                bit = 1
                let keyColumn = s.column
                guard try s.int64() == 1 else { throw JSONSyntaxError(column: keyColumn, message: "unsupported record version (this is tally.record v1)") }
            case 2 where key.equals("id"):
                bit = 2; id = try s.string()
            case 6 where key.equals("source"):
                bit = 4; sourceValue = try s.string(intern: &source)
            case 4 where key.equals("kind"):
                bit = 8; kindValue = try s.string(intern: &kind)
            case 7 where key.equals("subject"):
                bit = 16; subject = try decodeSubject(&s)
            case 2 where key.equals("at"):
                bit = 32
                let column = s.column
                let text = try s.unescapedStringBytes()
                guard let t = Timestamp.parseUTC(text) else {
                    throw JSONSyntaxError(column: column, message: "at: not a UTC time YYYY-MM-DDTHH:MM:SSZ: \"\(text.text)\"")
                }
                at = t
            case 10 where key.equals("amount_fen"):
                bit = 64; amount = try s.int64()
            case 6 where key.equals("target"):
                bit = 128; target = try s.string()
            case 5 where key.equals("attrs"):
                bit = 256; attrs = try decodeAttrs(&s)
            case 4 where key.equals("prov"):
                bit = 512; prov = try decodeProv(&s)
            case 6 where key.equals("person"):
                bit = 1024; person = try s.string()
            case 4 where key.equals("link"):
                bit = 2048
                let column = s.column
                let text = try s.unescapedStringBytes()
                if text.equals("direct") { linkValue = .direct } else if text.equals("crosswalk") { linkValue = .crosswalk } else if text.equals("unlinked") { linkValue = .unlinked } else {
                    throw JSONSyntaxError(column: column, message: "link: unknown value \"\(text.text)\"")
                }
            default:
                throw s.fault("unknown key \"\(key.text)\" in a record")
            }
            if seen & bit != 0 { throw s.fault("key \"\(key.text)\" appears twice") }
            seen |= bit
        }
        try s.expectEnd()
        let requiredBits: UInt32 = 1 | 2 | 4 | 8 | 16 | 32 | 256 | 512
        if seen & requiredBits != requiredBits {
            let required: [(UInt32, String)] = [(1, "v"), (2, "id"), (4, "source"), (8, "kind"), (16, "subject"), (32, "at"), (256, "attrs"), (512, "prov")]
            for (bit, name) in required where seen & bit == 0 {
                throw JSONSyntaxError(column: 1, message: "record lacks \"\(name)\"")
            }
        }
        return Record(id: id, source: sourceValue, kind: kindValue, subject: subject, at: at, amountFen: amount,
                      target: target, attrs: attrs, prov: prov, person: person, link: linkValue)
    }

    private mutating func decodeSubject(_ s: inout JSONScanner) throws(JSONSyntaxError) -> Subject {
        var subject = Subject(scheme: "", id: nil)
        var seen = 0
        try s.forEachMember { (s: inout JSONScanner, key: JSONKey) throws(JSONSyntaxError) in
            if key.equals("scheme"), seen & 1 == 0 {
                subject.scheme = try s.string(intern: &scheme); seen |= 1
            } else if key.equals("id"), seen & 2 == 0 {
                subject.id = try s.string(); seen |= 2
            } else {
                throw s.fault("unexpected key \"\(key.text)\" in subject")
            }
        }
        guard seen & 1 != 0 else { throw s.fault("subject lacks \"scheme\"") }
        return subject
    }

    private mutating func decodeProv(_ s: inout JSONScanner) throws(JSONSyntaxError) -> Provenance {
        var prov = Provenance(file: "", sha256: "", line: 0)
        var seen = 0
        try s.forEachMember { (s: inout JSONScanner, key: JSONKey) throws(JSONSyntaxError) in
            if key.equals("file"), seen & 1 == 0 {
                prov.file = try s.string(intern: &file); seen |= 1
            } else if key.equals("sha256"), seen & 2 == 0 {
                prov.sha256 = try s.string(intern: &sha); seen |= 2
            } else if key.equals("line"), seen & 4 == 0 {
                let column = s.column
                prov.line = try s.int()
                guard prov.line >= 1 else { throw JSONSyntaxError(column: column, message: "prov.line must be at least 1") }
                seen |= 4
            } else {
                throw s.fault("unexpected key \"\(key.text)\" in prov")
            }
        }
        guard seen == 7 else { throw s.fault("prov needs file, sha256 and line") }
        return prov
    }

    private mutating func decodeAttrs(_ s: inout JSONScanner) throws(JSONSyntaxError) -> Attributes {
        var attrs = Attributes(capacity: 8)
        var index = 0
        try s.forEachMember { (s: inout JSONScanner, key: JSONKey) throws(JSONSyntaxError) in
            let name: String
            if key.escaped == nil, index < attrKeys.count, let cached = attrKeys[index].lookup(key.raw.assumingMemoryBound(to: UInt8.self)) {
                name = cached
            } else {
                guard let made = key.string else { throw s.fault("attribute key is not valid UTF-8") }
                if index < attrKeys.count { attrKeys[index].store(made) }
                name = made
            }
            for existing in attrs.entries where existing.key == name { throw s.fault("attribute \"\(name)\" appears twice") }
            let value: String
            if index < attrValues.count {
                value = try s.string(intern: &attrValues[index])
            } else {
                value = try s.string()
            }
            attrs.append(key: name, value: value)
            index += 1
        }
        return attrs
    }
}
