import Foundation
import HVCore

/// Every endpoint of hvd's API, once: the CLI builds its requests from these
/// values and the server's routing matches requests back to them, so an
/// endpoint cannot be spelled two ways. Parameters (guest references, event
/// and project names) travel percent-encoded, so any name works.
public enum Endpoint: Hashable, Sendable {
    case vmfStatus, vmfLoad, vmfUnload
    case guestList, guestCreate
    case guestStatus(String), guestStart(String), guestStop(String), guestRestart(String), guestResume(String)
    case guestDeletionPlan(String), guestDelete(String), guestScreenshot(String), guestConsole(String)
    case guestSettings(String), guestUpdateSettings(String), guestCores(String)
    /// A guest's snapshots: (guest, snapshot) where two are named.
    case snapshotList(String), snapshotCreate(String), snapshotRevert(String, String), snapshotDelete(String, String)
    /// A guest's backup (and its progress); a restore from an archive.
    case guestBackup(String), guestBackupProgress(String), guestRestore
    /// backup/'s oldest folders deleted; an example opened over the host's guests.
    case backupPrune, exampleOpen(String)
    case commStatus, netAttach, netDetach
    case eventSignal(String), eventWait(String), eventSession
    case projectList, projectSave, projectPreview(String), projectSync(String)
    case templates, host, manager, daemonShutdown
    case lifecycle, autostart, autostartSet, resetHost, metrics, bridgesDelete, hostDevices
    case projectPlan(String), projectStore(String)
    /// The System Manager's credentials: a login code for its address, the code's exchange, a token's rotation.
    case managerLoginCode, managerLogin, managerRotate
    /// The System Manager's own (TCP listener only).
    case watch, consoleSocket(String), displaySocket(String), ticket

    public var method: String {
        switch self {
        case .vmfStatus, .guestList, .guestStatus, .guestDeletionPlan, .guestSettings, .commStatus,
             .projectList, .projectPreview, .templates, .host, .manager, .watch, .consoleSocket, .displaySocket,
             .lifecycle, .autostart, .metrics, .hostDevices, .snapshotList, .guestBackupProgress: "GET"
        case .guestUpdateSettings: "PATCH"
        case .autostartSet, .projectStore: "PUT"
        default: "POST"
        }
    }

    /// The path's segments after /v1, not encoded.
    public var segments: [String] {
        switch self {
        case .vmfStatus: ["vmf"]
        case .vmfLoad: ["vmf", "load"]
        case .vmfUnload: ["vmf", "unload"]
        case .guestList, .guestCreate: ["guests"]
        case .guestStatus(let g): ["guests", g]
        case .guestStart(let g): ["guests", g, "start"]
        case .guestStop(let g): ["guests", g, "stop"]
        case .guestRestart(let g): ["guests", g, "restart"]
        case .guestResume(let g): ["guests", g, "resume"]
        case .guestDeletionPlan(let g): ["guests", g, "deletion"]
        case .guestDelete(let g): ["guests", g, "delete"]
        case .guestScreenshot(let g): ["guests", g, "screenshot"]
        case .guestConsole(let g): ["guests", g, "console"]
        case .guestSettings(let g), .guestUpdateSettings(let g): ["guests", g, "settings"]
        case .guestCores(let g): ["guests", g, "cores"]
        case .snapshotList(let g), .snapshotCreate(let g): ["guests", g, "snapshots"]
        case .guestBackup(let g), .guestBackupProgress(let g): ["guests", g, "backup"]
        case .guestRestore: ["backups", "restore"]
        case .backupPrune: ["backups", "prune"]
        case .exampleOpen(let e): ["examples", e, "open"]
        case .snapshotRevert(let g, let s): ["guests", g, "snapshots", s, "revert"]
        case .snapshotDelete(let g, let s): ["guests", g, "snapshots", s, "delete"]
        case .commStatus: ["comm"]
        case .netAttach: ["net", "attach"]
        case .netDetach: ["net", "detach"]
        case .eventSignal(let e): ["events", e, "signal"]
        case .eventWait(let e): ["events", e, "wait"]
        case .eventSession: ["events", "session"]
        case .projectList, .projectSave: ["projects"]
        case .projectPreview(let p): ["projects", p, "preview"]
        case .projectSync(let p): ["projects", p, "sync"]
        case .templates: ["templates"]
        case .host: ["host"]
        case .manager: ["manager"]
        case .managerLoginCode: ["manager", "login-code"]
        case .managerLogin: ["manager", "login"]
        case .managerRotate: ["manager", "rotate"]
        case .daemonShutdown: ["daemon", "shutdown"]
        case .lifecycle: ["lifecycle"]
        case .autostart, .autostartSet: ["autostart"]
        case .resetHost: ["host", "reset"]
        case .bridgesDelete: ["host", "bridges", "delete"]
        case .hostDevices: ["host", "devices"]
        case .metrics: ["metrics"]
        case .projectPlan(let p): ["projects", p, "plan"]
        case .projectStore(let p): ["projects", p]
        case .watch: ["watch"]
        case .consoleSocket(let g): ["guests", g, "console", "ws"]
        case .displaySocket(let g): ["guests", g, "display", "ws"]
        case .ticket: ["tickets"]
        }
    }

