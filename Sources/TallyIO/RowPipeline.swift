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
    final class Batch {
        var rows: [Row]
        var count = 0
        var error: InputError?
        var done = false
        init(size: Int) { rows = (0..<size).map { _ in Row() } }
    }

    private let batches: [Batch]
    /// The most bytes of rows a batch holds before it is handed over (one row may go past it).
    static let batchBytes = 4 << 20
    private let filled = DispatchSemaphore(value: 0)
    private let empty: DispatchSemaphore
    private var consumerSlot = 0
    private var current: Batch?
    private var index = 0
    private var finished = false
    /// Set by the consumer, read by the producer between rows: an atomic, since the two threads
    /// touch it without a semaphore between them (ThreadSanitizer's data race).
    private let stopRequested = Atomic<Bool>(false)

    /// Starts reading: `open` runs on the producer thread and returns the function that reads
    /// one row (false at the end).
    ///
    /// About 4,096 rows in flight: with 1,024 (4 batches of 256) the two threads kept waiting for
    /// each other, each busy only two thirds of the time. On the wide export, tally-parse took
    /// 2.18 s at 256 x 4, 1.81 s at 1024 x 4, 1.81 s at 512 x 8 and 1.79 s at 256 x 16 (medians of
    /// 7). More was slower again: 1.93 s at 256 x 32 and 2.08 s at 2048 x 8. Memory stays bounded
    /// by `batchBytes` a batch.
    public init(batchSize: Int = 1024, depth: Int = 4,
                open: @escaping @Sendable () throws(InputError) -> (Row) throws(InputError) -> Bool) {
        batches = (0..<depth).map { _ in Batch(size: batchSize) }
        empty = DispatchSemaphore(value: depth)
        let thread = ProducerThread(pipeline: self, open: open)
        thread.start()
    }

    fileprivate func produce(_ open: () throws(InputError) -> (Row) throws(InputError) -> Bool) {
        var slot = 0
        var read: ((Row) throws(InputError) -> Bool)?
        while true {
            empty.wait()
            let batch = batches[slot]
            batch.count = 0
            batch.error = nil
            batch.done = false
            do throws(InputError) {
                if read == nil { read = try open() }
                // A batch also ends once its rows hold `batchBytes`: with rows near the line
                // limit, a batch of hundreds would hold gigabytes.
                var bytes = 0
                while batch.count < batch.rows.count && bytes < Self.batchBytes {
                    if stopRequested.load(ordering: .relaxed) { batch.done = true; break }
                    guard try read!(batch.rows[batch.count]) else { batch.done = true; break }
                    bytes &+= batch.rows[batch.count].heldBytes
                    batch.count += 1
                }
            } catch {
                batch.error = error
                batch.done = true
            }
            let last = batch.done
            filled.signal()
            if last { return }
            slot = (slot + 1) % batches.count
        }
    }

    /// The next row, or nil at the end; throws the producer's error after the rows before it.
    public func next() throws(InputError) -> Row? {
        while true {
            if let batch = current {
                if index < batch.count {
                    index += 1
                    return batch.rows[index - 1]
                }
                let error = batch.error, done = batch.done
                current = nil
                empty.signal()
                consumerSlot = (consumerSlot + 1) % batches.count
                if let error { finished = true; throw error }
                if done { finished = true; return nil }
            }
            if finished { return nil }
            filled.wait()
            current = batches[consumerSlot]
            index = 0
        }
    }

    /// Asks the producer to stop early (the consumer gave up, e.g. on a broken pipe) and waits
    /// for it, so that no thread outlives the file it reads.
    public func stop() {
        guard !finished else { return }
        stopRequested.store(true, ordering: .relaxed)
        while (try? next()) != nil {}
        finished = true
    }
}

/// The producer's thread. A plain POSIX thread: Dispatch's pool is for short tasks, and this one
/// blocks for the whole file.
private final class ProducerThread: @unchecked Sendable {
    let pipeline: RowPipeline
    let open: @Sendable () throws(InputError) -> (Row) throws(InputError) -> Bool
    init(pipeline: RowPipeline, open: @escaping @Sendable () throws(InputError) -> (Row) throws(InputError) -> Bool) {
        self.pipeline = pipeline
        self.open = open
    }

    func start() {
        let context = Unmanaged.passRetained(self).toOpaque()
        var thread = pthread_t()
        let status = pthread_create(&thread, nil, { raw in
            let me = Unmanaged<ProducerThread>.fromOpaque(raw!).takeRetainedValue()
            me.pipeline.produce(me.open)
            return nil
        }, context)
        precondition(status == 0, "cannot start the reading thread")
        pthread_detach(thread)
    }
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
