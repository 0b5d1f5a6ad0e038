/// A line that could not be decoded, and why: the same type the scanner throws.
public typealias DecodeError = JSONSyntaxError

extension Record {
    /// Appends this record as one JSON line (with the trailing newline); returns where in `out`
    /// the text of `prov.sha256` starts (after its quote), for a writer that fills it in later.
    @discardableResult
    public func encode(into out: ByteBuffer) -> Int {
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
        attrs.forEachBytes { key, value in
            if !first { out.append(UInt8(ascii: ",")) }
            first = false
            out.appendJSONString(key.assumingMemoryBound(to: UInt8.self))
            out.append(UInt8(ascii: ":"))
            out.appendJSONString(value.assumingMemoryBound(to: UInt8.self))
        }
        out.append("},\"prov\":{\"file\":")
        out.appendJSONString(prov.file)
        out.append(",\"sha256\":")
        let sha256At = out.count + 1
        out.appendJSONString(prov.sha256)
        out.append(",\"line\":")
        out.appendDecimal(Int64(prov.line))
        out.append(UInt8(ascii: "}"))
        if let person {
            out.append(",\"person\":")
            out.appendJSONString(person)
        }
        if let link { RecordLine.appendLink(link, to: out) }
        out.append("}\n")
        return sha256At
    }
}

/// Decodes `tally.record` lines into `Record`s. Keep one per input stream: it caches repeated
/// strings between lines (file names, hashes, kinds), which is where most of the decoding time
/// would otherwise go. The checking is `RecordViewScanner`'s; this only makes the strings.
public struct RecordDecoder {
    var scanner = RecordViewScanner()
    /// Repeated strings: sources, kinds, schemes, files, hashes, attribute keys and values.
    let cache = StringCache()

    public init() {}

    /// Decodes one line (without its newline). Keys may come in any order; unknown or repeated
    /// keys, missing required keys, wrong types and `v` other than 1 are errors.
    public mutating func decode(_ line: UnsafeRawBufferPointer) throws(DecodeError) -> Record {
        try Record(scanner.view(line), cache: cache)
    }

    /// Decodes a line given as a string (tests and small inputs).
    public mutating func decode(_ line: String) throws(DecodeError) -> Record {
        var line = line
        let result: Result<Record, DecodeError> = line.withUTF8 { u in
            do throws(DecodeError) { return .success(try decode(UnsafeRawBufferPointer(u))) } catch { return .failure(error) }
        }
        return try result.get()
    }

    /// Makes a `Record` of a view this decoder's scanner (or any scanner) produced.
    public func record(_ v: RecordView) -> Record { Record(v, cache: cache) }
}

extension Record {
    /// The record a view holds, its repeated strings taken from `cache`.
    @inline(__always)
    init(_ v: RecordView, cache: StringCache) {
        id = v.id.string
        source = cache.string(v.source)
        kind = cache.string(v.kind)
        subject = Subject(scheme: cache.string(v.scheme), id: v.subjectID?.string)
        at = v.at
        amountFen = v.amountFen
        self.attrs = Self.attributes(v.attrs)
        prov = Provenance(file: cache.string(v.file), sha256: cache.string(v.sha256), line: v.line)
        optionalStrings = OptionalStrings(target: v.target?.string, person: v.person?.string)
        link = v.link
    }

    /// The attributes of a view: their bytes copied into one block, or, when any is escaped,
    /// decoded one by one.
    @inline(__always)
    static func attributes(_ a: RecordAttributes) -> Attributes {
        var bytes = 0
        for i in 0..<a.count {
            let (k, v) = a[i]
            if k.escaped || v.escaped { return escapedAttributes(a) }
            bytes &+= 8 &+ k.content.count &+ v.content.count
        }
        return Attributes(count: a.count, byteCount: bytes) { out in
            var at = out
            // The layout of `Attributes.writeEntry`, written out here: calling it (inlined or
            // not) made the compiler stop inlining this function, and the view was then copied
            // for every record (callgrind: 2.5-3.4% more instructions to decode a record).
            for i in 0..<a.count {
                let k = a[i].key.content, v = a[i].value.content
                at.storeBytes(of: UInt32(k.count), as: UInt32.self)
                (at + 4).storeBytes(of: UInt32(v.count), as: UInt32.self)
                at += 8
                if k.count > 0 { at.copyMemory(from: k.baseAddress!, byteCount: k.count) }
                at += k.count
                if v.count > 0 { at.copyMemory(from: v.baseAddress!, byteCount: v.count) }
                at += v.count
            }
        }
    }

    @inline(never)
    static func escapedAttributes(_ a: RecordAttributes) -> Attributes {
        var attrs = Attributes(capacity: a.count)
        for i in 0..<a.count { attrs.append(key: a[i].key.string, value: a[i].value.string) }
        return attrs
    }
}
