import Dispatch
import Synchronization
import TallyCore

/// Reads rows on a second thread while the caller validates, maps and writes them, so that a
/// stage uses both cores: libxml2's parsing and XSD validation (or inflating and splitting CSV)
/// on one, everything after on the other.
///
/// The producer fills batches of reused `Row`s; a fixed number of batches circulate, so memory
/// stays bounded. A reading error ends the stream after the rows read before it, as in the
/// single-threaded reader. Everything the producer touches (the input file, libxml2's reader and
/// its thread-local state) is created and used on the producer's thread only.
public final class RowPipeline: @unchecked Sendable {
    /// Rows kept back to back: their bytes in one buffer, their cell offsets in another, and a
    /// few words each of what else a row says. The reading thread writes a batch from start to
    /// end and the consumer reads it the same way, so the rows cross from core to core as a
    /// stream the caches prefetch. (Each row was an object with four buffers of its own, reused
    /// from batch to batch: perf put the first store into a row, and the copies into its
    /// buffers, at a fifth of parsing transit, every cache line of them handed from core to core.)
    final class Batch {
        struct Kept {
            var origin: Int
            var cells: Int
            var count: Int
            var line: Int
            var rawStart: Int
            var rawCount: Int
            var fault: Int32
            var rawIsUTF8: Bool
            var keyA: UInt64
            var keyB: UInt64
            var keyKind: UInt8
            var convertLater: Bool
        }
        let bytes = ByteBuffer(capacity: 1 << 16)
        var cells: UnsafeMutablePointer<UInt32>
        var cellCapacity = 1 << 12
        var cellCount = 0
        let kept: UnsafeMutablePointer<Kept>
        let capacity: Int
        var count = 0
        /// The read faults of the rows that have them, by `Kept.fault`.
        var faults: [(RowFault, [RowFault])] = []
        var error: InputError?
        var done = false

        init(size: Int) {
            capacity = size
            kept = .allocate(capacity: size)
            cells = .allocate(capacity: cellCapacity)
        }

        deinit {
            kept.deallocate()
            cells.deallocate()
        }

        /// Empties the batch; a buffer that one huge row made large gives the room back.
        func clear() {
            count = 0
            cellCount = 0
            error = nil
            done = false
            if !faults.isEmpty { faults.removeAll(keepingCapacity: true) }
            // (A batch also holds the cells its consumer converted: `Row.convertLater`.)
            bytes.removeAll(shrinkingPast: 4 * RowPipeline.batchBytes, to: 1 << 16)
            if cellCapacity > 1 << 16 {
                cells.deallocate()
                cellCapacity = 1 << 12
                cells = .allocate(capacity: cellCapacity)
            }
        }

        /// Keeps the row the reading thread wrote at the end of `bytes`.
        func keep(_ row: Row, file name: String) throws(InputError) {
            let n = row.count
            // Offsets within a row take four bytes. A row of 4 GiB or more (only an XML record
            // could hold that much text) is refused rather than cut.
            guard row.storage.count - row.origin <= Int(UInt32.max) else {
                throw InputError(.data, file: name, line: row.line, "record holds more than 4 GiB")
            }
            if cellCount + 2 * n > cellCapacity {
                var c = cellCapacity
                while cellCount + 2 * n > c { c *= 2 }
                let grown = UnsafeMutablePointer<UInt32>.allocate(capacity: c)
                grown.update(from: cells, count: cellCount)
                cells.deallocate()
                cells = grown
                cellCapacity = c
            }
            row.copyCells(to: cells + cellCount)
            var fault: Int32 = -1
            if let f = row.readFault {
                fault = Int32(faults.count)
                faults.append((f, row.moreReadFaults))
            }
            (kept + count).initialize(to: Kept(origin: row.origin, cells: cellCount, count: n, line: row.line,
                                              rawStart: row.rawStart, rawCount: row.rawCount, fault: fault,
                                              rawIsUTF8: row.rawIsUTF8, keyA: row.keyA, keyB: row.keyB, keyKind: row.keyKind,
                                              convertLater: row.convertLater))
            cellCount += 2 * n
            count += 1
            row.keep()
        }

    }

    private let batches: [Batch]
    /// The file read, for errors.
    private let fileName: String
    /// The most bytes of rows a batch holds before it is handed over (one row may go past it).
    static let batchBytes = 1 << 20
    private let filled = DispatchSemaphore(value: 0)
    private let empty: DispatchSemaphore
    private var consumerSlot = 0
    private var current: Batch?
    // The current batch's rows, read without touching the batch object on every row.
    private var index = 0
    private var shownCount = 0
    private var shownKept: UnsafeMutablePointer<Batch.Kept>?
    private var shownCells: UnsafeMutablePointer<UInt32>?
    private var finished = false
    /// The row the consumer is given: it looks into the current batch.
    private let shown = Row()
    /// The consumer's converter of rows the reader left in GB18030 (`Row.convertLater`), made
    /// on the consumer's thread at the first such row: iconv's state is not shared.
    private var gb18030: GB18030Cells?

