#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
internal import CLibXML2
import TallyCore

/// Streams the record elements of an XML feed into `Row`s with libxml2's reader, validating the
/// feed's XSD as it goes. Never builds a tree of the whole file.
///
/// Safe by construction: no network (`XML_PARSE_NONET`), entities never substituted from a DTD
/// and no DTD loaded; a document that has a DOCTYPE at all is refused before anything in it is
/// used, which rules out external entities and entity-expansion bombs. The bytes come through
/// an `InputFile`, so gzip, hashing and bounds are the same as for every other input.
///
/// Each record element is expanded (its subtree alone, never the whole file) and validated on
/// its own against the XSD's global declaration of it, so an XSD error lands on the record it is
/// in however many records share a line (a minified file); it makes that record a reject
/// (`schema-error`, with libxml2's message). The root's own attributes are validated on their
/// own too. A document that is not well-formed, has another root or namespace, has anything but
/// record elements (and white space) under the root, or breaks the XSD on the root stops with
/// an `InputError` naming the line.
public final class XMLRecordReader {
    private let input: InputFile
    private let spec: FeedSpec
    private let context: ReaderContext
    private var reader: xmlTextReaderPtr?
    private let root: PathNode
    private let namespace: [CChar]
    private let rootName: [CChar]
    private let recordName: [CChar]
    private let recordElement: String
    private var sawRoot = false
    /// After a record, the reader skips its subtree (already walked) rather than reading into it.
    private var skipSubtree = false
    private var schema: xmlSchemaPtr?
    private var validation: xmlSchemaValidCtxtPtr?
    private var xsdPath = ""

    private static let initialise: Void = { xmlInitParser() }()

    /// Opens the reader over `input`; `xsdPath` is the feed's schema file.
    public init(_ input: InputFile, spec: FeedSpec, xsdPath: String) throws(InputError) {
        _ = Self.initialise
        guard case .xml(_, let ns, let rootElement, let record) = spec.format else {
            preconditionFailure("XMLRecordReader needs an XML feed")
        }
        self.input = input
        self.spec = spec
        namespace = Array(ns.utf8CString)
        rootName = Array(rootElement.utf8CString)
        recordName = Array(record.utf8CString)
        recordElement = record
        root = PathNode.build(spec.fields)
        context = ReaderContext(input: input)
        // BIG_LINES keeps node line numbers right past 65,535.
        let options = Int32(XML_PARSE_NONET.rawValue | XML_PARSE_COMPACT.rawValue | XML_PARSE_BIG_LINES.rawValue)
        let ctx = Unmanaged.passUnretained(context).toOpaque()
        clibxml2_silence_generic_errors() // per thread, like every libxml2 handler
        reader = xmlReaderForIO({ ctx, buffer, length in
            let context = Unmanaged<ReaderContext>.fromOpaque(ctx!).takeUnretainedValue()
            do throws(InputError) {
                let n = try context.input.read(into: UnsafeMutableRawPointer(buffer!), count: Int(length))
                try context.witness(UnsafeRawBufferPointer(start: buffer, count: n))
                try context.countPieces(UnsafeRawBufferPointer(start: buffer, count: n))
                return Int32(n)
            } catch {
                context.inputError = error
                return -1
            }
        }, nil, ctx, input.baseName, nil, options)
        guard let reader else { throw InputError(.io, file: input.name, "libxml2 could not start a reader") }
        let collect: xmlStructuredErrorFunc = { ctx, error in
            guard let ctx, let error else { return }
            let context = Unmanaged<ReaderContext>.fromOpaque(ctx).takeUnretainedValue()
            context.collect(error.pointee)
        }
        xmlTextReaderSetStructuredErrorHandler(reader, collect, ctx)
        guard let parser = xmlSchemaNewParserCtxt(xsdPath) else { throw InputError(.io, file: xsdPath, "cannot load the feed's XML Schema") }
        xmlSchemaSetParserStructuredErrors(parser, { _, _ in }, nil)
        schema = xmlSchemaParse(parser)
        xmlSchemaFreeParserCtxt(parser)
        guard let schema, let validation = xmlSchemaNewValidCtxt(schema) else {
            throw InputError(.io, file: xsdPath, "cannot load the feed's XML Schema")
        }
        self.validation = validation
        xmlSchemaSetValidStructuredErrors(validation, collect, ctx)
        self.xsdPath = xsdPath
    }

    deinit {
        if let reader { xmlFreeTextReader(reader) }
        if let validation { xmlSchemaFreeValidCtxt(validation) }
        if let schema { xmlSchemaFree(schema) }
    }

