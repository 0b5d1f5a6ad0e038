/// The parts of a `tally.record` line that are written apart from a whole `Record`: what
/// tally-link appends to and cuts from the lines it passes through. `Record.encode` writes its
/// own tail with the same functions, so a linked line reads as if it had been encoded whole
/// (RecordCodecTests compares the two); `RecordView` reads them back.
public enum RecordLine {
    /// Appends the person member (`,"person":"p_…"`, the key's 128 bits at `tag`).
    @inline(__always)
    public static func appendPerson(tag: UnsafeRawPointer, to out: ByteBuffer) {
        out.append(",\"person\":\"")
        PersonKeyer.appendKey(tag: tag, to: out)
        out.append(UInt8(ascii: "\""))
    }

    /// Appends the link member (`,"link":"direct"`).
    @inline(__always)
    public static func appendLink(_ link: Link, to out: ByteBuffer) {
        switch link {
        case .direct: out.append(",\"link\":\"direct\"")
        case .crosswalk: out.append(",\"link\":\"crosswalk\"")
        case .unlinked: out.append(",\"link\":\"unlinked\"")
        }
    }

    /// Appends a linked line's tail after its last member: the person, the link, the closing
    /// brace and the newline.
    @inline(__always)
    public static func appendLinkTail(tag: UnsafeRawPointer, link: Link, to out: ByteBuffer) {
        appendPerson(tag: tag, to: out)
        appendLink(link, to: out)
        out.append("}\n")
    }

    /// Appends `head` (a line up to its closing brace) with its subject object, at `subject`,
    /// written again without its id: `{"scheme":…}` (`scheme` with its quotes).
    @inline(__always)
    public static func appendRedacted(_ head: UnsafeRawBufferPointer, subject: Range<Int>, scheme: UnsafeRawBufferPointer, to out: ByteBuffer) {
        out.append(UnsafeRawBufferPointer(rebasing: head[head.startIndex..<(head.startIndex + subject.lowerBound)]))
        out.append("{\"scheme\":")
        out.append(scheme)
        out.append(UInt8(ascii: "}"))
        out.append(UnsafeRawBufferPointer(rebasing: head[(head.startIndex + subject.upperBound)...]))
    }

    /// The line without its `person` and `link` members (and their commas), into `out`
    /// (`--relink` links it again from scratch).
    public static func unlinked(_ view: RecordView, into out: inout [UInt8]) {
        out.removeAll(keepingCapacity: true)
        var cuts: [Range<Int>] = []
        for m in view.linkMembers.sorted(by: { $0.lowerBound < $1.lowerBound }) {
            // Take the comma before the member, unless an earlier cut took it already or there is
            // none (the member comes first): then the one after it.
            var a = m.lowerBound - 1
            while a >= 0, view.bytes[a] == 0x20 || view.bytes[a] == 0x09 { a -= 1 }
            if a >= (cuts.last?.upperBound ?? 0), view.bytes[a] == UInt8(ascii: ",") {
                cuts.append(a..<m.upperBound)
            } else {
                var b = m.upperBound
                while b < view.bytes.count, view.bytes[b] == 0x20 || view.bytes[b] == 0x09 { b += 1 }
                cuts.append(m.lowerBound..<(b < view.bytes.count && view.bytes[b] == UInt8(ascii: ",") ? b + 1 : b))
            }
        }
        var at = 0
        for cut in cuts {
            if cut.lowerBound > at { out.append(contentsOf: view.bytes[at..<cut.lowerBound]) }
            at = max(at, cut.upperBound)
        }
        out.append(contentsOf: view.bytes[at...])
    }
}
