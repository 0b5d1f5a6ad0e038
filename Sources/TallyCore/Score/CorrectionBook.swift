/// A record id held as numbers: its source (an index into a `SourceNames`) and the 128 bits of
/// its 32 hex digits.
public struct RecordKey: Hashable, Sendable {
    public var hi: UInt64
    public var lo: UInt64
    public var source: UInt32
}

/// Source names met so far, numbered in order of appearance.
public struct SourceNames: Sendable {
    public private(set) var names: [String] = []
    var bytes: [[UInt8]] = []

    public init() {}

    /// The number of the source spelled by `b`, adding it if new.
    @inline(__always)
    public mutating func number(_ b: UnsafeRawBufferPointer) -> UInt32 {
        for (i, known) in bytes.enumerated() where known.count == b.count {
            if known.withUnsafeBytes({ $0.elementsEqual(b) }) { return UInt32(i) }
        }
        bytes.append(Array(b))
        names.append(String(decoding: b, as: UTF8.self))
        return UInt32(bytes.count - 1)
    }

    /// Parses `SOURCE:` and 32 lower-case hex digits; nil for any other shape.
    public mutating func key(_ id: UnsafeRawBufferPointer) -> RecordKey? {
        guard id.count > 33, id[id.count - 33] == UInt8(ascii: ":") else { return nil }
        let colon = id.count - 33
        guard let hi = Self.hex(id, from: colon + 1), let lo = Self.hex(id, from: colon + 17) else { return nil }
        return RecordKey(hi: hi, lo: lo, source: number(UnsafeRawBufferPointer(rebasing: id[0..<colon])))
    }

    /// Parses an id given as a string.
    public mutating func key(_ id: String) -> RecordKey? {
        var id = id
        return id.withUTF8 { key(UnsafeRawBufferPointer($0)) }
    }

    /// The id's text.
    public func text(_ key: RecordKey) -> String {
        names[Int(key.source)] + ":" + Self.hex16(key.hi) + Self.hex16(key.lo)
    }

    /// Orders ids as their text would sort.
    public func precedes(_ a: RecordKey, _ b: RecordKey) -> Bool {
        if a.source != b.source { return names[Int(a.source)] < names[Int(b.source)] }
        return a.hi != b.hi ? a.hi < b.hi : a.lo < b.lo
    }

    @inline(__always)
    static func hex(_ b: UnsafeRawBufferPointer, from: Int) -> UInt64? {
        var v: UInt64 = 0
        for i in from..<(from + 16) {
            let c = b[i]
            let d: UInt8
            if c &- 0x30 < 10 { d = c &- 0x30 } else if c &- 0x61 < 6 { d = c &- 0x61 &+ 10 } else { return nil }
            v = v << 4 | UInt64(d)
        }
        return v
    }

    /// `v` as 16 lower-case hex digits (half of a record id's or person key's 128 bits).
    public static func hex16(_ v: UInt64) -> String {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 16) { buffer in
            let digits: StaticString = "0123456789abcdef"
            for i in 0..<16 { buffer[i] = digits.utf8Start[Int((v >> UInt64(60 - 4 * i)) & 0xF)] }
            return String(decoding: UnsafeBufferPointer(buffer), as: UTF8.self)
        }
    }
}

/// The decisions of the corrections feed, the latest per record.
///
/// `dispute` opens a dispute (the record still counts, flagged, and cannot by itself put anyone
/// in the lowest tier); `uphold` closes it; `retract` takes the record out; `reinstate` puts it
/// back. The decision with the latest `decided_at` wins; at the same instant the correction with
/// the greater id wins, so the outcome never depends on the order corrections are read in.
public struct CorrectionBook: Sendable {
    /// A correction's action.
    public enum Action: String, Sendable {
        case dispute, uphold, retract, reinstate
    }

    /// Where a record stands after its latest decision.
    public enum Standing: Sendable, Equatable {
        case normal, disputed, retracted
    }

    struct Decision: Sendable {
        var at: Int64
        var action: Action
        var tie: RecordKey
        var id: String
        var file: String
        var line: Int
    }

    var latest: [RecordKey: Decision] = [:]
    /// How many corrections were read.
    public private(set) var count = 0

    public init() {}

    /// Adds a correction record (`kind` correction.ACTION with a `target`); returns a fault for
    /// any other shape.
    public mutating func add(_ v: RecordView, sources: inout SourceNames) -> String? {
        guard !v.kind.escaped, let action = Action(rawValue: String(decoding: v.kind.content.dropFirst(11), as: UTF8.self)) else {
            return "unknown correction kind \(v.kind.string)"
        }
        guard let target = v.target, !target.escaped, let key = sources.key(target.content) else {
            return "a correction needs a target: a record id SOURCE:32 hex digits"
        }
        guard let tie = sources.key(v.id.content) else { return "a correction's own id is not SOURCE:32 hex digits" }
        count += 1
        let d = Decision(at: v.at.seconds, action: action, tie: tie, id: v.id.string, file: v.file.string, line: v.line)
        if let old = latest[key], (old.at, old.tie.hi, old.tie.lo) >= (d.at, d.tie.hi, d.tie.lo) { return nil }
        latest[key] = d
        return nil
    }

    /// Where the record with `key` stands.
    @inline(__always)
    public func standing(_ key: RecordKey) -> Standing {
        guard !latest.isEmpty, let d = latest[key] else { return .normal }
        switch d.action {
        case .dispute: return .disputed
        case .retract: return .retracted
        case .uphold, .reinstate: return .normal
        }
    }

    /// The latest decision on a record, for explanations: action, when, and where it came from.
    public func decision(_ key: RecordKey) -> (action: Action, at: Timestamp, id: String, file: String, line: Int)? {
        latest[key].map { ($0.action, Timestamp(seconds: $0.at), $0.id, $0.file, $0.line) }
    }
}
