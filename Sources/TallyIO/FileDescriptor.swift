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

/// Waiting on standard input as a signal: a parent that holds its write end open for as long as
/// something should go on, and closes it (or dies) to say stop.
public enum StandardInput {
    /// Calls `tick` at once and then every `milliseconds` until standard input ends (its bytes,
    /// if any, are read and dropped) or cannot be read.
    public static func untilEnd<E: Error>(every milliseconds: Int32, _ tick: () throws(E) -> Void) throws(E) {
        var watch = pollfd(fd: 0, events: Int16(POLLIN), revents: 0)
        var scratch = [UInt8](repeating: 0, count: 4096)
        while true {
            try tick()
            let ready = poll(&watch, 1, milliseconds)
            if ready < 0 {
                if errno == EINTR { continue }
                return
            }
            guard ready > 0 else { continue }
            let n = read(0, &scratch, scratch.count)
            if n == 0 || (n < 0 && errno != EINTR) { return }
        }
    }
}