    /// The request target, each segment percent-encoded.
    public var path: String { "/v1/" + segments.map(HTTPHead.percentEncode).joined(separator: "/") }

    /// A parameter's place is `*` in a pattern; `make` gets the first, `make2` both of two.
    struct Pattern: Sendable {
        var method: String
        var segments: [String]
        var make: @Sendable ([String]) -> Endpoint

        init(method: String, segments: [String], make: @escaping @Sendable (String) -> Endpoint) {
            self.method = method
            self.segments = segments
            self.make = { make($0.first ?? "") }
        }

        init(method: String, segments: [String], make2: @escaping @Sendable (String, String) -> Endpoint) {
            self.method = method
            self.segments = segments
            self.make = { make2($0.first ?? "", $0.dropFirst().first ?? "") }
        }
    }

    static let patterns: [Pattern] = [
        .init(method: "GET", segments: ["vmf"]) { _ in .vmfStatus },
        .init(method: "POST", segments: ["vmf", "load"]) { _ in .vmfLoad },
        .init(method: "POST", segments: ["vmf", "unload"]) { _ in .vmfUnload },
        .init(method: "GET", segments: ["guests"]) { _ in .guestList },
        .init(method: "POST", segments: ["guests"]) { _ in .guestCreate },
        .init(method: "GET", segments: ["guests", "*"]) { .guestStatus($0) },
        .init(method: "POST", segments: ["guests", "*", "start"]) { .guestStart($0) },
        .init(method: "POST", segments: ["guests", "*", "stop"]) { .guestStop($0) },
        .init(method: "POST", segments: ["guests", "*", "restart"]) { .guestRestart($0) },
        .init(method: "POST", segments: ["guests", "*", "resume"]) { .guestResume($0) },
        .init(method: "GET", segments: ["guests", "*", "deletion"]) { .guestDeletionPlan($0) },
        .init(method: "POST", segments: ["guests", "*", "delete"]) { .guestDelete($0) },
        .init(method: "POST", segments: ["guests", "*", "screenshot"]) { .guestScreenshot($0) },
        .init(method: "POST", segments: ["guests", "*", "console"]) { .guestConsole($0) },
        .init(method: "GET", segments: ["guests", "*", "settings"]) { .guestSettings($0) },
        .init(method: "PATCH", segments: ["guests", "*", "settings"]) { .guestUpdateSettings($0) },
        .init(method: "POST", segments: ["guests", "*", "cores"]) { .guestCores($0) },
        .init(method: "GET", segments: ["guests", "*", "snapshots"]) { .snapshotList($0) },
        .init(method: "POST", segments: ["guests", "*", "snapshots"]) { .snapshotCreate($0) },
        .init(method: "POST", segments: ["guests", "*", "snapshots", "*", "revert"]) { .snapshotRevert($0, $1) },
        .init(method: "POST", segments: ["guests", "*", "backup"]) { .guestBackup($0) },
        .init(method: "GET", segments: ["guests", "*", "backup"]) { .guestBackupProgress($0) },
        .init(method: "POST", segments: ["backups", "restore"]) { _ in .guestRestore },
        .init(method: "POST", segments: ["backups", "prune"]) { _ in .backupPrune },
        .init(method: "POST", segments: ["examples", "*", "open"]) { .exampleOpen($0) },
        .init(method: "POST", segments: ["guests", "*", "snapshots", "*", "delete"]) { .snapshotDelete($0, $1) },
        .init(method: "GET", segments: ["comm"]) { _ in .commStatus },
        .init(method: "POST", segments: ["net", "attach"]) { _ in .netAttach },
        .init(method: "POST", segments: ["net", "detach"]) { _ in .netDetach },
        .init(method: "POST", segments: ["events", "*", "signal"]) { .eventSignal($0) },
        .init(method: "POST", segments: ["events", "*", "wait"]) { .eventWait($0) },
        .init(method: "GET", segments: ["projects"]) { _ in .projectList },
        .init(method: "POST", segments: ["projects"]) { _ in .projectSave },
        .init(method: "GET", segments: ["projects", "*", "preview"]) { .projectPreview($0) },
        .init(method: "POST", segments: ["projects", "*", "sync"]) { .projectSync($0) },
        .init(method: "GET", segments: ["templates"]) { _ in .templates },
        .init(method: "GET", segments: ["host"]) { _ in .host },
        .init(method: "GET", segments: ["manager"]) { _ in .manager },
        .init(method: "POST", segments: ["manager", "login-code"]) { _ in .managerLoginCode },
        .init(method: "POST", segments: ["manager", "login"]) { _ in .managerLogin },
        .init(method: "POST", segments: ["manager", "rotate"]) { _ in .managerRotate },
        .init(method: "POST", segments: ["daemon", "shutdown"]) { _ in .daemonShutdown },
        .init(method: "GET", segments: ["lifecycle"]) { _ in .lifecycle },
        .init(method: "GET", segments: ["autostart"]) { _ in .autostart },
        .init(method: "PUT", segments: ["autostart"]) { _ in .autostartSet },
        .init(method: "POST", segments: ["host", "reset"]) { _ in .resetHost },
        .init(method: "POST", segments: ["host", "bridges", "delete"]) { _ in .bridgesDelete },
        .init(method: "GET", segments: ["host", "devices"]) { _ in .hostDevices },
        .init(method: "POST", segments: ["events", "session"]) { _ in .eventSession },
        .init(method: "GET", segments: ["metrics"]) { _ in .metrics },
        .init(method: "POST", segments: ["projects", "*", "plan"]) { .projectPlan($0) },
        .init(method: "PUT", segments: ["projects", "*"]) { .projectStore($0) },
        .init(method: "GET", segments: ["watch"]) { _ in .watch },
        .init(method: "GET", segments: ["guests", "*", "console", "ws"]) { .consoleSocket($0) },
        .init(method: "GET", segments: ["guests", "*", "display", "ws"]) { .displaySocket($0) },
        .init(method: "POST", segments: ["tickets"]) { _ in .ticket },
    ]

    public enum Match: Equatable, Sendable {
        case endpoint(Endpoint)
        /// The path names an endpoint, the method does not: answer 405 with these.
        case methodNotAllowed(allowed: [String])
        case notFound
    }

    /// `segments`: the decoded path segments, "v1" first.
    public static func match(method: String, segments: [String]) -> Match {
        guard segments.first == "v1", segments.count >= 2, segments.count <= 6 else { return .notFound }
        let rest = Array(segments.dropFirst())
        var allowed: [String] = []
        for p in patterns where p.segments.count == rest.count {
            var parameters: [String] = []
            let fits = zip(p.segments, rest).allSatisfy { pat, seg in
                if pat == "*" { parameters.append(seg); return !seg.isEmpty }
                return pat == seg
            }
            guard fits else { continue }
            if p.method == method { return .endpoint(p.make(parameters)) }
            allowed.append(p.method)
        }
        return allowed.isEmpty ? .notFound : .methodNotAllowed(allowed: allowed.sorted())
    }
}
