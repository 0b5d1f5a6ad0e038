#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CTally
import TallyCore

/// A feed declaration loaded from disk, with the paths its files resolve to.
public struct LoadedFeed: Sendable {
    public var spec: FeedSpec
    /// The feed file's path.
    public var path: String
    /// For XML feeds, the XSD's path.
    public var xsdPath: String?
}

/// Finds and loads feed declarations: `--feed NAME` means `NAME.feed.json` in the schemas
/// directory (`--schemas DIR`, else `schemas/feeds` beside the installed binaries or in the
/// source tree above them); a name with a `/` or ending in `.json` is a path to a feed file.
public enum FeedCatalog {
    /// Why a feed could not be loaded. `unknown` is a usage error; `invalid` a data error.
    public enum LoadError: Error, CustomStringConvertible {
        case unknown(String)
        case invalid(String)
        public var description: String {
            switch self {
            case .unknown(let m), .invalid(let m): return m
            }
        }
    }

    public static func load(_ nameOrPath: String, schemasDirectory: String?) throws(LoadError) -> LoadedFeed {
        let path: String
        if nameOrPath.contains("/") || nameOrPath.hasSuffix(".json") {
            path = nameOrPath
        } else {
            let directories = schemasDirectory.map { [$0] } ?? defaultDirectories()
            guard let dir = directories.first(where: { isFile($0 + "/" + nameOrPath + ".feed.json") }) else {
                let known = directories.flatMap(feedNames).sorted()
                throw .unknown("unknown feed \"\(nameOrPath)\" (looked in \(placesTried(schemasDirectory: schemasDirectory)); feeds there: \(known.isEmpty ? "none" : known.joined(separator: ", ")); give --schemas DIR or set TALLY_SCHEMAS)")
            }
            path = dir + "/" + nameOrPath + ".feed.json"
        }
        let directory = path.contains("/") ? String(path[..<path.lastIndex(of: "/")!]) : "."
        let bytes: [UInt8]
        do { bytes = try readWholeFile(path) } catch { throw .unknown("\(path): \(error.message)") }
        let spec: FeedSpec
        do {
            spec = try FeedSpec.load(feedFile: path, bytes: bytes) { name in
                do throws(InputError) { return try readWholeFile(directory + "/" + name) } catch { throw FeedSpecError(file: directory + "/" + name, error.message) }
            }
        } catch let error as FeedSpecError {
            throw .invalid(error.description)
        } catch {
            throw .invalid("\(path): \(error)")
        }
        var loaded = LoadedFeed(spec: spec, path: path, xsdPath: nil)
        if case .xml(let xsd, _, _, _) = spec.format {
            let xsdPath = xsd.hasPrefix("/") ? xsd : directory + "/" + xsd
            guard isFile(xsdPath) else { throw .invalid("\(path): its XSD \(xsdPath) does not exist") }
            loaded.xsdPath = xsdPath
        }
        return loaded
    }

    /// Where feed declarations are looked for when no `--schemas` is given: the `TALLY_SCHEMAS`
    /// environment variable alone when it is set; else, in order, `../share/tally/schemas/feeds`
    /// beside the executable (an installed copy); the source tree the executable was built in
    /// (`schemas/feeds` beside the nearest `Package.swift` above it); `./schemas/feeds`. Each with
    /// whether it exists.
    public static func searchPath() -> [(path: String, exists: Bool)] {
        dataPlaces(variable: "TALLY_SCHEMAS", relative: "schemas/feeds", alsoHere: true, exists: isDirectory)
    }

    /// Where the default scoring rules are looked for when no `--rules` is given: `TALLY_RULES`
    /// alone when it is set; else `../share/tally/pipelines/rules/default.yaml` beside the
    /// executable, then the source tree's `pipelines/rules/default.yaml`.
    public static func rulesSearchPath() -> [(path: String, exists: Bool)] {
        dataPlaces(variable: "TALLY_RULES", relative: "pipelines/rules/default.yaml", alsoHere: false, exists: isFile)
    }

    /// The default rules file, or a message naming every place tried.
    public static func defaultRules() throws(LoadError) -> String {
        let places = rulesSearchPath()
        if let found = places.first(where: \.exists) { return found.path }
        throw .unknown("no rules file given and none found (looked in \(describe(places))); give --rules FILE or set TALLY_RULES")
    }