    /// Converts a row's GB18030 cells on the consumer's thread, after the batch's bytes (the
    /// batch is the consumer's until it is handed back).
    private func convertLater(_ row: Row) {
        if gb18030 == nil { gb18030 = GB18030Cells() }
        gb18030!.convert(row)
        convertedLater += 1
    }
    /// How many rows the consumer converted (for the tests).
    private(set) var convertedLater = 0
    /// Set by the consumer, read by the producer before each batch: an atomic, since the two
    /// threads touch it without a semaphore between them (ThreadSanitizer's data race).
    private let stopRequested = Atomic<Bool>(false)
    /// Filled batches the consumer has not taken yet: the producer reads it before each batch
    /// to tell its row whether the consumer is behind (`Row.consumerBehind`).
    private let waiting = Atomic<Int>(0)

    /// Starts reading: `open` runs on the producer thread and returns the function that reads
    /// one row (false at the end).
    ///
    /// About 8,192 rows in flight. With each row an object of its own, 4,096 (1,024 x 4) was best
    /// (the wide export: 2.18 s at 256 x 4, 1.81 s at 1,024 x 4, 1.93 s at 256 x 32). With rows
    /// kept back to back, transit took 0.94 s at 1,024 x 4 and 0.78–0.81 s at 512 x 16,
    /// 1,024 x 8, 1,024 x 16, 256 x 32 and 4,096 x 4 (means of 6): the more rows in flight, the
    /// less each thread waits out the other's slow stretches. Memory stays bounded by
    /// `batchBytes` a batch (plus one row).
    public init(batchSize: Int = 512, depth: Int = 16, fileName: String = "",
                open: @escaping @Sendable () throws(InputError) -> (Row) throws(InputError) -> Bool) {
        self.fileName = fileName
        batches = (0..<depth).map { _ in Batch(size: batchSize) }
        empty = DispatchSemaphore(value: depth)
        startDetachedThread("the reading thread") { self.produce(open) }
    }

    fileprivate func produce(_ open: () throws(InputError) -> (Row) throws(InputError) -> Bool) {
        var slot = 0
        var read: ((Row) throws(InputError) -> Bool)?
        // The reading thread's one row: it writes into each batch's buffer in turn.
        let row = Row()
        while true {
            empty.wait()
            let batch = batches[slot]
            batch.clear()
            row.storage.exchange(with: batch.bytes)
            row.startWriting()
            row.consumerFinishes = true
            row.consumerBehind = waiting.load(ordering: .relaxed) >= batches.count / 2
            do throws(InputError) {
                if read == nil { read = try open() }
                // A batch also ends once its rows hold `batchBytes`: with rows near the line
                // limit, a batch of hundreds would hold gigabytes.
                // The consumer's request to stop is read once a batch: read on every row, the
                // flag's cache line went from core to core with the consumer's own fields.
                if stopRequested.load(ordering: .relaxed) { batch.done = true }
                while !batch.done && batch.count < batch.capacity && row.storage.count < Self.batchBytes {
                    guard try read!(row) else { batch.done = true; break }
                    try batch.keep(row, file: fileName)
                }
            } catch {
                batch.error = error
                batch.done = true
            }
            row.stopWriting()
            row.storage.exchange(with: batch.bytes)
            let last = batch.done
            waiting.add(1, ordering: .relaxed)
            filled.signal()
            if last { return }
            slot = (slot + 1) % batches.count
        }
    }

    /// The next row, or nil at the end; throws the producer's error after the rows before it.
    /// The row is valid until the next call.
    public func next() throws(InputError) -> Row? {
        try advance() ? shown : nil
    }

    /// The row `advance()` moved to: one object for the whole file, which each call refills.
    public var row: Row { shown }

    /// Moves `row` to the next row; false at the end. Throws the producer's error after the rows
    /// before it. Rows go by this and not `next()` in the stages' loops: returning the row
    /// retained it and released it again on every row (perf: 3% of tally-parse's consumer
    /// thread on transit).
    public func advance() throws(InputError) -> Bool {
        while true {
            if index < shownCount, let kept = shownKept, let cells = shownCells {
                let k = kept[index]
                index += 1
                let row = shown
                row.look(at: cells + k.cells, count: k.count, origin: k.origin)
                row.line = k.line
                row.rawStart = k.rawStart
                row.rawCount = k.rawCount
                row.rawIsUTF8 = k.rawIsUTF8
                row.keyKind = k.keyKind
                row.keyA = k.keyA
                row.keyB = k.keyB
                if k.fault >= 0 {
                    (row.readFault, row.moreReadFaults) = current!.faults[Int(k.fault)]
                } else if row.readFault != nil {
                    row.readFault = nil
                    row.moreReadFaults = []
                }
                if k.convertLater { convertLater(row) }
                return true
            }
            if let batch = current {
                let error = batch.error, done = batch.done
                shown.storage.exchange(with: batch.bytes)
                shown.stopWriting()
                shownCount = 0
                current = nil
                empty.signal()
                consumerSlot = (consumerSlot + 1) % batches.count
                if let error { finished = true; throw error }
                if done { finished = true; return false }
            }
            if finished { return false }
            filled.wait()
            waiting.subtract(1, ordering: .relaxed)
            let batch = batches[consumerSlot]
            shown.storage.exchange(with: batch.bytes)
            current = batch
            index = 0
            shownCount = batch.count
            shownKept = batch.kept
            shownCells = batch.cells
        }
    }

