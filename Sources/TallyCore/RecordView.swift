/// A JSON string value as it sits in a line: its bytes with the quotes, and whether it has escapes.
///
/// Valid while the line's bytes are. Most values have no escapes, so comparing or copying them
/// needs no decoding; `string` decodes when it must.
public struct JSONStringRef {
    /// The value's bytes including both quotes, exactly as in the line.
    public let quoted: UnsafeRawBufferPointer
    /// Whether the value contains a backslash escape.
    public let escaped: Bool

    /// The bytes between the quotes (still escaped when `escaped`).
    @inline(__always)
    public var content: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: quoted[(quoted.startIndex + 1)..<(quoted.endIndex - 1)])
    }

    /// The decoded value.
    public var string: String {
        if !escaped { return String(decoding: content, as: UTF8.self) }
        var s = JSONScanner(quoted)
        // The scan that made this reference validated the escapes already.
        return (try? s.string()) ?? ""
    }

    /// Whether the decoded value spells `literal` (escaped values are decoded to compare).
    @inline(__always)
    public func equals(_ literal: StaticString) -> Bool {
        escaped ? string == literal.description : content.equals(literal)
    }

    /// Whether two references hold the same decoded value.
    public func sameValue(as other: JSONStringRef) -> Bool {
        if !escaped && !other.escaped {
            let a = content, b = other.content
            return a.count == b.count && (a.count == 0 || memcmpEqual(a.baseAddress!.assumingMemoryBound(to: UInt8.self), b.baseAddress!.assumingMemoryBound(to: UInt8.self), a.count))
        }
        return string == other.string
    }
}

extension JSONScanner {
    /// Reads and validates a string value (escapes, control characters, UTF-8) without making a
    /// `String`: the reference points into the line.
    @inline(__always)
    public mutating func stringRef() throws(JSONSyntaxError) -> JSONStringRef {
        let open = p
        if let raw = try plainString("a string") {
            guard !lastHadHighBit || UTF8Check.isValid(raw.assumingMemoryBound(to: UInt8.self)) else {
                p = open
                throw fault("string is not valid UTF-8")
            }
            return JSONStringRef(quoted: UnsafeRawBufferPointer(start: open, count: p - open), escaped: false)
        }
        _ = try escapedString()
        return JSONStringRef(quoted: UnsafeRawBufferPointer(start: open, count: p - open), escaped: true)
    }

    /// The byte offset of the next byte from the start of the line.
    var offset: Int { p - start }
}

/// One `tally.record` line, checked as strictly as `RecordDecoder` checks it, with its fields
/// left in place as references into the line.
///
/// Stages that pass records through (tally-link, tally-store) read a view instead of a `Record`:
/// nothing is allocated for fields they do not change, and the line's own bytes are written back
/// out. Every reference is valid while the line's bytes are.
public struct RecordView {
    public var id: JSONStringRef
    public var source: JSONStringRef
    public var kind: JSONStringRef
    public var scheme: JSONStringRef
    /// Nil when the record was redacted (or is a correction without one).
    public var subjectID: JSONStringRef?
    /// The subject object's bytes, braces included.
    public var subjectObject: UnsafeRawBufferPointer
    /// The prov object's bytes, braces included.
    public var provObject: UnsafeRawBufferPointer
    public var at: Timestamp
    public var amountFen: Int64?
    public var target: JSONStringRef?
    /// The attributes, in the line's order, as (key, value) pairs; valid until the scanner
    /// reads another line.
    public var attrs: RecordAttributes
    public var file: JSONStringRef
    public var sha256: JSONStringRef
    public var line: Int
    public var person: JSONStringRef?
    public var link: Link?
    /// Where the `person` and `link` members lie (key to end of value), when present: what
    /// `tally-link --relink` removes before linking again. Two fields rather than an array, so
    /// that a linked line costs no allocation.
    public var personMember: Range<Int>?
    public var linkMember: Range<Int>?
    public var linkMembers: [Range<Int>] { [personMember, linkMember].compactMap { $0 } }
    /// The offset of the object's closing brace in the line.
    public var closingBrace: Int
    /// The line's bytes, without its newline.
    public var bytes: UnsafeRawBufferPointer

