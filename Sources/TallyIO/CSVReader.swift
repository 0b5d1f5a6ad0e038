#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import TallyCore
import CTally

/// Reads RFC 4180 CSV records from an `InputFile` into `Row`s, in bounded memory.
///
/// Quoted fields may hold commas, doubled quotes and line breaks; records end at LF or CRLF; a
/// UTF-8 byte-order mark is stripped and makes the file UTF-8 whatever the declared encoding.
/// Cells are handed out as UTF-8: GB18030 cells are converted, UTF-8 cells are checked. A record
/// that breaks the rules (a quote inside an unquoted cell, text after a closing quote, an
/// unterminated quote, bytes invalid in the encoding) is still returned, with `readFault` set,
/// so that the stage can reject it and go on. Only a record longer than the line bound stops
/// the file.
public final class CSVReader {
    private let input: InputFile
    private var window: ReadWindow
    @inline(__always) private var buffer: UnsafeMutablePointer<UInt8> { window.buffer }
    @inline(__always) private var start: Int {
        get { window.start }
        set { window.start = newValue }
    }
    @inline(__always) private var end: Int { window.end }
    @inline(__always) private var ended: Bool { window.ended }
    private var checkedBOM = false
    /// A GB18030 feed's converter (nil for UTF-8, and once a byte-order mark says UTF-8).
    private var gb18030: GB18030Cells?

    /// The line where the next record starts.
    public private(set) var nextLine = 1
    /// Whether the file began with a UTF-8 byte-order mark.
    public private(set) var hadBOM = false

    /// Whether the reader takes its short cuts: a plain record, or a simply quoted one, read in
    /// one pass (`nextPlain`, `nextSimple`), and a first line with quotes split directly when
    /// its fields are well formed. False reads every record the general way (the quote
    /// automaton on every quoted record), as the fuzz target and the tests do to check that both
    /// read every input the same.
    let fastPaths: Bool

    /// The hasher of row keys, when the reader hashes them (`Row.keyPrint`), and the number of
    /// fields a row needs for its key to be hashed here.
    private let keys: RepeatedKeys?
    private let keyFieldCount: Int

    /// Where a plain or simply quoted record's commas or cells are (`tally_csv_plain_record`,
    /// `tally_csv_simple_record`).
    private let commas = UnsafeMutablePointer<UInt32>.allocate(capacity: CSVReader.plainCommas)
    private static let plainCommas = 1024
    /// When the reader tries each short cut: the plain record's one pass first, then the
    /// simply quoted record's.
    private var plain: ShortCut, simple: ShortCut

    /// How many rows to read the general way before trying a short cut again (-1: never,
    /// without `fastPaths`), and how many tries in a row found a record it does not take. The
    /// pause doubles with each such try, up to 1,024 rows: a feed whose rows all carry quotes
    /// (the wide export) would otherwise scan each row twice (3% slower with a pause of 16 rows),
    /// and a feed of plain rows with a few bad ones goes back to the short cut at once.
    struct ShortCut {
        var pause: Int
        var misses = 0

        init(on: Bool) { pause = on ? 0 : -1 }

        /// Whether `read` read the row, when it is this short cut's turn to try.
        @inline(__always)
        mutating func tries(_ read: () -> Bool) -> Bool {
            if pause != 0 {
                if pause > 0 { pause -= 1 }
                return false
            }
            if read() {
                misses = 0
                return true
            }
            pause = 1 << min(misses, 10)
            misses += 1
            return false
        }
    }

    /// - Parameter encoding: the feed's declared encoding; a BOM overrides it with UTF-8.
    /// - Parameter keys: hashes each row's primary key from the bytes read (`Row.keyPrint`).
    public init(_ input: InputFile, encoding: FeedSpec.TextEncoding, bufferSize: Int = 1 << 20, fastPaths: Bool = true,
                keys: RepeatedKeys? = nil) {
        self.input = input
        self.fastPaths = fastPaths
        plain = ShortCut(on: fastPaths)
        simple = ShortCut(on: fastPaths)
        let fields = keys?.csvKeyFields ?? []
        self.keys = fields.isEmpty ? nil : keys
        keyFieldCount = (fields.max() ?? -1) + 1
        self.window = ReadWindow(bufferSize: bufferSize, maxSpan: input.limits.maxLineBytes)
        if encoding == .gb18030 { gb18030 = GB18030Cells() }
    }

    deinit {
        window.deallocate()
        commas.deallocate()
    }

