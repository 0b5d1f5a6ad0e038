import CTally

/// The crosswalk in memory: which person (a resident identity number) each identifier belongs to.
///
/// Built for national scale: identifiers and persons are packed into 64-bit integers (a transit
/// card's 16 digits, a shop account's 10, a resident number's 17 digits and check character),
/// and kept in one open-addressing table of 16-byte slots at most 70% full, so 20 million
/// identifiers take 512 MiB (2^25 slots) and 5 million take 128 MiB. Identifiers of other shapes
/// (a feed added later) go to a dictionary beside it, still exact: nothing is ever hashed down
/// to fewer bits than it has, so two identifiers can never collide into one person.
///
/// An identifier mapped to two different persons is a conflict: it is marked, its lookups say
/// so, and it links to nobody.
public struct CrosswalkTable: ~Copyable {
    /// What a lookup found.
    public enum Entry: Equatable {
        /// The identifier belongs to this person (a packed resident number; see `unpackPerson`).
        case person(UInt64)
        /// The crosswalk maps the identifier to two or more persons.
        case conflict
    }

    /// What an insertion did.
    public enum Insertion: Equatable {
        case added
        /// The same identifier was already mapped to the same person.
        case repeated
        /// The identifier was mapped to another person (or already in conflict): now a conflict.
        case conflict
    }

    private var slots: UnsafeMutablePointer<UInt64>   // key, value, key, value, …
    private var capacity: Int                         // slots, a power of two
    private var shift: UInt64
    /// How many identifiers the table holds (conflicts included).
    public private(set) var count = 0
    private var others: [String: UInt64] = [:]
    /// The value an identifier in conflict holds (no packed resident number is this large).
    public static let conflictMark = UInt64.max

    public init(expected: Int = 1 << 16) {
        var c = 1 << 10
        while c * 7 / 10 < expected { c <<= 1 }
        capacity = c
        shift = UInt64(64 - c.trailingZeroBitCount)
        slots = LargeMemory.allocateZeroed(UInt64.self, count: 2 * c)
    }

    deinit { LargeMemory.deallocate(slots, count: 2 * capacity) }

    /// Bytes held by the table itself.
    public var memoryBytes: Int { capacity * 16 }

    /// Maps `id` of `scheme` to `person` (a resident number's 18 characters).
    public mutating func insert(scheme: UnsafeRawBufferPointer, id: UnsafeRawBufferPointer, person: UInt64) -> Insertion {
        guard let key = Self.packIdentifier(scheme: scheme, id: id) else {
            return insert(otherName: String(decoding: scheme, as: UTF8.self) + ":" + String(decoding: id, as: UTF8.self), value: person)
        }
        return insert(packed: key, person: person)
    }

    /// Maps the identifier named `name` ("SCHEME:ID", one `packIdentifier` cannot pack) to
    /// `value`: a packed person, or `conflictMark` for an identifier already known to be in conflict.
    @discardableResult
    public mutating func insert(otherName name: String, value: UInt64) -> Insertion {
        if let existing = others[name] {
            if existing == value { return .repeated }
            others[name] = Self.conflictMark
            return .conflict
        }
        others[name] = value
        count += 1
        return value == Self.conflictMark ? .conflict : .added
    }

    /// Every identifier packed into the table and its value (a packed person or `conflictMark`),
    /// in no particular order.
    public func forEachPacked(_ body: (UInt64, UInt64) throws -> Void) rethrows {
        for j in 0..<capacity where slots[2 * j] != 0 { try body(slots[2 * j], slots[2 * j + 1]) }
    }

    /// How many identifiers it holds packed.
    public var packedCount: Int { count - others.count }

    /// Every identifier the table could not pack, by name ("SCHEME:ID"), and its value.
    public var otherEntries: [String: UInt64] { others }

    /// What the crosswalk says of an identifier with `older` entries in one part of it and
    /// `newer` in another: the one that exists, the same person from both, or a conflict.
    @inline(__always)
    public static func combine(_ older: Entry?, _ newer: Entry?) -> Entry? {
        guard let older else { return newer }
        guard let newer else { return older }
        return older == newer ? older : .conflict
    }

    /// The same on stored values (a packed person or `conflictMark`).
    @inline(__always)
    public static func combine(_ older: UInt64, _ newer: UInt64) -> UInt64 { older == newer ? older : conflictMark }

    /// Maps an identifier packed by `packIdentifier` to `person`.
    @inline(__always)
    public mutating func insert(packed key: UInt64, person: UInt64) -> Insertion {
        if (count + 1) * 10 > capacity * 7 { grow() }
        let i = slot(for: key)
        if slots[2 * i] == 0 {
            slots[2 * i] = key
            slots[2 * i + 1] = person
            count += 1
            return .added
        }
        if slots[2 * i + 1] == person { return .repeated }
        slots[2 * i + 1] = Self.conflictMark
        return .conflict
    }

    /// The entry for `id` of `scheme`, or nil when the crosswalk does not name it.
    @inline(__always)
    public func lookup(scheme: UnsafeRawBufferPointer, id: UnsafeRawBufferPointer) -> Entry? {
        if let key = Self.packIdentifier(scheme: scheme, id: id) { return lookup(packed: key) }
        return lookupOther(scheme: scheme, id: id)
    }

    /// The entry for an identifier packed by `packIdentifier`.
    @inline(__always)
    public func lookup(packed key: UInt64) -> Entry? {
        let i = slot(for: key)
        guard slots[2 * i] != 0 else { return nil }
        return slots[2 * i + 1] == Self.conflictMark ? .conflict : .person(slots[2 * i + 1])
    }

