import Foundation
import HVAPI
import HVCore
import HVHost

public enum GuestCreation {
    public static func create(_ r: NewGuestRequest, layout: HostLayout) throws -> NewGuestResult {
        let os: GuestOS
        switch r.type {
        case .rtLinux: os = .rtLinux
        case .vxworks: os = .vxworks
        case .rtos32: os = .rtos32
        case .general, .generalWithComm:
            guard let o = GuestOS(rawValue: (r.os ?? "ubuntu").lowercased()), o.kind == .kvm else {
                throw HVError(.invalidArgument, "a general-purpose guest runs \"ubuntu\" or \"windows\", not \"\(r.os ?? "")\"", field: "os")
            }
            os = o
        }
        // A field of the other kind of guest is refused, not silently dropped.
        let foreign: [(field: String, given: Bool)] =
            os.kind == .rtos
            ? [("os", r.os != nil), ("diskImage", r.diskImage != nil), ("diskSizeGiB", r.diskSizeGiB != nil), ("iso", r.iso != nil)]
            : [("image", r.image != nil)]
        if let f = foreign.first(where: \.given) {
            throw HVError(
                .invalidArgument, "\(f.field) applies to \(os.kind == .rtos ? "general-purpose" : "RTOS") guests, not to a \(r.type.rawValue) guest",
                hint: "leave it out", field: f.field)
        }
        let hvDoc = try RegistryFile.readIfPresent(layout.hvConfig)
        let existing = try hvDoc.map { try HypervisorConfig($0) }
        let id = (existing?.guests.map(\.id).max() ?? 0) + 1
        let folder = (r.folder?.trimmingCharacters(in: .whitespaces)).flatMap { $0.isEmpty ? nil : $0 } ?? String(format: "guest%04d", id)
        guard HypervisorConfig.isValidFolderName(folder) else {
            throw HVError(.invalidArgument, "\"\(folder)\" is not a folder name: letters, digits, - and _ only", field: "folder")
        }
        guard !FileManager.default.fileExists(atPath: layout.guest(folder).url.path) else {
            throw HVError(.conflict, "a guest folder \(folder) exists already", hint: "choose another folder name, or delete that guest first", field: "folder")
        }
        // The rule of the product we model: with any RTOS guest or any guest with
        // the communication subsystem, the first guest is an RTOS guest.
        let kinds = (existing?.guests ?? []).map { ($0.kind, $0.communication) } + [(os.kind, r.type == .generalWithComm)]
        if kinds.contains(where: { $0.0 == .rtos || $0.1 }), let first = kinds.first, first.0 != .rtos {
            throw HVError(
                .invalidArgument,
                "the first guest must be an RTOS guest when any RTOS guest or any guest with the communication subsystem exists",
                hint: (existing?.guests.isEmpty ?? true)
                    ? "add the RTOS guest (RT-Linux, VxWorks, RTOS-32) first"
                    : "this configuration starts with a general-purpose guest; start a new project with an RTOS guest first",
                field: "type")
        }
        var g = Example.Guest(
            folder: folder, os: os, vcpus: r.cores ?? (os.kind == .rtos ? 1 : 2),
            memoryMiB: r.memoryMiB ?? (os.kind == .rtos ? 256 : 4096))
        g.communication = r.type == .generalWithComm
        if os.kind == .kvm {
            g.diskImage = r.diskImage ?? ""
            g.diskSizeGiB = r.diskSizeGiB ?? 64
            g.installISO = r.iso ?? "iso/\(os.rawValue).iso"
        }
        var doc = GuestFiles.guestConfig(g, project: existing?.project ?? "manual")
        doc.set("Guest", "Name", r.name)
        if os.kind == .rtos, let image = r.image, !image.isEmpty { doc.set("Guest\\Boot", "Image", image) }
        try check(doc)
        let config = try GuestConfig(base: doc, user: RegistryDocument(fileName: "usr.config"))
        // The request's paths are the token holder's: only where a guest's files belong (APIPaths).
        if os.kind == .rtos, r.image != nil { try APIPaths.checkImage(config.image) }
        if let disk = r.diskImage, !disk.isEmpty {
            try APIPaths.checkDisk(disk, folder: folder, layout: layout, others: APIPaths.configuredDisks(layout: layout, except: folder))
        }
        if let iso = r.iso, !iso.isEmpty { try APIPaths.checkISO(iso, folder: folder, layout: layout) }
        if os.kind == .rtos, !FileManager.default.fileExists(atPath: layout.template(config.image).path) {
            throw HVError(
                .missingImage, "templates/\(config.image) does not exist",
                hint: "RT-Linux's image comes from hv setup; VxWorks and RTOS-32 images are yours to provide", field: "image")
        }
        // Everything checked: write the folder, then the entry.
        try GuestFiles.write(guestConfig: doc, into: layout.guest(folder))
        var hv = hvDoc ?? HypervisorConfig(project: "manual", guests: []).document()
        hv.fileName = layout.hvConfig.path
        let section = "Guests\\\(folder)"
        hv.set(section, "Id", String(id))
        hv.set(section, "Name", r.name)
        hv.set(section, "Os", os.rawValue)
        hv.set(section, "Kind", os.kind.rawValue)
        if os.kind == .rtos { hv.set(section, "RtCores", "auto") } else { hv.set(section, "Communication", g.communication ? "yes" : "no") }
        do { _ = try HypervisorConfig(hv) } catch {
            try? FileManager.default.removeItem(at: layout.guest(folder).url)
            throw error
        }
        try RegistryFile.write(hv, to: layout.hvConfig)
        return NewGuestResult(folder: folder, id: id, message: "created \(r.name) in \(layout.guest(folder).url.path) (Id \(id))")
    }

    /// Each value by its schema entry, so that the error names the form field
    /// (the same field table and check as editing a guest).
    static func check(_ doc: RegistryDocument) throws {
        for f in GuestEditing.fields where f.place == .guest {
            guard let entry = doc.entry(f.section, f.key) else { continue }
            try GuestEditing.checkValue(entry.value, f)
        }
    }
}