    /// Reads the next record into `row`; false at the end of the input.
    public func next(into row: Row) throws(InputError) -> Bool {
        if !checkedBOM { try checkBOM() }
        if plain.tries({ nextPlain(into: row) }) || simple.tries({ nextSimple(into: row) }) { return true }
        // Find where the record ends: the first LF outside a quoted field. Quotes count only
        // where RFC 4180 gives them meaning (a field's first byte, and inside a quoted field);
        // a stray quote elsewhere is the row's fault, not a reason to swallow the next lines.
        var scan = start
        var state = QuoteState.fieldStart
        var newlines = 0
        var sawQuote = false
        var recordEnd = -1
        var split = false
        while recordEnd < 0 {
            if scan < end, let hit = memchr(buffer + scan, 0x0A, end - scan) {
                let lf = buffer.distance(to: hit.assumingMemoryBound(to: UInt8.self))
                if state != .quoted && memchr(buffer + scan, 0x22, lf - scan) == nil {
                    // No quote before the LF and not inside a quoted field: the record ends here.
                    recordEnd = lf
                    break
                }
                if fastPaths && scan == start && lf > start {
                    // Quotes on the first line: split it as one record. When every field is
                    // well formed (each quoted field closed, then a comma or the end; no quote
                    // in an unquoted field), the quote automaton would end outside quotes at
                    // this LF too, so the record ends here and is split already. Otherwise
                    // (a quoted line break, or a fault) the automaton decides, byte by byte.
                    let stop = buffer[lf - 1] == 0x0D ? lf - 1 : lf
                    row.reset()
                    if stop > start {
                        splitFields(start, stop, quoted: true, unterminated: false, into: row)
                        if row.readFault == nil {
                            recordEnd = lf
                            sawQuote = true
                            split = true
                            break
                        }
                    }
                }
                sawQuote = true
                state = advance(state, from: scan, to: lf)
                if state == .quoted {
                    newlines += 1
                    scan = lf + 1
                } else {
                    recordEnd = lf
                }
                continue
            }
            // No LF in what is buffered: the record continues past it.
            if ended {
                if start == end { return false }
                if state == .quoted || memchr(buffer + scan, 0x22, end - scan) != nil {
                    sawQuote = true
                    state = advance(state, from: scan, to: end)
                }
                recordEnd = end
                break
            }
            if end - start > window.maxSpan {
                throw InputError(.data, file: input.name, line: nextLine, "record longer than \(window.maxSpan) bytes")
            }
            // Quote state is kept for what was scanned; only the offsets move.
            if scan < end {
                if state == .quoted || memchr(buffer + scan, 0x22, end - scan) != nil { sawQuote = true }
                state = advance(state, from: scan, to: end)
            }
            let scanned = end
            scan = scanned - (try fill())
        }
        let inQuotes = state == .quoted
        var stop = recordEnd
        if stop > start, buffer[stop - 1] == 0x0D, !inQuotes { stop -= 1 }
        if !split { row.reset() }
        row.rawIsUTF8 = gb18030 == nil
        row.line = nextLine
        nextLine += 1 + newlines
        let recordStart = start
        start = min(recordEnd + 1, end)
        if recordEnd == end { start = end }
        if stop == recordStart {
            row.readFault = RowFault(code: "blank-row", field: "", fieldNumber: 0, reason: "blank row")
            return true
        }
        if !split { splitFields(recordStart, stop, quoted: sawQuote, unterminated: inQuotes, into: row) }
        if row.readFault == nil { decode(row, cellsApart: row.cellsAreVerbatim) }
        // The key is hashed here when the consumer is behind (it has more to do per row than
        // this thread) and the row's cells are its bytes as is. Rows with quotes are left to
        // the consumer: hashing their keys here made the wide export 11% slower (perf showed
        // the reading thread's time grow by twice the hashing's own), where hashing unquoted
        // keys made transit 9% faster.
        if row.consumerBehind, row.cellsAreVerbatim, row.readFault == nil { printKey(row, record: buffer + recordStart) }
        // The record as it stands in the file, for reject reports: an unquoted record's cells
        // are its bytes already. (The window still holds them: it moves only on the next fill.)
        row.setRaw(UnsafeRawBufferPointer(start: buffer + recordStart, count: stop - recordStart))
        return true
    }

