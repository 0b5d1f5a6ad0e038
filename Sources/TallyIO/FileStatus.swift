#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Questions about files and descriptors that the stages ask before they read or write.
public enum FileStatus {
    /// Whether anything exists at `path` (without following a final symbolic link).
    public static func exists(_ path: String) -> Bool {
        var info = stat()
        return lstat(path, &info) == 0
    }

    /// What tells a regular file's bytes from any it held before: device, inode, size, and the
    /// modification and change times (seconds, nanoseconds). While these are the same, so are the
    /// bytes; the change time cannot be set back without the clock. Nil for anything but a
    /// regular file.
    public static func stamp(path: String) -> [Int64]? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return stamp(info)
    }

    /// The same, of an open descriptor.
    public static func stamp(fd: Int32) -> [Int64]? {
        var info = stat()
        guard fstat(fd, &info) == 0 else { return nil }
        return stamp(info)
    }

    private static func stamp(_ info: stat) -> [Int64]? {
        guard (info.st_mode & S_IFMT) == S_IFREG else { return nil }
        return [Int64(info.st_dev), Int64(info.st_ino), Int64(info.st_size), Int64(info.st_mtim.tv_sec), Int64(info.st_mtim.tv_nsec),
                Int64(info.st_ctim.tv_sec), Int64(info.st_ctim.tv_nsec)]
    }

    /// Whether `path` (or, when it does not exist, its directory) is on a read-only file system.
    public static func isOnReadOnlyFileSystem(_ path: String) -> Bool {
        var info = statvfs()
        if statvfs(path, &info) == 0 { return info.f_flag & UInt(ST_RDONLY) != 0 }
        let dir = path.contains("/") ? String(path[..<path.lastIndex(of: "/")!]) : "."
        return statvfs(dir.isEmpty ? "/" : dir, &info) == 0 && info.f_flag & UInt(ST_RDONLY) != 0
    }

    /// Makes sure descriptors 0, 1 and 2 are open before any file is: a program started with one
    /// of them closed would otherwise give that number to the next file it opens, and write
    /// records into its rejects file, say. A closed standard input becomes an empty one
    /// (/dev/null); a closed standard output or error becomes /dev/null opened for reading only,
    /// so that every write to it fails (EBADF) and the stage reports a write error (74) instead
    /// of losing its output without a word.
    public static func guardStandardDescriptors() {
        for fd: Int32 in 0...2 where fcntl(fd, F_GETFD) < 0 && errno == EBADF {
            let opened = open("/dev/null", O_RDONLY)
            if opened >= 0 && opened != fd {
                dup2(opened, fd)
                close(opened)
            }
        }
    }

    /// Narrows the permissions of the existing file at `path` to its owner (0600) when group or
    /// others may read or write it; returns a note for the operator when it did, nil otherwise.
    /// A file held by another user is left alone (chmod would fail) and said so.
    public static func keepPrivate(_ path: String, what: String) -> String? {
        var info = stat()
        guard stat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { return nil }
        let mode = info.st_mode & 0o777
        guard mode & 0o077 != 0 else { return nil }
        if chmod(path, mode & 0o700) == 0 {
            return "\(path): the \(what) was mode \(String(mode, radix: 8)), open to other users; narrowed to \(String(mode & 0o700, radix: 8))"
        }
        return "\(path): the \(what) is mode \(String(mode, radix: 8)), open to other users, and could not be narrowed: \(String(cString: strerror(errno)))"
    }
}
