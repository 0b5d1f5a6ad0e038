/// A record id held as numbers: its source (an index into a `SourceNames`) and the 128 bits of
/// its 32 hex digits.
public struct RecordKey: Hashable, Sendable {
    public var hi: UInt64
    public var lo: UInt64
    public var source: UInt32
    public init(hi: UInt64, lo: UInt64, source: UInt32) { self.hi = hi; self.lo = lo; self.source = source }
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
            if known.isEmpty || known.withUnsafeBufferPointer({ memcmpEqual($0.baseAddress!, b.baseAddress!.assumingMemoryBound(to: UInt8.self), b.count) }) { return UInt32(i) }
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
        Self.joined(names[Int(key.source)] + ":", key.hi, key.lo)
    }

    /// Orders ids as their text would sort.
    public func precedes(_ a: RecordKey, _ b: RecordKey) -> Bool {
        if a.source != b.source { return names[Int(a.source)] < names[Int(b.source)] }
        return a.hi != b.hi ? a.hi < b.hi : a.lo < b.lo
    }

    /// 16 lower-case hex digits at `from` as a number; nil if any is not one.
    @inline(__always)
    public static func hex(_ b: UnsafeRawBufferPointer, from: Int) -> UInt64? {
        precondition(from >= 0 && from + 16 <= b.count)
        // Eight digits at a time (perf: a branch per digit, 64 digits a record, was 6% of
        // tally-score): check every byte is 0-9 or a-f, then gather the nibbles.
        let p = b.baseAddress! + from
        guard let high = Bytes.hex8(p.loadUnaligned(as: UInt64.self)), let low = Bytes.hex8((p + 8).loadUnaligned(as: UInt64.self)) else { return nil }
        return high << 32 | low
    }

    /// `prefix` and 32 lower-case hex digits of `hi` and `lo`, made as one string (a record id,
    /// or a person key with prefix `p_`): one allocation where concatenating made three.
    public static func joined(_ prefix: String, _ hi: UInt64, _ lo: UInt64) -> String {
        var prefix = prefix
        return prefix.withUTF8 { head in
            String(unsafeUninitializedCapacity: head.count + 32) { out in
                _ = out.initialize(fromContentsOf: head)
                Bytes.writeHex16(hi, to: out.baseAddress! + head.count)
                Bytes.writeHex16(lo, to: out.baseAddress! + head.count + 16)
                return head.count + 32
            }
        }
    }

    /// `v` as 16 lower-case hex digits (half of a record id's or person key's 128 bits).
    public static func hex16(_ v: UInt64) -> String {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 16) { buffer in
            Bytes.writeHex16(v, to: buffer.baseAddress!)
            return String(decoding: UnsafeBufferPointer(buffer), as: UTF8.self)
        }
    }

}

/// The corrections feed's filings and decisions, and where each corrected record stands.
///
/// A record's corrections are applied in time order (`decided_at`; at the same instant the later
/// file, then the later line, so the outcome never depends on the order they are read in) to a
/// state machine (`next`): `dispute` is the person's filing, `uphold`, `retract` and `reinstate`
/// are the source's decisions.
///
/// | state \ action | dispute | uphold | retract | reinstate |
/// |---|---|---|---|---|
/// | counting | disputed (from its day) | counting | retracted | counting |
/// | disputed | disputed (its first day kept) | counting | retracted | counting |
/// | retracted | retracted | counting | retracted | counting |
///
/// A disputed record still counts, but cannot by itself put anyone in the lowest tier; once the
/// source has let the dispute's day and `Rules.disputeDeadlineDays` more pass without a decision,
/// it is `lapsed` and stops counting until the source decides. So filing a dispute never makes a
/// score worse: it leaves a retracted record retracted, and a second filing does not restart the
/// clock.
///
/// Corrections respect time: one decided after the as-of day (China time) is not applied on that
/// day, so scoring an earlier day gives the score the person had then (`afterAsOf` counts them).
/// One dated more than a day past both the as-of day and today cannot be a decision anyone has
/// made yet (a mistyped year, say, which would otherwise outrank every later decision): it is
/// refused with its line.
public struct CorrectionBook: Sendable {
    /// A correction's action.
    public enum Action: String, Sendable, CaseIterable {
        case dispute, uphold, retract, reinstate
    }

    /// What a record's corrections leave it as, whatever the day.
    public enum State: String, Sendable, Equatable, CaseIterable {
        case counting, disputed, retracted
    }

