import Foundation
import HVCore

#if canImport(Glibc)
import Glibc
#endif

/// Reads a guest backup (a tar file as `GuestBackup` writes it with GNU tar)
/// strictly: only regular files and folders, names of plain relative
/// components, every header's checksum, sizes in octal or GNU's base-256,
/// nothing after the end but zeros. Anything else (a link, a device, a
/// long-name extension, a name with "..", a header that lies) is refused
/// with where it was met: an archive may come from anywhere.
public struct TarReader {
    public enum Kind: Sendable, Equatable { case file, folder }
    public struct Entry: Sendable, Equatable {
        public var name: String
        public var kind: Kind
        public var size: UInt64
    }

    /// The largest member it takes (a disk of 16 TiB).
    public static let maxSize: UInt64 = 1 << 44
    static let block = 512

    let fd: Int32
    let what: String
    private(set) var offset: UInt64 = 0

    /// `fd`: the archive, read from its start; `what` names it in errors.
    public init(fd: Int32, what: String) {
        self.fd = fd
        self.what = what
    }

    func fail(_ message: String) -> HVError {
        HVError(.badDiskImage, "\(what) is not a backup hv can read: \(message)", hint: "nothing was changed; take the backup again, or copy it whole")
    }

    /// Reads exactly `count` bytes; false at the end of the file before any.
    mutating func readFully(_ buffer: inout [UInt8], _ count: Int) throws -> Bool {
        var got = 0
        while got < count {
            let n = buffer.withUnsafeMutableBytes { raw in read(fd, raw.baseAddress.map { $0 + got }, count - got) }
            if n < 0 && errno == EINTR { continue }
            guard n >= 0 else { throw HVError.posix("cannot read \(what)", errno: errno) }
            if n == 0 {
                if got == 0 { return false }
                throw fail("it ends inside a block at byte \(offset + UInt64(got)) (a truncated copy?)")
            }
            got += n
        }
        offset += UInt64(count)
        return true
    }

    /// The next member's header, or nil at the archive's end (two zero blocks).
    public mutating func next() throws -> Entry? {
        var header = [UInt8](repeating: 0, count: Self.block)
        guard try readFully(&header, Self.block) else { throw fail("it ends without its end marker (a truncated copy?)") }
        if header.allSatisfy({ $0 == 0 }) {
            var second = [UInt8](repeating: 0, count: Self.block)
            guard try readFully(&second, Self.block), second.allSatisfy({ $0 == 0 }) else {
                throw fail("a zero block at byte \(offset - UInt64(Self.block)) is not followed by the end marker")
            }
            return nil
        }
        return try Self.parse(header, at: offset - UInt64(Self.block), fail: fail)
    }

    /// One header block, checked.
    static func parse(_ h: [UInt8], at position: UInt64, fail: (String) -> HVError) throws -> Entry {
        guard h.count == block else { throw fail("a header of \(h.count) bytes") }
        let stored = octal(h[148..<156])
        var sum: UInt64 = 0
        for (i, b) in h.enumerated() { sum += (148..<156).contains(i) ? 32 : UInt64(b) }
        guard stored == sum else { throw fail("the header at byte \(position) is damaged (its checksum does not match)") }
        guard h[257..<262].elementsEqual(Array("ustar".utf8)) else { throw fail("the header at byte \(position) is not a tar header") }
        // A prefix field (ustar 345..<500) would extend the name: GNU's format uses none, and hv's names are short.
        let nameBytes = h[0..<100].prefix { $0 != 0 }
        guard let raw = String(bytes: nameBytes, encoding: .utf8) else { throw fail("a name at byte \(position) is not UTF-8") }
        let type = h[156]
        let kind: Kind
        switch type {
        case UInt8(ascii: "0"), 0: kind = .file
        case UInt8(ascii: "5"): kind = .folder
        default:
            throw fail("member \(raw.isEmpty ? "at byte \(position)" : "\"\(raw)\"") is a \(typeName(type)), and a backup holds only files and folders")
        }
        let name = kind == .folder && raw.hasSuffix("/") ? String(raw.dropLast()) : raw
        if let why = nameProblem(name) { throw fail("member \"\(raw)\" \(why)") }
        let size = try sizeField(h[124..<136], at: position, fail: fail)
        guard kind == .file || size == 0 else { throw fail("folder \"\(name)\" claims \(size) bytes") }
        return Entry(name: name, kind: kind, size: size)
    }