    /// Asks the producer to stop early (the consumer gave up, e.g. on a broken pipe) and waits
    /// for it, so that no thread outlives the file it reads.
    public func stop() {
        guard !finished else { return }
        stopRequested.store(true, ordering: .relaxed)
        while (try? advance()) == true {}
        finished = true
    }
}

/// Runs `body` on a plain POSIX thread of its own, detached: for work that blocks for a whole
/// file (reading rows, hashing), which Dispatch's pool of short tasks is not for.
func startDetachedThread(_ what: String, _ body: @escaping @Sendable () -> Void) {
    final class Box: @unchecked Sendable {
        let body: @Sendable () -> Void
        init(_ body: @escaping @Sendable () -> Void) { self.body = body }
    }
    let context = Unmanaged.passRetained(Box(body)).toOpaque()
    var thread = pthread_t()
    let status = pthread_create(&thread, nil, { raw in
        Unmanaged<Box>.fromOpaque(raw!).takeRetainedValue().body()
        return nil
    }, context)
    precondition(status == 0, "cannot start \(what)")
    pthread_detach(thread)
}

#if canImport(Glibc)
import Glibc
#endif

/// Two pieces of work at once: `second` on a thread of its own, `first` on the caller's; returns
/// (or throws the first error, `first`'s before `second`'s) when both have ended. For work split
/// in halves that share nothing they write.
public enum BothAtOnce {
    public static func run(_ first: () throws -> Void, _ second: () throws -> Void) throws {
        try withoutActuallyEscaping(second) { second in
            let other = JoinedThread(second)
            other.start()
            var firstError: Error?
            do { try first() } catch { firstError = error }
            other.join()
            if let firstError { throw firstError }
            if let error = other.error { throw error }
        }
    }
}

private final class JoinedThread: @unchecked Sendable {
    let body: () throws -> Void
    var error: Error?
    var thread = pthread_t()
    init(_ body: @escaping () throws -> Void) { self.body = body }

    func start() {
        let context = Unmanaged.passRetained(self).toOpaque()
        let status = pthread_create(&thread, nil, { raw in
            let me = Unmanaged<JoinedThread>.fromOpaque(raw!).takeRetainedValue()
            do { try me.body() } catch { me.error = error }
            return nil
        }, context)
        precondition(status == 0, "cannot start a thread")
    }

    func join() { pthread_join(thread, nil) }
}

/// Turns in a fixed order for threads that each make some of a sequence of pieces and must hand
/// them on in sequence (tally-score's two threads writing score lines a chunk each in turn):
/// `wait(for: n)` returns once pieces 0..<n have been handed on (`done`), or throws
/// `TakingTurns.Abandoned` once any taker has given up (`abandon`), so that an error on one
/// thread never leaves the other waiting for ever.
public final class TakingTurns: @unchecked Sendable {
    public struct Abandoned: Error {}
    private var mutex = pthread_mutex_t()
    private var changed = pthread_cond_t()
    private var next = 0
    private var abandoned = false

    public init() {
        pthread_mutex_init(&mutex, nil)
        pthread_cond_init(&changed, nil)
    }

    deinit {
        pthread_cond_destroy(&changed)
        pthread_mutex_destroy(&mutex)
    }

    /// Blocks until it is piece `n`'s turn.
    public func wait(for n: Int) throws(Abandoned) {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        while next != n && !abandoned { pthread_cond_wait(&changed, &mutex) }
        if abandoned { throw Abandoned() }
    }

    /// Piece `n` has been handed on: the next one's turn.
    public func done(_ n: Int) {
        pthread_mutex_lock(&mutex)
        precondition(next == n, "turns are taken in order")
        next = n + 1
        pthread_cond_broadcast(&changed)
        pthread_mutex_unlock(&mutex)
    }

    /// A taker has given up: every wait, now and later, throws.
    public func abandon() {
        pthread_mutex_lock(&mutex)
        abandoned = true
        pthread_cond_broadcast(&changed)
        pthread_mutex_unlock(&mutex)
    }
}
