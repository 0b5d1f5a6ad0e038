#if canImport(Glibc)
import Glibc
#endif
import CTally

// tally-fuzz TARGET [libFuzzer flags] [corpus directories]  (built by scripts/fuzz.sh)
// tally-fuzz TARGET FILE|DIR ...                             (any other build: replays inputs)
//
// Targets: csv, record, xml, gzip, rules, pattern, fold (see Targets.swift).
func complain(_ text: String) { _ = text.withCString { write(2, $0, strlen($0)) } }

var arguments = CommandLine.arguments
guard arguments.count >= 2, Fuzz.names.contains(arguments[1]) else {
    complain("usage: tally-fuzz \(Fuzz.names.joined(separator: "|")) [inputs or libFuzzer flags]\n")
    exit(64)
}
Fuzz.target = arguments.remove(at: 1)

#if FUZZING
var argc = Int32(arguments.count)
var cStrings: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
let status = cStrings.withUnsafeMutableBufferPointer { buffer -> Int32 in
    var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = buffer.baseAddress
    return LLVMFuzzerRunDriver(&argc, &argv) { data, size in
        Fuzz.one(UnsafeRawBufferPointer(start: data, count: size))
        return 0
    }
}
exit(status)
#else
var replayed = 0
for path in arguments.dropFirst() {
    var files: [String] = []
    if let dir = opendir(path) {
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
            if !name.hasPrefix(".") { files.append(path + "/" + name) }
        }
        closedir(dir)
    } else {
        files.append(path)
    }
    for file in files.sorted() {
        guard let f = fopen(file, "rb") else { complain("tally-fuzz: cannot read \(file)\n"); exit(66) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            let n = fread(&chunk, 1, chunk.count, f)
            if n <= 0 { break }
            bytes += chunk[0..<n]
        }
        fclose(f)
        bytes.withUnsafeBytes { Fuzz.one($0) }
        replayed += 1
    }
}
print("tally-fuzz: \(Fuzz.target): \(replayed) inputs replayed, no crash")
#endif
