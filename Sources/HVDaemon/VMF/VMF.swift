import Foundation
import HVAPI
import HVCore
import HVEngine
import HVHost

/// The VMF's loaded state: which hypervisor configuration is loaded and the
/// cores it reserves. Kept in run/vmf.json so that a restarted hvd is still
/// loaded with the same configuration.
final class VMF: Sendable {
    struct Record: Codable {
        var configPath: String
        var config: HypervisorConfig
        var loadedAt: Date
        var reservedCores: [String: [Int]]
        var notes: [String]
        /// The kernel boot it was loaded in: after a reboot the VMF is not loaded
        /// (its cpusets and IRQ settings are gone with the old boot).
        var bootID: String?
    }

    static var bootID: String? {
        (try? String(contentsOfFile: "/proc/sys/kernel/random/boot_id", encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// What is loaded, and its communication subsystem.
    private struct Loaded {
        var record: Record?
        var comm: CommRuntime?
    }
    private let loaded: Monitor<Loaded>
    private let layout: HostLayout
    private let facts: HostFacts

    init(layout: HostLayout, facts: HostFacts) {
        self.layout = layout
        self.facts = facts
        var state = Loaded()
        let reading = Self.record(layout).read()
        if case .value(let r) = reading { state.record = r }
        if let r = state.record, r.bootID != Self.bootID {
            // Loaded before a reboot: nothing of it is in force any more.
            state.record = nil
            try? FileManager.default.removeItem(at: layout.vmfState)
            try? FileManager.default.removeItem(at: layout.partitionState)
        }
        // Nothing loaded: a namespace left by an hvd that died while unloading goes
        // (not when the record was damaged: guests may still be on that network).
        if case .absent = reading { VMFNetwork(layout: layout).remove() }
        // A new hvd under a loaded VMF brings the subsystem back (regions keep
        // their content; the network and the guests' ports on it never stopped).
        if let r = state.record {
            let rt = CommRuntime(layout: layout, config: r.config.communication, guestIDs: CommRuntime.ids(r.config))
            do {
                try rt.start()
                state.comm = rt
            } catch { state.record?.notes.append("communication subsystem: \(error)") }
        }
        loaded = Monitor(state)
    }

    static func record(_ layout: HostLayout) -> RecordFile<Record> { RecordFile(layout.vmfState, what: "the loaded VMF") }

    var current: Record? { loaded.withLock { $0.record } }
    /// The communication subsystem of the loaded configuration.
    var comm: CommRuntime? { loaded.withLock { $0.comm } }

    /// Validates the configuration and every guest folder it names, then loads it.
    func load(configPath: String) throws -> Record {
        let url = URL(fileURLWithPath: configPath)
        let config = try HypervisorConfig.load(url)
        var vcpus: [String: Int] = [:]
        for g in config.guests {
            let folder = layout.guest(g.folder)
            guard folder.exists else {
                throw HVError(
                    .notFound, "\(url.path) names guest \(g.folder), but \(folder.guestConfig.path) does not exist",
                    hint: "write the guest folders with hv_sync_example NAME (or the System Manager)")
            }
            vcpus[g.folder] = try GuestConfig.load(from: folder).vcpus
        }
        var (cores, notes) = try config.reservedCores(hostCPUs: facts.cpuCount, vcpus: vcpus, topology: facts.topology)
        // The old subsystem's services go first (the new ones take the same
        // sockets); the network stays, and the new start adapts it to this configuration.
        let old = loaded.withLock { s in
            defer { s.comm = nil }
            return s.comm
        }
        old?.stopKeepingNetwork()
        let runtime = CommRuntime(layout: layout, config: config.communication, guestIDs: CommRuntime.ids(config))
        try runtime.start()
        loaded.withLock { $0.comm = runtime }
        let rt = Set(cores.values.flatMap { $0 })
        notes += partition.apply(rtCores: rt.sorted(), hostCores: (0..<facts.cpuCount).filter { !rt.contains($0) })
        let r = Record(
            configPath: url.path, config: config, loadedAt: Date(), reservedCores: cores, notes: notes,
            bootID: Self.bootID)
        try Self.record(layout).write(r)
        loaded.withLock { $0.record = r }
        return r
    }

    /// Loading again under running RTOS guests would redo the partition
    /// beneath them: the same configuration is kept (the note says so), another
    /// is refused. nil: go on and load.
    func keepsLoaded(_ path: String, runningRTOS running: [String]) throws -> String? {
        guard let current, !running.isEmpty else { return nil }
        guard current.configPath == path else {
            throw HVError(
                .conflict, "the VMF is loaded with \(current.configPath) and RTOS guests run: \(running.joined(separator: ", "))",
                hint: "stop them first (hv_vmf_stop), then load the other configuration")
        }
        return "already loaded; RTOS guests run (\(running.joined(separator: ", "))), so nothing was reloaded"
    }

    /// Unloading stops the RTOS guests: only when the caller said so.
    static func checkUnload(runningRTOS running: [String], stopGuests: Bool) throws {
        guard running.isEmpty || stopGuests else {
            throw HVError(
                .needsConfirmation, "RTOS guests are running: \(running.joined(separator: ", "))",
                hint: "hv_vmf_stop stops them after you confirm (or with --yes)")
        }
    }

    /// Gives the RT cores back; returns what the host refused.
    @discardableResult
    func unload() -> [String] {
        let notes = partition.release()
        let c = loaded.withLock { s in
            defer { s = Loaded() }
            return s.comm
        }
        c?.stop()
        try? FileManager.default.removeItem(at: layout.vmfState)
        return notes
    }

    var partition: CPUPartition { CPUPartition(stateFile: layout.partitionState) }

    func status() -> VMFStatus {
        let r = current
        return VMFStatus(
            loaded: r != nil, config: r?.configPath,
            loadedAt: r.map { Timestamp.iso8601($0.loadedAt) },
            reservedCores: r?.reservedCores ?? [:], notes: r?.notes ?? [], daemonPid: Int(getpid()),
            cpuCount: facts.cpuCount,
            partition: r == nil
                ? nil
                : partition.current.map {
                    VMFPartition(mode: $0.mode, rtCores: $0.rtCores, group: $0.rtGroup, interruptsMoved: $0.irqs.count)
                })
    }

    /// All cores that no RTOS guest reserved.
    func hostCores() -> [Int] {
        let reserved = Set((current?.reservedCores.values.flatMap { $0 }) ?? [])
        let all = Array(0..<facts.cpuCount).filter { !reserved.contains($0) }
        return all.isEmpty ? Array(0..<facts.cpuCount) : all
    }
}
