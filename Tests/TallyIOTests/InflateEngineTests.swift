import Foundation
import Testing
import TallyIO

/// What one engine made of a file: its bytes, or the kind and class of its refusal.
private enum Inflated: Equatable, CustomStringConvertible {
    case bytes([UInt8])
    case refused(InputError.Kind, String)

    /// Short, for failure messages: a count, not megabytes of bytes.
    var description: String {
        switch self {
        case .bytes(let b): return "\(b.count) bytes"
        case .refused(let kind, let why): return "refused (\(kind)): \(why)"
        }
    }
}

/// The class of a refusal: the message up to its detail, which names the engine's own words.
private func refusalClass(_ error: InputError) -> String {
    for prefix in ["truncated gzip stream", "corrupt gzip stream", "trailing bytes after the last gzip member", "decompression ratio exceeds"]
    where error.message.hasPrefix(prefix) {
        return prefix
    }
    return error.message
}

/// Every byte `engine` inflates from `path`, or the refusal.
private func readAll(_ path: String, _ engine: InflateEngine) throws(InputError) -> [UInt8] {
    let input = try InputFile.open(path, limits: InputLimits(maxLineBytes: 1 << 20, maxRatio: 250, ratioGraceBytes: 1 << 20), inflate: engine)
    let buffer = UnsafeMutableRawPointer.allocate(byteCount: 1 << 16, alignment: 16)
    defer { buffer.deallocate() }
    var out: [UInt8] = []
    while true {
        let n = try input.read(into: buffer, count: 1 << 16)
        if n == 0 { break }
        out.append(contentsOf: UnsafeRawBufferPointer(start: buffer, count: n))
    }
    return out
}

private func inflate(_ path: String, _ engine: InflateEngine) -> Inflated {
    do { return .bytes(try readAll(path, engine)) } catch { return .refused(error.kind, refusalClass(error)) }
}

/// Runs /bin/gzip with `arguments` on `input`, returning its output.
private func gzipTool(_ arguments: [String], _ input: [UInt8]) throws -> [UInt8] {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/bin/gzip")
    p.arguments = arguments
    let stdin = Pipe(), stdout = Pipe()
    p.standardInput = stdin
    p.standardOutput = stdout
    try p.run()
    let writer = Thread { try? stdin.fileHandleForWriting.write(contentsOf: Data(input)); try? stdin.fileHandleForWriting.close() }
    writer.start()
    let out = stdout.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return Array(out)
}

