import TallyCore
import CTally

/// Converts a GB18030 row's cells to UTF-8: the CSV reader's, or the row pipeline consumer's for
/// rows the reader left to it (`Row.convertLater`). Each thread has its own: iconv's state is
/// not shared.
///
/// The UTF-8 is written after the row's bytes, back to back, and the cells are pointed at it
/// (`Row.relocateCells`): the bytes they were converted from stay where they are (for a record
/// the one-pass read took, they are its raw text as well), and on the consumer's side the rows
/// after this one in the batch are left alone. A cell that is UTF-8 (`CSVReader.looksLikeUTF8`)
/// or not valid GB18030 is the row's fault; then come the checks for NUL bytes and byte-order
/// marks in the converted cells.
final class GB18030Cells {
    private let decoder: GB18030Decoder
    private var cellEnds = UnsafeMutablePointer<Int>.allocate(capacity: 64)
    private var room = 64

    /// Nil when the C library has no GB18030 converter.
    init?() {
        guard let decoder = GB18030Decoder() else { return nil }
        self.decoder = decoder
    }

    deinit { cellEnds.deallocate() }

    /// Converts the cells of `row`, which has a byte above 0x7F and no read fault. The table
    /// does the cells it can (`tally_gb18030_cells`); the one it stops at goes the exact way,
    /// then the table goes on from the next.
    func convert(_ row: Row) {
        let n = row.count
        if room < n {
            cellEnds.deallocate()
            room = max(n, 2 * room)
            cellEnds = .allocate(capacity: room)
        }
        var size = 0
        for i in 0..<n { size += row.cellEnds[i] - row.cellStarts[i] }
        let space = 2 * size + 16
        let first = row.storage.count, starts = row.cellStarts, ends = row.cellEnds, cellEnds = cellEnds, two = decoder.two
        var from = 0
        while from < n {
            let before = row.storage.count
            var done = 0
            row.storage.append(atMost: space) { out in
                // The room is made before this is called: the storage may have moved. The cells
                // are read up to `before`, never from the room being written.
                done = tally_gb18030_cells(row.storage.base, starts + from, ends + from, n - from, before,
                                           out.baseAddress!.assumingMemoryBound(to: UInt8.self), cellEnds + from, before, two)
                return done > 0 ? cellEnds[from + done - 1] - before : 0
            }
            from += done
            guard from < n else { break }
            // A copy: converting appends to the storage the cell stands in.
            let cell = Array(row.field(from))
            let failure: String? = cell.withUnsafeBytes { cell in
                if CSVReader.looksLikeUTF8(cell) {
                    return "field \(from + 1) is UTF-8 text in a feed declared GB18030: read as GB18030 it would become other characters"
                }
                // Not UTF-8, so the table stopped at something it does not speak for: iconv.
                do throws(Transcoder.Invalid) {
                    try decoder.iconv.convert(cell, appendingTo: row.storage)
                    return nil
                } catch {
                    return "field \(from + 1) is not valid GB18030 (byte \(error.offset + 1) of the field)"
                }
            }
            if let failure {
                // The cells converted so far go: the row's bytes end where they did.
                row.storage.truncate(to: first)
                row.readFault = RowFault(code: "encoding-error", field: "", fieldNumber: from + 1, reason: failure)
                return
            }
            cellEnds[from] = row.storage.count
            from += 1
        }
        row.relocateCells(startingAt: first, ends: cellEnds)
        CSVReader.findStrayBytes(row, in: UnsafeRawBufferPointer(start: row.storage.base + first, count: row.storage.count - first))
    }
}
