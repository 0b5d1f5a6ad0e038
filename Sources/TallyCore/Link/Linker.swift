/// The linking policy and the pipeline that applies it to record lines: the one place that says
/// whose person key a record gets and how it was found. tally-link runs the pipeline over every
/// line; tally-explain asks `person(scheme:id:)` for one identifier and gets the same answer.
///
/// The policy: a resident identity number is its own person (`direct`). Any other identifier
/// belongs to the person the crosswalk maps it to (`crosswalk`), unless it is missing there or
/// mapped to more than one person (a conflict): then it keeps a key of its own, made from the
/// identifier, never merged with anyone (`unlinked`). A correction record names a record, not a
/// person, and passes unchanged.
public final class Linker {
    /// What a run of the pipeline counted.
    public struct Counts {
        public var written = 0, direct = 0, crosswalk = 0, unlinked = 0, corrections = 0
        /// Keys made with an HMAC; the others were written again from the memo.
        public var keysMade = 0
    }

    /// Why a line could not be staged.
    public enum Refusal: Error, Equatable {
        /// It already has a person or a link.
        case alreadyLinked
        /// Its subject has no id (it was redacted).
        case noSubjectID
        /// Its subject's scheme or id is written with escapes.
        case escapedSubject
    }

    public var table: CrosswalkTable
    /// The crosswalk folded on earlier runs (`SortedCrosswalk`), asked beside `table`, which then
    /// holds only the entries of files new since: an identifier's entry is both parts combined.
    public var base: SortedCrosswalk?
    public private(set) var counts = Counts()
    let keyer: PersonKeyer
    let redact: Bool
    /// Keys made so far, by the identity they were made from (sized once the crosswalk is in).
    var memo = KeyMemo(entries: 0)

    public init(secret: [UInt8], redact: Bool, table: consuming CrosswalkTable) {
        keyer = PersonKeyer(secret: secret)
        self.redact = redact
        self.table = table
    }

    deinit { relinkSpace.deallocate() }

    /// The key the secret gives the name `tally-persons:key check`, as 32 hex digits: which
    /// secret made a persons file's keys, without saying anything of it.
    public var keyCheck: String {
        let scheme: StaticString = "tally-persons", id: StaticString = "key check"
        return withUnsafeTemporaryAllocation(byteCount: 16, alignment: 8) { tag in
            keyer.makeTag(scheme: UnsafeRawBufferPointer(start: scheme.utf8Start, count: scheme.utf8CodeUnitCount),
                          id: UnsafeRawBufferPointer(start: id.utf8Start, count: id.utf8CodeUnitCount), into: tag.baseAddress!)
            let out = ByteBuffer(capacity: 32)
            out.appendHex(UnsafeRawBufferPointer(tag))
            return out.string
        }
    }

    /// Sizes the key memo for the crosswalk loaded: about one key per crosswalk identifier
    /// (people hold one or more identifiers, and identifiers nobody claims take places of their own).
    public func crosswalkLoaded() {
        memo = KeyMemo(entries: min(table.count + (base?.count ?? 0), 1 << 23))
    }

    // MARK: The policy

    /// What a person key is made from, before and after the crosswalk is asked.
    enum How {
        case verbatim, direct, packed, other, crosswalk, unlinked
        /// How a settled line was linked.
        var link: Link { self == .direct ? .direct : (self == .crosswalk ? .crosswalk : .unlinked) }
    }

    /// The first step of the policy: a resident number is direct; another identifier is looked
    /// up, packed into 64 bits when its scheme allows. `identity` is what the key memo files the
    /// key under (`Staged.unpacked` when it cannot be packed).
    @inline(__always)
    static func route(scheme: UnsafeRawBufferPointer, id: UnsafeRawBufferPointer) -> (How, UInt64) {
        if scheme.equals("cn-rid") { return (.direct, CrosswalkTable.packPerson(id) ?? Staged.unpacked) }
        if let packed = CrosswalkTable.packIdentifier(scheme: scheme, id: id) { return (.packed, packed) }
        return (.other, Staged.unpacked)
    }

