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
    /// A real-time qualification of an RT-Linux guest: started, followed, stopped early.
    case qualifyStart(String), qualifyStatus(String), qualifyStop(String)
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

    /// One endpoint's declaration: its method, its path after /v1 with `*`
    /// for each parameter, and the case it makes from the parameters. The one
    /// place an endpoint is spelled: `method` and `segments` of a value are
    /// read back from it, and requests are matched against it.
    struct Declaration: Sendable {
        /// The values in a path's `*` places, in order.
        struct Parameters {
            var values: [String]
            var first: String { values.first ?? "" }
            var second: String { values.dropFirst().first ?? "" }
        }

        var method: String
        var segments: [String]
        var make: @Sendable (Parameters) -> Endpoint

        init(_ method: String, _ path: String, make: @escaping @Sendable (Parameters) -> Endpoint) {
            self.method = method
            self.segments = path.split(separator: "/").map(String.init)
            self.make = make
        }

        /// The case this declaration makes (its name, as `Mirror` spells it).
        var caseName: String { Endpoint.caseName(of: make(Parameters(values: ["*", "*"]))) }
    }

    static let declarations: [Declaration] = [
        .init("GET", "vmf") { _ in .vmfStatus },
        .init("POST", "vmf/load") { _ in .vmfLoad },
        .init("POST", "vmf/unload") { _ in .vmfUnload },
        .init("GET", "guests") { _ in .guestList },
        .init("POST", "guests") { _ in .guestCreate },
        .init("GET", "guests/*") { p in .guestStatus(p.first) },
        .init("POST", "guests/*/start") { p in .guestStart(p.first) },
        .init("POST", "guests/*/stop") { p in .guestStop(p.first) },
        .init("POST", "guests/*/restart") { p in .guestRestart(p.first) },
        .init("POST", "guests/*/resume") { p in .guestResume(p.first) },
        .init("GET", "guests/*/deletion") { p in .guestDeletionPlan(p.first) },
        .init("POST", "guests/*/delete") { p in .guestDelete(p.first) },
        .init("POST", "guests/*/screenshot") { p in .guestScreenshot(p.first) },
        .init("POST", "guests/*/console") { p in .guestConsole(p.first) },
        .init("GET", "guests/*/settings") { p in .guestSettings(p.first) },
        .init("PATCH", "guests/*/settings") { p in .guestUpdateSettings(p.first) },
        .init("POST", "guests/*/cores") { p in .guestCores(p.first) },
        .init("GET", "guests/*/snapshots") { p in .snapshotList(p.first) },
        .init("POST", "guests/*/snapshots") { p in .snapshotCreate(p.first) },
        .init("POST", "guests/*/snapshots/*/revert") { p in .snapshotRevert(p.first, p.second) },
        .init("POST", "guests/*/backup") { p in .guestBackup(p.first) },
        .init("GET", "guests/*/backup") { p in .guestBackupProgress(p.first) },
        .init("POST", "guests/*/qualify") { p in .qualifyStart(p.first) },
        .init("GET", "guests/*/qualify") { p in .qualifyStatus(p.first) },
        .init("POST", "guests/*/qualify/stop") { p in .qualifyStop(p.first) },
        .init("POST", "backups/restore") { _ in .guestRestore },
        .init("POST", "backups/prune") { _ in .backupPrune },
        .init("POST", "examples/*/open") { p in .exampleOpen(p.first) },
        .init("POST", "guests/*/snapshots/*/delete") { p in .snapshotDelete(p.first, p.second) },
        .init("GET", "comm") { _ in .commStatus },
        .init("POST", "net/attach") { _ in .netAttach },
        .init("POST", "net/detach") { _ in .netDetach },
        .init("POST", "events/*/signal") { p in .eventSignal(p.first) },
        .init("POST", "events/*/wait") { p in .eventWait(p.first) },
        .init("GET", "projects") { _ in .projectList },
        .init("POST", "projects") { _ in .projectSave },
        .init("GET", "projects/*/preview") { p in .projectPreview(p.first) },
        .init("POST", "projects/*/sync") { p in .projectSync(p.first) },
        .init("GET", "templates") { _ in .templates },
        .init("GET", "host") { _ in .host },
        .init("GET", "manager") { _ in .manager },
        .init("POST", "manager/login-code") { _ in .managerLoginCode },
        .init("POST", "manager/login") { _ in .managerLogin },
        .init("POST", "manager/rotate") { _ in .managerRotate },
        .init("POST", "daemon/shutdown") { _ in .daemonShutdown },
        .init("GET", "lifecycle") { _ in .lifecycle },
        .init("GET", "autostart") { _ in .autostart },
        .init("PUT", "autostart") { _ in .autostartSet },
        .init("POST", "host/reset") { _ in .resetHost },
        .init("POST", "host/bridges/delete") { _ in .bridgesDelete },
        .init("GET", "host/devices") { _ in .hostDevices },
        .init("POST", "events/session") { _ in .eventSession },
        .init("GET", "metrics") { _ in .metrics },
        .init("POST", "projects/*/plan") { p in .projectPlan(p.first) },
        .init("PUT", "projects/*") { p in .projectStore(p.first) },
        .init("GET", "watch") { _ in .watch },
        .init("GET", "guests/*/console/ws") { p in .consoleSocket(p.first) },
        .init("GET", "guests/*/display/ws") { p in .displaySocket(p.first) },
        .init("POST", "tickets") { _ in .ticket },
    ]

    /// Declarations by the name of the case they make.
    private static let byCase: [String: Declaration] = Dictionary(declarations.map { ($0.caseName, $0) }, uniquingKeysWith: { a, _ in a })

    static func caseName(of e: Endpoint) -> String {
        Mirror(reflecting: e).children.first?.label ?? String(describing: e)
    }

    /// The value's parameters, in order (none, one, or the two of a snapshot).
    private var parameters: [String] {
        guard let value = Mirror(reflecting: self).children.first?.value else { return [] }
        if let one = value as? String { return [one] }
        return Mirror(reflecting: value).children.compactMap { $0.value as? String }
    }

    private var declaration: Declaration {
        // Every case has one (HTTPWireTests checks it); a missing one would be a programming error.
        Self.byCase[Self.caseName(of: self)] ?? Declaration("GET", "missing-declaration") { _ in self }
    }

    public var method: String { declaration.method }

    /// The path's segments after /v1, not encoded.
    public var segments: [String] {
        var values = parameters.makeIterator()
        return declaration.segments.map { $0 == "*" ? values.next() ?? "" : $0 }
    }

    /// The request target, each segment percent-encoded.
    public var path: String { "/v1/" + segments.map(HTTPHead.percentEncode).joined(separator: "/") }

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
        for p in declarations where p.segments.count == rest.count {
            var parameters: [String] = []
            let fits = zip(p.segments, rest).allSatisfy { pat, seg in
                if pat == "*" {
                    parameters.append(seg)
                    return !seg.isEmpty
                }
                return pat == seg
            }
            guard fits else { continue }
            if p.method == method { return .endpoint(p.make(.init(values: parameters))) }
            allowed.append(p.method)
        }
        return allowed.isEmpty ? .notFound : .methodNotAllowed(allowed: allowed.sorted())
    }
}
