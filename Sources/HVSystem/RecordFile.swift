import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// One of hvd's records (run/*.json: what it holds of the host, what it
/// loaded, what a guest's run is): written atomically with its format
/// number, `{"format": N, "record": …}`, and read back without ever
/// mistaking damage for "nothing recorded". A file that does not decode is
/// renamed aside (`NAME.damaged-<time>`, kept for whoever looks into it)
/// and reported through `RecordFile.reporter` (hvd: its log and a
/// `record-damaged` event); a file of a newer format (a downgrade) is left
/// as it is, reported, and never written over. A file without the envelope
/// is an older hv's (format 0) and is read as it is: the next write
/// migrates it.
public struct RecordFile<Value: Codable>: Sendable {
    public let url: URL
    /// What the record is, for the report: "the PCI devices hv holds".
    public let what: String

    /// The format this hv writes; an older one is migrated on read.
    public static var format: Int { 1 }

    public init(_ url: URL, what: String) {
        self.url = url
        self.what = what
    }

    public enum Reading {
        case absent
        case value(Value)
        /// Did not decode: moved aside to `aside` (nil: it could not even be moved).
        case damaged(aside: URL?, why: String)
        /// Written by a newer hv: left in place.
        case newer(format: Int)
    }

    private struct Envelope<V: Codable>: Codable {
        var format: Int
        var record: V
    }
    private struct FormatOnly: Decodable { var format: Int }

    /// The record, or nil when there is none or it could not be read (then reported).
    public var value: Value? {
        if case .value(let v) = read() { return v }
        return nil
    }

    public func read() -> Reading {
        guard let data = try? Data(contentsOf: url) else { return .absent }
        if let envelope = try? JSONDecoder.iso8601.decode(Envelope<Value>.self, from: data), envelope.format <= Self.format {
            return .value(envelope.record)
        }
        if let found = try? JSONDecoder().decode(FormatOnly.self, from: data), found.format > Self.format {
            RecordFiles.report(
                url,
                "\(url.path) (\(what)) was written by a newer hv (format \(found.format); this one reads up to \(Self.format)): "
                    + "it is left as it is and not written over; install that hv again, or move the file away to start afresh")
            return .newer(format: found.format)
        }
        if let legacy = try? JSONDecoder.iso8601.decode(Value.self, from: data) { return .value(legacy) }
        let why = Self.problem(data)
        // Only hvd, the records' one writer, moves a damaged one aside; a command only says so.
        guard RecordFiles.isWriter(of: url) else {
            RecordFiles.report(url, "\(url.path) (\(what)) is damaged (\(why)); hvd keeps it aside when it next reads it")
            return .damaged(aside: nil, why: why)
        }
        let aside = URL(fileURLWithPath: url.path + ".damaged-" + Timestamp.compact() + "-" + String(UInt16.random(in: 0...UInt16.max), radix: 16))
        let moved = rename(url.path, aside.path) == 0
        RecordFiles.report(
            url,
            "\(url.path) (\(what)) is damaged (\(why)): "
                + (moved ? "kept as \(aside.path); hv goes on without it" : "it could not be moved aside (\(String(cString: strerror(errno))))"))
        return .damaged(aside: moved ? aside : nil, why: why)
    }

    /// Writes the record atomically in this hv's format; refuses to replace a newer hv's.
    public func write(_ value: Value, mode: mode_t = 0o600) throws {
        if let data = try? Data(contentsOf: url), let found = try? JSONDecoder().decode(FormatOnly.self, from: data), found.format > Self.format {
            throw HVError(
                .conflict, "\(url.path) (\(what)) was written by a newer hv (format \(found.format)); this one does not write over it",
                hint: "install that hv again; nothing was changed")
        }
        let e = JSONEncoder.iso8601
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
        try AtomicFile.write(try e.encode(Envelope(format: Self.format, record: value)), to: url, mode: mode)
    }

    public func remove() { unlink(url.path) }

    /// Why `data` is no JSON record, in a few words.
    static func problem(_ data: Data) -> String {
        if data.isEmpty { return "empty" }
        guard (try? JSONSerialization.jsonObject(with: data)) != nil else { return "not JSON (\(data.count) bytes; cut short?)" }
        return "not the record hv expects"
    }
}

/// Where damaged and newer records are reported: hvd registers itself for
/// its host root at start (its log and events), and so becomes the one that
/// moves that root's damaged records aside; elsewhere (a command) they are
/// reported on standard error and left where they are.
public enum RecordFiles {
    private static let sinks = Monitor<[String: @Sendable (String) -> Void]>([:])

    /// `report` hears of every record under `root` that cannot be read.
    public static func setReporter(for root: URL, _ report: @escaping @Sendable (String) -> Void) {
        sinks.withLock { $0[root.standardizedFileURL.path] = report }
    }

    private static func sink(for url: URL) -> (@Sendable (String) -> Void)? {
        let path = url.standardizedFileURL.path
        return sinks.withLock { all in all.first { path.hasPrefix($0.key + "/") }?.value }
    }

    static func isWriter(of url: URL) -> Bool { sink(for: url) != nil }

    static func report(_ url: URL, _ message: String) {
        if let report = sink(for: url) {
            report(message)
        } else {
            FileHandle.standardError.write(Data(("hv: " + message + "\n").utf8))
        }
    }
}

extension JSONDecoder {
    /// Dates as ISO 8601, as hv's records have always written them.
    static var iso8601: JSONDecoder {
        let d = JSONDecoder()
        d.dateDecodingStrategy = .iso8601
        return d
    }
}

extension JSONEncoder {
    static var iso8601: JSONEncoder {
        let e = JSONEncoder()
        e.dateEncodingStrategy = .iso8601
        return e
    }
}