    /// Whether this is a correction record (`kind` starts with `correction.`).
    public var isCorrection: Bool {
        // Eight bytes and three, compared as words: a generic walk over a String's UTF-8 view
        // was 1.6% of tally-score, which asks this of every line.
        let k = kind.content
        guard k.count > 11, !kind.escaped, let p = k.baseAddress else { return false }
        return p.loadUnaligned(as: UInt64.self) == Self.correctionHead && p.loadUnaligned(fromByteOffset: 7, as: UInt32.self) == Self.correctionTail
    }
    // "correction." loaded as words the same way: bytes 0-7 ("correcti") and 7-10 ("ion.").
    static let correctionHead = Array("correcti".utf8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
    static let correctionTail = Array("ion.".utf8).withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) }
}

/// Makes `RecordView`s. Keep one per stream: it reuses its space for attributes.
public struct RecordViewScanner {
    var attrSpace = AttributeSpace(capacity: 16)
    /// The date part of the last `at` read and its day number: records in a stream mostly share
    /// their date, and parsing and checking it was 3% of reading a line (callgrind).
    var lastDay = DayMemo()
    /// The last source, kind and file hash found valid: most lines of a stream repeat them, and
    /// comparing bytes is cheaper than checking them again (callgrind: the rules cost 1,100
    /// instructions a line checked from scratch).
    let schemaMemo = SchemaMemo()

    public init() {}

    /// Checks one line (without its newline) and returns its view. Keys may come in any order;
    /// unknown or repeated keys, missing required keys, wrong types and `v` other than 1 are errors.
    ///
    /// Lines laid out as tally writes them (see `canonicalView`) take a fast path; any other line,
    /// and any line the fast path is unsure of, is read by the general scanner, which alone
    /// decides what is wrong with a line.
    /// Either way, the record is then held to the schema's rules beyond shape
    /// (`RecordView.schemaFault`): one check after both paths, so they cannot disagree on it.
    @inline(__always)
    public mutating func view(_ line: UnsafeRawBufferPointer) throws(JSONSyntaxError) -> RecordView {
        // PERF: the common case (plain values, most of them seen on earlier lines) is checked by
        // `passesSchema`; only a line it does not pass goes through `schemaFault`, which alone
        // says what is wrong. The rules added 1,460 instructions a line checked the long way
        // (callgrind, tally-score, 200,000 records). Each path returns its own view: copying the
        // view into one variable first cost another 128 instructions a line in memcpy.
        if let fast = canonicalView(line) {
            if !fast.passesSchema(memo: schemaMemo), let fault = fast.schemaFault() { throw fault }
            return fast
        }
        let v = try generalView(line)
        if !v.passesSchema(memo: schemaMemo), let fault = v.schemaFault() { throw fault }
        return v
    }