    /// Where a record stands on a given day.
    public enum Standing: Sendable, Equatable {
        /// Counts (never corrected, or upheld or reinstated by its source).
        case normal
        /// Counts, under a dispute the source may still decide on.
        case disputed
        /// Under a dispute the source left undecided past the deadline: does not count.
        case lapsed
        /// Taken out by its source.
        case retracted
    }

    /// The state machine: what `action` does to a record in `state`. Only the source's decisions
    /// move a record back to counting or out; the person's dispute opens a dispute on a record
    /// that counts and changes nothing else.
    public static func next(_ state: State, _ action: Action) -> State {
        switch (state, action) {
        case (.counting, .dispute), (.disputed, .dispute): return .disputed
        case (.retracted, .dispute): return .retracted
        case (_, .uphold), (_, .reinstate): return .counting
        case (_, .retract): return .retracted
        }
    }

    struct Decision: Sendable {
        var at: Int64
        var action: Action
        var id: String
        var file: String
        var line: Int

        /// Time order; at the same instant, the later file, then the later line.
        func precedes(_ o: Decision) -> Bool { (at, file, line) < (o.at, o.file, o.line) }
    }

    /// One corrected record: its decisions in time order and what they leave it as.
    struct Entry: Sendable {
        var decisions: [Decision] = []
        var state = State.counting
        /// For a disputed record, the first day (days since the epoch) on which it no longer counts.
        var lapsesOn = Int.max
    }

    var entries: [RecordKey: Entry] = [:]
    /// Corrections of one record beyond this many are refused: each one read out of time order
    /// runs the record's machine again, so an unbounded number would cost quadratic time.
    public static let maximumDecisions = 1_000
    /// One bit per hash of every corrected record: most records were never corrected, and a
    /// clear bit answers for them without hashing into the dictionary (perf: 4% of tally-score).
    /// Sized to 16 bits per corrected record (at least 4,096), so that it stays in cache and one
    /// record in 16 or fewer goes on to the dictionary.
    var mentioned = [UInt64](repeating: 0, count: 1 << 6)
    var filterShift = 52
    /// How many corrections were read.
    public private(set) var count = 0
    /// How many were decided after the as-of day, and so not applied.
    public private(set) var afterAsOf = 0
    /// Corrections at or after this instant (the end of the as-of day) are not applied.
    let asOfEnd: Int64
    /// The as-of day, days since the epoch: where `standing` looks.
    let asOfDay: Int
    /// Corrections at or after this instant are refused: a day past the later of the as-of day
    /// and today.
    let refusedFrom: Int64
    /// Days a source has to decide on a dispute, after the dispute's own day.
    public let deadlineDays: Int

    /// A book for scoring on `asOf`; `today` is the day the program runs (China time).
    public init(asOf: CivilDate, today: CivilDate, deadlineDays: Int = Rules.defaultDisputeDeadlineDays) {
        asOfEnd = Rules.asOfEnd(asOf)
        asOfDay = asOf.daysSinceEpoch
        refusedFrom = Rules.asOfEnd(max(asOf, today).adding(days: 1))
        self.deadlineDays = deadlineDays
    }

    /// A book that applies every correction, whenever decided, and on whose as-of day no dispute
    /// has lapsed (tests of other rules).
    public init() {
        asOfEnd = .max
        asOfDay = .min
        refusedFrom = .max
        deadlineDays = Rules.defaultDisputeDeadlineDays
    }

