import Foundation
import HVAPI
import HVCore
import HVEngine
import HVEvents
import QMP

/// Maps API requests to the VMF and the guest supervisors. The CLI is one
/// client of this API; the System Manager will be another.
struct Routes {
    let ctx: DaemonContext
    let shutdownDaemon: @Sendable () -> Void

    enum Outcome {
        case response(HTTPResponse)
        case console(GuestSupervisor, GuestSupervisor.Replay, String)
        /// An event session (hv event session): the connection becomes a line protocol.
        case eventSession(any EventServing)
    }

    /// `listener`: "socket" or "manager", for the request counts in the metrics.
    func handle(_ req: HTTPRequest, peerPid: Int32?, listener: String = "socket") -> Outcome {
        let outcome: Outcome
        do {
            outcome = try route(req, peerPid: peerPid, listener: listener)
        } catch let e as HVError {
            outcome = .response(.error(e))
        } catch let e as QMPError {
            outcome = .response(.error(e.hvError))
        } catch let e as HTTPError {
            outcome = .response(e.response)
        } catch {
            outcome = .response(.error(HVError(.internal, "\(error)")))
        }
        switch outcome {
        case .response(let r): ctx.metrics.countRequest(listener: listener, status: r.status)
        case .console, .eventSession: ctx.metrics.countRequest(listener: listener, status: 101)
        }
        return outcome
    }

    /// Endpoints served to root's socket only, never to the System Manager's token.
    static func requireSocket(_ listener: String, _ why: String, hint: String) throws {
        guard listener == "socket" else { throw HVError(.invalidArgument, why, hint: hint) }
    }

    /// The endpoints that change hv.config or guest folders.
    static func writesConfig(_ e: Endpoint) -> Bool {
        switch e {
        case .vmfLoad, .vmfUnload, .guestCreate, .guestDelete, .guestUpdateSettings, .guestCores, .projectSave, .projectSync,
            .autostartSet, .resetHost, .bridgesDelete, .projectStore, .guestRestore, .exampleOpen, .backupPrune:
            true
        default: false
        }
    }

    private func route(_ req: HTTPRequest, peerPid: Int32?, listener: String) throws -> Outcome {
        let endpoint: Endpoint
        switch Endpoint.match(method: req.method, segments: try req.segments()) {
        case .endpoint(let e): endpoint = e
        case .methodNotAllowed(let allowed):
            var r = HTTPError(405, "\(req.path) does not take \(req.method); it takes \(allowed.joined(separator: ", "))").response
            r.headers["Allow"] = allowed.joined(separator: ", ")
            return .response(r)
        case .notFound:
            throw HVError(.notFound, "no API endpoint \(req.method) \(req.path)", hint: "the API lives under /v1 (docs/openapi.json)")
        }
        if Self.writesConfig(endpoint) {
            return try ctx.writingConfig { try dispatch(endpoint, req, peerPid: peerPid, listener: listener) }
        }
        return try dispatch(endpoint, req, peerPid: peerPid, listener: listener)
    }