    /// The places a piece of tally's data (`relative` to the top of a source tree, and to
    /// `share/tally` in an installed copy) is looked for, in order, with whether each exists.
    static func dataPlaces(variable: String, relative: String, alsoHere: Bool, exists: (String) -> Bool) -> [(path: String, exists: Bool)] {
        // Set, the variable is the answer, as a flag is: a wrong one is said, not passed over.
        if let env = getenvString(variable), !env.isEmpty { return [(env, exists(env))] }
        var candidates: [String] = []
        if var dir = executableDirectory() {
            candidates.append(dir + "/../share/tally/" + relative)
            // In a source tree the binaries sit in .build/<config>/; the data is at the top.
            for _ in 0..<6 {
                guard let slash = dir.lastIndex(of: "/"), slash > dir.startIndex else { break }
                dir = String(dir[..<slash])
                if isFile(dir + "/Package.swift") && exists(dir + "/" + relative) { candidates.append(dir + "/" + relative); break }
            }
        }
        if alsoHere { candidates.append("./" + relative) }
        return candidates.map { ($0, exists($0)) }
    }

    /// The directories of `searchPath` that exist.
    public static func defaultDirectories() -> [String] {
        searchPath().filter(\.exists).map(\.path)
    }

    /// Every place looked in, for a message: "A, B (missing), …".
    public static func placesTried(schemasDirectory: String?) -> String {
        let places = schemasDirectory.map { [($0, isDirectory($0))] } ?? searchPath()
        return describe(places)
    }

    static func describe(_ places: [(path: String, exists: Bool)]) -> String {
        places.map { $0.exists ? $0.path : $0.path + " (missing)" }.joined(separator: ", ")
    }

    /// The feeds declared in `schemasDirectory`, or in the default directories.
    public static func feedNames(schemasDirectory: String?) -> [String] {
        let directories = schemasDirectory.map { [$0] } ?? Array(defaultDirectories().prefix(1))
        return Array(Set(directories.flatMap(feedNames))).sorted()
    }

    static func feedNames(in directory: String) -> [String] {
        guard let d = opendir(directory) else { return [] }
        defer { closedir(d) }
        var names: [String] = []
        while let entry = readdir(d) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(cString: $0.baseAddress!.assumingMemoryBound(to: CChar.self)) }
            if name.hasSuffix(".feed.json") { names.append(String(name.dropLast(".feed.json".count))) }
        }
        return names
    }

    static func executableDirectory() -> String? {
        var buffer = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard n > 0 else { return nil }
        let path = String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return String(path[..<path.lastIndex(of: "/")!])
    }

    static func isFile(_ path: String) -> Bool {
        var s = stat()
        return stat(path, &s) == 0 && (s.st_mode & S_IFMT) == S_IFREG
    }

    static func isDirectory(_ path: String) -> Bool {
        var s = stat()
        return stat(path, &s) == 0 && (s.st_mode & S_IFMT) == S_IFDIR
    }
}

/// Reads a small file whole (schemas, rules, secrets).
public func readWholeFile(_ path: String) throws(InputError) -> [UInt8] {
    let input = try InputFile.open(path, limits: InputLimits(maxLineBytes: 1 << 26, maxRatio: 1000))
    var out: [UInt8] = []
    let chunk = UnsafeMutableRawPointer.allocate(byteCount: 1 << 16, alignment: 8)
    defer { chunk.deallocate() }
    while true {
        let n = try input.read(into: chunk, count: 1 << 16)
        if n == 0 { break }
        out.append(contentsOf: UnsafeRawBufferPointer(start: chunk, count: n))
        if out.count > 1 << 26 { throw InputError(.data, file: path, "larger than 64 MiB") }
    }
    return out
}

/// Copies standard input to a temporary file (removed when the process ends) and returns its
/// path, so that a stream can be hashed before its rows are written with that hash.
public func spoolStandardInput() throws(InputError) -> String { try spoolStream(path: nil) }

/// Copies a stream (standard input for nil, or a pipe such as `<(…)`) to a temporary file in
/// the same way; messages name it as given (`-` for standard input).
public func spoolStream(path source: String?) throws(InputError) -> String {
    let shown = source ?? "-"
    var input: Int32 = 0
    if let source {
        input = POSIX.open(source, flags: O_RDONLY | O_CLOEXEC)
        guard input >= 0 else { throw InputError(.noInput, file: shown, "cannot open: \(POSIX.errorText(errno))") }
    } else {
        try InputFile.refuseDevice(0, name: "-")
    }
    defer { if source != nil { close(input) } }
    let (fd, path) = try SpooledFiles.create(shown: shown)
    let chunk = UnsafeMutableRawPointer.allocate(byteCount: 1 << 20, alignment: 8)
    defer { chunk.deallocate(); close(fd) }
    var spooled: Int64 = 0
    while true {
        let n = POSIX.read(input, chunk, 1 << 20)
        if n < 0 { throw InputError(.io, file: shown, "read failed: \(POSIX.errorText(errno))") }
        if n == 0 { break }
        spooled += Int64(n)
        if spooled > SpooledFiles.maxBytes {
            throw InputError(.data, file: shown, "larger than the \(SpooledFiles.maxBytes) bytes a stream may spool to the temporary directory; give the file by name")
        }
        var p = chunk
        var left = n
        while left > 0 {
            let w = write(fd, p, left)
            if w < 0 { if errno == EINTR { continue }; throw InputError(.io, file: shown, "cannot spool the stream: \(POSIX.errorText(errno))") }
            p += w
            left -= w
        }
    }
    return path
}

