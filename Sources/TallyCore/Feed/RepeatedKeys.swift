import CTally

/// The keys a feed file's rows have shown so far, to find a row that repeats one: the one
/// definition of a `primary-key` fault, which tally-validate reports and tally-parse rejects.
///
/// A CSV row's key is its Table Schema `primaryKey` cells, checked for every row whose cells
/// could be read (Frictionless reports a key whose cells are all empty, and a repeated key); an
/// XML record's key is its natural key as `NaturalKey` makes it for the record id (a revocation's
/// with its suffix, so that it does not repeat the entry it revokes), checked for records with no
/// other fault.
///
/// Keys are kept as 128-bit SipHash digests (keyed at random for each run, so no file can be
/// made to collide on purpose): 16 bytes a row; two different keys of a file share them with
/// odds far below one in 10^20. One pass of `SipHash128` over the key's bytes indexes an
/// open-addressing table of its own: two of Swift's `Hasher` and a `Set` hashed the key three
/// times, a third of the main thread's time on a wide export (perf; BENCHMARKS.md, "tally-parse
/// on a wide export"). While a CSV file's keys come in ascending order, no key is looked up at
/// all (`greatest`).
public final class RepeatedKeys {
    /// What a row's key says.
    public enum Verdict: Equatable, Sendable {
        case fresh
        /// The key's cells are all empty.
        case empty
        /// An earlier row of the file had this key.
        case repeated
    }

    let seen = FingerprintSet()
    let spec: FeedSpec
    /// An XML record's key, gathered here before it is hashed; a CSV row's key cells laid out
    /// for comparing (`laidOut`).
    let key = ByteBuffer(capacity: 256)
    let naturalKey: NaturalKey

    /// While a CSV file's keys come in ascending order (`laidOut`, compared as bytes), the
    /// greatest key so far, laid out. A key above it repeats no earlier one, so its fingerprint
    /// is only written down (`run`), in order, with no look-up; a key equal to it repeats it. A
    /// key below it sends the fingerprints written down into the set first, then is looked up
    /// there. Exported files mostly list rows by their key: then the set's random reads (8% of
    /// tally-parse's samples on the wide export, and 2% growing it; perf) are never made.
    let greatest = ByteBuffer(capacity: 256)
    /// The fingerprints of the keys above the set's, in the order they came.
    var run = PagedArray<(UInt64, UInt64)>()
    /// Whether a file's keys are taken in order while they come so: a CSV file's.
    let checksOrder: Bool
    /// Whether keys are still taken in order: false for XML, and for the rest of a file whose
    /// keys come out of order (`checkPrepared`).
    var ordered: Bool
    /// The keys of the file checked in order, and how many of them came below the greatest.
    var checked = 0, below = 0
    /// Where the key last prepared stands against `greatest`.
    var order = Order.above
    enum Order { case above, equal, below }

    public init(spec: FeedSpec) {
        self.spec = spec
        naturalKey = NaturalKey(spec: spec)
        if case .csv = spec.format { checksOrder = true } else { checksOrder = false }
        ordered = checksOrder
    }

    deinit { run.deallocate() }

    /// A row's key, hashed.
    public enum Prepared: Sendable { case unchecked, empty, key(UInt64, UInt64) }
    var prepared = Prepared.unchecked

    /// Hashes `row`'s key and, when it must be looked up in the set, asks for its slot's cache
    /// line, for `checkPrepared` after the row's other checks: 2M keys make random accesses into
    /// a 64 MB table, and the validator's work in between hides part of the wait.
    public func prepare(_ row: Row) {
        prepared = row.keyPrint ?? fingerprint(row)
        guard case .key(let a, _) = prepared else { return }
        if ordered {
            layOut(row)
            let c = greatest.count == 0 ? 1 : Int(tally_compare_bytes(key.base, key.count, greatest.base, greatest.count))
            order = c > 0 ? .above : (c == 0 ? .equal : .below)
            if order != .below { return }
        }
        seen.prefetch(a)
    }

