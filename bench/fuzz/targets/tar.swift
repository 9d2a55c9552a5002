// libFuzzer target: a backup archive's bytes (an archive may come from
// anywhere: a copy from another host, a damaged disk). TarReader must
// refuse what is not plain files and folders with clean relative names,
// never read past the end, and never loop.
import Foundation

#if canImport(Glibc)
import Glibc
#endif

@Sendable func fuzzTar(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let path = "/dev/shm/hv-fuzz-tar-\(getpid())"
    let fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0o600)
    unlink(path)
    guard fd >= 0, size == 0 || write(fd, data, size) == size, lseek(fd, 0, SEEK_SET) == 0 else { fatalError("the archive's file") }
    defer { close(fd) }
    var reader = TarReader(fd: fd, what: "fuzz.tar")
    var members = 0
    while true {
        guard let entry = try? reader.next() else { break }
        precondition(TarReader.nameProblem(entry.name) == nil, "a bad name passed: \(entry.name)")
        precondition(entry.kind == .file || entry.size == 0, "a folder with content")
        precondition(entry.size <= TarReader.maxSize, "a size past the limit")
        guard (try? reader.content(entry, to: nil)) != nil else { break }
        members += 1
        precondition(members <= size / 512 + 1, "more members than blocks")
    }
    return 0
}
