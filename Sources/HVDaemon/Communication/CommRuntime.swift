import Foundation
import HVAPI
import HVCore
import HVEngine
import HVEvents
import HVHost

#if canImport(Glibc)
import Glibc
#endif

/// The communication subsystem while the VMF is loaded: the shared-memory
/// files, the VMF network (a bridge in hv's namespace, VMFNetwork: it needs
/// no hvd to carry frames), the host's seat on it with the guests' clock and
/// package proxy, and the ivshmem server for events. Started at load (and
/// by a new hvd when the VMF is loaded, which finds the network as it was),
/// stopped at unload, which also removes the regions and the network.
final class CommRuntime: Sendable {
    struct NetState: Codable { var attached: Bool }

    let layout: HostLayout
    let config: CommunicationConfig
    /// What start() made: read by requests while stop() may end it.
    private struct Parts {
        /// One doorbell server per set of events (`CommunicationConfig.eventSets`), in set order.
        var events: [IvshmemServer] = []
        var clock: ClockService?
        var packages: PackageProxy?
        var notes: [String] = []
        /// Why the VMF network could not be set up (nil: it is up, or there is none).
        var networkProblem: String?
    }
    private let parts = Monitor(Parts())
    /// Every loaded event, whichever set's table holds it (nil: the configuration declares none).
    var events: EventSets? {
        let servers = parts.withLock { $0.events }
        return servers.isEmpty ? nil : EventSets(servers)
    }
    var clock: ClockService? { parts.withLock { $0.clock } }
    var notes: [String] { parts.withLock { $0.notes } }
    var networkProblem: String? { parts.withLock { $0.networkProblem } }
    var network: VMFNetwork { VMFNetwork(layout: layout) }

    /// Guest folder → its Id in hv.config: whose QEMU user may map which region.
    let guestIDs: [String: Int]

    init(layout: HostLayout, config: CommunicationConfig, guestIDs: [String: Int] = [:]) {
        self.layout = layout
        self.config = config
        self.guestIDs = guestIDs
    }

    static func ids(_ hv: HypervisorConfig) -> [String: Int] {
        Dictionary(hv.guests.map { ($0.folder, $0.id) }, uniquingKeysWith: { a, _ in a })
    }

    var isEmpty: Bool { config.members.isEmpty && config.regions.isEmpty && config.events.isEmpty }

    func start() throws {
        guard !isEmpty else {
            network.remove()
            return
        }
        let group = GuestIdentity.sharedGroup()
        // /dev/shm is everyone's: both levels are checked to be hvd's own.
        try HostPermissions.ensureOwnedDirectory(layout.sharedMemoryDir.deletingLastPathComponent(), group: 0, mode: 0o711)
        try HostPermissions.ensureOwnedDirectory(layout.sharedMemoryDir, group: group, mode: 0o710)
        for r in config.regions { try provideRegion(r) }
        if config.members.isEmpty {
            network.remove()
        } else {
            do {
                let notes = try network.ensure(network: config.network, ports: ports)
                parts.withLock { $0.notes += notes }
                if wasAttached { _ = try? attachHost() }
            } catch {
                // The rest of the VMF (cores, regions, events) stands; the guests start without their card, and say so.
                let why = (error as? HVError).map { $0.message + ($0.hint.map { " (\($0))" } ?? "") } ?? "\(error)"
                parts.withLock {
                    $0.networkProblem = why
                    $0.notes.append("the VMF network could not be set up: \(why); its guests start without their card on it")
                }
            }
        }
        // A server and a table per set of events: a guest's QEMU joins its sets' alone.
        do {
            for set in config.eventSets { try startEvents(set) }
        } catch {
            stopEvents()
            throw error
        }
    }

    private func startEvents(_ set: CommunicationConfig.EventSet) throws {
        let uid = { (folder: String) in GuestIdentity.forGuest(id: self.guestIDs[folder], folder: folder).uid }
        let table = try EventMemory(path: layout.eventsRegion(set: set.number).path, names: set.names)
        let server = try IvshmemServer(
            socketPath: layout.ivshmemSocket(set: set.number).path,
            hostSocketPath: layout.eventsHostSocket(set: set.number).path, table: table,
            allowedUsers: GuestIdentity.dropsPrivileges ? Set(set.guests.map(uid)) : nil,
            warn: { Logger().warning("events \(set.names.joined(separator: ",")): \($0)") })
        // Kept before it starts: a failed start is stopped with the others.
        parts.withLock { $0.events.append(server) }
        try server.start(share: HostPermissions.shareSocket)
    }

    /// The doorbell servers end; their tables' files go (running guests keep
    /// their mappings, and the next start makes fresh tables).
    private func stopEvents() {
        let servers = parts.withLock { p -> [IvshmemServer] in
            defer { p.events = [] }
            return p.events
        }
        for server in servers { server.stop() }
        for set in config.eventSets { unlink(layout.eventsRegion(set: set.number).path) }
    }