    /// The verdict on the row last given to `prepare`, or nil when its key is not checked (its
    /// cells could not be read, or, in XML, it has another fault: `faultFree`).
    public func checkPrepared(faultFree: Bool) -> Verdict? {
        defer { prepared = .unchecked }
        if ordered, case .key(let a, let b) = prepared {
            checked += 1
            switch order {
            case .above:
                run.append((a, b))
                greatest.exchange(with: key)
                return .fresh
            case .equal:
                return .repeated
            case .below:
                // The keys written down go to the set first.
                for i in 0..<run.count { _ = seen.insert(run[i].0, run[i].1) }
                run.removeAll()
                // When a quarter of the keys come out of order, the file is not in key order:
                // every key goes to the set from here on, and no key is laid out to compare.
                below += 1
                if checked >= 256 && 4 * below > checked { ordered = false }
            }
        }
        return verdict(prepared, faultFree: faultFree)
    }

    func verdict(_ p: Prepared, faultFree: Bool) -> Verdict? {
        if case .xml = spec.format, !faultFree { return nil }
        switch p {
        case .unchecked: return nil
        case .empty: return .empty
        case .key(let a, let b): return seen.insert(a, b) ? .fresh : .repeated
        }
    }

    /// Lays out `row`'s key cells in `key` for comparing as bytes: each cell's length as four
    /// bytes, most significant first, then the cell. No layout is the start of another's, so
    /// two keys lay out the same exactly when their cells are the same; and keys of one width
    /// that count up (row numbers, ids) lay out in ascending order.
    @inline(__always)
    func layOut(_ row: Row) {
        key.removeAll()
        for i in spec.primaryKey {
            let v = i < row.count ? row.field(i) : UnsafeRawBufferPointer(start: nil, count: 0)
            let n = UInt32(truncatingIfNeeded: v.count)
            key.append(UInt8(truncatingIfNeeded: n >> 24))
            key.append(UInt8(truncatingIfNeeded: n >> 16))
            key.append(UInt8(truncatingIfNeeded: n >> 8))
            key.append(UInt8(truncatingIfNeeded: n))
            key.append(v)
        }
    }

    /// The fields of a CSV row's key (the Table Schema `primaryKey`), for a reader that hashes
    /// them itself (`fingerprint(csvCells:)`).
    public var csvKeyFields: [Int] {
        if case .csv = spec.format { return spec.primaryKey }
        return []
    }

    /// The fingerprint of a CSV row with no read fault whose key cells `cell` gives (by field
    /// number), exactly as `prepare` would make it from the row. The CSV reader calls it with
    /// the cells' bytes as they stand in its read buffer: the consumer, which hashed them from
    /// the row, had the most work of the two threads, and the reader hashing them from the
    /// row's copy read back bytes just stored into lines the other core held, and waited
    /// (perf; BENCHMARKS.md "tally-parse on a wide export").
    /// Each cell is hashed as it is read, as its length and then its bytes in whole words
    /// (`SipHash128.Stream.feedWords`), so that no two lists of cells hash the same words.
    @inline(__always)
    public func fingerprint(csvCells cell: (Int) -> UnsafeRawBufferPointer) -> Prepared {
        var allEmpty = true
        var stream = SipHash128.Stream(SipHash128.random)
        for i in spec.primaryKey {
            let v = cell(i)
            if !v.isEmpty { allEmpty = false }
            stream.feedWords(v)
        }
        if allEmpty { return .empty }
        let (a, b) = stream.finish()
        return .key(a, b)
    }

    /// Hashes the key of `row`.
    func fingerprint(_ row: Row) -> Prepared {
        switch spec.format {
        case .csv:
            guard !spec.primaryKey.isEmpty, row.readFault == nil || row.readFault?.code == "blank-row" else { return .unchecked }
            // Unretained: capturing the row retained and released it on every row (perf: 3% of
            // tally-parse's consumer thread on transit); the caller holds it throughout.
            return fingerprint(csvCells: { [unowned(unsafe) row] i in
                i < row.count ? row.field(i) : UnsafeRawBufferPointer(start: nil, count: 0)
            })
        case .xml:
            // The record id's own key, so that a record repeats exactly when its id would.
            key.removeAll()
            naturalKey.append(row, to: key)
            if naturalKey.isRevocation(row) { naturalKey.appendRevocationSuffix(to: key) }
        }
        let (a, b) = SipHash128.random.hash(key.contents)
        return .key(a, b)
    }

