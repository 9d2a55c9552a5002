import Foundation

/// The size of a file and a bounded read of it from an offset (console logs).
enum FileSize {
    static func of(_ url: URL) -> UInt64 {
        ((try? FileManager.default.attributesOfItem(atPath: url.path))?[.size] as? NSNumber)?.uint64Value ?? 0
    }

    static func read(_ url: URL, from offset: UInt64, max: Int = 1 << 20) -> Data {
        guard let h = FileHandle(forReadingAtPath: url.path) else { return Data() }
        defer { try? h.close() }
        try? h.seek(toOffset: offset)
        return (try? h.read(upToCount: max)) ?? Data()
    }
}