    /// Adds a correction record (`kind` correction.ACTION with a `target`); returns a fault for
    /// any other shape.
    public mutating func add(_ v: RecordView, sources: inout SourceNames) -> String? {
        guard !v.kind.escaped, let action = Action(rawValue: String(decoding: v.kind.content.dropFirst(11), as: UTF8.self)) else {
            return "unknown correction kind \(v.kind.string)"
        }
        guard let target = v.target, !target.escaped, let key = sources.key(target.content) else {
            return "a correction needs a target: a record id SOURCE:32 hex digits"
        }
        guard sources.key(v.id.content) != nil else { return "a correction's own id is not SOURCE:32 hex digits" }
        if v.at.seconds >= refusedFrom {
            return "decided at \(v.at), more than a day after both the as-of day and today: not a decision anyone can have made yet (a mistyped date?); not applied"
        }
        count += 1
        if v.at.seconds >= asOfEnd {
            afterAsOf += 1
            return nil
        }
        let d = Decision(at: v.at.seconds, action: action, id: v.id.string, file: v.file.string, line: v.line)
        let isNew = entries[key] == nil
        var entry = entries[key] ?? Entry()
        // The same correction read twice (the same file given twice) is one decision.
        if entry.decisions.contains(where: { $0.at == d.at && $0.file == d.file && $0.line == d.line && $0.action == d.action }) { return nil }
        guard entry.decisions.count < Self.maximumDecisions else {
            return "more than \(Self.maximumDecisions) corrections of \(target.string): not applied (a real record has a handful; so many can only be a fault or an attack)"
        }
        if let last = entry.decisions.last, d.precedes(last) {
            // Out of time order: insert in place and run the machine again from the start.
            let place = entry.decisions.firstIndex { d.precedes($0) } ?? entry.decisions.count
            entry.decisions.insert(d, at: place)
            entry.settle(deadlineDays: deadlineDays)
        } else {
            // In time order, as a feed read front to back gives them: one step of the machine.
            entry.decisions.append(d)
            entry.step(d, deadlineDays: deadlineDays)
        }
        entries[key] = entry
        if isNew {
            if entries.count * 16 > mentioned.count * 64 {
                // Twice the bits, filled again from every corrected record.
                mentioned = [UInt64](repeating: 0, count: mentioned.count * 2)
                filterShift -= 1
                for k in entries.keys { mark(k) }
            } else {
                mark(key)
            }
        }
        return nil
    }

    /// Where the record with `key` stands on the as-of day.
    @inline(__always)
    public func standing(_ key: RecordKey) -> Standing { standing(key, onDay: asOfDay) }

    /// Where the record with `key` stands on `day` (days since the epoch), given the corrections
    /// decided up to the as-of day and none after.
    @inline(__always)
    public func standing(_ key: RecordKey, onDay day: Int) -> Standing {
        let bit = filterBit(key)
        guard mentioned[bit >> 6] & (1 << UInt64(bit & 63)) != 0, let e = entries[key] else { return .normal }
        switch e.state {
        case .counting: return .normal
        case .retracted: return .retracted
        case .disputed: return day >= e.lapsesOn ? .lapsed : .disputed
        }
    }

    /// For a record under open dispute, the first day (China time) on which it stops counting
    /// unless its source decides first; nil for any other record.
    public func lapsesOn(_ key: RecordKey) -> CivilDate? {
        guard let e = entries[key], e.state == .disputed else { return nil }
        return CivilDate(daysSinceEpoch: e.lapsesOn)
    }

    mutating func mark(_ key: RecordKey) {
        let bit = filterBit(key)
        mentioned[bit >> 6] |= 1 << UInt64(bit & 63)
    }

    @inline(__always)
    func filterBit(_ key: RecordKey) -> Int {
        // Both halves multiplied by different odd constants, so no relation between them (ids
        // made as hi = lo × constant, say) cancels out.
        var x = (key.hi &* 0xBF58_476D_1CE4_E5B9) ^ (key.lo &* 0x94D0_49BB_1331_11EB) ^ UInt64(key.source)
        x ^= x >> 31
        return Int(truncatingIfNeeded: (x &* 0x9E37_79B9_7F4A_7C15) >> UInt64(filterShift))
    }

    /// A record's corrections in the order applied, for explanations: action, when, and the
    /// correction's id.
    public func history(_ key: RecordKey) -> [(action: Action, at: Timestamp, id: String)] {
        (entries[key]?.decisions ?? []).map { ($0.action, Timestamp(seconds: $0.at), $0.id) }
    }

    /// The latest correction of a record, for explanations: action, when, and where it came from.
    public func decision(_ key: RecordKey) -> (action: Action, at: Timestamp, id: String, file: String, line: Int)? {
        entries[key]?.decisions.last.map { ($0.action, Timestamp(seconds: $0.at), $0.id, $0.file, $0.line) }
    }
}

extension CorrectionBook.Entry {
    /// Runs the decisions, in order, through the state machine.
    mutating func settle(deadlineDays: Int) {
        state = .counting
        lapsesOn = .max
        for d in decisions { step(d, deadlineDays: deadlineDays) }
    }

    /// One decision through the state machine.
    mutating func step(_ d: CorrectionBook.Decision, deadlineDays: Int) {
        let after = CorrectionBook.next(state, d.action)
        // A dispute opened now starts the clock; one already open keeps its first day.
        if after == .disputed && state != .disputed {
            lapsesOn = Timestamp(seconds: d.at).chinaDay + deadlineDays + 1
        }
        state = after
        if state != .disputed { lapsesOn = .max }
    }
}