    /// Asks for the cache line where the search for a packed identifier begins, without waiting
    /// for it: a lookup is one random access in a table of hundreds of megabytes.
    @inline(__always)
    public func prefetch(packed key: UInt64) {
        tally_prefetch(slots + 2 * home(key))
    }

    /// The entry for an identifier `packIdentifier` cannot pack.
    public func lookupOther(scheme: UnsafeRawBufferPointer, id: UnsafeRawBufferPointer) -> Entry? {
        guard !others.isEmpty else { return nil }
        let name = String(decoding: scheme, as: UTF8.self) + ":" + String(decoding: id, as: UTF8.self)
        guard let value = others[name] else { return nil }
        return value == Self.conflictMark ? .conflict : .person(value)
    }

    private mutating func grow() {
        let old = slots, oldCapacity = capacity
        capacity <<= 1
        shift -= 1
        slots = LargeMemory.allocateZeroed(UInt64.self, count: 2 * capacity)
        for j in 0..<oldCapacity where old[2 * j] != 0 {
            let i = slot(for: old[2 * j])
            slots[2 * i] = old[2 * j]
            slots[2 * i + 1] = old[2 * j + 1]
        }
        LargeMemory.deallocate(old, count: 2 * oldCapacity)
    }

    /// The slot holding `key`, or the empty slot where it would go (linear probing).
    @inline(__always)
    private func slot(for key: UInt64) -> Int {
        var i = home(key)
        let mask = capacity - 1
        while slots[2 * i] != 0 && slots[2 * i] != key { i = (i + 1) & mask }
        return i
    }

    @inline(__always)
    private func home(_ key: UInt64) -> Int { Int(truncatingIfNeeded: (key &* 0x9E37_79B9_7F4A_7C15) >> shift) }

    // MARK: Packing

    /// Packs a transit card (16 digits) or a shop account (`A` and 10 digits) into 64 bits, a tag
    /// in the top four; nil for any other scheme or shape. Never zero.
    @inline(__always)
    public static func packIdentifier(scheme: UnsafeRawBufferPointer, id: UnsafeRawBufferPointer) -> UInt64? {
        guard let p = id.baseAddress else { return nil }
        if id.count == 16, scheme.equals("transit-card"), let high = eightDigits(p), let low = eightDigits(p + 8) {
            return 1 << 60 | (high &* 100_000_000 &+ low)
        }
        if id.count == 11, p.load(as: UInt8.self) == UInt8(ascii: "A"), scheme.equals("shop-account"),
           let high = eightDigits(p + 1), let low = digit(p + 9), let last = digit(p + 10) {
            return 2 << 60 | (high &* 100 &+ low &* 10 &+ last)
        }
        return nil
    }

    /// The scheme and id an identifier packed by `packIdentifier` came from, as "SCHEME:ID".
    public static func unpackIdentifier(_ key: UInt64) -> String {
        let value = key & ((1 << 60) - 1)
        switch key >> 60 {
        case 1:
            let digits = String(value)
            return "transit-card:" + String(repeating: "0", count: max(0, 16 - digits.count)) + digits
        case 2:
            let digits = String(value)
            return "shop-account:A" + String(repeating: "0", count: max(0, 10 - digits.count)) + digits
        default:
            return "?:\(key)"
        }
    }

    /// Packs a resident identity number (17 digits and a check digit or `X`): digits × 11 + check.
    public static func packPerson(_ rid: UnsafeRawBufferPointer) -> UInt64? {
        guard rid.count == 18, let p = rid.baseAddress, let high = eightDigits(p), let middle = eightDigits(p + 8),
              let low = digit(p + 16) else { return nil }
        let body = (high &* 100_000_000 &+ middle) &* 10 &+ low
        let c = rid[17]
        let check: UInt64
        if c &- 0x30 < 10 { check = UInt64(c &- 0x30) } else if c == UInt8(ascii: "X") { check = 10 } else { return nil }
        return body * 11 + check
    }

    /// The 18 characters of a packed resident number, written over `out`.
    @inline(__always)
    public static func unpackPerson(_ packed: UInt64, into out: inout [UInt8]) {
        if out.count != 18 { out = [UInt8](repeating: 0x30, count: 18) }
        let check = packed % 11
        var body = packed / 11
        for i in stride(from: 16, through: 0, by: -1) {
            out[i] = 0x30 + UInt8(body % 10)
            body /= 10
        }
        out[17] = check == 10 ? UInt8(ascii: "X") : 0x30 + UInt8(check)
    }

    /// The value of eight ASCII digits at `p`, or nil if any byte is not one: all eight are
    /// checked and combined at once in a 64-bit word (a byte loop was most of packing).
    @inline(__always)
    static func eightDigits(_ p: UnsafeRawPointer) -> UInt64? {
        let x = UInt64(littleEndian: p.loadUnaligned(as: UInt64.self))   // the first digit in the low byte
        // A digit's byte is 0x30...0x39: its high half is 3, and still 3 once 6 is added.
        guard x & 0xF0F0_F0F0_F0F0_F0F0 == 0x3030_3030_3030_3030,
              (x &+ 0x0606_0606_0606_0606) & 0xF0F0_F0F0_F0F0_F0F0 == 0x3030_3030_3030_3030 else { return nil }
        var v = x &- 0x3030_3030_3030_3030
        v = (v &* 10 &+ (v >> 8)) & 0x00FF_00FF_00FF_00FF        // pairs of digits
        v = (v &* 100 &+ (v >> 16)) & 0x0000_FFFF_0000_FFFF      // fours
        return (v &* 10_000 &+ (v >> 32)) & 0xFFFF_FFFF
    }

    @inline(__always)
    static func digit(_ p: UnsafeRawPointer) -> UInt64? {
        let d = p.load(as: UInt8.self) &- 0x30
        return d < 10 ? UInt64(d) : nil
    }
}
