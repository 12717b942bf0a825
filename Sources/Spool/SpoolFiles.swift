#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The system calls the spool makes, each retried on `EINTR` and failing with `SpoolError(.io)` that names
/// the call and the file. Files are created 0600 and directories 0700: records hold payloads and write keys. Blocking: called from the spool's writer thread, from `open`, and for short reads
/// of page-cached records.
enum SpoolFiles {
    static func failure(_ call: String, _ path: String, _ code: Int32 = errno) -> SpoolError {
        SpoolError(.io, "\(call) \(path): \(String(cString: strerror(code)))")
    }

    static func openFile(_ path: String, _ flags: Int32, mode: mode_t = 0o600) throws(SpoolError) -> Int32 {
        while true {
            let fd = open(path, flags | O_CLOEXEC, mode)
            if fd >= 0 { return fd }
            if errno != EINTR { throw failure("open", path) }
        }
    }

    static func closeFile(_ fd: Int32) {
        _ = close(fd)
    }

    static func size(_ fd: Int32, _ path: String) throws(SpoolError) -> Int64 {
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw failure("fstat", path) }
        return Int64(info.st_size)
    }

    /// Up to `count` bytes at `offset`; fewer only at the end of the file.
    static func read(_ fd: Int32, count: Int, at offset: Int64, _ path: String) throws(SpoolError) -> [UInt8] {
        var done = 0
        var failed: Int32 = 0
        let bytes = [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            while done < count {
                let n = pread(fd, buffer.baseAddress! + done, count - done, off_t(offset) + off_t(done))
                if n > 0 {
                    done += n
                } else if n == 0 {
                    break
                } else if errno != EINTR {
                    failed = errno
                    break
                }
            }
            initialized = done
        }
        if failed != 0 { throw failure("pread", path, failed) }
        return bytes
    }

    static func write(_ fd: Int32, _ bytes: [UInt8], at offset: Int64, _ path: String) throws(SpoolError) {
        var done = 0
        var failed: Int32 = 0
        bytes.withUnsafeBytes { raw in
            while done < raw.count {
                let n = pwrite(fd, raw.baseAddress! + done, raw.count - done, off_t(offset) + off_t(done))
                if n >= 0 {
                    done += n
                } else if errno != EINTR {
                    failed = errno
                    break
                }
            }
        }
        if failed != 0 { throw failure("pwrite", path, failed) }
    }

    /// Makes written data durable; metadata only as far as reading it back needs (the file's size).
    static func syncData(_ fd: Int32, _ path: String) throws(SpoolError) {
        #if os(Linux)
        let result = fdatasync(fd)
        #else
        let result = fsync(fd)
        #endif
        guard result == 0 else { throw failure("fdatasync", path) }
    }

    static func sync(_ fd: Int32, _ path: String) throws(SpoolError) {
        guard fsync(fd) == 0 else { throw failure("fsync", path) }
    }

    /// Makes a directory's entries (a create, rename or unlink in it) durable.
    static func syncDirectory(_ path: String) throws(SpoolError) {
        let fd = try openFile(path, O_RDONLY | O_DIRECTORY)
        defer { closeFile(fd) }
        try sync(fd, path)
    }

    static func truncate(_ fd: Int32, to size: Int64, _ path: String) throws(SpoolError) {
        guard ftruncate(fd, off_t(size)) == 0 else { throw failure("ftruncate", path) }
    }

    static func renameFile(_ from: String, _ to: String) throws(SpoolError) {
        guard rename(from, to) == 0 else { throw failure("rename", from) }
    }

    /// Removes a file; one that is already gone is fine.
    static func removeFile(_ path: String) throws(SpoolError) {
        guard unlink(path) == 0 || errno == ENOENT else { throw failure("unlink", path) }
    }

    /// `mkdir -p`; the directory holding each one it creates is synced, so acknowledged records are not
    /// lost with a directory entry that never reached the disk.
    static func makeDirectory(_ path: String) throws(SpoolError) {
        var prefix = path.hasPrefix("/") ? "/" : ""
        for component in path.split(separator: "/") {
            let parent = prefix.isEmpty ? "." : prefix
            prefix += component + "/"
            if mkdir(prefix, 0o700) == 0 {
                try syncDirectory(parent)
            } else if errno != EEXIST {
                throw failure("mkdir", prefix)
            }
        }
    }

    /// The names in a directory (not `.` and `..`).
    static func list(_ path: String) throws(SpoolError) -> [String] {
        guard let directory = opendir(path) else { throw failure("opendir", path) }
        defer { closedir(directory) }
        var names: [String] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != ".", name != ".." { names.append(name) }
        }
        return names
    }

    static func exists(_ path: String) -> Bool {
        access(path, F_OK) == 0
    }

    static func fileSize(_ path: String) -> Int64? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return Int64(info.st_size)
    }

    /// Writes a whole file so that a crash leaves either no file or all of it: a temporary name in the same
    /// directory, `fsync`, rename, `fsync` of the directory. Returns the syncs made (2).
    @discardableResult
    static func writeAtomically(_ bytes: [UInt8], to path: String, directory: String, temporary: String) throws(SpoolError) -> Int {
        let fd = try openFile(temporary, O_WRONLY | O_CREAT | O_TRUNC)
        do {
            try write(fd, bytes, at: 0, temporary)
            try sync(fd, temporary)
            closeFile(fd)
        } catch {
            closeFile(fd)
            try? removeFile(temporary)
            throw error
        }
        try renameFile(temporary, path)
        try syncDirectory(directory)
        return 2
    }

    /// An exclusive `flock` on `path`, created if needed. `flock` locks belong to the open file description,
    /// so a second open of the same spool in this process is refused like one in another process.
    static func lock(_ path: String) throws(SpoolError) -> Int32 {
        let fd = try openFile(path, O_RDWR | O_CREAT)
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let code = errno
            closeFile(fd)
            if code == EWOULDBLOCK { throw SpoolError(.locked, "\(path) is held by another open spool") }
            throw failure("flock", path, code)
        }
        return fd
    }
}
