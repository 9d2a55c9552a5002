import Foundation
import HVCore

/// Parsed configuration files, kept until a file changes (size or
/// modification time): the guests page reads 50 guest folders per request.
final class ConfigCache<Value>: @unchecked Sendable {
    /// The files' stamps when `value` was loaded from them.
    private let cached = Monitor<(stamp: [String], value: Value)?>(nil)

    /// The cached value while `files` are unchanged, else `load()` again.
    func get(_ files: [URL], load: () throws -> Value) rethrows -> Value {
        let now = files.map { url -> String in
            guard let a = try? FileManager.default.attributesOfItem(atPath: url.path) else { return "-" }
            let m = (a[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0
            return "\((a[.size] as? NSNumber)?.intValue ?? 0)@\(m)"
        }
        if let c = cached.withLock({ $0 }), c.stamp == now { return c.value }
        let v = try load()
        cached.withLock { $0 = (now, v) }
        return v
    }
}
