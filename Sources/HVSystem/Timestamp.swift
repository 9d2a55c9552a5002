import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// UTC times as text, with the C library's strftime. Foundation's date
/// formatters load ICU's tables, which made hvd's idle resident memory about
/// 9 MiB larger (bench/cli); these formats need none of it.
public enum Timestamp {
    /// "2026-12-01T06:08:18Z"
    public static func iso8601(_ date: Date = Date()) -> String { format(date, "%Y-%m-%dT%H:%M:%SZ") }
    /// "2026-12-01T06:08:18.042Z": orders what happens within one second.
    public static func iso8601Milliseconds(_ date: Date = Date()) -> String {
        let ms = Int((date.timeIntervalSince1970 * 1000).rounded(.down)) % 1000
        return format(date, "%Y-%m-%dT%H:%M:%S") + String(format: ".%03dZ", ms)
    }
    /// "20261201-060818" (backup folders)
    public static func compact(_ date: Date = Date()) -> String { format(date, "%Y%m%d-%H%M%S") }
    /// "06:08:18"
    public static func clock(_ date: Date = Date()) -> String { format(date, "%H:%M:%S") }

    static func format(_ date: Date, _ pattern: String) -> String {
        var t = time_t(date.timeIntervalSince1970.rounded(.down))
        var parts = tm()
        guard gmtime_r(&t, &parts) != nil else { return "\(Int(date.timeIntervalSince1970))" }
        var buffer = [CChar](repeating: 0, count: 64)
        let n = strftime(&buffer, buffer.count, pattern, &parts)
        return String(decoding: buffer.prefix(n).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