    /// Reads the next record into `row` when it is plain (`tally_csv_plain_record`: ASCII, no
    /// quote, NUL or stray CR, and whole in the buffer), exactly as the general way below reads
    /// such a record; false, with nothing read, otherwise.
    @inline(__always)
    private func nextPlain(into row: Row) -> Bool {
        var count: UInt32 = 0
        let lf = tally_csv_plain_record(buffer + start, buffer + end, commas, UInt32(Self.plainCommas), &count)
        guard lf > 0, let record = takeRecord(endingAt: lf, into: row) else { return false }
        row.setCells(record, cutAt: commas, count: Int(count))
        if row.consumerBehind { printKey(row, record: record.baseAddress!) }
        row.setRaw(record)
        return true
    }

    /// Reads the next record into `row` when it is simply quoted (`tally_csv_simple_record`:
    /// quotes only around whole fields or doubled inside them, no NUL, no CR outside quotes but
    /// before the LF, whole in the buffer; line breaks may stand inside quotes), exactly as the
    /// general way reads such a record; false, with nothing read, otherwise. A record with bytes above 0x7F has them checked as the
    /// general way does (UTF-8), or its cells converted (GB18030: the bytes that close a field
    /// or a record, a quote, comma, CR or LF, never stand inside a GB18030 character). Cells with
    /// doubled quotes are undoubled in place, and the raw text copied.
    @inline(__always)
    private func nextSimple(into row: Row) -> Bool {
        var count: UInt32 = 0, flags: UInt32 = 0
        let lf = tally_csv_simple_record(buffer + start, buffer + end, commas, UInt32(Self.plainCommas / 2), &count, &flags)
        guard lf > 0 else { return false }
        let high = flags & 1 != 0, quoted = flags & 2 != 0
        guard let record = takeRecord(endingAt: lf, into: row) else { return false }
        nextLine += Int(flags >> 8)
        let recordBase = row.storage.count
        row.setSpans(record, spans: commas, count: Int(count), quoted: quoted)
        let doubled = flags & 4 != 0
        if doubled { row.undoubleQuotes(spans: commas) }
        // A GB18030 row's cells are converted into new bytes after the record's copy (or later,
        // by the consumer): its key is not hashed from the record, and the copy stays its raw
        // text.
        let converted = high && gb18030 != nil
        if high { decode(row, cellsApart: true, high: true) }
        if row.consumerBehind, !quoted, !converted, row.readFault == nil { printKey(row, record: record.baseAddress!) }
        if doubled || (!quoted && !converted) {
            row.setRaw(record)
        } else if !quoted {
            row.rawStart = recordBase
            row.rawCount = record.count
        }
        return true
    }

    /// Starts `row` on the record a short cut found, whose LF is `lf` bytes on, and moves past
    /// it: the record's bytes without a CR before the LF. Nil, with nothing read, for a line
    /// that is only a CR: a blank row, which the general way reports.
    @inline(__always)
    private func takeRecord(endingAt lf: Int, into row: Row) -> UnsafeRawBufferPointer? {
        let recordStart = start
        var stop = recordStart + lf
        if buffer[stop - 1] == 0x0D { stop -= 1 }
        guard stop > recordStart else { return nil }
        row.reset()
        row.rawIsUTF8 = gb18030 == nil
        row.line = nextLine
        nextLine += 1
        start = recordStart + lf + 1
        return UnsafeRawBufferPointer(start: buffer + recordStart, count: stop - recordStart)
    }

    enum QuoteState { case fieldStart, unquoted, quoted, quoteInQuoted }

    /// Runs the RFC 4180 quote automaton over `buffer[from..<to]`, counting nothing but state.
    @inline(__always)
    private func advance(_ initial: QuoteState, from: Int, to: Int) -> QuoteState {
        var state = initial
        var k = from
        while k < to {
            let c = buffer[k]
            switch state {
            case .fieldStart:
                state = c == 0x22 ? .quoted : (c == 0x2C || c == 0x0A ? .fieldStart : .unquoted)
            case .unquoted:
                if c == 0x2C || c == 0x0A { state = .fieldStart }
            case .quoted:
                if c == 0x22 { state = .quoteInQuoted }
            case .quoteInQuoted:
                state = c == 0x22 ? .quoted : (c == 0x2C || c == 0x0A ? .fieldStart : .unquoted)
            }
            k += 1
        }
        return state
    }

    private func checkBOM() throws(InputError) {
        checkedBOM = true
        while end - start < 3 && !ended { try fill() }
        if end - start >= 3, buffer[start] == 0xEF, buffer[start + 1] == 0xBB, buffer[start + 2] == 0xBF {
            start += 3
            hadBOM = true
            gb18030 = nil
        }
    }

