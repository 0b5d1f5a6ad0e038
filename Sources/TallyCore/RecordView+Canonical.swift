/// The fast path of `RecordViewScanner`: a line laid out exactly as tally writes records.
///
/// Every stage that reads records (link, score, store, explain, the decoder) reads lines that a
/// tally stage wrote, with the keys in one order and no white space:
///
///     {"v":1,"id":…,"source":…,"kind":…,"subject":{"scheme":…[,"id":…]},"at":"…"
///      [,"amount_fen":N][,"target":…],"attrs":{…},"prov":{"file":…,"sha256":…,"line":N}
///      [,"person":…][,"link":"…"]}
///
/// Such a line is checked by comparing the fixed text between values and scanning each value
/// once, instead of reading and dispatching every key (perf: key dispatch, closures and
/// per-member white-space handling were most of the general scanner's time). It never reports a
/// fault: at the first thing it does not expect (another order, white space, an escape, a control
/// character, invalid UTF-8, a bad number or time) it gives up and the general scanner reads the
/// line from the start, so what is accepted and what each fault says are the general scanner's.
/// What it accepts, the general scanner accepts with the same view (tested on random lines).
extension RecordViewScanner {
    @inline(__always)
    mutating func canonicalView(_ line: UnsafeRawBufferPointer) -> RecordView? {
        guard let base = line.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return nil }
        var c = CanonicalCursor(p: base, end: base + line.count)
        guard c.literal("{\"v\":1,\"id\":"), let id = c.string(),
              c.literal(",\"source\":"), let source = c.string(),
              c.literal(",\"kind\":"), let kind = c.string() else { return nil }
        let subjectStart = c.p + 11
        guard c.literal(",\"subject\":{\"scheme\":"), let scheme = c.string() else { return nil }
        var subjectID: JSONStringRef?
        if c.literal(",\"id\":") {
            guard let sid = c.string() else { return nil }
            subjectID = sid
        }
        guard c.byte(UInt8(ascii: "}")) else { return nil }
        let subjectObject = UnsafeRawBufferPointer(start: subjectStart, count: c.p - subjectStart)
        guard c.literal(",\"at\":"), let atText = c.string(), !atText.escaped,
              let at = Timestamp.parseUTC(atText.content, memo: &lastDay) else { return nil }
        var amount: Int64?
        if c.literal(",\"amount_fen\":") {
            guard let n = c.integer() else { return nil }
            amount = n
        }
        var target: JSONStringRef?
        if c.literal(",\"target\":") {
            guard let t = c.string() else { return nil }
            target = t
        }
        guard c.literal(",\"attrs\":{"), canonicalAttributes(&c) else { return nil }
        let provStart = c.p + 8
        guard c.literal(",\"prov\":{\"file\":"), let file = c.string(),
              c.literal(",\"sha256\":"), let sha = c.string(),
              c.literal(",\"line\":"), let provLine = c.integer(), provLine >= 1,
              c.byte(UInt8(ascii: "}")) else { return nil }
        let provObject = UnsafeRawBufferPointer(start: provStart, count: c.p - provStart)
        var person: JSONStringRef?, personMember: Range<Int>?
        if c.p < c.end, c.p.pointee == UInt8(ascii: ",") {
            let memberStart = c.p + 1 - base
            if c.literal(",\"person\":") {
                guard let value = c.string() else { return nil }
                person = value
                personMember = memberStart..<(c.p - base)
            }
        }
        var link: Link?, linkMember: Range<Int>?
        if c.p < c.end, c.p.pointee == UInt8(ascii: ",") {
            let memberStart = c.p + 1 - base
            guard c.literal(",\"link\":\"") else { return nil }
            if c.literal("direct\"") { link = .direct } else if c.literal("crosswalk\"") { link = .crosswalk } else if c.literal("unlinked\"") { link = .unlinked } else { return nil }
            linkMember = memberStart..<(c.p - base)
        }
        // The closing brace must be the line's last byte.
        guard c.end - c.p == 1, c.p.pointee == UInt8(ascii: "}") else { return nil }
        return RecordView(id: id, source: source, kind: kind, scheme: scheme, subjectID: subjectID, subjectObject: subjectObject,
                          provObject: provObject, at: at, amountFen: amount, target: target, attrs: attrSpace.attributes, file: file,
                          sha256: sha, line: Int(provLine), person: person, link: link, personMember: personMember,
                          linkMember: linkMember, closingBrace: line.count - 1, bytes: line)
    }
}