/// CRC-32 (the gzip polynomial), bit by bit.
private func crc32(_ bytes: [UInt8]) -> UInt32 {
    var crc: UInt32 = 0xFFFF_FFFF
    for byte in bytes {
        crc ^= UInt32(byte)
        for _ in 0..<8 { crc = crc & 1 != 0 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
    }
    return ~crc
}

/// A generator whose seed is printed, and replayed from `TALLY_TEST_SEED`.
private struct Seeded: RandomNumberGenerator {
    var state: UInt64
    init(_ test: String) {
        state = ProcessInfo.processInfo.environment["TALLY_TEST_SEED"].flatMap { UInt64($0) } ?? UInt64.random(in: 1...UInt64.max)
        print("\(test): seed \(state) (TALLY_TEST_SEED=\(state) replays it)")
    }
    mutating func next() -> UInt64 {
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        let z = (state ^ (state >> 33)) &* 0xFF51_AFD7_ED55_8CCD
        return z ^ (z >> 29)
    }
}

/// ISA-L (the default) and zlib (the fallback) behind the same input layer: every gzip file the
/// project keeps, and thousands of damaged ones, get one verdict from both.
@Suite struct InflateEngineTests {
    static let root: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }()

    /// Every file under Tests/ that begins with the gzip magic: the parse fixtures and the gzip
    /// fuzz corpus.
    static let gzipFiles: [String] = {
        var found: [String] = []
        let tests = root + "/Tests"
        let walker = FileManager.default.enumerator(atPath: tests)
        while let relative = walker?.nextObject() as? String {
            let path = tests + "/" + relative
            guard let handle = FileHandle(forReadingAtPath: path) else { continue }
            let head = (try? handle.read(upToCount: 2)) ?? Data()
            try? handle.close()
            if head.count == 2 && head[head.startIndex] == 0x1F && head[head.startIndex + 1] == 0x8B { found.append(path) }
        }
        return found.sorted()
    }()

    /// The engines' own words, for a failure message.
    private func detail(_ path: String) -> String {
        InflateEngine.allCases.map { engine -> String in
            do throws(InputError) {
                _ = try readAll(path, engine)
                return "\(engine): ok"
            } catch { return "\(engine): \(error.message)" }
        }.joined(separator: "; ")
    }

    @Test func everyGzipFixtureGetsOneVerdictFromBothEngines() throws {
        #expect(Self.gzipFiles.count >= 4, "the fixtures and the fuzz corpus hold gzip files: \(Self.gzipFiles)")
        var refused = 0
        for path in Self.gzipFiles {
            let isal = inflate(path, .isal), zlib = inflate(path, .zlib)
            #expect(isal == zlib, "\(path): ISA-L \(isal), zlib \(zlib)")
            if case .refused = isal { refused += 1 }
        }
        #expect(refused >= 1, "the fixtures include a broken stream (the truncated one)")
        #expect(refused < Self.gzipFiles.count, "and good ones")
    }

    @Test func streamsFromOtherCompressorsAndLevels() throws {
        let s = Scratch()
        var text: [UInt8] = []
        for i in 0..<20_000 { text += Array("\(i),站名\(i % 97),2026-11-27T08:\(i % 60):00+08:00,\"a \"\"quoted\"\" cell\"\n".utf8) }
        // Stored blocks (level 1 on random bytes), fast and best compression, a file name in the
        // header, and our own writer's streams.
        var random = Seeded("streamsFromOtherCompressorsAndLevels")
        let noise = (0..<300_000).map { _ in UInt8.random(in: 0...255, using: &random) }
        let cases: [(String, [UInt8])] = [
            ("level-1", try gzipTool(["-1", "-c"], text)),
            ("level-9", try gzipTool(["-9", "-c"], text)),
            ("noise", try gzipTool(["-1", "-c"], noise)),
            ("ours", try s.gzip("ours.gz", String(decoding: text, as: UTF8.self))),
        ]
        for (name, bytes) in cases {
            let path = s.write(name + ".gz", bytes)
            let expected: [UInt8] = name == "noise" ? noise : text
            #expect(inflate(path, .isal) == .bytes(expected), "\(name)")
            #expect(inflate(path, .zlib) == .bytes(expected), "\(name)")
        }
        // All four as one multi-member file.
        let joined = s.write("joined.gz", cases.flatMap { $0.1 })
        #expect(inflate(joined, .isal) == .bytes(text + text + noise + text))
        #expect(inflate(joined, .isal) == inflate(joined, .zlib))
    }

    /// Every optional header field (extra, name, comment, header CRC right and wrong) and the
    /// reserved flag bits: the two engines take or refuse each the same way.
    @Test func headerFieldsGetOneVerdictFromBothEngines() throws {
        let s = Scratch()
        let text = Array(String(repeating: "1,二,3\n", count: 500).utf8)
        let plain = try gzipTool(["-n", "-c"], text)
        #expect(plain[3] == 0, "gzip -n writes a bare header")
        let body = Array(plain[10...])
        func member(flags: UInt8, goodCRC: Bool = true) -> [UInt8] {
            var header: [UInt8] = [0x1F, 0x8B, 8, flags, 1, 2, 3, 4, 0, 3]
            if flags & 0x04 != 0 { header += [5, 0] + Array("extra".utf8) }
            if flags & 0x08 != 0 { header += Array("feed.csv".utf8) + [0] }
            if flags & 0x10 != 0 { header += Array("a comment".utf8) + [0] }
            if flags & 0x02 != 0 {
                let crc = crc32(header) ^ (goodCRC ? 0 : 0xFFFF)
                header += [UInt8(crc & 0xFF), UInt8(crc >> 8 & 0xFF)]
            }
            return header + body
        }
        var cases: [(String, [UInt8], Bool)] = []
        for flags: UInt8 in [0x04, 0x08, 0x10, 0x1C, 0x02, 0x1E, 0x01] { cases.append(("flags \(flags)", member(flags: flags), true)) }
        cases.append(("wrong header CRC", member(flags: 0x02, goodCRC: false), false))
        cases.append(("wrong header CRC with fields", member(flags: 0x1E, goodCRC: false), false))
        for bit: UInt8 in [0x20, 0x40, 0x80] { cases.append(("reserved \(bit)", member(flags: bit), false)) }
        for (name, bytes, good) in cases {
            // Alone, and as the second member, where the framing restarts the engine.
            for (label, file) in [("alone", bytes), ("second", plain + bytes)] {
                let path = s.write("h.gz", file)
                let isal = inflate(path, .isal), zlib = inflate(path, .zlib)
                #expect(isal == zlib, "\(name), \(label): ISA-L \(isal), zlib \(zlib)")
                let expected = label == "alone" ? text : text + text
                if good { #expect(isal == .bytes(expected), "\(name), \(label)") } else {
                    #expect(isal == .refused(.data, "corrupt gzip stream"), "\(name), \(label): \(isal)")
                }
            }
        }
    }

    /// A member made of stored blocks, its size in bytes exactly `size` (at least 23).
    static func storedMember(size: Int, fill: UInt8) -> (member: [UInt8], data: [UInt8]) {
        var blocks = 1
        while size - 18 - 5 * blocks > 65_535 * blocks { blocks += 1 }
        let total = size - 18 - 5 * blocks
        let data = (0..<total).map { UInt8(truncatingIfNeeded: $0 &* 31) ^ fill }
        var member: [UInt8] = [0x1F, 0x8B, 8, 0, 0, 0, 0, 0, 0, 3]
        var at = 0
        for b in 0..<blocks {
            let n = b == blocks - 1 ? total - at : min(65_535, total / blocks)
            member.append(b == blocks - 1 ? 1 : 0)
            member += [UInt8(n & 0xFF), UInt8(n >> 8), UInt8(~n & 0xFF), UInt8((~n >> 8) & 0xFF)]
            member += data[at..<(at + n)]
            at += n
        }
        let crc = crc32(data)
        for shift in stride(from: 0, to: 32, by: 8) { member.append(UInt8(truncatingIfNeeded: crc >> UInt32(shift))) }
        for shift in stride(from: 0, to: 32, by: 8) { member.append(UInt8(truncatingIfNeeded: total >> shift)) }
        #expect(member.count == size)
        return (member, data)
    }

    /// The input layer reads 2 bytes (the magic), then 256 KiB at a time: members whose trailer
    /// or next header straddles a read, at every offset around the boundary, inflate whole.
    @Test func aTrailerOrHeaderSplitAcrossReadsInflatesWhole() throws {
        let s = Scratch()
        let boundary = 2 + (1 << 18)
        let (second, secondData) = Self.storedMember(size: 64, fill: 0x55)
        for end in (boundary - 12)...(boundary + 12) {
            let (first, firstData) = Self.storedMember(size: end, fill: 0xAA)
            let path = s.write("split.gz", first + second)
            for engine in InflateEngine.allCases {
                #expect(inflate(path, engine) == .bytes(firstData + secondData), "\(engine), first member ends at \(end)")
            }
            // The same ending the file: the last trailer split, then cut short by one byte.
            let alone = s.write("alone.gz", first)
            let cut = s.write("cut.gz", Array(first.dropLast()))
            for engine in InflateEngine.allCases {
                #expect(inflate(alone, engine) == .bytes(firstData), "\(engine), alone, \(end)")
                #expect(inflate(cut, engine) == .refused(.data, "truncated gzip stream"), "\(engine), cut, \(end)")
            }
        }
    }

    /// Damage of every kind (a flipped bit, a changed byte, a cut, a byte inserted, a second
    /// member's header spoiled) at random places: both engines accept or refuse together, and
    /// what they accept is the same bytes.
    @Test func damagedStreamsGetOneVerdictFromBothEngines() throws {
        let s = Scratch()
        var random = Seeded("damagedStreamsGetOneVerdictFromBothEngines")
        var text = ""
        for i in 0..<3_000 { text += "\(i),北京西站,\(i * 7919 % 10007)\n" }
        let one = try s.gzip("one.gz", text)
        let two = try gzipTool(["-9", "-c"], Array(text.utf8))
        let whole = one + two
        var verdicts: [String: Int] = [:]
        for round in 0..<400 {
            var bytes = whole
            let at = Int.random(in: 0..<bytes.count, using: &random)
            switch round % 5 {
            case 0: bytes[at] ^= UInt8(1) << UInt8.random(in: 0...7, using: &random)
            case 1: bytes[at] = UInt8.random(in: 0...255, using: &random)
            case 2: bytes.removeSubrange(at...)
            case 3: bytes.insert(UInt8.random(in: 0...255, using: &random), at: at)
            default:
                // Inside the second member's header, where the two engines' own parsers work.
                let header = one.count + Int.random(in: 0..<10, using: &random)
                bytes[header] = UInt8.random(in: 0...255, using: &random)
            }
            guard bytes.count >= 2, bytes[0] == 0x1F, bytes[1] == 0x8B else { continue }
            let path = s.write("damaged.gz", bytes)
            let isal = inflate(path, .isal), zlib = inflate(path, .zlib)
            #expect(isal == zlib, "round \(round) (damage \(round % 5)) at byte \(at) of \(whole.count), first member \(one.count): ISA-L \(isal), zlib \(zlib), detail \(detail(path))")
            if isal != zlib { break }
            switch isal {
            case .bytes: verdicts["accepted", default: 0] += 1
            case .refused(_, let why): verdicts[why, default: 0] += 1
            }
        }
        // The damage did what it was meant to: most of it is refused, in more than one way.
        #expect(verdicts.count >= 3, "\(verdicts)")
    }
}