    /// The general scanner: any key order, white space, escapes; the only judge of faults.
    public mutating func generalView(_ line: UnsafeRawBufferPointer) throws(JSONSyntaxError) -> RecordView {
        var s = JSONScanner(line)
        var seen: UInt32 = 0
        let empty = JSONStringRef(quoted: UnsafeRawBufferPointer(start: nil, count: 0), escaped: false)
        var id = empty, source = empty, kind = empty, scheme = empty, file = empty, sha = empty
        var subjectID: JSONStringRef?, target: JSONStringRef?, person: JSONStringRef?
        var subjectObject = UnsafeRawBufferPointer(start: nil, count: 0)
        var provObject = UnsafeRawBufferPointer(start: nil, count: 0)
        var at = Timestamp(seconds: 0)
        var amount: Int64?
        var provLine = 0
        var linkValue: Link?
        var personMember: Range<Int>?, linkMember: Range<Int>?
        attrSpace.reset()

        try s.forEachMember { (s: inout JSONScanner, key: JSONKey) throws(JSONSyntaxError) in
            let bit: UInt32
            switch key.count {
            case 1 where key.equals("v"):
                bit = 1
                let keyColumn = s.column
                guard try s.int64() == 1 else { throw JSONSyntaxError(column: keyColumn, message: "unsupported record version (this is tally.record v1)") }
            case 2 where key.equals("id"):
                bit = 2; id = try s.stringRef()
            case 6 where key.equals("source"):
                bit = 4; source = try s.stringRef()
            case 4 where key.equals("kind"):
                bit = 8; kind = try s.stringRef()
            case 7 where key.equals("subject"):
                bit = 16
                let open = s.offset
                (scheme, subjectID) = try Self.subject(&s)
                subjectObject = UnsafeRawBufferPointer(rebasing: line[open..<s.offset])
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
                bit = 128; target = try s.stringRef()
            case 5 where key.equals("attrs"):
                bit = 256; try attributes(&s)
            case 4 where key.equals("prov"):
                bit = 512
                let open = s.offset
                (file, sha, provLine) = try Self.prov(&s)
                provObject = UnsafeRawBufferPointer(rebasing: line[open..<s.offset])
            case 6 where key.equals("person"):
                bit = 1024
                person = try s.stringRef()
                personMember = (key.quoted.baseAddress! - line.baseAddress!)..<s.offset
            case 4 where key.equals("link"):
                bit = 2048
                let column = s.column
                let text = try s.unescapedStringBytes()
                linkMember = (key.quoted.baseAddress! - line.baseAddress!)..<s.offset
                if text.equals("direct") { linkValue = .direct } else if text.equals("crosswalk") { linkValue = .crosswalk } else if text.equals("unlinked") { linkValue = .unlinked } else {
                    throw JSONSyntaxError(column: column, message: "link: unknown value \"\(text.text)\"")
                }
            default:
                throw s.fault("unknown key \"\(key.text)\" in a record")
            }
            if seen & bit != 0 { throw s.fault("key \"\(key.text)\" appears twice") }
            seen |= bit
        }
        let closingBrace = s.offset - 1
        try s.expectEnd()
        let requiredBits: UInt32 = 1 | 2 | 4 | 8 | 16 | 32 | 256 | 512
        if seen & requiredBits != requiredBits {
            let required: [(UInt32, String)] = [(1, "v"), (2, "id"), (4, "source"), (8, "kind"), (16, "subject"), (32, "at"), (256, "attrs"), (512, "prov")]
            for (bit, name) in required where seen & bit == 0 {
                throw JSONSyntaxError(column: 1, message: "record lacks \"\(name)\"")
            }
        }
        return RecordView(id: id, source: source, kind: kind, scheme: scheme, subjectID: subjectID, subjectObject: subjectObject, provObject: provObject,
                          at: at, amountFen: amount, target: target, attrs: attrSpace.attributes, file: file, sha256: sha, line: provLine,
                          person: person, link: linkValue, personMember: personMember, linkMember: linkMember, closingBrace: closingBrace, bytes: line)
    }

    private static func subject(_ s: inout JSONScanner) throws(JSONSyntaxError) -> (JSONStringRef, JSONStringRef?) {
        var scheme: JSONStringRef?, id: JSONStringRef?
        try s.forEachMember { (s: inout JSONScanner, key: JSONKey) throws(JSONSyntaxError) in
            if key.equals("scheme"), scheme == nil {
                scheme = try s.stringRef()
            } else if key.equals("id"), id == nil {
                id = try s.stringRef()
            } else {
                throw s.fault("unexpected key \"\(key.text)\" in subject")
            }
        }
        guard let scheme else { throw s.fault("subject lacks \"scheme\"") }
        return (scheme, id)
    }

    private static func prov(_ s: inout JSONScanner) throws(JSONSyntaxError) -> (JSONStringRef, JSONStringRef, Int) {
        var file: JSONStringRef?, sha: JSONStringRef?, line: Int?
        try s.forEachMember { (s: inout JSONScanner, key: JSONKey) throws(JSONSyntaxError) in
            if key.equals("file"), file == nil {
                file = try s.stringRef()
            } else if key.equals("sha256"), sha == nil {
                sha = try s.stringRef()
            } else if key.equals("line"), line == nil {
                let column = s.column
                let value = try s.int()
                guard value >= 1 else { throw JSONSyntaxError(column: column, message: "prov.line must be at least 1") }
                line = value
            } else {
                throw s.fault("unexpected key \"\(key.text)\" in prov")
            }
        }
        guard let file, let sha, let line else { throw s.fault("prov needs file, sha256 and line") }
        return (file, sha, line)
    }

