import CTally

/// Person keys already made in this run, so a person with several records costs one HMAC.
///
/// A key is a pure function of the secret and the canonical identifier it is made from, and a run
/// has one secret, so a key made once can be written again as it is. The memo is found by the
/// identity the key is made from, packed exactly into 64 bits (`CrosswalkTable.packPerson` for a
/// person, `CrosswalkTable.packIdentifier` for a card or account nobody claims; the two ranges do
/// not overlap), never by a hash of it: a lookup answers for that identity or not at all.
///
/// It is a cache, bounded when made: sets of two entries, one 64-byte cache line each (both
/// identities, then both 16-byte tags); a new entry takes the first place and moves the one there
/// to the second, whose entry is forgotten. A forgotten key is made again when next needed, with
/// the same result. HMAC-SHA256 through swift-crypto was a third of tally-link's time (perf), most
/// of it the library's cost per call, not the hashing itself.
public struct KeyMemo: ~Copyable {
    private let words: UnsafeMutablePointer<UInt64>   // 8 a set: identity 0, identity 1, tag 0, tag 1
    private let sets: Int
    private let shift: UInt64
    /// Marks a place in use, so that identity 0 (a resident number of zeros) can be kept.
    private static let used: UInt64 = 1 << 63

    /// A memo of about `entries` keys (rounded up to a power of two, at least 8,192).
    public init(entries: Int) {
        var s = 1 << 12
        while 2 * s < entries { s <<= 1 }
        sets = s
        shift = UInt64(64 - s.trailingZeroBitCount)
        words = LargeMemory.allocateZeroed(UInt64.self, count: 8 * s)
    }

    deinit { LargeMemory.deallocate(words, count: 8 * sets) }

    /// Bytes held by the memo.
    public var memoryBytes: Int { sets * 64 }

    /// How many keys it holds at most.
    public var capacity: Int { 2 * sets }

    /// The set where `identity` is kept.
    @inline(__always)
    func setIndex(_ identity: UInt64) -> Int { Int(truncatingIfNeeded: (identity &* 0x9E37_79B9_7F4A_7C15) >> shift) }

    @inline(__always)
    private func set(_ identity: UInt64) -> UnsafeMutablePointer<UInt64> { words + 8 * setIndex(identity) }

    /// Asks for the line where `identity` would be, without waiting for it.
    @inline(__always)
    public func prefetch(_ identity: UInt64) {
        tally_prefetch(set(identity))
    }

    /// Copies the tag kept for `identity` (16 bytes) to `tag` and says whether there was one.
    @inline(__always)
    public func lookup(_ identity: UInt64, into tag: UnsafeMutableRawPointer) -> Bool {
        precondition(identity & Self.used == 0, "a packed identity has a clear top bit")
        let s = set(identity), marked = identity | Self.used
        if s[0] == marked {
            tag.storeBytes(of: s[2], as: UInt64.self)
            tag.storeBytes(of: s[3], toByteOffset: 8, as: UInt64.self)
            return true
        }
        if s[1] == marked {
            tag.storeBytes(of: s[4], as: UInt64.self)
            tag.storeBytes(of: s[5], toByteOffset: 8, as: UInt64.self)
            return true
        }
        return false
    }

    /// Keeps `tag` (16 bytes) for `identity`.
    @inline(__always)
    public mutating func store(_ identity: UInt64, tag: UnsafeRawPointer) {
        precondition(identity & Self.used == 0, "a packed identity has a clear top bit")
        let s = set(identity)
        s[1] = s[0]
        s[4] = s[2]
        s[5] = s[3]
        s[0] = identity | Self.used
        s[2] = tag.loadUnaligned(as: UInt64.self)
        s[3] = tag.loadUnaligned(fromByteOffset: 8, as: UInt64.self)
    }
}
