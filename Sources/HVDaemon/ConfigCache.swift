import Foundation
import HVCore

/// Parsed configuration files, kept until a file changes (size or
/// modification time): the guests page reads 50 guest folders per request.
final class ConfigCache<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var stamp: [String]?
    private var value: Value?

    /// The cached value while `files` are unchanged, else `load()` again.
    func get(_ files: [URL], load: () throws -> Value) rethrows -> Value {
        let now = files.map { url -> String in
            guard let a = try? FileManager.default.attributesOfItem(atPath: url.path) else { return "-" }
            let m = (a[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0
            return "\((a[.size] as? NSNumber)?.intValue ?? 0)@\(m)"
        }
        lock.lock()
        if let v = value, stamp == now { lock.unlock(); return v }
        lock.unlock()
        let v = try load()
        lock.lock(); stamp = now; value = v; lock.unlock()
        return v
    }
}
