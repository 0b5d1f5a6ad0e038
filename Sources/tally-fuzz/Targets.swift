#if canImport(Glibc)
import Glibc
#endif
import TallyCore
import TallyIO

/// The fuzz targets: each takes one input and must neither trap nor break its invariants (a
/// broken invariant is a `fatalError`, which libFuzzer reports like a crash).
enum Fuzz {
    static let names = ["csv", "record", "xml", "gzip", "rules", "pattern", "fold"]

    /// The target in use (set once, before the first input).
    nonisolated(unsafe) static var target = ""

    static func one(_ data: UnsafeRawBufferPointer) {
        switch target {
        case "csv": csv(data)
        case "record": record(data)
        case "xml": xml(data)
        case "gzip": gzip(data)
        case "rules": rules(data)
        case "pattern": pattern(data)
        case "fold": fold(data)
        default: fatalError("unknown fuzz target \(target)")
        }
    }

    // MARK: Inputs through the real input layer

    /// A scratch file per process, rewritten for each input: the readers take an `InputFile`,
    /// which reads a descriptor, as every stage's input does.
    static let scratch: String = {
        let path = "/tmp/tally-fuzz-\(getpid())"
        atexit { unlink("/tmp/tally-fuzz-\(getpid())") }
        return path
    }()

    static func file(_ data: UnsafeRawBufferPointer, inflate: InflateEngine = .isal) -> InputFile? {
        let fd = open(scratch, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { fatalError("cannot write \(scratch)") }
        var done = 0
        while done < data.count {
            let n = write(fd, data.baseAddress! + done, data.count - done)
            guard n > 0 else { fatalError("cannot write \(scratch)") }
            done += n
        }
        close(fd)
        return try? InputFile.open(scratch, limits: InputLimits(maxLineBytes: 1 << 20, maxRatio: 100, ratioGraceBytes: 1 << 20), hashing: false, inflate: inflate)
    }

    static let feeds: [String: LoadedFeed] = {
        var out: [String: LoadedFeed] = [:]
        for name in ["transit", "tax", "court"] {
            guard let feed = try? FeedCatalog.load(name, schemasDirectory: nil) else { fatalError("feed \(name) not found: run from the source tree") }
            out[name] = feed
        }
        return out
    }()

    // MARK: Targets

    /// The CSV reader and the row validator, on the transit feed (UTF-8) or, when the first byte
    /// is odd, the tax feed (GB18030); then the input as GB18030 text, converted by the table of
    /// two-byte codes and by iconv alone, which must agree (the bytes, or where they stop).
    static func csv(_ data: UnsafeRawBufferPointer) {
        let feed = feeds[(data.first ?? 0) & 1 == 0 ? "transit" : "tax"]!
        if (data.first ?? 0) & 1 == 1 { gb18030(data) }
        guard case .csv(let encoding) = feed.spec.format, let input = file(data) else { return }
        let reader = CSVReader(input, encoding: encoding)
        let validator = RowValidator(spec: feed.spec, today: CivilDate(year: 2026, month: 12, day: 4)!)
        let row = Row()
        var faults: [RowFault] = []
        var rows = 0
        var seen: [String] = []
        while rows < 10_000, (try? reader.next(into: row)) == true {
            faults.removeAll(keepingCapacity: true)
            if rows > 0 && row.readFault == nil { validator.validate(row, into: &faults) }
            seen.append(describe(row))
            rows += 1
        }
        // The same bytes read the general way alone (no plain-record pass, no first-line split)
        // give the same rows, lines and faults.
        guard let again = file(data) else { return }
        let slow = CSVReader(again, encoding: encoding, fastPaths: false)
        var i = 0
        while i < seen.count, (try? slow.next(into: row)) == true {
            if describe(row) != seen[i] { fatalError("row \(i): the short cuts read \(seen[i]), the general way \(describe(row))") }
            i += 1
        }
        if i != seen.count { fatalError("the short cuts read \(seen.count) rows, the general way \(i)") }
    }

    nonisolated(unsafe) static let decoder = GB18030Decoder()!, iconv = Transcoder(from: "GB18030", to: "UTF-8")!

    static func gb18030(_ data: UnsafeRawBufferPointer) {
        let byTable = ByteBuffer(capacity: 64)
        var tableStop: Int?
        do { try decoder.convert(data, appendingTo: byTable) } catch { tableStop = error.offset }
        let byIconv = ByteBuffer(capacity: 64)
        var iconvStop: Int?
        do { try iconv.convert(data, appendingTo: byIconv) } catch { iconvStop = error.offset }
        if tableStop != iconvStop || (tableStop == nil && byTable.bytes != byIconv.bytes) {
            fatalError("GB18030: the table gives \(tableStop.map { "a stop at \($0)" } ?? "\(byTable.bytes)"), iconv \(iconvStop.map { "a stop at \($0)" } ?? "\(byIconv.bytes)")")
        }
    }

    /// A row's line, cells, raw text and read fault, for comparing two readings.
    static func describe(_ row: Row) -> String {
        var s = "\(row.line)|\(row.count)|\(row.readFault.map { "\($0.code):\($0.fieldNumber):\($0.reason)" } ?? "-")|\(Array(row.rawBytes))"
        for i in 0..<row.count { s += "|" + Array(row.field(i)).description }
        return s
    }

    /// The record view scanner and the decoder: a line the scanner accepts decodes to a record
    /// whose encoding the scanner accepts again and decodes to the same record.
    static func record(_ data: UnsafeRawBufferPointer) {
        var scanner = RecordViewScanner()
        let decoder = RecordDecoder()
        guard let view = try? scanner.view(data) else { return }
        let first = decoder.record(view)
        let out = ByteBuffer()
        first.encode(into: out)
        out.removeLast(1)
        out.bytes.withUnsafeBytes { again in
            guard let view2 = try? scanner.view(again) else { fatalError("the scanner refuses what the encoder wrote from an accepted line") }
            let second = decoder.record(view2)
            guard second == first else { fatalError("decode, encode, decode changed the record") }
        }
    }

    /// The XML record reader with the court XSD.
    static func xml(_ data: UnsafeRawBufferPointer) {
        let feed = feeds["court"]!
        guard let input = file(data), let xsd = feed.xsdPath, let reader = try? XMLRecordReader(input, spec: feed.spec, xsdPath: xsd) else { return }
        let row = Row()
        var rows = 0
        while rows < 10_000, (try? reader.next(into: row)) == true { rows += 1 }
    }

    /// The input layer: gzip detection, inflation, the ratio and line bounds.
    /// Both inflate engines on the same bytes: they must agree on whether the stream is good
    /// and, when it is, on every byte it holds (a fatalError if not).
    /// A crosswalk fold file (`tally-link --fold`): refused with a reason, or read into entries in
    /// strictly ascending order that every lookup finds; written back and read again it is the
    /// same fold, and written again the same bytes.
    static func fold(_ data: UnsafeRawBufferPointer) {
        guard file(data) != nil else { return }
        let fold: CrosswalkFold?
        do { fold = try CrosswalkFold.read(scratch) } catch { return }
        guard let fold else { fatalError("fold: a file that exists read as none") }
        guard fold.entries.isStrictlyAscending else { fatalError("fold: entries out of order were accepted") }
        for i in 0..<fold.entries.count {
            let value = fold.entries.valueBuffer[i]
            let expected: CrosswalkTable.Entry = value == CrosswalkTable.conflictMark ? .conflict : .person(value)
            guard fold.entries.lookup(packed: fold.entries.keyBuffer[i]) == expected else { fatalError("fold: entry \(i) is not found as it stands") }
        }
        let again = scratch + ".again"
        defer { unlink(again) }
        func written(_ f: CrosswalkFold) -> [UInt8] {
            do { try f.write(again) } catch { fatalError("fold: cannot write \(again): \(error)") }
            let fd = open(again, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { fatalError("fold: cannot read \(again)") }
            defer { close(fd) }
            var bytes: [UInt8] = [], chunk = [UInt8](repeating: 0, count: 1 << 16)
            while true {
                let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress!, $0.count) }
                guard n >= 0 else { fatalError("fold: cannot read \(again)") }
                if n == 0 { return bytes }
                bytes += chunk[0..<n]
            }
        }
        let first = written(fold)
        let reread: CrosswalkFold
        do {
            guard let r = try CrosswalkFold.read(again) else { fatalError("fold: the fold written is not there") }
            reread = r
        } catch { fatalError("fold: the fold written back is refused: \(error)") }
        guard reread.files == fold.files.sorted(by: { $0.identity != $1.identity ? CrosswalkFold.byBytes($0.identity, $1.identity) : $0.stamp.lexicographicallyPrecedes($1.stamp) }),
              reread.others == fold.others, reread.conflictLines == fold.conflictLines,
              Array(reread.entries.keyBuffer) == Array(fold.entries.keyBuffer), Array(reread.entries.valueBuffer) == Array(fold.entries.valueBuffer) else {
            fatalError("fold: written back and read again, it is another fold")
        }
        guard written(reread) == first else { fatalError("fold: written twice, two different files") }
    }

