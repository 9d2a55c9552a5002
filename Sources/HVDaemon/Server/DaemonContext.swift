import Foundation
import HVAPI
import HVCore
import HVEngine
import HVHost

/// What every part of hvd shares: the layout, host facts, the VMF and the
/// guest supervisors (one per guest folder, made on first use).
final class DaemonContext: @unchecked Sendable {
    let layout: HostLayout
    let facts: HostFacts
    let vmf: VMF
    let log: Logger
    /// What happened, for `hv events` (and every event a line in the log).
    let events: LifecycleLog
    /// API request counts for GET /v1/metrics.
    let metrics = DaemonMetrics()
    let startedAt = Date()
    /// Where the System Manager listens (nil: it could not start; `managerProblem` says why).
    var managerPort: Int? {
        get { manager.withLock { $0.port } }
        set { manager.withLock { $0.port = newValue } }
    }
    var managerProblem: String? {
        get { manager.withLock { $0.problem } }
        set { manager.withLock { $0.problem = newValue } }
    }
    /// The System Manager's tokens and login codes (nil until it starts).
    var credentials: ManagerCredentials? {
        get { manager.withLock { $0.credentials } }
        set { manager.withLock { $0.credentials = newValue } }
    }
    private let manager = Monitor<(port: Int?, problem: String?, credentials: ManagerCredentials?)>((nil, nil, nil))
    /// hvd is the one writer of hv.config and the guest folders' files: every
    /// read-modify-write of them (creating, editing, moving cores, deleting,
    /// syncing a project, loading and unloading the VMF) runs under this lock,
    /// so two requests at once can neither lose an update nor see half of one.
    private let configWriter = NSLock()

    func writingConfig<T>(_ body: () throws -> T) rethrows -> T {
        configWriter.lock()
        defer { configWriter.unlock() }
        return try body()
    }
    /// One per guest folder, made on first use and kept.
    private let supervisors = Monitor<[String: GuestSupervisor]>([:])

    init(layout: HostLayout) {
        self.layout = layout
        let log = Logger()
        self.log = log
        events = LifecycleLog(log: log)
        // A record that cannot be read is said loudly, never taken for "nothing recorded".
        RecordFiles.setReporter(for: layout.root) { [events] in events.post(.recordDamaged, $0) }
        facts = HostFacts.probe()
        vmf = VMF(layout: layout, facts: facts)
    }

    func supervisor(_ folder: String) -> GuestSupervisor {
        supervisors.withLock { all in
            if let s = all[folder] { return s }
            let s = GuestSupervisor(folder: layout.guest(folder), ctx: self)
            all[folder] = s
            return s
        }
    }

    func supervisorIfAny(_ folder: String) -> GuestSupervisor? { supervisors.withLock { $0[folder] } }

    var allSupervisors: [GuestSupervisor] { supervisors.withLock { Array($0.values) } }

    /// The guest folders whose QEMU is active (`GuestState.isActive`), sorted.
    func activeGuests() -> [String] { allSupervisors.filter { $0.currentState.isActive }.map(\.folder.name).sorted() }

    /// Guest folders in display order: those of the loaded (or on-disk)
    /// hypervisor configuration by id, then any other folder with a guest.config
    /// or a running guest.
    func guestFolders() -> [String] {
        var ordered: [String] = []
        let config = configInForce()
        // A guest deleted since the VMF loaded is gone unless it still runs.
        ordered += (config?.guests.map(\.folder) ?? []).filter { layout.guest($0).exists || supervisorIfAny($0)?.currentState ?? .stopped != .stopped }
        let onDisk = ((try? FileManager.default.contentsOfDirectory(atPath: layout.guestsDir.path)) ?? [])
            .filter { layout.guest($0).exists }.sorted()
        let running = allSupervisors.filter { $0.currentState != .stopped }.map(\.folder.name).sorted()
        for f in onDisk + running where !ordered.contains(f) { ordered.append(f) }
        return ordered
    }

    /// The loaded configuration's communication subsystem, or the one on disk.
    func communication() -> CommunicationConfig? {
        configInForce()?.communication
    }

    /// The hypervisor configuration in force: the loaded one, else hv.config
    /// on disk (nil when it is missing or does not validate).
    func configInForce() -> HypervisorConfig? { vmf.current?.config ?? configOnDisk() }

    /// config/hv.config as on disk, parsed again only when it changed.
    func configOnDisk() -> HypervisorConfig? {
        try? hvConfigCache.get([layout.hvConfig]) { try HypervisorConfig.load(layout.hvConfig) }
    }
    private let hvConfigCache = ConfigCache<HypervisorConfig>()

