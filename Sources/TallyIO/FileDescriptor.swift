#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Thin POSIX calls that retry on EINTR, used by the readers and writers.
enum POSIX {
    static func open(_ path: String, flags: Int32, mode: mode_t = 0) -> Int32 {
        while true {
            let fd = path.withCString { openFile($0, flags, mode) }
            if fd >= 0 || errno != EINTR { return fd }
        }
    }

    static func read(_ fd: Int32, _ buffer: UnsafeMutableRawPointer, _ count: Int) -> Int {
        while true {
            #if canImport(Glibc)
            let n = Glibc.read(fd, buffer, count)
            #else
            let n = Darwin.read(fd, buffer, count)
            #endif
            if n >= 0 || errno != EINTR { return n }
        }
    }

    static func errorText(_ code: Int32) -> String { String(cString: strerror(code)) }
}

@inline(__always)
private func openFile(_ path: UnsafePointer<CChar>, _ flags: Int32, _ mode: mode_t) -> Int32 {
    #if canImport(Glibc)
    return Glibc.open(path, flags, mode)
    #else
    return Darwin.open(path, flags, mode)
    #endif
}