    /// Hashes the key of a row whose cells are the record's bytes as is, from the bytes in the
    /// read buffer (each cell is at the same offset there): hashed from the row's copy, the
    /// reads waited behind this thread's stores into the batch (perf).
    private func printKey(_ row: Row, record: UnsafeRawPointer) {
        guard let keys, !row.convertLater, row.count >= keyFieldCount, let cells = row.cellBytes.baseAddress else { return }
        row.keyPrint = keys.fingerprint(csvCells: { i in
            let v = row.field(i)
            return UnsafeRawBufferPointer(start: record + (v.baseAddress.map { $0 - cells } ?? 0), count: v.count)
        })
    }

    private func splitFields(_ a: Int, _ b: Int, quoted: Bool, unterminated: Bool, into row: Row) {
        let storage = row.storage
        if !quoted {
            // The common case: no quotes, so cells are the bytes between commas.
            row.setUnquotedCells(UnsafeRawBufferPointer(start: buffer + a, count: b - a), separator: 0x2C)
            if memchr(buffer + a, 0x0D, b - a) != nil {
                row.readFault = RowFault(code: "structure-error", field: "", fieldNumber: 0, reason: "carriage return inside an unquoted field")
            }
            return
        }
        if unterminated {
            row.readFault = RowFault(code: "structure-error", field: "", fieldNumber: 0, reason: "quoted field not terminated before the end of the file")
            return
        }
        var i = a
        var fieldNumber = 1
        while true {
            row.beginField()
            if i < b && buffer[i] == 0x22 {
                i += 1
                while true {
                    guard let q = memchr(buffer + i, 0x22, b - i).map({ buffer.distance(to: $0.assumingMemoryBound(to: UInt8.self)) }) else {
                        row.readFault = RowFault(code: "structure-error", field: "", fieldNumber: fieldNumber, reason: "quoted field \(fieldNumber) not terminated")
                        row.endField()
                        return
                    }
                    storage.append(UnsafeRawBufferPointer(start: buffer + i, count: q - i))
                    if q + 1 < b && buffer[q + 1] == 0x22 {
                        storage.append(UInt8(0x22))
                        i = q + 2
                        continue
                    }
                    i = q + 1
                    break
                }
                row.endField()
                if i == b { return }
                if buffer[i] != 0x2C {
                    row.readFault = RowFault(code: "structure-error", field: "", fieldNumber: fieldNumber, reason: "text after the closing quote of field \(fieldNumber)")
                    return
                }
                i += 1
            } else {
                // One pass finds the cell's end when it is clean (no quote or CR before its comma).
                var comma = buffer.distance(to: UnsafeMutablePointer(mutating: tally_csv_cell_stop(buffer + i, buffer + b)))
                if comma < b && buffer[comma] != 0x2C {
                    comma = memchr(buffer + i, 0x2C, b - i).map { buffer.distance(to: $0.assumingMemoryBound(to: UInt8.self)) } ?? b
                    if memchr(buffer + i, 0x22, comma - i) != nil {
                        row.readFault = RowFault(code: "structure-error", field: "", fieldNumber: fieldNumber, reason: "quote inside unquoted field \(fieldNumber)")
                    }
                    if memchr(buffer + i, 0x0D, comma - i) != nil, row.readFault == nil {
                        row.readFault = RowFault(code: "structure-error", field: "", fieldNumber: fieldNumber, reason: "carriage return inside unquoted field \(fieldNumber)")
                    }
                }
                storage.append(UnsafeRawBufferPointer(start: buffer + i, count: comma - i))
                row.endField()
                if comma >= b { return }
                i = comma + 1
            }
            fieldNumber += 1
            if i == b { row.beginField(); row.endField(); return }
        }
    }

    /// Checks cells are valid in the file's encoding and leaves them as UTF-8; a NUL byte, or a
    /// byte-order mark anywhere but the file's start, is an encoding error of its cell.
    ///
    /// `cellsApart`: the row's cells stand in its storage with a byte between each two (a comma
    /// or a quote: the record as is), so that no character can run from one cell into the next.
    /// `high`: the caller saw a byte above 0x7F in the row, so none is looked for.
    ///
    /// A GB18030 row with a byte above 0x7F is converted (`GB18030Cells`), here or, when the row
    /// pipeline's consumer finishes rows and is not behind, by the consumer (`Row.convertLater`):
    /// on a GB18030 feed the reading thread had the more work of the two.
    private func decode(_ row: Row, cellsApart: Bool, high: Bool = false) {
        if let gb18030 {
            // GB18030 never uses bytes below 0x80 inside a multi-byte character, so an ASCII row
            // is the same in UTF-8 (`high`: the caller saw a byte above 0x7F).
            if high || row.cellBytes.contains(where: { $0 >= 0x80 }) {
                if row.consumerFinishes && !row.consumerBehind { row.convertLater = true } else { gb18030.convert(row) }
                return
            }
        } else {
            checkUTF8(row, cellsApart: cellsApart)
        }
        if row.readFault == nil { Self.findStrayBytes(row, in: row.cellBytes) }
    }

