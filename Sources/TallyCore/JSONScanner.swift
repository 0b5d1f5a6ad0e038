import CTally

/// What is wrong with a JSON line, and where in the line (a 1-based byte column).
public struct JSONSyntaxError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The 1-based byte column where the fault was found.
    public var column: Int
    /// What is wrong, for people.
    public var message: String

    public init(column: Int, message: String) {
        self.column = column
        self.message = message
    }

    public var description: String { "column \(column): \(message)" }
}

/// A forward-only JSON tokenizer over the bytes of one line.
///
/// It is the decoding half of tally's JSON Lines codec: record and score decoders walk an object
/// key by key and pull typed values, so no intermediate tree is built. Strings are checked for
/// RFC 8259 escapes (surrogate pairs included) and for valid UTF-8. Repeated values (file names,
/// kinds, hashes) can be served from an `InternTable` so that they do not allocate on every line.
public struct JSONScanner {
    @usableFromInline let start: UnsafePointer<UInt8>
    @usableFromInline let end: UnsafePointer<UInt8>
    @usableFromInline var p: UnsafePointer<UInt8>
    /// Reused space for strings that contain escapes.
    @usableFromInline var scratch: [UInt8] = []
    /// Whether the last plain string scanned had a byte of 0x80 or more (so it needs UTF-8
    /// validation; pure ASCII does not).
    @usableFromInline var lastHadHighBit = false