func getenvString(_ name: String) -> String? { getenv(name).map { String(cString: $0) } }

/// Temporary copies of standard input, removed at exit and on SIGINT, SIGTERM and SIGHUP (the
/// handler is C: only async-signal-safe calls may run in it).
enum SpooledFiles {
    /// A new temporary file in TMPDIR (or /tmp), removed at exit or on a signal: its descriptor
    /// and path.
    static func create(shown: String) throws(InputError) -> (Int32, String) {
        var template = Array(((getenvString("TMPDIR") ?? "/tmp") + "/tally-stdin-XXXXXX").utf8CString)
        let fd = mkstemp(&template)
        guard fd >= 0 else { throw InputError(.io, file: shown, "cannot create a temporary file: \(POSIX.errorText(errno))") }
        // mkstemp filled in the Xs; the path is the template without its NUL.
        let path = String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
        do throws(InputError) { try remember(path) } catch { close(fd); throw error }
        return (fd, path)
    }

    static func remember(_ path: String) throws(InputError) {
        guard tally_spool_register(path) != 0 else {
            unlink(path)
            throw InputError(.io, file: "-", "too many standard-input spools in one run")
        }
    }

    /// The most a stream may hold: its spool goes to the temporary directory's disk.
    static let maxBytes: Int64 = 1 << 34
}

/// Keeps a copy of the lines a stage reads from a stream, as it reads them, so that it can read
/// them again: a temporary file with the same bound and clean-up as `spoolStream`. Line numbers
/// are kept (the lines a reader skips are written back as empty lines), so a second reading
/// names the same lines.
public final class LineSpool {
    public let path: String
    private let fd: Int32
    private let shown: String
    /// Lines waiting to be written: copied in with memcpy and written 1 MiB at a time (an
    /// Array's appends cost more than the copy itself, measured with bench/anywhere.sh).
    private let buffer: UnsafeMutableRawPointer
    private static let capacity = 1 << 20
    private var used = 0
    private var lines = 0
    public private(set) var bytes: Int64 = 0
    private var open = true
    /// The most a spool may hold.
    public static var maximumBytes: Int64 { SpooledFiles.maxBytes }

    /// - Parameter shown: the stream's name in messages.
    public init(shown: String) throws(InputError) {
        self.shown = shown
        (fd, path) = try SpooledFiles.create(shown: shown)
        buffer = .allocate(byteCount: Self.capacity, alignment: 16)
    }

    deinit {
        if open { close(fd) }
        buffer.deallocate()
    }

    /// Adds line number `number` (counting from 1). False when the spool would pass its bound:
    /// nothing more is kept then, and the spool should be discarded.
    public func add(_ line: UnsafeRawBufferPointer, number: Int) throws(InputError) -> Bool {
        let gap = max(number - 1 - lines, 0)
        bytes += Int64(gap + line.count + 1)
        guard bytes <= SpooledFiles.maxBytes else { return false }
        lines = number
        if gap > 0 { try put(byte: 0x0A, count: gap) }
        var p = line.baseAddress
        var left = line.count
        while left > 0, let from = p {
            if used == Self.capacity { try flush() }
            let n = min(left, Self.capacity - used)
            (buffer + used).copyMemory(from: from, byteCount: n)
            used += n
            left -= n
            p = from + n
        }
        try put(byte: 0x0A, count: 1)
        return true
    }

    private func put(byte: UInt8, count: Int) throws(InputError) {
        var left = count
        while left > 0 {
            if used == Self.capacity { try flush() }
            let n = min(left, Self.capacity - used)
            (buffer + used).initializeMemory(as: UInt8.self, repeating: byte, count: n)
            used += n
            left -= n
        }
    }

    private func flush() throws(InputError) {
        var done = 0
        while done < used {
            let w = write(fd, buffer + done, used - done)
            if w < 0 { if errno == EINTR { continue }; throw InputError(.io, file: shown, "cannot spool the stream: \(POSIX.errorText(errno))") }
            done += w
        }
        used = 0
    }

    /// Writes what is buffered and closes the file, which stays until the process ends.
    public func finish() throws(InputError) {
        try flush()
        close(fd)
        open = false
    }

    /// Closes and removes the file.
    public func discard() {
        if open { close(fd); open = false }
        unlink(path)
        used = 0
    }
}
