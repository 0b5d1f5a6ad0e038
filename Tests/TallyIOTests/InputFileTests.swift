import Foundation
import Testing
import TallyIO

/// A fresh directory per test, removed at the end.
final class Scratch {
    let path: String
    init() {
        path = NSTemporaryDirectory() + "tally-io-" + UUID().uuidString
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(atPath: path) }

    func write(_ name: String, _ bytes: [UInt8]) -> String {
        let file = path + "/" + name
        _ = FileManager.default.createFile(atPath: file, contents: Data(bytes))
        return file
    }

    func gzip(_ name: String, _ text: String) throws -> [UInt8] {
        let file = path + "/" + name
        let sink = try OutputSink.create(file, gzip: true)
        sink.buffer.append(text)
        try sink.finish()
        return Array(FileManager.default.contents(atPath: file)!)
    }
}

/// Reads every line of `path`, returning them and the digest.
func readLines(_ path: String, limits: InputLimits = .standard, bufferSize: Int = 1 << 20,
               inflate: InflateEngine = .isal) throws -> (lines: [String], sha: String, input: InputFile) {
    let input = try InputFile.open(path, limits: limits, inflate: inflate)
    let reader = LineReader(input, bufferSize: bufferSize)
    var lines: [String] = []
    while let line = try reader.next() { lines.append(String(decoding: line, as: UTF8.self)) }
    return (lines, try input.finishDigest(), input)
}

func sha256sum(_ path: String) throws -> String {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/sha256sum")
    p.arguments = [path]
    let pipe = Pipe()
    p.standardOutput = pipe
    try p.run()
    p.waitUntilExit()
    return String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).split(separator: " ")[0].description
}

@Suite struct InputFileTests {
    @Test func readsPlainTextWithItsDigest() throws {
        let s = Scratch()
        let path = s.write("abc.txt", Array("abc".utf8))
        let (lines, sha, input) = try readLines(path)
        #expect(lines == ["abc"])
        #expect(sha == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(!input.isGzip)
    }

    @Test(arguments: InflateEngine.allCases) func detectsGzipByContentNotName(engine: InflateEngine) throws {
        let s = Scratch()
        let bytes = try s.gzip("x.gz", "one\ntwo\n")
        let path = s.write("named-plain.csv", bytes)
        let (lines, sha, input) = try readLines(path, inflate: engine)
        #expect(lines == ["one", "two"])
        #expect(input.isGzip)
        #expect(sha == (try sha256sum(path)), "the digest covers the bytes as delivered, compressed")
        #expect(input.rawBytes == bytes.count)
    }

    @Test(arguments: InflateEngine.allCases) func readsEveryMemberOfAMultiMemberFile(engine: InflateEngine) throws {
        let s = Scratch()
        let a = try s.gzip("a.gz", "a1\na2\n")
        let b = try s.gzip("b.gz", "b1\n")
        let c = try s.gzip("c.gz", "c1\nc2")
        let path = s.write("abc.gz", a + b + c)
        let (lines, _, input) = try readLines(path, inflate: engine)
        #expect(lines == ["a1", "a2", "b1", "c1", "c2"])
        #expect(input.gzipMembers == 3)
    }