    /// Reads the next record element into `row`; false at the end of the document.
    public func next(into row: Row) throws(InputError) -> Bool {
        guard let reader else { return false }
        while true {
            let status = skipSubtree ? xmlTextReaderNext(reader) : xmlTextReaderRead(reader)
            skipSubtree = false
            if let error = context.inputError { throw error }
            if status == 0 {
                if !sawRoot { throw InputError(.data, file: input.name, "no root element") }
                return false
            }
            if status < 0 { throw fatal() }
            let type = xmlTextReaderNodeType(reader)
            let depth = xmlTextReaderDepth(reader)
            switch type {
            case 10: // DOCUMENT_TYPE
                throw InputError(.data, file: input.name, line: nodeLine(reader),
                                 "a DOCTYPE is not allowed in a feed (external entities and entity expansion are refused)")
            case 1 where depth == 0: // the root
                try checkRoot(reader)
            case 1 where depth == 1:
                guard isNamed(reader, recordName) else {
                    let local = xmlTextReaderConstLocalName(reader).map { String(cString: $0) } ?? "?"
                    throw outside(nodeLine(reader), "element \(local) where only \(recordElement) elements may be")
                }
                guard let node = xmlTextReaderExpand(reader) else { throw fatal() }
                if let error = context.inputError { throw error }
                read(record: node, into: row)
                context.piecesSinceRecord = 0
                if context.recordErrors.contains(where: { $0.message.contains("No matching global element declaration") }) {
                    throw InputError(.data, file: xsdPath, "the feed's XML Schema must declare the record element \(recordElement) globally, so that each record can be validated on its own")
                }
                skipSubtree = true
                return true
            case 3, 4 where depth == 1: // text or CDATA between records
                throw outside(nodeLine(reader), "text where only \(recordElement) elements may be")
            default:
                continue
            }
        }
    }

    /// An XSD error outside every record.
    private func outside(_ line: Int, _ message: String) -> InputError {
        InputError(.data, file: input.name, line: line, "does not match the feed's XML Schema outside any record: \(message)")
    }

    /// Validates one expanded record on its own and collects its fields.
    private func read(record node: xmlNodePtr, into row: Row) {
        row.resetFields(count: spec.fields.count)
        row.line = max(Int(xmlGetLineNo(node)), 1)
        collect(node, path: root, row: row)
        context.recordErrors.removeAll(keepingCapacity: true)
        let text = mergeText(node)
        if text > input.limits.maxLineBytes {
            // As long as the longest CSV record: the next stages could not read it anyway.
            row.readFault = RowFault(code: "schema-error", field: "", fieldNumber: 0,
                                     reason: "the record holds \(text) bytes of text, more than the \(input.limits.maxLineBytes) a record may have")
            return
        }
        if xmlSchemaValidateOneElement(validation, node) < 0 {
            context.recordErrors.append((row.line, "the XML Schema validator failed on this record"))
        }
        let mine = context.recordErrors
        if let first = mine.first {
            row.readFault = RowFault(code: "schema-error", field: fieldName(for: first.message), fieldNumber: 0,
                                     reason: first.message + (mine.count > 1 ? " (and \(mine.count - 1) more)" : ""))
            row.moreReadFaults = mine.dropFirst().map {
                RowFault(code: "schema-error", field: fieldName(for: $0.message), fieldNumber: 0, reason: $0.message)
            }
        }
    }

