import ArgumentParser
import Foundation
import HVAPI
import HVCore
import HVHost
import HVRealTime

#if canImport(Glibc)
import Glibc
#endif

struct RTGroup: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rt", abstract: "Real-time: audit the host, measure and qualify a guest.",
        subcommands: [Check.self, RTBench.self, RTQualify.self, RTTryPartition.self])

    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Audit this host for real-time guests; exit 1 when something critical is wrong.")
        @Flag(help: "A JSON array for scripts.") var json = false

        func run() throws {
            let ctx = Context()
            let facts = HostFacts.probe()
            // Without hvd running, the partition's own record says whether cores are reserved.
            let vmf = ctx.api.peek(.vmfStatus, as: VMFStatus.self)
            let partitioned = CPUPartition(stateFile: ctx.layout.partitionState).current?.rtCores
            var rtCores = (vmf?.reservedCores.values.flatMap { $0 } ?? partitioned ?? []).sorted()
            var note: String?
            if vmf?.loaded != true && partitioned == nil {
                rtCores = facts.cpuCount > 1 ? [facts.cpuCount - 1] : []
                note = "the VMF is not loaded: checked the core the first RTOS guest would take (\(rtCores.map(String.init).joined(separator: ",")))"
            }
            let items = RealTimeAudit(facts: facts, rtCores: rtCores, kernelVersion: RealTimeAudit.hostKernel()).run()
            if json {
                FileHandle.standardOutput.write(APIJSON.encode(items) + Data("\n".utf8))
            } else {
                if let note { Out.say(note) }
                for i in items {
                    Out.say(i.line)
                    if !i.fix.isEmpty && i.state != .ok { Out.say("      fix: \(i.fix)") }
                }
                let critical = items.filter { $0.state == .critical }.count
                let warnings = items.filter { $0.state == .warn }.count
                Out.say("\(critical) critical, \(warnings) warning\(warnings == 1 ? "" : "s")")
            }
            if items.contains(where: { $0.state == .critical }) { throw ExitCode(1) }
        }

    }
}