    private mutating func attributes(_ s: inout JSONScanner) throws(JSONSyntaxError) {
        try s.forEachMember { (s: inout JSONScanner, key: JSONKey) throws(JSONSyntaxError) in
            // Escaped keys were checked as they were decoded; plain ones are checked here.
            if key.escaped == nil, !UTF8Check.isValid(key.raw.assumingMemoryBound(to: UInt8.self)) {
                throw s.fault("attribute key is not valid UTF-8")
            }
            let keyRef = JSONStringRef(quoted: key.quoted, escaped: key.escaped != nil)
            if attrSpace.contains(key: keyRef) {
                throw s.fault("attribute \"\(key.text)\" appears twice")
            }
            appendAttribute((keyRef, try s.stringRef()))
        }
    }
}

/// A record's attributes as the scanner found them: (key, value) references into the line.
public struct RecordAttributes: RandomAccessCollection {
    public typealias Element = (key: JSONStringRef, value: JSONStringRef)
    let space: AttributeSpace
    let base: UnsafeMutablePointer<Element>
    public let count: Int
    public var startIndex: Int { 0 }
    public var endIndex: Int { count }
    @inline(__always)
    public subscript(i: Int) -> Element {
        precondition(i >= 0 && i < count, "attribute index out of range")
        return base[i]
    }
}

/// The scanner's reused space for attribute references. A class with its own memory rather than
/// an array: appending to an array was a call per attribute that did not inline (perf: 4% of
/// tally-link). Growing it moves to a new space, so views handed out earlier keep theirs.
final class AttributeSpace {
    typealias Element = RecordAttributes.Element
    let base: UnsafeMutablePointer<Element>
    let capacity: Int
    var count = 0

    init(capacity: Int) {
        self.capacity = capacity
        base = .allocate(capacity: capacity)
    }

    deinit { base.deallocate() }

    var attributes: RecordAttributes { RecordAttributes(space: self, base: base, count: count) }

    /// Past this many attributes, keys are found through `index` instead of one by one, so that a
    /// line with 400,000 attributes is read in linear time, not quadratic.
    static let indexedFrom = 32
    /// The keys' hashes (of their decoded bytes) to their places, once a line has many.
    var index: [Int: [Int32]] = [:]
    var indexed = 0

    /// Forgets the keys (for the next line).
    @inline(__always)
    func reset() {
        count = 0
        if indexed > 0 { index.removeAll(keepingCapacity: true); indexed = 0 }
    }

    static func hash(_ key: JSONStringRef) -> Int {
        var h = Hasher()
        if key.escaped {
            var s = key.string
            s.withUTF8 { h.combine(bytes: UnsafeRawBufferPointer($0)) }
        } else {
            h.combine(bytes: key.content)
        }
        return h.finalize()
    }

    /// Whether a key with the same decoded value is in the space; keeps `index` up to date.
    func indexedContains(key: JSONStringRef) -> Bool {
        while indexed < count {
            index[Self.hash(base[indexed].key), default: []].append(Int32(indexed))
            indexed += 1
        }
        guard let places = index[Self.hash(key)] else { return false }
        return places.contains { base[Int($0)].key.sameValue(as: key) }
    }

    @inline(__always)
    func contains(key: JSONStringRef) -> Bool {
        if count >= Self.indexedFrom { return indexedContains(key: key) }
        for i in 0..<count where base[i].key.sameValue(as: key) { return true }
        return false
    }

    /// `contains(key:)` for keys without escapes (as the fast path reads them): the same bytes
    /// are the same key, so the quoted bytes are compared, lengths first.
    @inline(__always)
    func containsPlain(key: JSONStringRef) -> Bool {
        if count >= Self.indexedFrom { return indexedContains(key: key) }
        let q = key.quoted
        let n = q.count
        let p = q.baseAddress!.assumingMemoryBound(to: UInt8.self)
        for i in 0..<count {
            let o = base[i].key.quoted
            if o.count == n, memcmpEqual(o.baseAddress!.assumingMemoryBound(to: UInt8.self), p, n) { return true }
        }
        return false
    }
}

extension RecordViewScanner {
    /// Keeps `(key, value)`; the space moves to twice the size when full.
    @inline(__always)
    mutating func appendAttribute(_ e: RecordAttributes.Element) {
        if attrSpace.count == attrSpace.capacity {
            let bigger = AttributeSpace(capacity: attrSpace.capacity * 2)
            bigger.base.initialize(from: attrSpace.base, count: attrSpace.count)
            bigger.count = attrSpace.count
            attrSpace = bigger
        }
        (attrSpace.base + attrSpace.count).initialize(to: e)
        attrSpace.count += 1
    }
}
