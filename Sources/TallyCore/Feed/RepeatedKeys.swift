/// The keys a feed file's rows have shown so far, to find a row that repeats one: the one
/// definition of a `primary-key` fault, which tally-validate reports and tally-parse rejects.
///
/// A CSV row's key is its Table Schema `primaryKey` cells, checked for every row whose cells
/// could be read (Frictionless reports a key whose cells are all empty, and a repeated key); an
/// XML record's key is its natural key (and the retraction value, so a revocation does not repeat
/// the entry it revokes), checked for records with no other fault.
///
/// Keys are kept as 128 bits of two SipHash digests (Swift's `Hasher`, seeded at random for each
/// run, so no file can be made to collide on purpose): 16 bytes a row; two different keys of a
/// file share them with odds far below one in 10^20.
public struct RepeatedKeys {
    /// What a row's key says.
    public enum Verdict: Equatable, Sendable {
        case fresh
        /// The key's cells are all empty.
        case empty
        /// An earlier row of the file had this key.
        case repeated
    }

    struct Key: Hashable { var a: Int; var b: Int }
    var seen = Set<Key>()
    let spec: FeedSpec
    let key = ByteBuffer(capacity: 256)

    public init(spec: FeedSpec) { self.spec = spec }

    /// The verdict on `row`'s key, or nil when the row's key is not checked (its cells could not
    /// be read, or, in XML, it has another fault: `faultFree`).
    public mutating func check(_ row: Row, faultFree: Bool) -> Verdict? {
        key.removeAll()
        switch spec.format {
        case .csv:
            guard !spec.primaryKey.isEmpty, row.readFault == nil || row.readFault?.code == "blank-row" else { return nil }
            var allEmpty = true
            for i in spec.primaryKey {
                let v = i < row.count ? row.field(i) : UnsafeRawBufferPointer(start: nil, count: 0)
                if !v.isEmpty { allEmpty = false }
                append(v)
            }
            if allEmpty { return .empty }
        case .xml:
            guard faultFree, !spec.naturalKey.isEmpty else { return nil }
            for i in spec.naturalKey { append(row.field(i)) }
            if let (field, value) = spec.retraction, row.field(field).equals(text: value) { key.append(value) }
        }
        let bytes = UnsafeRawBufferPointer(start: key.base, count: key.count)
        var h1 = Hasher(), h2 = Hasher()
        h1.combine(0x7A11_1)
        h2.combine(0x7A11_2)
        h1.combine(bytes: bytes)
        h2.combine(bytes: bytes)
        return seen.insert(Key(a: h1.finalize(), b: h2.finalize())).inserted ? .fresh : .repeated
    }

    /// A cell, its length first, so that no two lists of cells make the same bytes.
    func append(_ v: UnsafeRawBufferPointer) {
        key.appendDecimal(Int64(v.count))
        key.append(UInt8(ascii: ":"))
        key.append(v)
    }

    /// Forgets every key (for the next file).
    public mutating func removeAll() { seen.removeAll(keepingCapacity: true) }
}
