import Foundation
import HVCore
import HVEngine

/// The installed-service endpoints: lifecycle events, the autostart plan,
/// resetting the host's configuration.
extension Routes {
    func serviceRoute(_ endpoint: Endpoint, _ req: HTTPRequest) throws -> HTTPResponse {
        switch endpoint {
        case .lifecycle:
            let after = try queryInt(req, "after", 0...Int.max) ?? 0
            let wait = try seconds(Double(try queryInt(req, "wait", 0...60) ?? 0), "wait")
            return .json(ctx.events.after(after, wait: wait))
        case .autostart:
            var plan = try AutostartFiles.read(ctx.layout)
            plan.problems = AutostartFiles.problems(plan, layout: ctx.layout)
            return .json(plan)
        case .autostartSet:
            var plan = try APIJSON.decode(AutostartPlan.self, req.body)
            plan.problems = nil
            plan.hypervisorConfig = ctx.layout.resolve(plan.hypervisorConfig.isEmpty ? ctx.layout.hvConfig.path : plan.hypervisorConfig).path
            let problems = AutostartFiles.problems(plan, layout: ctx.layout)
            guard problems.isEmpty else {
                throw HVError(.invalidArgument, "autostart not changed: " + problems.joined(separator: "; "),
                              hint: "list guest folders that exist in \(ctx.layout.guestsDir.path), each once")
            }
            try AutostartFiles.write(plan, layout: ctx.layout)
            ctx.log.info("autostart \(plan.enabled ? "on" : "off"): VMF with \(plan.hypervisorConfig); guests: "
                         + (plan.guests.isEmpty ? "none" : plan.guests.map(\.folder).joined(separator: ", ")))
            return .json(plan)
        case .resetHost:
            return .json(try resetHost(try APIJSON.decode(DeleteRequest.self, req.body)))
        case .projectPlan(let name):
            return .json(try ProjectSync.preview(name, content: try APIJSON.decode(ProjectContent.self, req.body), layout: ctx.layout))
        case .projectStore(let name):
            let info = try ProjectSync.store(name, content: try APIJSON.decode(ProjectContent.self, req.body), layout: ctx.layout)
            ctx.log.info("project \(name) stored (\(info.guests.count) guests)")
            return .json(info)
        case .metrics:
            return HTTPResponse(status: 200, body: Data(ctx.metricsText().utf8), headers: ["Content-Type": MetricsText.contentType])
        default:
            throw HVError(.internal, "\(endpoint) is not a service endpoint")
        }
    }

    /// hv_resethv: config/ and projects/ (the opened examples) go to backup/,
    /// both start again empty, as after `hv setup`. Guest folders and disks stay.
    private func resetHost(_ body: DeleteRequest) throws -> ResetResult {
        let layout = ctx.layout
        let fm = FileManager.default
        let moved = [layout.configDir, layout.projectsDir].filter {
            !((try? fm.contentsOfDirectory(atPath: $0.path)) ?? []).isEmpty
        }
        guard !moved.isEmpty else { return ResetResult(backup: nil, message: "config/ and projects/ are already empty: nothing to reset") }
        guard body.confirm else {
            throw HVError(.needsConfirmation, "hv_resethv moves \(moved.map(\.path).joined(separator: " and ")) to \(layout.backupDir.path) and starts them again empty (guest folders and disks stay)",
                          hint: "confirm to go on")
        }
        guard ctx.vmf.current == nil else {
            throw HVError(.conflict, "the VMF is loaded with \(ctx.vmf.current?.configPath ?? "a configuration"): it would lose the configuration in force",
                          hint: "unload it first: hv_vmf_stop")
        }
        let running = ctx.activeGuests()
        guard running.isEmpty else {
            throw HVError(.conflict, "guests are running: \(running.joined(separator: ", "))", hint: "stop them first")
        }
        let backup = try Backup.newFolder(layout: layout, stamp: Backup.stamp())
        for dir in moved {
            try fm.moveItem(at: dir, to: backup.appendingPathComponent(dir.lastPathComponent))
        }
        try layout.ensureDirectories()
        let message = "moved \(moved.map(\.lastPathComponent).joined(separator: " and ")) to \(backup.path); both are empty again"
        ctx.log.info("hv_resethv: " + message)
        return ResetResult(backup: backup.path, message: message)
    }

    private func queryInt(_ req: HTTPRequest, _ name: String, _ range: ClosedRange<Int>) throws -> Int? {
        guard let text = req.query[name] else { return nil }
        guard let v = Int(text), range.contains(v) else {
            throw HVError(.invalidArgument, "the query parameter \(name)=\(text.prefix(40)) is not a whole number from \(range.lowerBound) to \(range.upperBound == Int.max ? "any" : String(range.upperBound))", field: name)
        }
        return v
    }
}