    /// A NUL byte, or U+FEFF (a byte-order mark where none belongs: a file glued onto another),
    /// in a cell: such a value cannot be what the agency meant, and would travel on invisibly.
    /// `all`: the bytes of `row`'s storage that hold its cells, looked through first.
    static func findStrayBytes(_ row: Row, in all: UnsafeRawBufferPointer) {
        let n = all.count
        guard n > 0, let base = all.baseAddress else { return }
        guard memchr(base, 0, n) != nil || Self.holdsBOM(base, n) else { return }
        for i in 0..<row.count {
            let cell = row.field(i)
            guard let p = cell.baseAddress, cell.count > 0 else { continue }
            if memchr(p, 0, cell.count) != nil {
                row.readFault = RowFault(code: "encoding-error", field: "", fieldNumber: i + 1, reason: "field \(i + 1) holds a NUL byte")
                return
            }
            if Self.holdsBOM(p, cell.count) {
                row.readFault = RowFault(code: "encoding-error", field: "", fieldNumber: i + 1, reason: "field \(i + 1) holds a byte-order mark (U+FEFF), which belongs only at the start of a file")
                return
            }
        }
    }

    /// Whether the `n` bytes at `p` hold EF BB BF (U+FEFF in UTF-8), found with memchr.
    static func holdsBOM(_ p: UnsafeRawPointer, _ n: Int) -> Bool {
        var from = 0
        while from + 2 < n, let hit = memchr(p + from, 0xEF, n - from - 2) {
            let at = UnsafeRawPointer(hit) - p
            if p.load(fromByteOffset: at + 1, as: UInt8.self) == 0xBB && p.load(fromByteOffset: at + 2, as: UInt8.self) == 0xBF { return true }
            from = at + 1
        }
        return false
    }

    /// Whether a field of a GB18030 feed is really UTF-8: valid UTF-8 with at least one sequence
    /// of three or four bytes (CJK text in UTF-8 is all such sequences; `tally_utf8_wide`). Read
    /// as GB18030, such bytes mostly decode without error into other characters, a name nobody
    /// could recognise or contest. Genuine GB18030 text is valid UTF-8 of that shape only by a
    /// rare coincidence of every byte (its two-byte characters would have to line up as UTF-8
    /// sequences throughout).
    static func looksLikeUTF8(_ cell: UnsafeRawBufferPointer) -> Bool {
        guard let p = cell.baseAddress else { return false }
        return tally_utf8_wide(p.assumingMemoryBound(to: UInt8.self), cell.count) != 0
    }

    private func checkUTF8(_ row: Row, cellsApart: Bool) {
        let all = row.cellBytes.assumingMemoryBound(to: UInt8.self)
        if UTF8Check.isValid(all) && (cellsApart || !Self.splitsASequence(row)) { return }
        for i in 0..<row.count {
            let cell = row.field(i)
            if !UTF8Check.isValid(UnsafeBufferPointer(start: cell.baseAddress?.assumingMemoryBound(to: UInt8.self), count: cell.count)) {
                row.readFault = RowFault(code: "encoding-error", field: "", fieldNumber: i + 1, reason: "field \(i + 1) is not valid UTF-8")
                return
            }
        }
    }

    /// Whether a cell after the first begins with a UTF-8 continuation byte (10xxxxxx). Quoted
    /// cells lie back to back in the row, with no comma between them, so the bytes of one
    /// character cut in two (`"…\xE9\xBE","\x99…"`) join into a valid whole although neither
    /// cell is valid: the whole's check passed them, and they went on into records. In a valid
    /// whole, a cell that begins on a character's boundary (a byte that is not a continuation)
    /// ends the cell before it on one too, so every cell is valid when no cell begins inside a
    /// character.
    static func splitsASequence(_ row: Row) -> Bool {
        for i in 1..<max(row.count, 1) {
            let cell = row.field(i)
            if let first = cell.first, first & 0xC0 == 0x80 { return true }
        }
        return false
    }

    @discardableResult
    private func fill() throws(InputError) -> Int {
        try window.fill(from: input) {
            InputError(.data, file: input.name, line: nextLine, "record longer than \(window.maxSpan) bytes")
        }
    }
}
