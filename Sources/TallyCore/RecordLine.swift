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
}