    /// Makes each run of text, CDATA, comments and processing instructions under `element` (and
    /// its descendants) one text node, and returns the bytes of text in the subtree. XSD
    /// validation ignores comments and PIs and reads CDATA as text, so this changes no verdict;
    /// but libxml2's validator concatenates a run's pieces one by one, each time measuring what
    /// it has so far, which is quadratic: 8 MiB of text split by empty comments took a minute.
    private func mergeText(_ element: xmlNodePtr) -> Int {
        var total = 0
        // The current run: its first node, its length in nodes, and whether it needs merging
        // (more than one piece, or a piece that is not plain text). Most runs are one text node
        // and cost nothing here.
        var first: xmlNodePtr? = nil
        var count = 0
        var mixed = false
        func flush() {
            defer { first = nil; count = 0; mixed = false }
            guard let start = first, count > 1 || mixed else { return }
            var bytes: [UInt8] = []
            var node: xmlNodePtr? = start
            var pieces: [xmlNodePtr] = []
            pieces.reserveCapacity(count)
            for _ in 0..<count {
                guard let n = node else { break }
                if (n.pointee.type == XML_TEXT_NODE || n.pointee.type == XML_CDATA_SECTION_NODE), let content = n.pointee.content {
                    let length = strlen(content)
                    content.withMemoryRebound(to: UInt8.self, capacity: length) { bytes.append(contentsOf: UnsafeBufferPointer(start: $0, count: length)) }
                }
                pieces.append(n)
                node = n.pointee.next
            }
            // The first piece keeps the run's text when it is a text node (adding a text node
            // next to one makes libxml2 merge them into it); otherwise a new one goes before it.
            var keep = start
            if keep.pointee.type == XML_TEXT_NODE {
                bytes.withUnsafeBufferPointer { b in xmlNodeSetContentLen(keep, b.baseAddress, Int32(b.count)) }
            } else {
                guard let merged = bytes.withUnsafeBufferPointer({ b in xmlNewDocTextLen(element.pointee.doc, b.baseAddress, Int32(b.count)) }),
                      let placed = xmlAddPrevSibling(start, merged) else { return }
                keep = placed
            }
            for piece in pieces where piece != keep {
                xmlUnlinkNode(piece)
                xmlFreeNode(piece)
            }
        }
        var child = element.pointee.children
        while let c = child {
            let next = c.pointee.next
            switch c.pointee.type {
            case XML_TEXT_NODE, XML_CDATA_SECTION_NODE, XML_COMMENT_NODE, XML_PI_NODE:
                if c.pointee.type == XML_TEXT_NODE || c.pointee.type == XML_CDATA_SECTION_NODE, let content = c.pointee.content {
                    total += strlen(content)
                }
                if first == nil { first = c }
                count += 1
                if c.pointee.type != XML_TEXT_NODE { mixed = true }
            case XML_ELEMENT_NODE:
                flush()
                total += mergeText(c)
            default:
                flush()
            }
            child = next
        }
        flush()
        return total
    }

    /// Collects the fields under `element` (an element at `path` in the field tree): its
    /// attributes, its text and CDATA, and its children's, depth first.
    private func collect(_ element: xmlNodePtr, path: PathNode, row: Row) {
        if !path.attributes.isEmpty {
            var attribute = element.pointee.properties
            while let a = attribute {
                if let name = a.pointee.name {
                    let local = UnsafeRawPointer(name).assumingMemoryBound(to: CChar.self)
                    for (wanted, field) in path.attributes where wanted.withUnsafeBufferPointer({ strcmp(local, $0.baseAddress!) == 0 }) {
                        var text = a.pointee.children
                        while let t = text {
                            if let content = t.pointee.content { row.append(UnsafeRawBufferPointer(start: content, count: strlen(content)), toField: field) }
                            text = t.pointee.next
                        }
                    }
                }
                attribute = a.pointee.next
            }
        }
        var child = element.pointee.children
        while let c = child {
            switch c.pointee.type {
            case XML_ELEMENT_NODE:
                if let name = c.pointee.name {
                    let local = UnsafeRawPointer(name).assumingMemoryBound(to: CChar.self)
                    if let next = path.children.first(where: { $0.0.withUnsafeBufferPointer { strcmp(local, $0.baseAddress!) == 0 } })?.1 {
                        collect(c, path: next, row: row)
                    }
                }
            case XML_TEXT_NODE, XML_CDATA_SECTION_NODE:
                if let field = path.textField, let content = c.pointee.content {
                    row.append(UnsafeRawBufferPointer(start: content, count: strlen(content)), toField: field)
                }
            default:
                break
            }
            child = c.pointee.next
        }
    }

    /// The line the reader's current node starts on.
    private func nodeLine(_ reader: xmlTextReaderPtr) -> Int {
        if let node = xmlTextReaderCurrentNode(reader) {
            let line = Int(xmlGetLineNo(node))
            if line > 0 { return line }
        }
        // Nodes without a line (the DOCTYPE) fall back to where the parser is.
        return Int(xmlTextReaderGetParserLineNumber(reader))
    }