    /// Every guest's status, reading the shared configuration once.
    func allStatuses() -> [GuestStatus] {
        let comm = communication()
        return guestFolders().map { supervisor($0).status(comm: comm) }
    }

    func hostInfo() -> HostInfo {
        let hv = configInForce()
        return HostInfo(cpuCount: facts.cpuCount, memoryMiB: HostMemory.totalMiB(), reserveMiB: hv?.remainingHostMemoryMiB ?? 2048)
    }

    func managerSnapshot() -> ManagerSnapshot {
        let hv = configOnDisk()
        let cores = Dictionary(uniqueKeysWithValues: (hv?.guests ?? []).filter { $0.kind == .rtos }.map { ($0.folder, $0.rtCores) })
        return ManagerSnapshot(guests: allStatuses(), vmf: vmf.status(), host: hostInfo(), rtCores: cores)
    }

    /// A guest by folder name or guest name (case-insensitive).
    func resolve(_ ref: String) throws -> GuestSupervisor {
        let folders = guestFolders()
        if folders.contains(ref) { return supervisor(ref) }
        let lower = ref.lowercased()
        if let f = folders.first(where: { $0.lowercased() == lower }) { return supervisor(f) }
        let byName = folders.filter { supervisor($0).status().name.lowercased() == lower }
        if byName.count == 1 { return supervisor(byName[0]) }
        if byName.count > 1 {
            throw HVError(
                .invalidArgument, "\(byName.count) guests are named \"\(ref)\": \(byName.joined(separator: ", "))",
                hint: "name the guest by its folder")
        }
        throw HVError(
            .notFound, "there is no guest \"\(ref)\"",
            hint: folders.isEmpty
                ? "create guests with hv_open_example NAME and hv_sync_example NAME"
                : "the guests are: " + folders.joined(separator: ", "))
    }

    /// Re-adopts the guests that a previous hvd left running.
    /// After a reboot the guests' exchange folders are plain folders again
    /// until mounted: hvd mounts every one that has its image.
    func mountExchangeFolders() {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: layout.guestsDir.path)) ?? []
        for name in names.sorted() where FileManager.default.fileExists(atPath: layout.guest(name).exchangeImage.path) {
            let sup = supervisor(name)
            if let note = ExchangeFolder.provide(sup.folder, identity: sup.identity, sizeMiB: ExchangeFolder.defaultSizeMiB) {
                log.info("\(name): \(note)")
            }
        }
    }

    func adoptRunningGuests() {
        // Read before anything else does: a damaged record is kept aside here, and recovered from below.
        let devicesReading = PCIPassthrough(layout: layout).recordFile.read()
        let usbReading = USBPassthrough(layout: layout).recordFile.read()
        let dirs = (try? FileManager.default.contentsOfDirectory(atPath: layout.runDir.path)) ?? []
        var recorded = Set<String>()
        for d in dirs.sorted() {
            let folder = layout.guest(d)
            guard let rec = RunRecord.load(folder.stateFile) else {
                if let pid = GuestLauncher.endInterruptedStart(folder) {
                    log.info("\(d): a start cut short by hvd's end left QEMU pid \(pid) paused; it was stopped")
                }
                continue
            }
            recorded.insert(d)
            unlink(folder.startingFile.path)
            supervisor(d).adopt(rec)
        }
        let pci = PCIPassthrough(layout: layout), usb = USBPassthrough(layout: layout)
        if case .damaged(let aside?, _) = devicesReading {
            let qemus = Dictionary(
                allSupervisors.compactMap { s in s.status().pid.map { (pid_t($0), s.folder.name) } },
                uniquingKeysWith: { a, _ in a })
            for note in pci.recover(fromDamaged: aside, guests: qemus) { events.post(.recordDamaged, "devices: " + note) }
        }
        if case .damaged = usbReading {
            let users = Dictionary(
                allSupervisors.filter { $0.currentState.isActive }.map { ($0.identity.uid, $0.folder.name) },
                uniquingKeysWith: { a, _ in a })
            for note in usb.recover(guests: users) { events.post(.recordDamaged, "USB devices: " + note) }
        }
        // Devices that a start cut short had already taken go back to the host
        // (a guest with a run record was adopted, or released them itself).
        for guest in Set(pci.record.devices.values.map(\.guest)).union(usb.record.values).subtracting(recorded).sorted() {
            log.info("\(guest): giving back the devices a start cut short had taken")
            pci.release(guest: guest)
            usb.release(guest: guest)
        }
        recoverQualifications()
    }
}
