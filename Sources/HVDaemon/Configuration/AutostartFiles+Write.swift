import Foundation
import HVCore
import HVHost

/// The boot list's two files as hvd writes them (hv autostart set,
/// hv_set_autostart): HVCore reads and checks them, only hvd writes them.
extension AutostartFiles {
    /// Replaces the plan with `plan` once it validates (its configuration
    /// resolved against the layout, hv.config when it names none); a plan with
    /// problems changes nothing. Returns what was written.
    static func replace(with plan: AutostartPlan, layout: HostLayout) throws -> AutostartPlan {
        var plan = plan
        plan.problems = nil
        plan.hypervisorConfig = layout.resolve(plan.hypervisorConfig.isEmpty ? layout.hvConfig.path : plan.hypervisorConfig).path
        let problems = problems(plan, layout: layout)
        guard problems.isEmpty else {
            throw HVError(
                .invalidArgument, "autostart not changed: " + problems.joined(separator: "; "),
                hint: "list guest folders that exist in \(layout.guestsDir.path), each once")
        }
        try write(plan, layout: layout)
        return plan
    }

    /// Writes both files (the list first: a crash between leaves the old state naming the new list, never a half list).
    static func write(_ plan: AutostartPlan, layout: HostLayout) throws {
        var list =
            "# Guests started at boot by hv (hv autostart set, hv_set_autostart), in this order:\n"
            + "# one guest folder a line, optionally the seconds to wait before it starts.\n"
        for g in plan.guests { list += g.delaySeconds > 0 ? "\(g.folder) \(g.delaySeconds)\n" : "\(g.folder)\n" }
        try AtomicFile.write(list, to: listFile(layout))
        var doc = RegistryDocument(fileName: stateFile(layout).path)
        doc.set("Autostart", "Enabled", plan.enabled ? "yes" : "no")
        doc.set("Autostart", "HypervisorConfig", plan.hypervisorConfig)
        try RegistryFile.write(doc, to: stateFile(layout))
    }
}
