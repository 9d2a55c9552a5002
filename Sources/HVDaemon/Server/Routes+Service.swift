import Foundation
import HVAPI
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
            let plan = try AutostartFiles.replace(with: try APIJSON.decode(AutostartPlan.self, req.body), layout: ctx.layout)
            ctx.log.info(
                "autostart \(plan.enabled ? "on" : "off"): VMF with \(plan.hypervisorConfig); guests: "
                    + (plan.guests.isEmpty ? "none" : plan.guests.map(\.folder).joined(separator: ", ")))
            return .json(plan)
        case .resetHost:
            return .json(try ctx.resetHost(confirmed: try APIJSON.decode(DeleteRequest.self, req.body).confirm))
        case .bridgesDelete:
            let removed = try GuestBridge(layout: ctx.layout).removeAll(running: Set(ctx.activeGuests()))
            return .json(
                BridgeRemoval(
                    removed: removed,
                    message: removed.isEmpty
                        ? "hv has no bridge or TAP on this host: nothing to remove"
                        : "removed " + removed.joined(separator: ", ")))
        case .hostDevices:
            return .json(PCIDevices().list(heldBy: PCIPassthrough(layout: ctx.layout).record))
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

    private func queryInt(_ req: HTTPRequest, _ name: String, _ range: ClosedRange<Int>) throws -> Int? {
        guard let text = req.query[name] else { return nil }
        guard let v = Int(text), range.contains(v) else {
            throw HVError(
                .invalidArgument,
                "the query parameter \(name)=\(text.prefix(40)) is not a whole number from \(range.lowerBound) to \(range.upperBound == Int.max ? "any" : String(range.upperBound))",
                field: name)
        }
        return v
    }
}