extension RecordViewScanner {
    /// The attributes' members and closing brace, after `"attrs":{`; false at anything the fast
    /// path does not take. A function of its own so that its loop keeps the cursor in a register:
    /// inlined into `canonicalView`, with the fields read before it still live, the cursor went
    /// to the stack and every string scan waited on a store and a load of it (a view of a line
    /// with five attributes was 15% slower, ABBA runs of tally-bench codec --views). Splitting
    /// off the parts before and after the attributes as well made it 26% slower again: they
    /// return many references, which then go through memory.
    @inline(never)
    mutating func canonicalAttributes(_ c: inout CanonicalCursor) -> Bool {
        attrSpace.reset()
        if c.byte(UInt8(ascii: "}")) { return true }
        // A key's length and last byte pick one of 64 bits; only a key whose bit is already
        // set is compared with the keys before it (callgrind: 29 fewer instructions a line of
        // five attributes).
        var seen: UInt64 = 0
        repeat {
            guard let key = c.string() else { return false }
            let q = key.quoted
            let bit: UInt64 = 1 << ((UInt64(q.count) &* 7 &+ UInt64(q[q.count - 2])) & 63)
            if seen & bit != 0, attrSpace.containsPlain(key: key) { return false }
            seen |= bit
            guard c.byte(UInt8(ascii: ":")), let value = c.string() else { return false }
            appendAttribute((key, value))
        } while c.byte(UInt8(ascii: ","))
        return c.byte(UInt8(ascii: "}"))
    }
}

/// A position in a line for `canonicalView`; each step either advances past what it expects or
/// says it did not find it (and then the line goes to the general scanner).
struct CanonicalCursor {
    var p: UnsafePointer<UInt8>
    let end: UnsafePointer<UInt8>

    /// Consumes `text` if the line continues with exactly it.
    @inline(__always)
    mutating func literal(_ text: StaticString) -> Bool {
        let n = text.utf8CodeUnitCount
        guard end - p >= n, memcmpEqual(p, text.utf8Start, n) else { return false }
        p += n
        return true
    }

    @inline(__always)
    mutating func byte(_ b: UInt8) -> Bool {
        guard p < end, p.pointee == b else { return false }
        p += 1
        return true
    }

    /// A string value with no escapes and no control characters, valid UTF-8; nil otherwise
    /// (an escaped string is left to the general scanner, which decodes and checks it).
    @inline(__always)
    mutating func string() -> JSONStringRef? {
        guard p < end, p.pointee == 0x22 else { return nil }
        let (stop, highBit) = jsonPlainRun(from: p + 1, to: end)
        guard stop < end, stop.pointee == 0x22 else { return nil }
        if highBit, !UTF8Check.isValid(UnsafeBufferPointer(start: p + 1, count: stop - p - 1)) { return nil }
        let open = p
        p = stop + 1
        return JSONStringRef(quoted: UnsafeRawBufferPointer(start: open, count: p - open), escaped: false)
    }

    /// An integer as the general scanner reads one (no leading zeros, no fraction or exponent,
    /// within Int64); nil for anything else.
    @inline(__always)
    mutating func integer() -> Int64? {
        var s = JSONScanner(UnsafeRawBufferPointer(start: p, count: end - p))
        guard let n = try? s.int64() else { return nil }
        p = s.p
        return n
    }
}