    /// Makes a scanner over `bytes`, which must outlive it.
    public init(_ bytes: UnsafeRawBufferPointer) {
        let base = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self) ?? UnsafePointer(bitPattern: 1)!
        start = base
        end = base + bytes.count
        p = base
    }

    /// The 1-based column of the next byte.
    public var column: Int { p - start + 1 }

    /// A syntax error at the current position.
    public func fault(_ message: String) -> JSONSyntaxError {
        JSONSyntaxError(column: column, message: message)
    }

    @inline(__always)
    mutating func skipSpace() {
        while p < end {
            let c = p.pointee
            if c == 0x20 || c == 0x09 || c == 0x0A || c == 0x0D { p += 1 } else { break }
        }
    }

    /// Consumes `byte` (after optional white space) or fails with `expected`.
    @inline(__always)
    public mutating func expect(_ byte: UInt8, _ expected: @autoclosure () -> String) throws(JSONSyntaxError) {
        skipSpace()
        guard p < end, p.pointee == byte else { throw fault(p < end ? "expected \(expected())" : "line ends early, expected \(expected())") }
        p += 1
    }

    /// Consumes `byte` if it is next (after white space) and says whether it was.
    @inline(__always)
    public mutating func consume(_ byte: UInt8) -> Bool {
        skipSpace()
        if p < end, p.pointee == byte { p += 1; return true }
        return false
    }

    /// Checks that nothing but white space is left.
    public mutating func expectEnd() throws(JSONSyntaxError) {
        skipSpace()
        if p < end { throw fault("unexpected text after the object") }
    }

    /// Iterates the members of an object: calls `member` with each key's bytes, positioned at
    /// its value, which `member` must consume. Duplicate keys are the caller's to detect.
    @inline(__always)
    public mutating func forEachMember(_ member: (inout JSONScanner, JSONKey) throws(JSONSyntaxError) -> Void) throws(JSONSyntaxError) {
        try expect(UInt8(ascii: "{"), "'{'")
        if consume(UInt8(ascii: "}")) { return }
        while true {
            skipSpace()
            let key = try rawKey()
            try expect(UInt8(ascii: ":"), "':' after a key")
            skipSpace()
            try member(&self, key)
            skipSpace()
            guard p < end else { throw fault("line ends inside an object") }
            if p.pointee == UInt8(ascii: ",") { p += 1; continue }
            if p.pointee == UInt8(ascii: "}") { p += 1; return }
            throw fault("expected ',' or '}'")
        }
    }

    /// Iterates the elements of an array, calling `element` positioned at each value.
    @inline(__always)
    public mutating func forEachElement(_ element: (inout JSONScanner) throws(JSONSyntaxError) -> Void) throws(JSONSyntaxError) {
        try expect(UInt8(ascii: "["), "'['")
        if consume(UInt8(ascii: "]")) { return }
        while true {
            skipSpace()
            try element(&self)
            skipSpace()
            guard p < end else { throw fault("line ends inside an array") }
            if p.pointee == UInt8(ascii: ",") { p += 1; continue }
            if p.pointee == UInt8(ascii: "]") { p += 1; return }
            throw fault("expected ',' or ']'")
        }
    }

    /// Reads an opening quote and scans to the closing one. Returns the content when no escape
    /// comes first (positioned after the closing quote); returns nil positioned at the content's
    /// start when a backslash comes first, for `escapedString()` to take over.
    @inline(__always)
    mutating func plainString(_ what: StaticString) throws(JSONSyntaxError) -> UnsafeRawBufferPointer? {
        guard p < end, p.pointee == 0x22 else { throw fault("expected \(what)") }
        let open = p
        let contentStart = p + 1
        let (stop, highBit) = jsonPlainRun(from: contentStart, to: end)
        guard stop < end else {
            p = open
            throw fault("line ends inside \(what)")
        }
        switch stop.pointee {
        case 0x22:
            p = stop + 1
            lastHadHighBit = highBit
            return UnsafeRawBufferPointer(start: contentStart, count: stop - contentStart)
        case 0x5C:
            p = contentStart
            return nil
        default:
            p = stop
            throw fault("control character in \(what) must be escaped")
        }
    }

    /// A key: its raw bytes when it has no escapes (the usual case, no allocation), else decoded.
    @inline(__always)
    mutating func rawKey() throws(JSONSyntaxError) -> JSONKey {
        let open = p
        if let raw = try plainString("a key string") {
            return JSONKey(raw: raw, escaped: nil, quoted: UnsafeRawBufferPointer(start: open, count: p - open))
        }
        let decoded = try escapedString()
        return JSONKey(raw: UnsafeRawBufferPointer(start: nil, count: 0), escaped: decoded, quoted: UnsafeRawBufferPointer(start: open, count: p - open))
    }

    /// Reads a string value into a `String`, taken from `cache` when the same bytes were read
    /// before.
    @inline(__always)
    mutating func string(cache: StringCache?) throws(JSONSyntaxError) -> String {
        let open = p
        // Fast path: no escapes, then one validation and perhaps no allocation.
        guard let raw = try plainString("a string") else { return try escapedString() }
        let bytes = raw.assumingMemoryBound(to: UInt8.self)
        func make(_ b: UnsafeBufferPointer<UInt8>) throws(JSONSyntaxError) -> String {
            guard let s = UTF8Check.string(b) else {
                p = open
                throw fault("string is not valid UTF-8")
            }
            return s
        }
        guard let cache else { return try make(bytes) }
        return try cache.string(bytes, make: make)
    }

    /// Reads a string value that must have no escapes and hands out its bytes (valid while the
    /// line is), so values such as timestamps are parsed without making a `String`.
    @inline(__always)
    public mutating func unescapedStringBytes() throws(JSONSyntaxError) -> UnsafeRawBufferPointer {
        guard let raw = try plainString("a string") else { throw fault("an escape is not allowed in this value") }
        return raw
    }

    /// Reads a string value into a `String`.
    @inline(__always)
    public mutating func string() throws(JSONSyntaxError) -> String {
        try string(cache: nil)
    }

    @inline(never)
    mutating func escapedString() throws(JSONSyntaxError) -> String {
        scratch.removeAll(keepingCapacity: true)
        while p < end {
            let c = p.pointee
            if c == 0x22 {
                p += 1
                guard let s = scratch.withUnsafeBufferPointer({ UTF8Check.string($0) }) else {
                    throw fault("string is not valid UTF-8")
                }
                return s
            }
            if c < 0x20 { throw fault("control character in a string must be escaped") }
            if c != 0x5C { scratch.append(c); p += 1; continue }
            p += 1
            guard p < end else { break }
            let e = p.pointee
            p += 1
            switch e {
            case 0x22: scratch.append(0x22)
            case 0x5C: scratch.append(0x5C)
            case 0x2F: scratch.append(0x2F)
            case UInt8(ascii: "b"): scratch.append(0x08)
            case UInt8(ascii: "f"): scratch.append(0x0C)
            case UInt8(ascii: "n"): scratch.append(0x0A)
            case UInt8(ascii: "r"): scratch.append(0x0D)
            case UInt8(ascii: "t"): scratch.append(0x09)
            case UInt8(ascii: "u"):
                var scalar = try hex4()
                if scalar >= 0xD800 && scalar < 0xDC00 {
                    guard end - p >= 6, p[0] == 0x5C, p[1] == UInt8(ascii: "u") else {
                        throw fault("lone high surrogate in \\u escape")
                    }
                    p += 2
                    let low = try hex4()
                    guard low >= 0xDC00 && low < 0xE000 else { throw fault("high surrogate not followed by a low one") }
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                } else if scalar >= 0xDC00 && scalar < 0xE000 {
                    throw fault("lone low surrogate in \\u escape")
                }
                appendUTF8(scalar)
            default:
                p -= 1
                throw fault("unknown escape '\\\(Character(Unicode.Scalar(e)))'")
            }
        }
        throw fault("line ends inside a string")
    }

    @inline(__always)
    mutating func hex4() throws(JSONSyntaxError) -> UInt32 {
        guard end - p >= 4 else { throw fault("\\u needs four hex digits") }
        var v: UInt32 = 0
        for _ in 0..<4 {
            guard let d = Bytes.hexValue(UInt32(p.pointee)) else { throw fault("\\u needs four hex digits") }
            v = v << 4 | d
            p += 1
        }
        return v
    }

    mutating func appendUTF8(_ v: UInt32) {
        switch v {
        case 0..<0x80: scratch.append(UInt8(v))
        case 0x80..<0x800:
            scratch.append(UInt8(0xC0 | v >> 6)); scratch.append(UInt8(0x80 | v & 0x3F))
        case 0x800..<0x10000:
            scratch.append(UInt8(0xE0 | v >> 12)); scratch.append(UInt8(0x80 | (v >> 6) & 0x3F))
            scratch.append(UInt8(0x80 | v & 0x3F))
        default:
            scratch.append(UInt8(0xF0 | v >> 18)); scratch.append(UInt8(0x80 | (v >> 12) & 0x3F))
            scratch.append(UInt8(0x80 | (v >> 6) & 0x3F)); scratch.append(UInt8(0x80 | v & 0x3F))
        }
    }

    /// Reads an integer value (no fraction, no exponent) that fits in `Int64`.
    @inline(__always)
    public mutating func int64() throws(JSONSyntaxError) -> Int64 {
        let numberStart = p
        var negative = false
        if p < end, p.pointee == UInt8(ascii: "-") { negative = true; p += 1 }
        guard p < end, p.pointee &- 0x30 < 10 else { p = numberStart; throw fault("expected an integer") }
        if p.pointee == 0x30, end - p > 1, p[1] &- 0x30 < 10 { throw fault("leading zero in a number") }
        var magnitude: UInt64 = 0
        var digits = 0
        while p < end {
            let d = p.pointee &- 0x30
            if d >= 10 { break }
            if digits < 19 {
                // Nineteen digits always fit in 64 bits: no overflow check (perf: the checked
                // multiply was a tenth of reading a record).
                magnitude = magnitude &* 10 &+ UInt64(d)
            } else {
                let (m, o1) = magnitude.multipliedReportingOverflow(by: 10)
                let (a, o2) = m.addingReportingOverflow(UInt64(d))
                if o1 || o2 { p = numberStart; throw fault("integer out of range") }
                magnitude = a
            }
            digits &+= 1
            p += 1
        }
        if p < end, p.pointee == UInt8(ascii: ".") || p.pointee | 0x20 == UInt8(ascii: "e") {
            p = numberStart
            throw fault("expected an integer, found a fraction or exponent")
        }
        if negative {
            guard magnitude <= UInt64(Int64.max) + 1 else { p = numberStart; throw fault("integer out of range") }
            return magnitude == UInt64(Int64.max) + 1 ? Int64.min : -Int64(magnitude)
        }
        guard magnitude <= UInt64(Int64.max) else { p = numberStart; throw fault("integer out of range") }
        return Int64(magnitude)
    }

    /// Reads an integer value into `Int`.
    @inline(__always)
    public mutating func int() throws(JSONSyntaxError) -> Int { Int(try int64()) }
}