    static func gzip(_ data: UnsafeRawBufferPointer) {
        let isal = inflated(data, .isal), zlib = inflated(data, .zlib)
        switch (isal, zlib) {
        case (.success(let a), .success(let b)):
            if a != b { fatalError("ISA-L and zlib inflate the same stream to different bytes (\(a.count) and \(b.count))") }
        case (.failure, .failure):
            break
        case (.success, .failure(let e)):
            fatalError("ISA-L accepts a stream zlib refuses: \(e)")
        case (.failure(let e), .success):
            fatalError("zlib accepts a stream ISA-L refuses: \(e)")
        }
    }

    static func inflated(_ data: UnsafeRawBufferPointer, _ engine: InflateEngine) -> Result<[UInt8], InputError> {
        guard let input = file(data, inflate: engine) else { return .failure(InputError(.data, file: "-", "not opened")) }
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: 1 << 16, alignment: 16)
        defer { buffer.deallocate() }
        var out: [UInt8] = []
        do {
            while out.count < 64 << 20 {
                let n = try input.read(into: buffer, count: 1 << 16)
                if n == 0 { break }
                out.append(contentsOf: UnsafeRawBufferPointer(start: buffer, count: n))
            }
        } catch { return .failure(error) }
        return .success(out)
    }

    /// The rules loader, with every kind the shipped feeds declare.
    static func rules(_ data: UnsafeRawBufferPointer) {
        _ = try? Rules.load(yaml: String(decoding: data, as: UTF8.self), digest: "sha256:fuzz", knownKinds: kinds)
    }

    static let kinds: Set<String> = {
        var kinds = Set<String>()
        for name in FeedCatalog.feedNames(schemasDirectory: nil) {
            if let feed = try? FeedCatalog.load(name, schemasDirectory: nil) { kinds.formUnion(feed.spec.eventKinds) }
        }
        return kinds
    }()

    /// The pattern engine: the bytes before the first NUL are a pattern, the rest a value. A
    /// pattern checked place by place must give its automaton's verdict.
    static func pattern(_ data: UnsafeRawBufferPointer) {
        let cut = data.firstIndex(of: 0) ?? data.count
        guard let p = try? Pattern(String(decoding: UnsafeRawBufferPointer(rebasing: data[..<cut]), as: UTF8.self)) else { return }
        let value = UnsafeRawBufferPointer(rebasing: data[min(cut + 1, data.count)...])
        let verdict = p.matches(value)
        withExtendedLifetime(p) {
            if p.matcher.checksPlaces && verdict != p.matcher.matchesByAutomaton(value) {
                fatalError("pattern \(p.source.debugDescription): place by place \(verdict), automaton \(!verdict)")
            }
        }
    }
}

#if FUZZING
/// libFuzzer's own main, linked in with -sanitize=fuzzer, needs this symbol even though
/// main.swift starts the fuzzer through LLVMFuzzerRunDriver with the same callback.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    Fuzz.one(UnsafeRawBufferPointer(start: data, count: size))
    return 0
}
#endif
