import Foundation
import HVAPI
import HVCore
import HVHost

/// Moving an RTOS guest to other cores (the System Manager's CPU tab): the
/// change is checked like a loaded configuration would be, written to
/// hv.config atomically, and the answer says which guests must restart.
public enum CoreAssignment {
    public static func assign(
        _ cores: String, to folder: String, layout: HostLayout, hostCPUs: Int,
        topology: CoreTopology? = nil, running: Set<String>
    ) throws -> CoreChange {
        var doc = try RegistryFile.read(layout.hvConfig)
        let old = try HypervisorConfig(doc)
        guard let guest = old.guest(folder: folder) else {
            throw HVError(.notFound, "\(layout.hvConfig.path) has no guest \(folder)")
        }
        guard guest.kind == .rtos else {
            throw HVError(.invalidArgument, "\(guest.name) is a KVM guest: it runs on the host's cores, none is reserved for it")
        }
        let text = cores.trimmingCharacters(in: .whitespaces)
        do { try ConfigSchema.check(text, as: .coreList, key: "RtCores", section: "Guests\\\(folder)", file: layout.hvConfig.path, line: 0) } catch let e
            as ConfigError
        { throw HVError(.invalidArgument, e.message, hint: "expected \(e.expected)") }
        doc.set("Guests\\\(folder)", "RtCores", text)
        let new = try HypervisorConfig(doc)
        // One core per vCPU: each RTOS guest's Cores, as its folder says.
        let vcpus = Dictionary(
            uniqueKeysWithValues: old.guests.filter { $0.kind == .rtos }.map { g in
                (g.folder, (try? GuestConfig.load(from: layout.guest(g.folder)))?.vcpus ?? 1)
            })
        let before = try? old.reservedCores(hostCPUs: hostCPUs, vcpus: vcpus, topology: topology).cores
        let after = try new.reservedCores(hostCPUs: hostCPUs, vcpus: vcpus, topology: topology).cores
        try RegistryFile.write(doc, to: layout.hvConfig)
        let moved = after.keys.filter { before?[$0] != after[$0] }.sorted()
        return CoreChange(
            folder: folder, cores: after[folder] ?? [], moved: moved,
            mustRestart: moved.filter { running.contains($0) })
    }
}
