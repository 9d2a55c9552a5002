import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// backup/<time>/: where whatever hv replaces or deletes goes.
public enum Backup {
    public static func stamp() -> String {
        Timestamp.compact()
    }

    public static func diskImages(in dir: URL) -> [URL] {
        let items = (try? FileManager.default.contentsOfDirectory(at: dir, includingPropertiesForKeys: nil)) ?? []
        return items.filter { ["qcow2", "img", "raw", "vmdk", "vdi"].contains($0.pathExtension.lowercased()) }
    }

    /// "32.0 GiB disk, 1.4 GiB in use": a qcow2's virtual size from its header,
    /// a raw image's length, and the blocks the file really holds.
    public static func sizeText(_ url: URL) -> String {
        var st = stat()
        guard stat(url.path, &st) == 0 else { return "size unknown" }
        var virtual = UInt64(st.st_size)
        if let h = FileHandle(forReadingAtPath: url.path), let head = try? h.read(upToCount: 32), head.count == 32,
            head.prefix(4) == Data([0x51, 0x46, 0x49, 0xFB])
        {
            virtual = head[24..<32].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
            try? h.close()
        }
        return "\(bytes(virtual)) disk, \(bytes(UInt64(st.st_blocks) * 512)) in use"
    }

    public static func sizeText(bytes n: UInt64) -> String { bytes(n) }

    static func bytes(_ n: UInt64) -> String {
        let v = Double(n)
        switch v {
        case Double(1 << 30)...: return String(format: "%.1f GiB", v / Double(1 << 30))
        case Double(1 << 20)...: return String(format: "%.1f MiB", v / Double(1 << 20))
        default: return String(format: "%.0f KiB", v / 1024)
        }
    }
}

/// The folders of backup/, newest first.
public struct BackupStore: Sendable {
    public struct Entry: Sendable, Codable, Equatable {
        public var name: String
        public var bytes: UInt64
        /// "guests/guest0001", "config/hv.config", …
        public var holds: [String]
    }

    public let layout: HostLayout
    public init(layout: HostLayout) { self.layout = layout }

    public func entries() -> [Entry] {
        let fm = FileManager.default
        let names = ((try? fm.contentsOfDirectory(atPath: layout.backupDir.path)) ?? []).filter { !$0.hasPrefix(".") }
        return names.sorted(by: >).compactMap { name in
            let dir = layout.backupDir.appendingPathComponent(name)
            var isDir: ObjCBool = false
            guard fm.fileExists(atPath: dir.path, isDirectory: &isDir), isDir.boolValue else { return nil }
            var holds: [String] = []
            for top in ["guests", "config"] {
                let items = ((try? fm.contentsOfDirectory(atPath: dir.appendingPathComponent(top).path)) ?? []).sorted()
                holds += items.map { "\(top)/\($0)" }
            }
            return Entry(name: name, bytes: Self.size(of: dir), holds: holds)
        }
    }

    /// Bytes on disk (sparse disk images count what they use), links not followed.
    static func size(of dir: URL) -> UInt64 {
        guard let e = FileManager.default.enumerator(at: dir, includingPropertiesForKeys: [.totalFileAllocatedSizeKey, .isSymbolicLinkKey]) else { return 0 }
        var total: UInt64 = 0
        for case let url as URL in e {
            let v = try? url.resourceValues(forKeys: [.totalFileAllocatedSizeKey, .isSymbolicLinkKey])
            if v?.isSymbolicLink == true { continue }
            total += UInt64(v?.totalFileAllocatedSize ?? 0)
        }
        return total
    }
}
