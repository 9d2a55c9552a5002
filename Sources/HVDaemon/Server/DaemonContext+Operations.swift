import Foundation
import HVAPI
import HVCore
import HVEngine
import HVHost

/// The operations that span the VMF and the guests: the context owns both,
/// so the rules that join them live here and in `VMF`, not in the routes.
extension DaemonContext {
    /// The RTOS guests whose QEMU is active, sorted.
    func activeRTOSGuests() -> [String] {
        allSupervisors.map { $0.status() }
            .filter { $0.kind == GuestKind.rtos.rawValue && $0.state.isActive }
            .map(\.folder).sorted()
    }

    /// hv_vmf_start as asked: the configuration the request names, else the
    /// one the guest folder's guest_config.sh names (HV_CONFIG, said in the
    /// notes), else config/hv.config.
    func loadVMF(_ request: VMFLoadRequest) throws -> VMFStatus {
        guard request.config.isEmpty, let ref = request.guest else {
            return try loadVMF(request.config.isEmpty ? layout.hvConfig.path : request.config)
        }
        let named = try GuestScriptVariables.read(try resolve(ref).folder).hypervisorConfig
        guard !named.isEmpty else { return try loadVMF(layout.hvConfig.path) }
        let path = layout.resolve(named).path
        var status = try loadVMF(path)
        status.notes.insert("\(ref) names \(path) in HV_CONFIG", at: 0)
        return status
    }

    /// hv_vmf_start: loads `path`, or keeps what is loaded under running RTOS guests (said in the notes).
    func loadVMF(_ path: String) throws -> VMFStatus {
        if let kept = try vmf.keepsLoaded(path, runningRTOS: activeRTOSGuests()) {
            var s = vmf.status()
            s.notes.insert(kept, at: 0)
            return s
        }
        let before = vmf.current?.config.communication
        let r = try vmf.load(configPath: path)
        events.post(.vmfLoaded, "with \(r.configPath); reserved cores \(r.reservedCores)")
        var status = vmf.status()
        // Running (KVM) guests see a changed network, region or event only after a restart.
        if let before {
            let running = Set(allSupervisors.map { $0.status() }.filter { $0.state == .running }.map(\.folder))
            let affected = r.config.communication.guestsAffected(comparedTo: before).filter { running.contains($0) }
            if !affected.isEmpty {
                status.notes.append("the communication subsystem changed for running guests; restart them to see it: " + affected.joined(separator: ", "))
            }
        }
        return status
    }

    /// hv_vmf_stop: with `stopGuests` the RTOS guests stop first (reason vmf-unload).
    func unloadVMF(stopGuests: Bool) throws -> VMFStatus {
        let running = activeRTOSGuests()
        try VMF.checkUnload(runningRTOS: running, stopGuests: stopGuests)
        for folder in running {
            _ = try supervisor(folder).stop(force: false, reason: .vmfUnload)
        }
        let notes = vmf.unload()
        events.post(.vmfUnloaded, notes.isEmpty ? "the RT cores belong to the host again" : notes.joined(separator: "; "))
        var status = vmf.status()
        status.notes = notes
        return status
    }

    /// hv_resethv: config/ and projects/ (the opened examples) go to backup/,
    /// both start again empty, as after `hv setup`. Guest folders and disks
    /// stay. Refused under a loaded VMF or running guests.
    func resetHost(confirmed: Bool) throws -> ResetResult {
        let fm = FileManager.default
        let moved = [layout.configDir, layout.projectsDir].filter {
            !((try? fm.contentsOfDirectory(atPath: $0.path)) ?? []).isEmpty
        }
        guard !moved.isEmpty else { return ResetResult(backup: nil, message: "config/ and projects/ are already empty: nothing to reset") }
        guard confirmed else {
            throw HVError(
                .needsConfirmation,
                "hv_resethv moves \(moved.map(\.path).joined(separator: " and ")) to \(layout.backupDir.path) and starts them again empty (guest folders and disks stay)",
                hint: "confirm to go on")
        }
        guard vmf.current == nil else {
            throw HVError(
                .conflict, "the VMF is loaded with \(vmf.current?.configPath ?? "a configuration"): it would lose the configuration in force",
                hint: "unload it first: hv_vmf_stop")
        }
        let running = activeGuests()
        guard running.isEmpty else {
            throw HVError(.conflict, "guests are running: \(running.joined(separator: ", "))", hint: "stop them first")
        }
        let backup = try Backup.newFolder(layout: layout, stamp: Backup.stamp())
        for dir in moved {
            try fm.moveItem(at: dir, to: backup.appendingPathComponent(dir.lastPathComponent))
        }
        try layout.ensureDirectories()
        let message = "moved \(moved.map(\.lastPathComponent).joined(separator: " and ")) to \(backup.path); both are empty again"
        log.info("hv_resethv: " + message)
        return ResetResult(backup: backup.path, message: message)
    }
}