    /// The second step: what the crosswalk says of an identifier the first step sent to it. A
    /// person found links; nothing found, or a conflict, leaves the identifier unlinked. Any
    /// other route is already settled and comes back as it was.
    @inline(__always)
    func settle(_ how: How, _ identity: UInt64, scheme: UnsafeRawBufferPointer, id: UnsafeRawBufferPointer)
        -> (how: How, identity: UInt64, conflict: Bool) {
        var found: CrosswalkTable.Entry?
        switch how {
        case .packed:
            found = table.lookup(packed: identity)
            if let base { found = CrosswalkTable.combine(base.lookup(packed: identity), found) }
        case .other: found = table.lookupOther(scheme: scheme, id: id)
        default: return (how, identity, false)
        }
        if case .person(let person) = found { return (.crosswalk, person, false) }
        return (.unlinked, identity, found == .conflict)
    }

    /// The person key an identifier gets, and how: the policy applied to one identifier, as the
    /// pipeline applies it to each line.
    public func person(scheme: String, id: String) -> (key: String, link: Link, inConflict: Bool) {
        var scheme = scheme, id = id
        return scheme.withUTF8 { s in
            id.withUTF8 { i in
                let s = UnsafeRawBufferPointer(s), i = UnsafeRawBufferPointer(i)
                let (routed, packed) = Self.route(scheme: s, id: i)
                let (how, identity, conflict) = settle(routed, packed, scheme: s, id: i)
                let out = ByteBuffer(capacity: 40)
                withUnsafeTemporaryAllocation(byteCount: 16, alignment: 8) { tag in
                    makeTag(how: how, identity: identity, scheme: s, id: i, into: tag.baseAddress!)
                    PersonKeyer.appendKey(tag: UnsafeRawPointer(tag.baseAddress!), to: out)
                }
                return (out.string, how.link, conflict)
            }
        }
    }

    /// The person key of one identifier as its 128 bits, written at `tag` (16 bytes), and how it
    /// was found: the policy as `person(scheme:id:)` and the pipeline apply it, through the same
    /// memo of keys made. For a scoring store's identifiers, linked once each a night.
    public func tag(scheme: UnsafeRawBufferPointer, id: UnsafeRawBufferPointer, into tag: UnsafeMutableRawPointer) -> Link {
        let (routed, packed) = Self.route(scheme: scheme, id: id)
        let (how, identity, _) = settle(routed, packed, scheme: scheme, id: id)
        if identity == Staged.unpacked || !memo.lookup(identity, into: tag) {
            makeTag(how: how, identity: identity, scheme: scheme, id: id, into: tag)
            if identity != Staged.unpacked { memo.store(identity, tag: tag) }
            counts.keysMade += 1
        }
        let link = how.link
        counts.written += 1
        switch link {
        case .direct: counts.direct += 1
        case .crosswalk: counts.crosswalk += 1
        case .unlinked: counts.unlinked += 1
        }
        return link
    }

    /// The key's 128 bits: a crosswalk person's from their resident number, anyone else's from
    /// the identifier itself.
    @inline(__always)
    func makeTag(how: How, identity: UInt64, scheme: UnsafeRawBufferPointer, id: UnsafeRawBufferPointer, into tag: UnsafeMutableRawPointer) {
        if case .crosswalk = how {
            let ridLiteral: StaticString = "cn-rid"
            CrosswalkTable.unpackPerson(identity, into: &rid)
            rid.withUnsafeBytes { keyer.makeTag(scheme: UnsafeRawBufferPointer(start: ridLiteral.utf8Start, count: ridLiteral.utf8CodeUnitCount), id: $0, into: tag) }
        } else {
            keyer.makeTag(scheme: scheme, id: id, into: tag)
        }
    }

    /// Why a line of the crosswalk cannot be one of its entries.
    public struct CrosswalkFault: Error, CustomStringConvertible {
        public var description: String
    }

    /// A crosswalk entry: the identifier a `crosswalk.link` record names (scheme and id, plain)
    /// and the person it belongs to (their resident number, packed). A line that is not one
    /// stops the load: linking on part of a crosswalk could split a person.
    public static func crosswalkEntry(_ view: RecordView) throws(CrosswalkFault)
        -> (scheme: UnsafeRawBufferPointer, id: UnsafeRawBufferPointer, person: UInt64) {
        guard view.kind.equals("crosswalk.link") else {
            throw CrosswalkFault(description: "not a crosswalk.link record (kind \(view.kind.string)); give tally-parse --feed crosswalk output")
        }
        guard let id = view.subjectID, !id.escaped, !view.scheme.escaped else { throw CrosswalkFault(description: "the subject has no plain id") }
        guard let person = view.attrs.first(where: { $0.key.equals("person") })?.value, !person.escaped,
              let packed = CrosswalkTable.packPerson(person.content) else {
            throw CrosswalkFault(description: "attrs.person is not a resident identity number")
        }
        return (view.scheme.content, id.content, packed)
    }

