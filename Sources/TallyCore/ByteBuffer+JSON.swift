extension ByteBuffer {
    /// Appends `bytes` (valid UTF-8) as a JSON string literal, escaped per RFC 8259.
    ///
    /// Quotes, backslashes and control characters are escaped (`\n`, `\r`, `\t`, `\b`, `\f` by
    /// name, the rest as `\u00XX`); everything else, non-ASCII included, is written as UTF-8.
    @inline(__always)
    public func appendJSONString(_ bytes: UnsafeBufferPointer<UInt8>) {
        let n = bytes.count
        reserve(n &+ 2)
        base[count] = 0x22
        count &+= 1
        guard let src = bytes.baseAddress else {
            base[count] = 0x22
            count &+= 1
            return
        }
        var runStart = 0
        var i = 0
        // Eight bytes at a time while none needs escaping (no byte < 0x20, no '"', no '\\').
        let ones: UInt64 = 0x0101_0101_0101_0101, highs: UInt64 = 0x8080_8080_8080_8080
        while i &+ 8 <= n {
            let v = UnsafeRawPointer(src + i).loadUnaligned(as: UInt64.self)
            let control = (v &- ones &* 0x20) & ~v & highs
            let quote = ((v ^ (ones &* 0x22)) &- ones) & ~(v ^ (ones &* 0x22)) & highs
            let backslash = ((v ^ (ones &* 0x5C)) &- ones) & ~(v ^ (ones &* 0x5C)) & highs
            if control | quote | backslash != 0 { break }
            i &+= 8
        }
        while i < n {
            let c = src[i]
            if c < 0x20 || c == 0x22 || c == 0x5C {
                if i > runStart { append(UnsafeRawBufferPointer(start: src + runStart, count: i - runStart)) }
                appendEscape(c)
                runStart = i &+ 1
            }
            i &+= 1
        }
        if n > runStart { append(UnsafeRawBufferPointer(start: src + runStart, count: n - runStart)) }
        append(UInt8(0x22))
    }

    /// Appends a string as a JSON string literal.
    @inline(__always)
    public func appendJSONString(_ string: String) {
        // Native strings lend their UTF-8 without a copy; others are copied once.
        if string.utf8.withContiguousStorageIfAvailable({ appendJSONString($0) }) != nil { return }
        var copy = string
        copy.withUTF8 { appendJSONString($0) }
    }

    @inline(never)
    private func appendEscape(_ c: UInt8) {
        switch c {
        case 0x22: append("\\\"")
        case 0x5C: append("\\\\")
        case 0x0A: append("\\n")
        case 0x0D: append("\\r")
        case 0x09: append("\\t")
        case 0x08: append("\\b")
        case 0x0C: append("\\f")
        default:
            append("\\u00")
            withUnsafeBytes(of: c) { appendHex($0) }
        }
    }

    /// Appends a JSON array of strings.
    public func appendJSONStringArray(_ strings: [String]) {
        append(UInt8(ascii: "["))
        for (i, s) in strings.enumerated() {
            if i > 0 { append(UInt8(ascii: ",")) }
            appendJSONString(s)
        }
        append(UInt8(ascii: "]"))
    }
}
