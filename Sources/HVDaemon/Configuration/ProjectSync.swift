import Foundation
import HVAPI
import HVCore
import HVHost

public enum ProjectSync {
    public static func list(layout: HostLayout) -> [ProjectInfo] {
        let store = ProjectStore(layout: layout)
        let open = store.openProject()
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: layout.projectsDir.path)) ?? [])
            .filter { FileManager.default.fileExists(atPath: store.hvConfig(of: $0).path) }.sorted()
        return names.map { name in
            ProjectInfo(name: name, guests: (try? HypervisorConfig.load(store.hvConfig(of: name)))?.guests.map(\.folder) ?? [], open: name == open)
        }
    }

    /// Writes the host's hv.config and every guest's guest.config into projects/<name>/.
    public static func save(_ name: String, layout: HostLayout) throws -> ProjectInfo {
        guard HypervisorConfig.isValidFolderName(name) else {
            throw HVError(.invalidArgument, "\"\(name)\" is not a project name: letters, digits, - and _ only", field: "name")
        }
        let store = ProjectStore(layout: layout)
        var hv = try RegistryFile.read(layout.hvConfig)
        let config = try HypervisorConfig(hv)
        hv.set("Hypervisor", "Project", name)
        hv.fileName = store.hvConfig(of: name).path
        for g in config.guests {
            let doc = try RegistryFile.read(layout.guest(g.folder).guestConfig)
            try RegistryFile.write(doc, to: store.guestConfig(of: name, folder: g.folder))
        }
        try RegistryFile.write(hv, to: store.hvConfig(of: name))
        try store.setOpenProject(name)
        return ProjectInfo(name: name, guests: config.guests.map(\.folder), open: true)
    }

    /// What syncing `name` would change, validated first (a broken project syncs nothing).
    public static func preview(_ name: String, layout: HostLayout) throws -> SyncPreview {
        let (hv, guests) = try load(name, layout: layout)
        return preview(name, hv: hv, guests: guests, layout: layout)
    }

    /// What syncing a project with these files would change (nothing is written).
    public static func preview(_ name: String, content: ProjectContent, layout: HostLayout) throws -> SyncPreview {
        let (hv, guests) = try parse(content, name: name, layout: layout)
        return preview(name, hv: hv, guests: guests, layout: layout)
    }

    /// Stores a project's files in projects/<name>/ (validated first; the host's configuration is not touched).
    public static func store(_ name: String, content: ProjectContent, layout: HostLayout) throws -> ProjectInfo {
        let (hv, guests) = try parse(content, name: name, layout: layout)
        let store = ProjectStore(layout: layout)
        for (folder, doc) in guests {
            var d = doc
            d.fileName = store.guestConfig(of: name, folder: folder).path
            try RegistryFile.write(d, to: store.guestConfig(of: name, folder: folder))
        }
        var h = hv
        h.fileName = store.hvConfig(of: name).path
        try RegistryFile.write(h, to: store.hvConfig(of: name))
        return ProjectInfo(name: name, guests: guests.map(\.0), open: store.openProject() == name)
    }

    /// A project given as text: valid names, a valid hv.config, one valid guest.config for each of its guests and no other.
    static func parse(_ content: ProjectContent, name: String, layout: HostLayout) throws -> (RegistryDocument, [(String, RegistryDocument)]) {
        guard HypervisorConfig.isValidFolderName(name) else {
            throw HVError(.invalidArgument, "\"\(name)\" is not a project name: letters, digits, - and _ only", field: "name")
        }
        let store = ProjectStore(layout: layout)
        let hv: RegistryDocument
        do { hv = try RegistryDocument(parsing: content.hvConfig, fileName: "\(name): hv.config") } catch let e as ConfigError { throw e.asHVError }
        let config = try HypervisorConfig(hv)
        let listed = Set(config.guests.map(\.folder))
        let extra = Set(content.guests.keys).subtracting(listed).sorted()
        guard extra.isEmpty else {
            throw HVError(
                .invalidArgument, "\(name): guests \(extra.joined(separator: ", ")) have a guest.config but are not in its hv.config",
                hint: "add them as [Guests\\FOLDER] to hv.config, or leave their guest.config out")
        }
        var guests: [(String, RegistryDocument)] = []
        var disks: [String: URL] = [:]
        for g in config.guests {
            guard let text = content.guests[g.folder] else {
                throw HVError(.invalidArgument, "\(name): hv.config lists \(g.folder), but its guest.config is missing", hint: "give guests.\(g.folder)")
            }
            let doc: RegistryDocument
            do { doc = try RegistryDocument(parsing: text, fileName: store.guestConfig(of: name, folder: g.folder).path) } catch let e as ConfigError {
                throw e.asHVError
            }
            try checkPaths(doc, folder: g.folder, project: name, layout: layout, disks: &disks)
            guests.append((g.folder, doc))
        }
        return (hv, guests)
    }

    /// A project's guest names paths as the token holder does (APIPaths), and
    /// the project's guests share no disk: `disks` collects the ones seen.
    private static func checkPaths(
        _ doc: RegistryDocument, folder: String, project name: String, layout: HostLayout,
        disks: inout [String: URL]
    ) throws {
        let guestConfig = try GuestConfig(base: doc, user: RegistryDocument(fileName: "usr.config"))
        do { try APIPaths.check(guestConfig, folder: folder, layout: layout, others: disks) } catch let e as HVError {
            throw HVError(e.code, "\(name): guest \(folder): " + e.message, hint: e.hint, field: e.field)
        }
        disks[folder] = APIPaths.diskURL(guestConfig, folder: folder, layout: layout)
    }

    static func preview(_ name: String, hv: RegistryDocument, guests: [(String, RegistryDocument)], layout: HostLayout) -> SyncPreview {
        var changes: [String] = []
        var affected: [String] = []
        let current = try? HypervisorConfig.load(layout.hvConfig)
        var projectHV = hv
        projectHV.set("Hypervisor", "Project", name)
        if let currentDoc = try? RegistryFile.readIfPresent(layout.hvConfig) {
            changes += keyChanges(from: currentDoc, to: projectHV, label: "config/hv.config")
        } else {
            changes.append("config/hv.config: new (guests \(hvGuests(hv).joined(separator: ", ")))")
        }
        for (folder, doc) in guests {
            let gf = layout.guest(folder)
            if !gf.exists {
                changes.append("guests/\(folder): new guest (\(doc.value("Guest", "Name") ?? folder))")
                affected.append(folder)
            } else if let now = try? RegistryFile.read(gf.guestConfig) {
                let own = keyChanges(from: now, to: doc, label: "guests/\(folder)/guest.config")
                if !own.isEmpty { affected.append(folder) }
                changes += own
            }
        }
        for g in current?.guests ?? [] where !guests.contains(where: { $0.0 == g.folder }) {
            affected.append(g.folder)
            let disks = Backup.diskImages(in: layout.guest(g.folder).url)
            changes.append(
                "guests/\(g.folder): removed from the configuration, moved to backup/"
                    + (disks.isEmpty ? "" : " with its disk " + disks.map { "\($0.lastPathComponent) (\(Backup.sizeText($0)))" }.joined(separator: ", ")))
        }
        return SyncPreview(project: name, changes: changes, affectedGuests: affected.sorted())
    }

    /// Applies the project once the user `confirmed` its preview: guests it
    /// no longer has move to backup/<time>/ (with the old hv.config), then
    /// each file is written atomically. A `running` guest is never rewritten
    /// or moved from under itself (others may run on); `releasing` is called
    /// for each guest folder the sync touches before it does.
    public static func sync(
        _ name: String, layout: HostLayout, confirmed: Bool = true, running: [String] = [],
        releasing: (String) -> Void = { _ in }
    ) throws -> SyncPreview {
        let preview = try preview(name, layout: layout)
        guard confirmed else {
            throw HVError(
                .needsConfirmation, "syncing \(name) changes: " + (preview.changes.isEmpty ? "nothing" : preview.changes.joined(separator: "; ")),
                hint: "show the preview to the user and send {\"confirm\": true}")
        }
        let touched = running.filter { preview.affectedGuests.contains($0) }
        guard touched.isEmpty else {
            throw HVError(
                .conflict, "syncing \(name) would change running guests: \(touched.joined(separator: ", "))",
                hint: "stop them first; a running guest is never replaced")
        }
        preview.affectedGuests.forEach(releasing)
        let (hv, guests) = try load(name, layout: layout)
        let current = try? HypervisorConfig.load(layout.hvConfig)
        let dropped = (current?.guests ?? []).map(\.folder).filter { f in !guests.contains { $0.0 == f } && layout.guest(f).exists }
        let hvChanges = preview.changes.contains { $0.hasPrefix("config/hv.config") }
        // Guests that stay but get another guest.config: the old one goes to the backup too.
        let rewritten = guests.map(\.0).filter { f in
            layout.guest(f).exists && preview.changes.contains { $0.hasPrefix("guests/\(f)/guest.config") }
        }
        if !dropped.isEmpty || !rewritten.isEmpty || (hvChanges && FileManager.default.fileExists(atPath: layout.hvConfig.path)) {
            let fm = FileManager.default
            let backup = try Backup.move(layout: layout, folders: dropped, config: false, stamp: Backup.stamp())
            if fm.fileExists(atPath: layout.hvConfig.path) {
                try fm.createDirectory(at: backup.appendingPathComponent("config"), withIntermediateDirectories: true)
                try fm.copyItem(at: layout.hvConfig, to: backup.appendingPathComponent("config/hv.config"))
            }
            for f in rewritten {
                let dir = backup.appendingPathComponent("guests").appendingPathComponent(f)
                try fm.createDirectory(at: dir, withIntermediateDirectories: true)
                try fm.copyItem(at: layout.guest(f).guestConfig, to: dir.appendingPathComponent("guest.config"))
            }
        }
        for (folder, doc) in guests { try GuestFiles.write(guestConfig: doc, into: layout.guest(folder)) }
        var out = hv
        out.set("Hypervisor", "Project", name)
        out.fileName = layout.hvConfig.path
        try RegistryFile.write(out, to: layout.hvConfig)
        try ProjectStore(layout: layout).setOpenProject(name)
        return preview
    }

    static func load(_ name: String, layout: HostLayout) throws -> (RegistryDocument, [(String, RegistryDocument)]) {
        let store = ProjectStore(layout: layout)
        guard let hv = try RegistryFile.readIfPresent(store.hvConfig(of: name)) else {
            throw HVError(.notFound, "there is no project \"\(name)\"", hint: "projects are under \(layout.projectsDir.path)")
        }
        let config = try HypervisorConfig(hv)
        var guests: [(String, RegistryDocument)] = []
        var disks: [String: URL] = [:]
        for g in config.guests {
            let doc = try RegistryFile.read(store.guestConfig(of: name, folder: g.folder))
            try checkPaths(doc, folder: g.folder, project: name, layout: layout, disks: &disks)
            guests.append((g.folder, doc))
        }
        return (hv, guests)
    }

    /// "label: [Section] Key old → new" for every key that differs, is added or goes.
    static func keyChanges(from old: RegistryDocument, to new: RegistryDocument, label: String) -> [String] {
        func map(_ d: RegistryDocument) -> [String: String] {
            Dictionary(d.entries.map { ("[\($0.section)] \($0.key)", $0.value) }, uniquingKeysWith: { a, _ in a })
        }
        let a = map(old), b = map(new)
        var out: [String] = []
        for key in Set(a.keys).union(b.keys).sorted() where a[key] != b[key] {
            switch (a[key], b[key]) {
            case (nil, let v?): out.append("\(label): \(key) = \"\(v)\" (added)")
            case (let v?, nil): out.append("\(label): \(key) = \"\(v)\" (removed)")
            case (let x?, let y?): out.append("\(label): \(key) \"\(x)\" → \"\(y)\"")
            default: break
            }
        }
        return out
    }

    static func hvGuests(_ doc: RegistryDocument) -> [String] {
        doc.sections.filter { $0.hasPrefix("Guests\\") }.map { String($0.dropFirst(7)) }
    }
}