    // MARK: The pipeline

    /// A line waiting for its crosswalk slot, its bytes still where the reader put them: what
    /// goes out before the person key (the line up to its closing brace, with the subject object
    /// cut out and written again without its id when redacting), or a correction's whole line;
    /// the identifier in it.
    struct Staged {
        var head: UnsafeRawBufferPointer
        /// When redacting: where the subject object lies in `head`.
        var subject: Range<Int>?
        /// The scheme with its quotes, and the id without.
        var scheme: UnsafeRawBufferPointer
        var id: UnsafeRawBufferPointer
        var how: How
        /// What the key is made from, packed (see `KeyMemo`), or `Staged.unpacked`: a resident
        /// number (`direct`), an identifier to look up (`packed`), and once looked up the person
        /// it links to (`crosswalk`) or still the identifier (`unlinked`).
        var identity: UInt64
        static let unpacked = UInt64.max
        static var nothing: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: nil, count: 0) }
        var schemeContent: UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: scheme[(scheme.startIndex + 1)..<(scheme.endIndex - 1)]) }
    }
    /// Lines go through three steps a batch at a time, each step one batch behind the one before,
    /// so that what a step needs from memory was asked for a batch earlier: a crosswalk slot or a
    /// memo place is a random spot in a table of hundreds of megabytes (perf: the lookup was 14%
    /// of the run, waiting). When a batch is full its crosswalk slots (or, for resident numbers,
    /// memo places) are prefetched, all at once so that the misses overlap; the batch before is
    /// resolved (looked up in the crosswalk, its persons' memo places prefetched); the one before
    /// that is written.
    public static let batch = 32
    static let ringSize = 128   // a power of two of at least four batches
    var ring = [Staged](repeating: Staged(head: Staged.nothing, subject: nil, scheme: Staged.nothing, id: Staged.nothing,
                                          how: .verbatim, identity: Staged.unpacked), count: ringSize)
    /// How many lines have been staged, prefetched, resolved and written (their places in `ring`
    /// are these counts modulo its size).
    var stagedCount = 0, prefetchedCount = 0, resolvedCount = 0, writtenCount = 0
    /// The unlinked copies of `--relink` lines, kept until they are written: one block that never
    /// moves, emptied whenever every staged line has been written.
    let relinkSpace = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 1)
    var relinkUsed = 0
    /// A crosswalk person's resident number, unpacked for keying (reused).
    var rid: [UInt8] = []

    /// Stages one record line for linking, or says why it cannot be linked. The line's bytes
    /// must stay where they are until `flush` has run; lines already staged may be written to
    /// `out` meanwhile, in the order they came.
    public func stage(_ view: RecordView, _ line: UnsafeRawBufferPointer, to out: ByteBuffer) throws(Refusal) {
        if view.isCorrection {
            stage(Staged(head: line, subject: nil, scheme: Staged.nothing, id: Staged.nothing, how: .verbatim, identity: Staged.unpacked), out)
            return
        }
        if view.person != nil || view.link != nil { throw .alreadyLinked }
        guard let id = view.subjectID else { throw .noSubjectID }
        guard !id.escaped, !view.scheme.escaped else { throw .escapedSubject }
        var subject: Range<Int>?
        if redact {
            let before = view.subjectObject.baseAddress! - line.baseAddress!
            subject = before..<(before + view.subjectObject.count)
        }
        let (how, identity) = Self.route(scheme: view.scheme.content, id: id.content)
        stage(Staged(head: UnsafeRawBufferPointer(rebasing: line[0..<view.closingBrace]), subject: subject, scheme: view.scheme.quoted,
                     id: id.content, how: how, identity: identity), out)
    }

    /// Stages an already-linked line to be linked again from scratch (`--relink`): its person
    /// and link are cut out and the copy, kept here until written, is staged as a fresh record.
    /// `scan` reads the copy as a record view.
    public func stageRelinked(_ view: RecordView, to out: ByteBuffer, scan: (UnsafeRawBufferPointer) throws -> RecordView) throws {
        RecordLine.unlinked(view, into: &stripped)
        if stripped.count > relinkSpace.count - relinkUsed { flush(out) }
        if stripped.count <= relinkSpace.count - relinkUsed {
            let place = UnsafeMutableRawBufferPointer(rebasing: relinkSpace[relinkUsed..<(relinkUsed + stripped.count)])
            stripped.withUnsafeBytes { place.copyMemory(from: $0) }
            relinkUsed += stripped.count
            let copy = UnsafeRawBufferPointer(place)
            try stage(try scan(copy), copy, to: out)
        } else {
            // Longer than the whole space: linked at once, while its copy lasts.
            try stripped.withUnsafeBytes { copy in try stage(try scan(copy), copy, to: out) }
            flush(out)
        }
    }
    var stripped: [UInt8] = []

    /// Adds a line; when a batch is full, moves every batch on by a step.
    @inline(__always)
    func stage(_ s: Staged, _ out: ByteBuffer) {
        ring[stagedCount & (Self.ringSize - 1)] = s
        stagedCount += 1
        guard stagedCount - prefetchedCount == Self.batch else { return }
        prefetchStaged()
        while resolvedCount < prefetchedCount - Self.batch { resolve() }
        while writtenCount < resolvedCount - Self.batch { write(out) }
    }

    /// Resolves and writes every staged line, in the order they came. After it, the staged
    /// lines' bytes may move.
    public func flush(_ out: ByteBuffer) {
        prefetchStaged()
        while resolvedCount < stagedCount { resolve() }
        while writtenCount < resolvedCount { write(out) }
        relinkUsed = 0
    }

    /// Asks for the crosswalk slot (or memo place) of every line staged since the last call.
    func prefetchStaged() {
        while prefetchedCount < stagedCount {
            let s = ring[prefetchedCount & (Self.ringSize - 1)]
            prefetchedCount += 1
            switch s.how {
            case .packed: table.prefetch(packed: s.identity)
            case .direct where s.identity != Staged.unpacked: memo.prefetch(s.identity)
            default: break
            }
        }
    }

    /// Finds the next line's person in the crosswalk and asks for its memo place.
    @inline(__always)
    func resolve() {
        let i = resolvedCount & (Self.ringSize - 1)
        resolvedCount += 1
        guard ring[i].how == .packed || ring[i].how == .other else { return }
        (ring[i].how, ring[i].identity, _) = settle(ring[i].how, ring[i].identity, scheme: ring[i].schemeContent, id: ring[i].id)
        if ring[i].identity != Staged.unpacked { memo.prefetch(ring[i].identity) }
    }

    /// Writes the next resolved line with its person key, from the memo or made now.
    @inline(__always)
    func write(_ b: ByteBuffer) {
        let s = ring[writtenCount & (Self.ringSize - 1)]
        writtenCount += 1
        counts.written += 1
        if case .verbatim = s.how {
            b.append(s.head)
            b.append(UInt8(ascii: "\n"))
            counts.corrections += 1
            return
        }
        if let cut = s.subject {
            RecordLine.appendRedacted(s.head, subject: cut, scheme: s.scheme, to: b)
        } else {
            b.append(s.head)
        }
        let link = s.how.link
        switch link {
        case .direct: counts.direct += 1
        case .crosswalk: counts.crosswalk += 1
        case .unlinked: counts.unlinked += 1
        }
        withUnsafeTemporaryAllocation(byteCount: 16, alignment: 8) { tagBuffer in
            let tag = tagBuffer.baseAddress!
            if s.identity == Staged.unpacked || !memo.lookup(s.identity, into: tag) {
                makeTag(how: s.how, identity: s.identity, scheme: s.schemeContent, id: s.id, into: tag)
                if s.identity != Staged.unpacked { memo.store(s.identity, tag: tag) }
                counts.keysMade += 1
            }
            RecordLine.appendLinkTail(tag: UnsafeRawPointer(tag), link: link, to: b)
        }
    }
}
