/// A crosswalk held as two sorted arrays, packed identifiers and their values (a packed person
/// or `CrosswalkTable.conflictMark`), in one block of memory that never moves: what the folded
/// crosswalk file holds, read in one go, and looked up by binary search without building a hash
/// table. A night links a few hundred thousand identifiers against millions of crosswalk entries;
/// searching costs them a microsecond each, where building the table would cost every entry.
public final class SortedCrosswalk {
    public let count: Int
    /// `count` keys, then `count` values, 8-byte aligned.
    public let storage: UnsafeMutableRawPointer
    let keys: UnsafeMutablePointer<UInt64>
    let values: UnsafeMutablePointer<UInt64>

    /// Room for `count` entries, to be filled through `keys` and `values` in ascending order of key.
    public init(count: Int) {
        self.count = count
        storage = UnsafeMutableRawPointer.allocate(byteCount: max(16, 16 * count), alignment: 64)
        keys = storage.bindMemory(to: UInt64.self, capacity: 2 * max(1, count))
        values = keys + count
    }

    deinit { storage.deallocate() }

    public var keyBuffer: UnsafeMutableBufferPointer<UInt64> { UnsafeMutableBufferPointer(start: keys, count: count) }
    public var valueBuffer: UnsafeMutableBufferPointer<UInt64> { UnsafeMutableBufferPointer(start: values, count: count) }

    /// Whether the keys ascend strictly (each identifier once): a file read from disk is checked
    /// before it is searched, as binary search over disorder answers wrongly without a sign.
    public var isStrictlyAscending: Bool {
        var i = 1
        while i < count {
            if keys[i - 1] >= keys[i] { return false }
            i += 1
        }
        return true
    }

    /// The entry for a packed identifier, or nil when this part of the crosswalk does not name it.
    @inline(__always)
    public func lookup(packed key: UInt64) -> CrosswalkTable.Entry? {
        var low = 0, high = count
        while low < high {
            let middle = (low + high) >> 1
            if keys[middle] < key { low = middle + 1 } else { high = middle }
        }
        guard low < count, keys[low] == key else { return nil }
        return values[low] == CrosswalkTable.conflictMark ? .conflict : .person(values[low])
    }

    /// How many of the entries are conflicts.
    public var conflicts: Int {
        var n = 0
        for i in 0..<count where values[i] == CrosswalkTable.conflictMark { n += 1 }
        return n
    }

    /// This crosswalk with `newer` entries taken in (each combined with this one's as
    /// `CrosswalkTable.combine` says): the sorted arrays of both parts together.
    public func merged(with newer: borrowing CrosswalkTable) -> SortedCrosswalk {
        var added: [(UInt64, UInt64)] = []
        added.reserveCapacity(newer.count)
        newer.forEachPacked { added.append(($0, $1)) }
        added.sort { $0.0 < $1.0 }
        // How many keys the result holds: this one's, and the new ones it does not have.
        var fresh = 0
        for (key, _) in added where lookup(packed: key) == nil { fresh += 1 }
        let out = SortedCrosswalk(count: count + fresh)
        var i = 0, j = 0, o = 0
        while i < count || j < added.count {
            if j == added.count || (i < count && keys[i] < added[j].0) {
                out.keys[o] = keys[i]; out.values[o] = values[i]; i += 1
            } else if i == count || added[j].0 < keys[i] {
                out.keys[o] = added[j].0; out.values[o] = added[j].1; j += 1
            } else {
                out.keys[o] = keys[i]; out.values[o] = CrosswalkTable.combine(values[i], added[j].1); i += 1; j += 1
            }
            o += 1
        }
        return out
    }

    /// The entries of a table, sorted.
    public static func sorted(_ table: borrowing CrosswalkTable) -> SortedCrosswalk {
        SortedCrosswalk(count: 0).merged(with: table)
    }
}