    static func typeName(_ t: UInt8) -> String {
        switch t {
        case UInt8(ascii: "1"): "hard link"
        case UInt8(ascii: "2"): "symbolic link"
        case UInt8(ascii: "3"), UInt8(ascii: "4"): "device"
        case UInt8(ascii: "6"): "FIFO"
        case UInt8(ascii: "L"), UInt8(ascii: "K"), UInt8(ascii: "x"), UInt8(ascii: "g"): "long-name or extended header"
        case UInt8(ascii: "S"): "sparse file"
        default: "member of type \(t)"
        }
    }

    /// nil when the name is relative, of plain components, none "." or "..".
    public static func nameProblem(_ name: String) -> String? {
        if name.isEmpty { return "has no name" }
        if name.hasPrefix("/") { return "is an absolute path" }
        let parts = name.split(separator: "/", omittingEmptySubsequences: false)
        if parts.count > 16 { return "is nested too deep" }
        for p in parts {
            if p.isEmpty || p == "." || p == ".." { return "has an empty, \".\" or \"..\" component" }
            if p.utf8.contains(where: { $0 < 0x20 || $0 == 0x7f }) { return "has a control character" }
        }
        return nil
    }

    static func octal(_ field: ArraySlice<UInt8>) -> UInt64? {
        var value: UInt64 = 0, digits = 0
        for b in field {
            if b == 0 || b == 32 { if digits > 0 { break } else { continue } }
            guard (48...55).contains(b), value < (1 << 60) else { return nil }
            value = value * 8 + UInt64(b - 48)
            digits += 1
        }
        return digits > 0 ? value : nil
    }

    /// Octal, or GNU's base-256 (first byte 0x80) for sizes of 8 GiB and more.
    static func sizeField(_ field: ArraySlice<UInt8>, at position: UInt64, fail: (String) -> HVError) throws -> UInt64 {
        let size: UInt64?
        if field.first == 0x80 {
            var v: UInt64 = 0
            var overflow = false
            for b in field.dropFirst() {
                if v >> 56 != 0 { overflow = true }
                v = v << 8 | UInt64(b)
            }
            size = overflow ? nil : v
        } else {
            size = octal(field)
        }
        guard let size, size <= maxSize else { throw fail("the size in the header at byte \(position) cannot be read or is too large") }
        return size
    }

    /// The member's content, written to `out` (nil: skipped); then its padding.
    public mutating func content(_ entry: Entry, to out: Int32?) throws {
        var left = entry.size
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        while left > 0 {
            let chunk = Int(min(UInt64(buffer.count), left))
            guard try readFully(&buffer, chunk) else { throw fail("it ends inside \"\(entry.name)\" (a truncated copy?)") }
            if let out {
                var written = 0
                while written < chunk {
                    let w = buffer.withUnsafeBytes { raw in write(out, raw.baseAddress.map { $0 + written }, chunk - written) }
                    if w < 0 && errno == EINTR { continue }
                    guard w > 0 else { throw HVError.posix("cannot write \"\(entry.name)\"", errno: errno) }
                    written += w
                }
            }
            left -= UInt64(chunk)
        }
        let pad = Int((UInt64(Self.block) - entry.size % UInt64(Self.block)) % UInt64(Self.block))
        if pad > 0 {
            var padding = [UInt8](repeating: 0, count: pad)
            guard try readFully(&padding, pad) else { throw fail("it ends inside \"\(entry.name)\" (a truncated copy?)") }
        }
    }
}
