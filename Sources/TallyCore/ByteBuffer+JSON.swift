extension ByteBuffer {
    /// Appends `bytes` (valid UTF-8) as a JSON string literal, escaped per RFC 8259.
    ///
    /// Quotes, backslashes and control characters are escaped (`\n`, `\r`, `\t`, `\b`, `\f` by
    /// name, the rest as `\u00XX`); everything else, non-ASCII included, is written as UTF-8.
    @inline(__always)
    public func appendJSONString(_ bytes: UnsafeBufferPointer<UInt8>) {
        let n = bytes.count
        // Room for the quotes and the bytes as they are; escapes (rare) reserve more as they go.
        reserve(n &+ 2)
        base[count] = 0x22
        guard let src = bytes.baseAddress else {
            base[count &+ 1] = 0x22
            count &+= 2
            return
        }
        let dst = base + count + 1
        var i = 0
        // Eight bytes at a time, copied as they are checked, while none needs escaping (no byte
        // below 0x20, no '"', no '\\'): no separate copy, and no call, for most strings.
        while i &+ 8 <= n {
            let v = UnsafeRawPointer(src + i).loadUnaligned(as: UInt64.self)
            if jsonStringStops(v) != 0 { break }
            UnsafeMutableRawPointer(dst + i).storeBytes(of: v, as: UInt64.self)
            i &+= 8
        }
        while i < n {
            let c = src[i]
            if isJSONStringStop(c) {
                count &+= 1 &+ i
                appendEscapedTail(UnsafeBufferPointer(start: src + i, count: n &- i))
                return
            }
            dst[i] = c
            i &+= 1
        }
        dst[n] = 0x22
        count &+= n &+ 2
    }

    /// The rest of a string from its first byte that needs escaping, and the closing quote.
    @inline(never)
    private func appendEscapedTail(_ bytes: UnsafeBufferPointer<UInt8>) {
        var runStart = 0
        for (i, c) in bytes.enumerated() where isJSONStringStop(c) {
            if i > runStart { append(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(bytes)[runStart..<i])) }
            appendEscape(c)
            runStart = i &+ 1
        }
        if bytes.count > runStart { append(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(bytes)[runStart...])) }
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