    /// A NUL-terminated name as text.
    private static func text(_ name: [CChar]) -> String {
        String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    private func checkRoot(_ reader: xmlTextReaderPtr) throws(InputError) {
        sawRoot = true
        guard isNamed(reader, rootName) else {
            let local = xmlTextReaderConstLocalName(reader).map { String(cString: $0) } ?? "?"
            let ns = xmlTextReaderConstNamespaceUri(reader).map { String(cString: $0) } ?? "no namespace"
            throw InputError(.data, file: input.name, line: nodeLine(reader),
                             "root element is \(local) in \(ns); expected \(Self.text(rootName)) in \(Self.text(namespace))")
        }
        // The root's attributes, validated on a copy without its children (which are records,
        // validated one by one).
        guard let node = xmlTextReaderCurrentNode(reader), let copy = xmlDocCopyNode(node, node.pointee.doc, 2) else { throw fatal() }
        defer { xmlFreeNode(copy) }
        context.recordErrors.removeAll(keepingCapacity: true)
        _ = xmlSchemaValidateOneElement(validation, copy)
        if let first = context.recordErrors.first { throw outside(nodeLine(reader), first.message) }
    }

    /// Whether the current element has local name `name` in the feed's namespace.
    private func isNamed(_ reader: xmlTextReaderPtr, _ name: [CChar]) -> Bool {
        guard let local = xmlTextReaderConstLocalName(reader), let ns = xmlTextReaderConstNamespaceUri(reader) else { return false }
        return name.withUnsafeBufferPointer { strcmp(UnsafeRawPointer(local).assumingMemoryBound(to: CChar.self), $0.baseAddress!) == 0 }
            && namespace.withUnsafeBufferPointer { strcmp(UnsafeRawPointer(ns).assumingMemoryBound(to: CChar.self), $0.baseAddress!) == 0 }
    }

    private func fatal() -> InputError {
        // A refusal from the read callback (a bound, a lying encoding) is why libxml2 stopped.
        if let error = context.inputError { return error }
        var line = context.lastFatal?.line
        var message = context.lastFatal?.message
        if message == nil, let last = xmlGetLastError() {
            message = last.pointee.message.map { String(cString: $0).trimmingNewlines() }
            line = Int(last.pointee.line)
        }
        return InputError(.data, file: input.name, line: line, "not well-formed XML: \(message ?? "parse error")")
    }

    /// The feed field an XSD message is about: libxml2 names the element, and the attribute if any.
    private func fieldName(for message: String) -> String {
        guard let elementRange = message.range(of: "Element '") else { return "" }
        let rest = message[elementRange.upperBound...]
        guard let close = rest.firstIndex(of: "'") else { return "" }
        var element = String(rest[..<close])
        if let brace = element.lastIndex(of: "}") { element = String(element[element.index(after: brace)...]) }
        // Field paths are relative to the record element, whose own attributes are "@name".
        var suffix = element == recordElement ? "" : element
        if let attr = rest[close...].range(of: "attribute '") {
            let name = rest[attr.upperBound...].prefix { $0 != "'" }
            suffix += (suffix.isEmpty ? "@" : "/@") + name
        }
        guard !suffix.isEmpty else { return "" }
        for f in spec.fields {
            guard let path = f.path else { continue }
            if path == suffix || path.hasSuffix("/" + suffix) { return f.name }
        }
        return ""
    }
}

/// State the C callbacks reach through their context pointer.
final class ReaderContext {
    let input: InputFile
    var inputError: InputError?
    var recordErrors: [(line: Int, message: String)] = []
    var lastFatal: (line: Int, message: String)?

    init(input: InputFile) { self.input = input }

    /// Comments, CDATA sections and processing instructions read since the last record was
    /// returned (with the parser's look-ahead, a little of the next record counts too).
    var piecesSinceRecord = 0
    private var lastByte: UInt8 = 0
    /// At most this many of them in one record. A record is read whole (so that it can be
    /// validated on its own), and each piece costs libxml2 a node or two: text split by empty
    /// comments into a million pieces took over 300 MB. A real record has a handful.
    static let maximumPieces = 10_000

    /// Counts `<!` and `<?` in the raw bytes, and stops the file past `maximumPieces` in one record.
    func countPieces(_ bytes: UnsafeRawBufferPointer) throws(InputError) {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        if lastByte == UInt8(ascii: "<") && (bytes[0] == UInt8(ascii: "!") || bytes[0] == UInt8(ascii: "?")) { piecesSinceRecord += 1 }
        var i = 0
        while i < bytes.count - 1, let hit = memchr(base + i, 0x3C, bytes.count - 1 - i) {
            let at = base.distance(to: UnsafeRawPointer(hit))
            let next = bytes[at + 1]
            if next == UInt8(ascii: "!") || next == UInt8(ascii: "?") { piecesSinceRecord += 1 }
            i = at + 1
        }
        lastByte = bytes[bytes.count - 1]
        if piecesSinceRecord > Self.maximumPieces {
            throw InputError(.data, file: input.name,
                             "more than \(Self.maximumPieces) comments, CDATA sections or processing instructions within one record: refused, as text split to exhaust memory")
        }
    }

