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
/// XSD errors inside a record make that record a reject (`schema-error`, with libxml2's
/// message); a document that is not well-formed, has another root or namespace, or breaks the
/// XSD outside any record stops with an `InputError` naming the line.
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
    private var stack: [PathNode?] = []
    private var inRecord = false
    private var sawRoot = false
    /// The last line any node of the current record starts on. libxml2 parses (and validates)
    /// ahead of the node the reader is on, so errors are matched to records by line, not by time.
    private var recordLastLine = 0

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
                return Int32(try context.input.read(into: UnsafeMutableRawPointer(buffer!), count: Int(length)))
            } catch {
                context.inputError = error
                return -1
            }
        }, nil, ctx, input.baseName, nil, options)
        guard let reader else { throw InputError(.io, file: input.name, "libxml2 could not start a reader") }
        // The error handler goes on before the schema (libxml2 2.9 crashes the other way round).
        xmlTextReaderSetStructuredErrorHandler(reader, { ctx, error in
            guard let ctx, let error else { return }
            let context = Unmanaged<ReaderContext>.fromOpaque(ctx).takeUnretainedValue()
            context.collect(error.pointee)
        }, ctx)
        if xmlTextReaderSchemaValidate(reader, xsdPath) != 0 {
            throw InputError(.io, file: xsdPath, "cannot load the feed's XML Schema")
        }
    }

    deinit { if let reader { xmlFreeTextReader(reader) } }

    /// Reads the next record element into `row`; false at the end of the document.
    public func next(into row: Row) throws(InputError) -> Bool {
        guard let reader else { return false }
        while true {
            let status = xmlTextReaderRead(reader)
            if let error = context.inputError { throw error }
            if status == 0 {
                if !sawRoot { throw InputError(.data, file: input.name, "no root element") }
                try failOnErrors(before: Int.max)
                return false
            }
            if status < 0 { throw fatal() }
            let type = xmlTextReaderNodeType(reader)
            switch type {
            case 10: // DOCUMENT_TYPE
                throw InputError(.data, file: input.name, line: nodeLine(reader),
                                 "a DOCTYPE is not allowed in a feed (external entities and entity expansion are refused)")
            case 1: // ELEMENT
                let depth = xmlTextReaderDepth(reader)
                if depth == 0 {
                    try checkRoot(reader)
                    continue
                }
                if depth == 1 {
                    let line = nodeLine(reader)
                    try failOnErrors(before: line)
                    guard isNamed(reader, recordName) else { continue }
                    inRecord = true
                    row.resetFields(count: spec.fields.count)
                    row.line = line
                    recordLastLine = line
                    stack = [root]
                    collectAttributes(reader, node: root, row: row)
                    if xmlTextReaderIsEmptyElement(reader) == 1 { return finish(row) }
                    continue
                }
                guard inRecord else { continue }
                recordLastLine = max(recordLastLine, nodeLine(reader))
                let node = stack.last!.flatMap { parent in child(of: parent, reader) }
                stack.append(node)
                if let node { collectAttributes(reader, node: node, row: row) }
                if xmlTextReaderIsEmptyElement(reader) == 1 { stack.removeLast() }
            case 15: // END_ELEMENT
                guard inRecord else { continue }
                if xmlTextReaderDepth(reader) == 1 { return finish(row) }
                stack.removeLast()
            case 3, 4: // TEXT, CDATA
                guard inRecord, let node = stack.last!, let field = node.textField, let value = xmlTextReaderConstValue(reader) else { continue }
                row.append(UnsafeRawBufferPointer(start: value, count: strlen(value)), toField: field)
            default:
                continue
            }
        }
    }

    private func finish(_ row: Row) -> Bool {
        inRecord = false
        // Errors on the record's lines are its own; later ones wait for the records they are on.
        let mine = context.recordErrors.filter { $0.line >= row.line && $0.line <= recordLastLine }
        context.recordErrors.removeAll { $0.line >= row.line && $0.line <= recordLastLine }
        if let first = mine.first {
            row.readFault = RowFault(code: "schema-error", field: fieldName(for: first.message), fieldNumber: 0,
                                     reason: first.message + (mine.count > 1 ? " (and \(mine.count - 1) more)" : ""))
            row.moreReadFaults = mine.dropFirst().map {
                RowFault(code: "schema-error", field: fieldName(for: $0.message), fieldNumber: 0, reason: $0.message)
            }
        }
        return true
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
    }

    /// Errors on lines before `line` that no record took were outside every record.
    private func failOnErrors(before line: Int) throws(InputError) {
        guard let first = context.recordErrors.first(where: { $0.line < line }) else { return }
        throw InputError(.data, file: input.name, line: first.line, "does not match the feed's XML Schema outside any record: \(first.message)")
    }

    /// Whether the current element has local name `name` in the feed's namespace.
    private func isNamed(_ reader: xmlTextReaderPtr, _ name: [CChar]) -> Bool {
        guard let local = xmlTextReaderConstLocalName(reader), let ns = xmlTextReaderConstNamespaceUri(reader) else { return false }
        return name.withUnsafeBufferPointer { strcmp(UnsafeRawPointer(local).assumingMemoryBound(to: CChar.self), $0.baseAddress!) == 0 }
            && namespace.withUnsafeBufferPointer { strcmp(UnsafeRawPointer(ns).assumingMemoryBound(to: CChar.self), $0.baseAddress!) == 0 }
    }

    private func child(of parent: PathNode, _ reader: xmlTextReaderPtr) -> PathNode? {
        guard let local = xmlTextReaderConstLocalName(reader) else { return nil }
        let name = UnsafeRawPointer(local).assumingMemoryBound(to: CChar.self)
        for (childName, node) in parent.children where childName.withUnsafeBufferPointer({ strcmp(name, $0.baseAddress!) == 0 }) {
            return node
        }
        return nil
    }

    private func collectAttributes(_ reader: xmlTextReaderPtr, node: PathNode, row: Row) {
        guard !node.attributes.isEmpty else { return }
        while xmlTextReaderMoveToNextAttribute(reader) == 1 {
            guard let local = xmlTextReaderConstLocalName(reader), let value = xmlTextReaderConstValue(reader) else { continue }
            let name = UnsafeRawPointer(local).assumingMemoryBound(to: CChar.self)
            for (attribute, field) in node.attributes where attribute.withUnsafeBufferPointer({ strcmp(name, $0.baseAddress!) == 0 }) {
                row.append(UnsafeRawBufferPointer(start: value, count: strlen(value)), toField: field)
            }
        }
        xmlTextReaderMoveToElement(reader)
    }

    private func fatal() -> InputError {
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