    private func dispatch(_ endpoint: Endpoint, _ req: HTTPRequest, peerPid: Int32?, listener: String) throws -> Outcome {
        switch endpoint {
        case .vmfStatus:
            return .response(.json(ctx.vmf.status()))
        case .vmfLoad:
            let body = try APIJSON.decode(VMFLoadRequest.self, req.body)
            return .response(.json(try ctx.loadVMF(body)))
        case .vmfUnload:
            let body = try APIJSON.decode(VMFUnloadRequest.self, req.body)
            return .response(.json(try ctx.unloadVMF(stopGuests: body.stopGuests)))
        case .guestList:
            return .response(.json(ctx.allStatuses()))
        case .guestStatus(let ref):
            return .response(.json(try ctx.resolve(ref).status()))
        case .guestStart(let ref):
            let body = try APIJSON.decode(StartRequest.self, req.body)
            return .response(
                .json(
                    try ctx.resolve(ref).start(
                        wait: body.wait, timeout: try seconds(body.timeoutSeconds, "timeoutSeconds"),
                        placed: body.placement ?? true)))
        case .guestStop(let ref):
            let body = try APIJSON.decode(StopRequest.self, req.body)
            return .response(.json(try ctx.resolve(ref).stop(force: body.force)))
        case .guestRestart(let ref):
            let body = try APIJSON.decode(StartRequest.self, req.body)
            return .response(.json(try ctx.resolve(ref).restart(wait: body.wait, timeout: try seconds(body.timeoutSeconds, "timeoutSeconds"))))
        case .guestResume(let ref):
            return .response(.json(try ctx.resolve(ref).resume()))
        case .guestBackup(let ref):
            let body = try APIJSON.decode(GuestBackupRequest.self, req.body.isEmpty ? Data("{}".utf8) : req.body)
            // Only root (hvd's socket) names where an archive of a guest goes.
            if body.to != nil && listener != "socket" {
                throw HVError(.invalidArgument, "the System Manager writes backups to \(ctx.layout.backupDir.path) only", hint: "leave \"to\" out")
            }
            return .response(.json(try ctx.resolve(ref).backup(to: body.to)))
        case .guestBackupProgress(let ref):
            return .response(.json(try ctx.resolve(ref).backupProgress()))
        case .qualifyStart(let ref):
            return .response(.json(try ctx.resolve(ref).qualify(try APIJSON.decode(QualifyRequest.self, req.body))))
        case .qualifyStatus(let ref):
            return .response(.json(try ctx.resolve(ref).qualificationStatus()))
        case .qualifyStop(let ref):
            return .response(.json(try ctx.resolve(ref).stopQualification()))
        case .guestRestore:
            try Self.requireSocket(
                listener, "a restore is root's: what it restores becomes a guest whose scripts hv runs as root",
                hint: "restore on the host: hv guest restore ARCHIVE")
            return .response(.json(try ctx.restore(try APIJSON.decode(RestoreRequest.self, req.body))))
        case .snapshotList(let ref):
            return .response(.json(try ctx.resolve(ref).snapshots()))
        case .snapshotCreate(let ref):
            let body = try APIJSON.decode(SnapshotRequest.self, req.body.isEmpty ? Data("{}".utf8) : req.body)
            return .response(.json(try ctx.resolve(ref).createSnapshot(name: body.name)))
        case .snapshotRevert(let ref, let name):
            let body = try APIJSON.decode(SnapshotChangeRequest.self, req.body)
            return .response(.json(try ctx.resolve(ref).revertSnapshot(name, confirmed: body.confirm)))
        case .snapshotDelete(let ref, let name):
            let body = try APIJSON.decode(SnapshotChangeRequest.self, req.body)
            return .response(.json(try ctx.resolve(ref).deleteSnapshot(name, confirmed: body.confirm)))
        case .guestDeletionPlan(let ref):
            let sup = try ctx.resolve(ref)
            return .response(.json(try DeletionPlan.make(layout: ctx.layout, folder: sup.folder.name)))
        case .guestDelete(let ref):
            let body = try APIJSON.decode(DeleteRequest.self, req.body)
            return .response(.json(try ctx.resolve(ref).delete(confirmed: body.confirm)))
        case .guestScreenshot(let ref):
            return .response(.json(try ctx.resolve(ref).screenshot()))
        case .guestConsole(let ref):
            let sup = try ctx.resolve(ref)
            let replay = GuestSupervisor.Replay(rawValue: req.query["replay"] ?? "tail") ?? .tail
            let who = (req.headers["x-hv-client"] ?? "a client") + (peerPid.map { " (pid \($0))" } ?? "")
            return .console(sup, replay, who)
        case .commStatus:
            let (comm, _) = try loadedComm()
            return .response(.json(comm.status(runningGuests: [])))
        case .netAttach:
            let (comm, _) = try loadedComm()
            _ = try comm.attachHost()
            return .response(.json(comm.status(runningGuests: [])))
        case .netDetach:
            let (comm, _) = try loadedComm()
            comm.detachHost()
            return .response(.json(comm.status(runningGuests: [])))
        case .eventSession:
            guard let server = try loadedComm().0.events else {
                throw HVError.noEventDeclared
            }
            return .eventSession(server)
        case .eventSignal(let name), .eventWait(let name):
            let comm = try loadedComm().0
            guard let server = comm.events, let index = server.eventNames.firstIndex(of: name) else {
                let known = comm.config.events.map(\.name)
                throw HVError(
                    .notFound, "there is no event \"\(name)\" in the loaded configuration",
                    hint: known.isEmpty ? "declare one in hv.config: [Event\\NAME] with \"Guests\"" : "the events are: " + known.joined(separator: ", "))
            }
            let body = try APIJSON.decode(EventRequest.self, req.body.isEmpty ? Data("{}".utf8) : req.body)
            if case .eventSignal = endpoint {
                return .response(.json(EventResult(name: name, count: server.signal(index))))
            }
            let timeout = try seconds(body.timeoutSeconds ?? 60, "timeoutSeconds")
            guard let count = server.wait(index, after: body.after ?? server.counter(index), timeout: timeout) else {
                throw HVError(.timeout, "event \(name) was not signalled within \(timeout) s")
            }
            return .response(.json(EventResult(name: name, count: count)))
        case .guestCreate:
            let body = try APIJSON.decode(NewGuestRequest.self, req.body)
            let result = try GuestCreation.create(body, layout: ctx.layout)
            ctx.log.info("\(result.folder): \(result.message)")
            return .response(.json(result))
        case .exampleOpen(let name):
            return .response(.json(try ctx.openExample(name, try APIJSON.decode(ExampleOpenRequest.self, req.body))))
        case .backupPrune:
            // The one API call that deletes for good (backups are the last copies): root's, on the host.
            try Self.requireSocket(
                listener, "pruning backup/ deletes the last copies of what it holds: it is root's, on the host",
                hint: "prune on the host: hv backup prune")
            return .response(.json(try ctx.pruneBackups(try APIJSON.decode(BackupPruneRequest.self, req.body))))
        case .projectList:
            return .response(.json(ProjectSync.list(layout: ctx.layout)))
        case .projectSave:
            let body = try APIJSON.decode(ProjectRequest.self, req.body)
            return .response(.json(try ProjectSync.save(body.name ?? "", layout: ctx.layout)))
        case .projectPreview(let ref):
            return .response(.json(try ProjectSync.preview(ref, layout: ctx.layout)))
        case .projectSync(let ref):
            let body = try APIJSON.decode(ProjectRequest.self, req.body)
            // A folder the sync moves to backup/ takes no mounted exchange folder along (the next start mounts it again).
            let layout = ctx.layout
            return .response(
                .json(
                    try ProjectSync.sync(
                        ref, layout: layout, confirmed: body.confirm == true, running: ctx.activeGuests(),
                        releasing: { ExchangeFolder.release(layout.guest($0)) })))
        case .templates:
            let names = ((try? FileManager.default.contentsOfDirectory(atPath: ctx.layout.templatesDir.path)) ?? [])
                .filter { !$0.hasPrefix(".") }.sorted()
            return .response(.json(names))
        case .host:
            return .response(.json(ctx.hostInfo()))
        case .guestSettings(let ref):
            return .response(.json(try GuestEditing.settings(try ctx.resolve(ref).folder.name, layout: ctx.layout)))
        case .guestUpdateSettings(let ref):
            let body = try APIJSON.decode(GuestSettings.self, req.body)
            let sup = try ctx.resolve(ref)
            let result = try GuestEditing.update(
                sup.folder.name, with: body, layout: ctx.layout,
                running: sup.currentState.isActive, vmfLoaded: ctx.vmf.current != nil)
            if !result.changes.isEmpty { ctx.log.info("\(result.folder): \(result.message)") }
            return .response(.json(result))
        case .guestCores(let ref):
            let body = try APIJSON.decode(CoreRequest.self, req.body)
            let sup = try ctx.resolve(ref)
            let running = Set(ctx.activeGuests())
            return .response(
                .json(
                    try CoreAssignment.assign(
                        body.cores, to: sup.folder.name, layout: ctx.layout,
                        hostCPUs: ctx.facts.cpuCount, topology: ctx.facts.topology, running: running)))
        case .manager:
            guard let port = ctx.managerPort else {
                throw HVError(
                    .unsupported, "the System Manager is not running: \(ctx.managerProblem ?? "hvd could not start it")",
                    hint: "set a free \"Port\" in [Manager] of \(ctx.layout.managerConfig.path), then restart hvd (hv daemon stop)")
            }
            if port != ManagerServer.configuredPort(ctx.layout) {
                ctx.log.info("System Manager: the configured port changed; it moves there when hvd restarts (hv daemon stop)")
            }
            return .response(.json(ManagerInfo(port: port, url: "http://127.0.0.1:\(port)/")))
        case .managerLoginCode:
            guard let port = ctx.managerPort, let credentials = ctx.credentials, let code = credentials.loginCodes.issue() else {
                throw HVError(
                    .unsupported,
                    "the System Manager is not running or has too many login codes outstanding: \(ctx.managerProblem ?? "try again in two minutes")")
            }
            return .response(
                .json(
                    ManagerLoginCode(
                        code: code, url: "http://127.0.0.1:\(port)/#code=\(code)",
                        expiresInSeconds: Int(ManagerCredentials.loginCodeLifetime))))
        case .managerRotate:
            // Root's, on the Unix socket: a page (or a stolen token) cannot lock the operator out.
            guard listener == "socket" else {
                throw HVError(.unsupported, "tokens are replaced only on this host, as root", hint: "hv manager token --rotate")
            }
            let body = try APIJSON.decode(ManagerRotateRequest.self, req.body)
            guard let which = ManagerCredentials.Credential(rawValue: body.credential) else {
                throw HVError(.invalidArgument, "no credential \"\(body.credential)\"", hint: "manager or metrics", field: "credential")
            }
            guard let credentials = ctx.credentials else { throw HVError(.unsupported, "the System Manager is not running") }
            try credentials.rotate(which)
            let path = which == .manager ? ctx.layout.managerToken.path : ctx.layout.metricsToken.path
            ctx.log.info("System Manager: the \(which.rawValue) token was replaced (\(path))")
            return .response(
                .json([
                    "message": which == .manager
                        ? "a new token is in \(path): open pages, login codes and tickets of the old one are refused from now on (hv manager url opens the page again)"
                        : "a new metrics token is in \(path): give it to Prometheus (its credentials_file); the old one is refused from now on"
                ]))
        case .daemonShutdown:
            shutdownDaemon()
            return .response(.json(["message": "hvd is stopping; running guests keep running"]))
        case .lifecycle, .autostart, .autostartSet, .resetHost, .bridgesDelete, .metrics, .projectPlan, .projectStore, .hostDevices:
            return .response(try serviceRoute(endpoint, req))
        case .watch, .consoleSocket, .displaySocket, .ticket, .managerLogin:
            throw HVError(.notFound, "\(req.path) is served by the System Manager only", hint: "open the page that `hv manager url` prints")
        }
    }

    /// A duration from a request, before it reaches a deadline or a sleep.
    func seconds(_ value: Double, _ field: String) throws -> Double {
        guard value.isFinite, (0...3600).contains(value) else {
            throw HVError(.invalidArgument, "\(field) must be a number of seconds from 0 to 3600", field: field)
        }
        return value
    }

    private func loadedComm() throws -> (CommRuntime, VMF.Record) {
        guard let record = ctx.vmf.current, let comm = ctx.vmf.comm else {
            throw HVError(
                .notLoaded, "the VMF is not loaded: the communication subsystem exists only while it is",
                hint: "run hv_vmf_start")
        }
        return (comm, record)
    }
}