    /// Whether the declaration named a GB encoding whose bytes are still being checked: nil
    /// before the first bytes are seen.
    private var watching: Bool?
    /// Valid UTF-8 sequences of three or four bytes seen so far in a GB-declared document.
    private var wideSequences = 0
    private var head: [UInt8] = []

    /// Catches a document declared GB18030 (or GBK, GB2312) whose bytes are UTF-8: libxml2 would
    /// decode it without complaint into other characters. Genuine GB18030 text stops being valid
    /// UTF-8 within a character or two; a few valid three- or four-byte UTF-8 sequences with no
    /// invalid byte before them are UTF-8 by any reasonable doubt. (A document declared UTF-8
    /// whose bytes are not is libxml2's own error.)
    func witness(_ bytes: UnsafeRawBufferPointer) throws(InputError) {
        if watching == nil {
            // libxml2 reads a few bytes first to sniff the encoding: gather the declaration.
            head += bytes.prefix(256 - head.count)
            let text = String(decoding: head, as: UTF8.self).lowercased()
            if let end = text.range(of: "?>") {
                if text.hasPrefix("<?xml"), let enc = text[..<end.lowerBound].range(of: "encoding") {
                    let value = text[enc.upperBound...].drop { $0 == " " || $0 == "=" || $0 == "\"" || $0 == "'" }.prefix { $0 != "\"" && $0 != "'" }
                    watching = ["gb18030", "gbk", "gb2312", "cp936"].contains(String(value))
                } else {
                    watching = false
                }
            } else if head.count >= 256 || !text.hasPrefix(String("<?xml".prefix(text.count))) {
                watching = false
            }
            if watching == nil { return }
            head = []
        }
        guard watching == true else { return }
        var i = 0
        // Continuation bytes at the start belong to a sequence the last read cut.
        while i < bytes.count && i < 3 && bytes[i] & 0xC0 == 0x80 { i += 1 }
        while i < bytes.count {
            if bytes[i] < 0x80 { i += 1; continue }
            let length = UTF8Check.sequenceLength(bytes, at: i)
            if length == 0 {
                // A sequence cut by the end of this read is judged with the next; any other
                // invalid byte means the text is not UTF-8.
                if bytes.count - i < 4 && bytes[i] >= 0xC2 && bytes[i] <= 0xF4 { return }
                watching = false
                return
            }
            if length >= 3 { wideSequences += 1 }
            if wideSequences >= 4 {
                watching = false
                throw InputError(.data, file: input.name,
                                 "declares a GB encoding but its bytes are UTF-8: read as declared, every name in it would become other characters")
            }
            i += length
        }
    }

    func collect(_ error: xmlError) {
        let message = (error.message.map { String(cString: $0) } ?? "XML error").trimmingNewlines()
            .replacingOccurrences(of: "{urn:tally:feed:", with: "{")
        if error.level == XML_ERR_FATAL {
            lastFatal = (Int(error.line), message)
        } else if recordErrors.count < 4096 {
            recordErrors.append((Int(error.line), message))
        }
    }
}

/// Where each field of a record lives, as a tree of element names (no strings built per node).
final class PathNode {
    var children: [([CChar], PathNode)] = []
    var attributes: [([CChar], Int)] = []
    var textField: Int?

    static func build(_ fields: [FieldSpec]) -> PathNode {
        let root = PathNode()
        for (index, field) in fields.enumerated() {
            guard let path = field.path else { continue }
            var node = root
            for segment in path.split(separator: "/") {
                if segment.hasPrefix("@") {
                    node.attributes.append((Array(String(segment.dropFirst()).utf8CString), index))
                    node = PathNode() // an attribute ends the path
                    break
                }
                let name = Array(String(segment).utf8CString)
                if let existing = node.children.first(where: { $0.0 == name })?.1 {
                    node = existing
                } else {
                    let created = PathNode()
                    node.children.append((name, created))
                    node = created
                }
            }
            if !path.split(separator: "/").last!.hasPrefix("@") { node.textField = index }
        }
        return root
    }
}

extension String {
    func trimmingNewlines() -> String {
        var s = self
        while s.last == "\n" || s.last == "\r" { s.removeLast() }
        return s
    }

    func replacingOccurrences(of target: String, with replacement: String) -> String {
        guard !target.isEmpty else { return self }
        var out = ""
        var rest = self[...]
        while let r = rest.range(of: target) {
            out += rest[..<r.lowerBound]
            out += replacement
            rest = rest[r.upperBound...]
        }
        return out + rest
    }
}