/// Whether a byte ends a plain run inside a JSON string: a quote, a backslash or a control
/// character (which RFC 8259 requires to be escaped).
@inline(__always)
func isJSONStringStop(_ c: UInt8) -> Bool { c == 0x22 || c == 0x5C || c < 0x20 }

/// `isJSONStringStop` for the eight bytes of a word (the first byte lowest), each stop marked by
/// its high bit. Borrows only spill upwards, so bytes above a stop may be marked falsely but the
/// lowest mark is always a true stop.
@inline(__always)
func jsonStringStops(_ x: UInt64) -> UInt64 {
    // A quote or a backslash is a zero byte once XORed with it; a control character borrows
    // when 0x20 is taken from it.
    Bytes.bytes(x, equalTo: 0x22) | Bytes.bytes(x, equalTo: 0x5C) | ((x &- Bytes.ones &* 0x20) & ~x & Bytes.highs)
}

/// From `start`, the first byte before `end` that `isJSONStringStop` (or `end` if none), and
/// whether any byte before it has its high bit set (then the run must be checked as UTF-8; pure
/// ASCII need not be). The one scan of string content for the scanner and its fast path
/// (`RecordView+Canonical`); the encoder uses the same predicate.
///
/// Sixteen bytes a step, in C with SSE2 (`tally_json_plain_run` in CTally.h). The Swift
/// version read eight bytes a step as a word; inlined into the record scanner its loop lived on
/// the stack, called it cost a call per string, and either way it was the scanner's largest
/// part (callgrind: 70 instructions a string, a quarter of decoding a record).
@inline(__always)
func jsonPlainRun(from start: UnsafePointer<UInt8>, to end: UnsafePointer<UInt8>) -> (stop: UnsafePointer<UInt8>, highBit: Bool) {
    let run = tally_json_plain_run(start, end)
    return (run.stop!, run.high != 0)
}

/// An object key as the scanner found it. Keys without escapes are handed out as the line's own
/// bytes (valid until the next key); keys with escapes are decoded into `escaped`.
public struct JSONKey {
    /// The key's bytes in the line, when it had no escapes.
    public let raw: UnsafeRawBufferPointer
    /// The decoded key, when it had escapes.
    public let escaped: String?
    /// The key as written in the line, quotes included (escaped or not).
    public let quoted: UnsafeRawBufferPointer

    /// The key's length in UTF-8 bytes.
    @inline(__always)
    public var count: Int { escaped?.utf8.count ?? raw.count }

    /// Whether the key spells `literal`.
    @inline(__always)
    public func equals(_ literal: StaticString) -> Bool {
        if let escaped { return escaped == literal.description }
        return raw.equals(literal)
    }

    /// The key as a string (validated UTF-8), or nil if its bytes are not valid UTF-8.
    public var string: String? {
        escaped ?? UTF8Check.string(UnsafeBufferPointer(start: raw.baseAddress?.assumingMemoryBound(to: UInt8.self), count: raw.count))
    }

    /// The key for messages.
    public var text: String { escaped ?? raw.text }
}