    @Test(arguments: InflateEngine.allCases) func refusesATruncatedStream(engine: InflateEngine) throws {
        let s = Scratch()
        let whole = try s.gzip("w.gz", String(repeating: "row,of,data\n", count: 5000))
        for cut in [whole.count - 1, whole.count - 8, whole.count / 2, 11] {
            let path = s.write("cut.gz", Array(whole[0..<cut]))
            #expect {
                _ = try readLines(path, inflate: engine)
            } throws: { error in
                let e = error as? InputError
                return e?.kind == .data && e!.description.contains("truncated gzip stream")
            }
        }
    }

    @Test(arguments: InflateEngine.allCases) func refusesACorruptStream(engine: InflateEngine) throws {
        let s = Scratch()
        var bytes = try s.gzip("w.gz", String(repeating: "row,of,data,\(UInt64.max)\n", count: 2000))
        bytes[bytes.count - 6] ^= 0xFF // inside the CRC-32/ISIZE trailer
        let path = s.write("bad-crc.gz", bytes)
        #expect {
            _ = try readLines(path, inflate: engine)
        } throws: { error in
            (error as? InputError)?.description.contains("corrupt gzip stream") == true
        }
        // The length half of the trailer is checked too, not only the CRC.
        var length = try s.gzip("l.gz", String(repeating: "row,of,data\n", count: 2000))
        length[length.count - 2] ^= 0x01
        let lengthPath = s.write("bad-length.gz", length)
        #expect {
            _ = try readLines(lengthPath, inflate: engine)
        } throws: { error in
            (error as? InputError)?.description.contains("corrupt gzip stream") == true
        }
        var header = try s.gzip("h.gz", "x\n")
        header[2] = 7 // compression method other than deflate
        let path2 = s.write("bad-method.gz", header)
        #expect(throws: InputError.self) { _ = try readLines(path2, inflate: engine) }
    }

    @Test(arguments: InflateEngine.allCases) func refusesTrailingGarbageAfterTheLastMember(engine: InflateEngine) throws {
        let s = Scratch()
        let path = s.write("junk.gz", try s.gzip("a.gz", "a\n") + Array("garbage".utf8))
        #expect {
            _ = try readLines(path, inflate: engine)
        } throws: { error in
            "\(error)".contains("trailing bytes after the last gzip member")
        }
    }

    @Test(arguments: InflateEngine.allCases) func refusesAGzipBomb(engine: InflateEngine) throws {
        let s = Scratch()
        // 64 MiB of zeros compresses about 1000:1.
        let sink = try OutputSink.create(s.path + "/bomb.gz", gzip: true)
        let zeros = [UInt8](repeating: 0x30, count: 1 << 20)
        for _ in 0..<64 {
            zeros.withUnsafeBytes { sink.buffer.append($0) }
            try sink.flush()
        }
        try sink.finish()
        let limits = InputLimits(maxLineBytes: 1 << 30, maxRatio: 100, ratioGraceBytes: 1 << 20)
        let input = try InputFile.open(s.path + "/bomb.gz", limits: limits, inflate: engine)
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: 1 << 16, alignment: 8)
        defer { buffer.deallocate() }
        var total = 0
        #expect {
            while true {
                let n = try input.read(into: buffer, count: 1 << 16)
                if n == 0 { break }
                total += n
            }
        } throws: { error in
            "\(error)".contains("decompression ratio exceeds 100:1")
        }
        #expect(total < 4 << 20, "stopped soon after the grace allowance, not at the end")
    }

    @Test func boundsLineLengthAndNamesTheLine() throws {
        let s = Scratch()
        let text = "short\nalso short\n" + String(repeating: "x", count: 5000) + "\nafter\n"
        let path = s.write("long.txt", Array(text.utf8))
        let limits = InputLimits(maxLineBytes: 1024, maxRatio: 250)
        #expect {
            _ = try readLines(path, limits: limits, bufferSize: 256)
        } throws: { error in
            let e = error as? InputError
            return e?.line == 3 && e?.kind == .data && e!.description == "\(path):3: line longer than 1024 bytes"
        }
        // The same file passes with a larger bound.
        #expect(try readLines(path, limits: InputLimits(maxLineBytes: 8192, maxRatio: 250), bufferSize: 256).lines.count == 4)
    }

    @Test func numbersLinesAndOffsetsAcrossBufferBoundaries() throws {
        let s = Scratch()
        var text = ""
        var expected: [(String, Int)] = []
        for i in 0..<500 {
            let line = String(repeating: "ab", count: i % 37) + "\r"
            expected.append((String(line.dropLast()), text.utf8.count))
            text += line + "\n"
        }
        text += "\n\nlast-without-newline"
        let path = s.write("many.txt", Array(text.utf8))
        let input = try InputFile.open(path)
        let reader = LineReader(input, bufferSize: 64)
        for (i, (line, offset)) in expected.enumerated() {
            let got = try reader.next().map { String(decoding: $0, as: UTF8.self) }
            #expect(got == line)
            #expect(reader.lineNumber == i + 1)
            #expect(reader.lineOffset == offset)
        }
        #expect(try reader.next()?.count == 0)
        #expect(try reader.next()?.count == 0)
        #expect(try reader.next().map { String(decoding: $0, as: UTF8.self) } == "last-without-newline")
        #expect(reader.lineNumber == 503)
        #expect(try reader.next() == nil)
    }

    /// The hash made on a thread of its own (while tally-parse reads the rows) is the file's,
    /// byte for byte as delivered; a file that cannot be opened is refused before any thread starts.
    @Test func aFileIsHashedInTheBackground() throws {
        let s = Scratch()
        var bytes: [UInt8] = []
        var state: UInt64 = 5
        for _ in 0..<(3 << 20) {
            state = state &* 6_364_136_223_846_793_005 &+ 1
            bytes.append(UInt8(truncatingIfNeeded: state >> 56))
        }
        let path = s.write("big.bin", bytes)
        let digest = try InputFile.digestInBackground(ofFileAt: path)
        let expected = try sha256sum(path)
        #expect(try digest.wait() == expected)
        #expect(digest.isReady)
        #expect(try digest.wait() == expected, "a second wait gives the same")
        #expect(try readLines(path).sha == expected, "the hash made while reading agrees")
        #expect {
            _ = try InputFile.digestInBackground(ofFileAt: "/nonexistent/tally/file.csv")
        } throws: { error in
            (error as? InputError)?.exitStatus == 66 && "\(error)".contains("cannot open")
        }
    }

    @Test func missingFilesAndDirectoriesAreNoInput() {
        #expect {
            _ = try InputFile.open("/nonexistent/tally/file.csv")
        } throws: { error in
            (error as? InputError)?.exitStatus == 66 && "\(error)".contains("cannot open")
        }
        #expect {
            _ = try InputFile.open("/tmp")
        } throws: { error in
            (error as? InputError)?.exitStatus == 66 && "\(error)" == "/tmp: is a directory"
        }
    }

    @Test func emptyAndTinyFilesArePlain() throws {
        let s = Scratch()
        #expect(try readLines(s.write("empty", [])).lines == [])
        #expect(try readLines(s.write("one", [0x1F])).lines == ["\u{1F}"])
        let magicOnly = s.write("magic-only", [0x1F, 0x8B])
        #expect {
            _ = try readLines(magicOnly)
        } throws: { error in
            "\(error)".contains("truncated gzip stream")
        }
    }

    @Test func transcodesGB18030BothWays() throws {
        let toGB = Transcoder(from: "UTF-8", to: "GB18030")!
        let fromGB = Transcoder(from: "GB18030", to: "UTF-8")!
        let gb = try toGB.convert("国家税务总局,€,😀")
        #expect(gb.count < "国家税务总局,€,😀".utf8.count + 4)
        let back = try gb.withUnsafeBytes { try fromGB.convert($0) }
        #expect(String(decoding: back, as: UTF8.self) == "国家税务总局,€,😀")
        let invalid: [UInt8] = [0x41, 0x81, 0x20]
        #expect(throws: Transcoder.Invalid.self) { _ = try invalid.withUnsafeBytes { try fromGB.convert($0) } }
    }
}
