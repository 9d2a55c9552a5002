import ArgumentParser
import Foundation
import HVAPI
import HVCore
import HVHost

#if canImport(Glibc)
import Glibc
#endif

/// `hv rt try-partition`: the VMF's core partition, set up for a moment and
/// checked on this host's kernel, then given back.
struct RTTryPartition: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "try-partition",
        abstract: "Take RT cores from the host for a moment, check what the kernel did, and give them back; exit 1 when the partition does not hold.",
        discussion: """
            Uses the same code as hv_vmf_start (cgroup v2 isolated partition, or cgroup v1 cpusets), \
            then checks: the kernel accepted the partition, a busy process started now cannot run on \
            the RT cores and is refused when it asks, interrupts were moved off them, a thread placed \
            like a vCPU runs there SCHED_FIFO, and after release everything is as before. \
            It refuses while the VMF is loaded (its partition is in place; see hv vmf status).
            """)
    @Option(help: "RT cores to try, e.g. 1 or 2-3 (default: the core the first RTOS guest would take).") var cores: String?
    @Flag(help: "One JSON object for scripts.") var json = false

    func run() throws {
        let layout = Context().layout
        let cpuCount = HostFacts.probe().cpuCount
        let rt = try rtCores(cpuCount: cpuCount)
        if FileManager.default.fileExists(atPath: layout.partitionState.path) {
            throw HVError(
                .conflict, "the VMF is loaded and its partition holds the RT cores (\(layout.partitionState.path)): a trial now would undo it",
                hint: "hv vmf status shows what hv_vmf_start reported; hv_vmf_stop first to try again")
        }
        try FileManager.default.createDirectory(at: layout.runDir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let trial = PartitionTrial(partition: CPUPartition(stateFile: layout.runDir.appendingPathComponent("partition-trial.json")))
        // Interrupted halfway, the trial would leave the host's tasks in its cpusets until the next trial:
        // it takes about a second, so it finishes first and the signals are ignored meanwhile.
        let held = [SIGINT, SIGTERM, SIGHUP, SIGQUIT].map { ($0, signal($0, SIG_IGN)) }
        let report = trial.run(rtCores: rt, hostCores: (0..<cpuCount).filter { !rt.contains($0) })
        for (sig, handler) in held { signal(sig, handler) }
        if json {
            FileHandle.standardOutput.write(APIJSON.encode(report) + Data("\n".utf8))
        } else {
            Out.say("partition trial on core \(CPUList.format(Set(rt))) (\(report.mode.rawValue), kernel \(report.kernel))")
            for c in report.checks { Out.say("\(c.ok ? "[ ok ]" : "[FAIL]") \(c.name): \(c.detail)") }
            for n in report.notes { Out.say("note: \(n)") }
            Out.say(report.passed ? "the partition holds on this host; the cores are back" : "the partition does not hold on this host (see above)")
        }
        if !report.passed { throw ExitCode(1) }
    }

    func rtCores(cpuCount: Int) throws -> [Int] {
        guard let text = cores else {
            guard cpuCount > 1 else { throw HVError(.unsupported, "this host has one core: there is none to reserve") }
            return [cpuCount - 1]
        }
        guard let set = CPUList.parse(text), !set.isEmpty else {
            throw HVError(.invalidArgument, "--cores \(text): not a core list", hint: "e.g. --cores 1 or --cores 2-3")
        }
        guard let high = set.max(), high < cpuCount else {
            throw HVError(
                .invalidArgument, "--cores \(text): this host has cores 0-\(cpuCount - 1)",
                hint: "name cores from 0 to \(cpuCount - 1), leaving at least one for the host")
        }
        guard set.count < cpuCount else {
            throw HVError(.invalidArgument, "--cores \(text) leaves the host no core", hint: "keep at least one core for the host")
        }
        return set.sorted()
    }
}
