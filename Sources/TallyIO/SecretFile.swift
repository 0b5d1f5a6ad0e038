#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The key file behind person keys, read the way ssh reads a private key: refused when anyone
/// but its owner may read or write it.
public enum SecretFile {
    /// Why a secret file was refused.
    public struct Refusal: Error, CustomStringConvertible {
        public var message: String
        /// True when the file is missing or unreadable (exit 66), false when it is unsafe or
        /// unusable (exit 64: the operator must fix it).
        public var missing: Bool
        public var description: String { message }
    }

    /// The secret: the file's bytes without trailing line ends (so `echo … > file` works), at
    /// least `minimumBytes` of them.
    public static func read(_ path: String, minimumBytes: Int) throws(Refusal) -> [UInt8] {
        // Not blocking: a FIFO (or a device) must be refused, not waited on; the check that it is
        // a regular file comes after opening, on the descriptor, so nothing can swap it between.
        let fd = POSIX.open(path, flags: O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK)
        guard fd >= 0 else {
            let code = errno
            throw Refusal(message: "\(path): cannot open the secret file: \(POSIX.errorText(code))", missing: code != ELOOP)
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else {
            throw Refusal(message: "\(path): the secret file is not a regular file", missing: false)
        }
        let mode = info.st_mode & 0o777
        guard mode & 0o077 == 0 else {
            throw Refusal(message: "\(path): the secret file's permissions \(String(mode, radix: 8)) let other users read or change it; run chmod 600 \(path)", missing: false)
        }
        guard info.st_uid == geteuid() else {
            throw Refusal(message: "\(path): the secret file belongs to another user (uid \(info.st_uid))", missing: false)
        }
        var bytes: [UInt8] = []
        let chunk = UnsafeMutableRawPointer.allocate(byteCount: 4096, alignment: 8)
        defer { chunk.deallocate() }
        while true {
            let n = POSIX.read(fd, chunk, 4096)
            if n < 0 { throw Refusal(message: "\(path): cannot read the secret file: \(POSIX.errorText(errno))", missing: true) }
            if n == 0 { break }
            bytes.append(contentsOf: UnsafeRawBufferPointer(start: chunk, count: n))
            if bytes.count > 1 << 16 { throw Refusal(message: "\(path): the secret file is larger than 64 KiB", missing: false) }
        }
        while let last = bytes.last, last == 0x0A || last == 0x0D { bytes.removeLast() }
        if !bytes.isEmpty, bytes.allSatisfy({ $0 == 0x20 || ($0 >= 0x09 && $0 <= 0x0D) }) {
            throw Refusal(message: "\(path): the secret is only white space", missing: false)
        }
        guard bytes.count >= minimumBytes else {
            throw Refusal(message: "\(path): the secret is \(bytes.count) bytes; at least \(minimumBytes) are needed (e.g. head -c 32 /dev/urandom | base64 > \(path))", missing: false)
        }
        return bytes
    }
}