    /// Keeps an existing region's content (a guest restart or a new hvd must not lose it).
    private func provideRegion(_ r: CommunicationConfig.Region) throws {
        let path = layout.sharedRegion(r.name).path
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else { throw HVError.posix("create \(path)", errno: errno) }
        defer { close(fd) }
        // Only the QEMUs of the guests the region lists may map it: an access
        // list naming their users. Where the file system has no access lists,
        // the group hv-qemu (every guest's QEMU) is the fallback.
        let users = r.guests.map { GuestIdentity.forGuest(id: guestIDs[$0], folder: $0).uid }
        if GuestIdentity.dropsPrivileges && !PosixACL.grant(fd: fd, readWrite: users) {
            _ = fchown(fd, 0, GuestIdentity.sharedGroup())
            _ = fchmod(fd, 0o660)
            parts.withLock { $0.notes.append("shared memory \(r.name): the file system has no access lists; every guest's QEMU could map it") }
        }
        var st = stat()
        fstat(fd, &st)
        if Int(st.st_size) != r.bytes {
            guard ftruncate(fd, off_t(r.bytes)) == 0 else { throw HVError.posix("size \(path)", errno: errno) }
        }
    }

    /// Each member's TAP and the MAC it may send with.
    var ports: [VMFNetwork.Port] {
        config.members.map { m in
            let number = GuestIdentity.forGuest(id: guestIDs[m.folder], folder: m.folder).uid &- GuestIdentity.uidBase
            return VMFNetwork.Port(tap: VMFNetwork.tapName(guestNumber: number), mac: CommPlan.mac(forFolder: m.folder))
        }
    }

    /// Unload: the regions and the VMF network go too.
    func stop() {
        stopKeepingNetwork()
        network.remove()
        try? FileManager.default.removeItem(at: layout.netState)
        try? FileManager.default.removeItem(at: layout.sharedMemoryDir)
        // /dev/shm/hv too, once no other hv root uses it (rmdir leaves a folder that is not empty).
        rmdir(layout.sharedMemoryDir.deletingLastPathComponent().path)
    }

    /// A reload (and hvd's own end): hvd's services go; the regions, the
    /// network and the guests' ports on it stay, and the next start adopts them.
    func stopKeepingNetwork() {
        stopClock()
        stopEvents()
    }

    var netRecord: RecordFile<NetState> { RecordFile(layout.netState, what: "whether the host's seat on the VMF network is attached") }

    var wasAttached: Bool {
        netRecord.value?.attached ?? false
    }

    func attachHost() throws -> String {
        guard !config.members.isEmpty else {
            throw HVError(.notFound, "the loaded configuration has no virtual network (no RTOS guest, no KVM guest with \"Communication\"=\"yes\")")
        }
        try network.attachHost(config.network)
        try netRecord.write(NetState(attached: true))
        if clock == nil {
            let service = ClockService(members: config.members)
            try service.start(layout: layout, hostAddress: config.network.hostAddress.description)
            parts.withLock { $0.clock = service }
        }
        if parts.withLock({ $0.packages == nil }) {
            // Without it the guests only lack packages: the seat itself is fine.
            let proxy = PackageProxy(layout: layout)
            do {
                try proxy.start(hostAddress: config.network.hostAddress.description)
                parts.withLock { $0.packages = proxy }
            } catch {
                let note = "the guests' package proxy did not start: \((error as? HVError)?.message ?? "\(error)")"
                parts.withLock { $0.notes.append(note) }
            }
        }
        return HostNetwork.namespace(layout)
    }

    /// The host seat's services: the guests' clock and their package proxy.
    private func stopClock() {
        let (service, proxy) = parts.withLock { p -> (ClockService?, PackageProxy?) in
            defer {
                p.clock = nil
                p.packages = nil
            }
            return (p.clock, p.packages)
        }
        service?.stop()
        proxy?.stop()
    }

    func detachHost() {
        stopClock()
        network.detachHost()
        try? FileManager.default.removeItem(at: layout.netState)
    }

    func status(runningGuests: Set<String>) -> CommStatus {
        let net = config.network
        let events = self.events
        return CommStatus(
            subnet: net.cidr, hostAddress: net.hostAddress.description, mode: net.mode,
            bridgeInterface: net.mode == "bridge" ? net.bridgeInterface : nil,
            hostAttached: !config.members.isEmpty && !network.hostAddresses().isEmpty, namespace: HostNetwork.namespace(layout),
            members: config.members.map { .init(folder: $0.folder, address: $0.address.description, mac: CommPlan.mac(forFolder: $0.folder)) },
            regions: config.regions.map { .init(name: $0.name, sizeKiB: $0.sizeKiB, path: layout.sharedRegion($0.name).path, guests: $0.guests) },
            events: config.eventSets.flatMap { set in
                set.events.map { e in
                    .init(
                        name: e.name, guests: e.guests, count: events?.counter(named: e.name) ?? 0,
                        table: set.number, hostSocket: layout.eventsHostSocket(set: set.number).path)
                }
            })
    }
}