    /// Forgets every key (for the next file).
    public func removeAll() {
        seen.removeAll()
        run.deallocate()
        greatest.removeAll()
        checked = 0
        below = 0
        ordered = checksOrder
    }
}

/// A set of 128-bit fingerprints (already uniformly random), with linear probing at most half
/// full. The all-zero fingerprint stands for an empty slot, so one that is all zero is stored
/// with its last bit set.
///
/// The set is 256 tables, chosen by the top byte of the fingerprint's first word; its low bits
/// are the slot. Each table grows on its own, a few hundred kilobytes at a time, so a growth
/// rehashes within the processor's cache instead of moving every key of a 64 MB table at random
/// (2% of tally-parse on transit in that rehash, and more in page faults, with one table; perf),
/// and the old table and the new one are never both whole in memory (96 MB at the peak for 2M
/// keys, 64 MB now).
final class FingerprintSet {
    /// One of the tables: its slots (two words each) and how many are taken.
    struct Part {
        var table: UnsafeMutablePointer<UInt64>
        var mask: Int
        var count: Int
    }

    static let partBits = 8
    private let parts: UnsafeMutablePointer<Part>
    /// How many fingerprints the set holds (the tables' counts added up).
    var count: Int { (0..<(1 << Self.partBits)).reduce(0) { $0 + parts[$1].count } }

    /// `capacity`: the slots each table starts with (a power of two).
    init(capacity: Int = 16) {
        precondition(capacity > 0 && capacity & (capacity - 1) == 0, "a power of two")
        let n = 1 << Self.partBits
        parts = .allocate(capacity: n)
        for i in 0..<n {
            let table = UnsafeMutablePointer<UInt64>.allocate(capacity: 2 * capacity)
            table.initialize(repeating: 0, count: 2 * capacity)
            (parts + i).initialize(to: Part(table: table, mask: capacity - 1, count: 0))
        }
    }

    deinit {
        for i in 0..<(1 << Self.partBits) { parts[i].table.deallocate() }
        parts.deallocate()
    }

    @inline(__always)
    private func part(_ a: UInt64) -> UnsafeMutablePointer<Part> {
        parts + Int(truncatingIfNeeded: a >> (64 - UInt64(Self.partBits)))
    }

    /// Asks for the cache line of the slot where `a` would go, without waiting for it.
    @inline(__always)
    func prefetch(_ a: UInt64) {
        let p = part(a)
        tally_prefetch(p.pointee.table + 2 * (Int(truncatingIfNeeded: a) & p.pointee.mask))
    }

    /// Adds the fingerprint; false when it was already there.
    @inline(__always)
    func insert(_ a: UInt64, _ b: UInt64) -> Bool {
        let p = part(a)
        if 2 * (p.pointee.count + 1) > p.pointee.mask + 1 { Self.grow(p) }
        return Self.insert(a, a == 0 && b == 0 ? 1 : b, into: p)
    }

    @inline(__always)
    private static func insert(_ a: UInt64, _ b: UInt64, into p: UnsafeMutablePointer<Part>) -> Bool {
        let table = p.pointee.table, mask = p.pointee.mask
        var i = Int(truncatingIfNeeded: a) & mask
        while true {
            let s = table + 2 * i
            if s[0] == 0 && s[1] == 0 {
                s[0] = a
                s[1] = b
                p.pointee.count += 1
                return true
            }
            if s[0] == a && s[1] == b { return false }
            i = (i + 1) & mask
        }
    }

    private static func grow(_ p: UnsafeMutablePointer<Part>) {
        let old = p.pointee.table, oldSlots = p.pointee.mask + 1
        let slots = 2 * oldSlots
        p.pointee.table = .allocate(capacity: 2 * slots)
        p.pointee.table.initialize(repeating: 0, count: 2 * slots)
        p.pointee.mask = slots - 1
        p.pointee.count = 0
        for s in 0..<oldSlots where old[2 * s] != 0 || old[2 * s + 1] != 0 {
            _ = insert(old[2 * s], old[2 * s + 1], into: p)
        }
        old.deallocate()
    }

    /// Empties the set, keeping its room.
    func removeAll() {
        for i in 0..<(1 << Self.partBits) {
            parts[i].table.update(repeating: 0, count: 2 * (parts[i].mask + 1))
            parts[i].count = 0
        }
    }
}
