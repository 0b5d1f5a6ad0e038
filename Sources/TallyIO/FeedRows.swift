import TallyCore

/// A feed file's rows, read and split on a thread of their own (`RowPipeline`): the one set-up
/// of CSV and XML reading that tally-parse and tally-validate share. A CSV file's header is read
/// first (`header`; nil for an empty file); an XML file's records are checked against the
/// feed's XSD as they are read. The CSV reader also hashes each row's key from the bytes it
/// read (`Row.keyPrint`) where it can; the consumer's `RepeatedKeys` then only looks it up.
public final class FeedRows {
    let pipeline: RowPipeline
    let spec: FeedSpec
    /// The header's labels (CSV), or nil: an XML feed, or a CSV file without even a header.
    public private(set) var header: HeaderCheck?
    let transcoder: Transcoder?

    /// Starts reading `input`, which moves to the reading thread: the caller touches it again
    /// only after `stop()` (the pipeline's semaphores order the two).
    public init(_ input: InputFile, feed: LoadedFeed) throws(InputError) {
        spec = feed.spec
        let box = UncheckedBox(input)
        switch feed.spec.format {
        case .csv(let encoding):
            let spec = feed.spec
            pipeline = RowPipeline(fileName: input.name) { () throws(InputError) in
                let reader = CSVReader(box.value, encoding: encoding, keys: RepeatedKeys(spec: spec))
                return { (row: Row) throws(InputError) -> Bool in try reader.next(into: row) }
            }
            transcoder = encoding == .gb18030 ? Transcoder(from: "GB18030", to: "UTF-8") : nil
            do {
                if let first = try pipeline.next() {
                    header = HeaderCheck(expected: feed.spec.fields.map(\.name), labels: (0..<first.count).map { first.string($0) })
                }
            } catch {
                pipeline.stop()
                throw error
            }
        case .xml:
            let spec = feed.spec, xsd = feed.xsdPath!
            pipeline = RowPipeline(fileName: input.name) { () throws(InputError) in
                let reader = try XMLRecordReader(box.value, spec: spec, xsdPath: xsd)
                return { (row: Row) throws(InputError) -> Bool in try reader.next(into: row) }
            }
            transcoder = nil
        }
    }

    /// The next row (after the header), or nil at the end; valid until the next call.
    @inline(__always)
    public func next() throws(InputError) -> Row? { try pipeline.next() }

    /// The one row that `advance()` refills (after the header), for loops over every row.
    public var row: Row { pipeline.row }

    /// Moves `row` to the next row (after the header); false at the end.
    @inline(__always)
    public func advance() throws(InputError) -> Bool { try pipeline.advance() }

    /// How many rows the consumer's side converted from GB18030 (`Row.convertLater`), for the
    /// tests.
    var rowsConvertedLater: Int { pipeline.convertedLater }

    /// Ends the reading thread; call it before touching the input again.
    public func stop() { pipeline.stop() }

    /// The row's text for a rejects file: a CSV row's own bytes (made UTF-8), or an XML record
    /// rebuilt from its fields.
    public func rawText(_ row: Row) -> String {
        switch spec.format {
        case .csv:
            let raw = row.rawBytes
            if !row.rawIsUTF8, let transcoder, let utf8 = try? transcoder.convert(raw) { return String(decoding: utf8, as: UTF8.self) }
            return String(decoding: raw, as: UTF8.self)
        case .xml(_, _, _, let recordElement):
            return RowText.xml(row, spec: spec, recordElement: recordElement)
        }
    }
}

/// Hands a value to another thread when the code guarantees they never use it at once.
struct UncheckedBox<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
