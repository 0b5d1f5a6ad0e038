#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Directory helpers.
public enum Directory {
    /// Creates `path` and its parents if missing (mode 0755).
    public static func create(_ path: String) throws(OutputError) {
        var prefix = path.hasPrefix("/") ? "/" : ""
        for part in path.split(separator: "/") {
            prefix += part + "/"
            if mkdir(prefix, 0o755) != 0 && errno != EEXIST {
                throw .io("\(path): cannot create directory: \(POSIX.errorText(errno))")
            }
        }
    }
}
