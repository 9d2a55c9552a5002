import Foundation
import HVAPI
import HVCore
import HVHost

/// Reads and changes an existing guest's settings: each value is checked by
/// the schema that checks `.config` files (errors name the form field), the
/// whole guest.config and hv.config are validated as they would be loaded,
/// and both are written atomically only when everything passed.
public enum GuestEditing {
    enum Place { case guest, hv }
    enum Applies {
        case all, rtos, kvm
        init(_ only: GuestKind?) { self = only == .rtos ? .rtos : only == .kvm ? .kvm : .all }
    }
    struct Field {
        let name: String, label: String, place: Place, section: String, key: String, applies: Applies
    }

    /// The form's fields: the keys the schemas declare with a field (guest.config's, then hv.config's).
    static let fields: [Field] =
        GuestConfig.schema.formKeys.map { k in
            Field(name: k.field.name, label: k.field.label, place: .guest, section: k.section, key: k.key.name, applies: Applies(k.field.only))
        }
        + HypervisorConfig.schema.formKeys.map { k in
            Field(name: k.field.name, label: k.field.label, place: .hv, section: "", key: k.key.name, applies: Applies(k.field.only))
        }

    static func value(of field: String, in s: GuestSettings) -> String? {
        switch field {
        case "name": s.name
        case "cores": s.cores.map(String.init)
        case "memoryMiB": s.memoryMiB.map(String.init)
        case "rtPriority": s.rtPriority.map(String.init)
        case "image": s.image
        case "diskImage": s.diskImage
        case "diskSizeGiB": s.diskSizeGiB.map(String.init)
        case "iso": s.iso
        case "isoAttach": s.isoAttach
        case "networkMode": s.networkMode
        case "bridge": s.bridge
        case "hostForward": s.hostForward
        case "pciDevices": s.pciDevices
        case "communication": s.communication.map { $0 ? "yes" : "no" }
        case "address": s.address
        default: nil
        }
    }

    struct Documents {
        var guest: RegistryDocument
        var user: RegistryDocument
        var hv: RegistryDocument
        var entry: HypervisorConfig.Guest
    }

    static func documents(_ folder: String, layout: HostLayout) throws -> Documents {
        let hv = try RegistryFile.read(layout.hvConfig)
        guard let entry = try HypervisorConfig(hv).guest(folder: folder) else {
            throw HVError(.notFound, "\(layout.hvConfig.path) has no guest \(folder)")
        }
        let dir = layout.guest(folder)
        guard let guest = try RegistryFile.readIfPresent(dir.guestConfig) else {
            throw HVError(.notFound, "\(dir.guestConfig.path) does not exist", hint: "sync the project again, or delete the guest")
        }
        let user = try RegistryFile.readIfPresent(dir.userConfig) ?? RegistryDocument(fileName: dir.userConfig.path)
        return Documents(guest: guest, user: user, hv: hv, entry: entry)
    }

    static func overridden(_ d: Documents) -> [String] {
        fields.filter { $0.place == .guest && d.user.entry($0.section, $0.key) != nil }.map(\.name)
    }

    public static func settings(_ folder: String, layout: HostLayout) throws -> GuestSettings {
        let d = try documents(folder, layout: layout)
        let c = try GuestConfig(base: d.guest, user: d.user)
        var s = GuestSettings(name: c.name, cores: c.vcpus, memoryMiB: c.memoryMiB, address: d.entry.address)
        s.folder = folder
        s.kind = c.kind.rawValue
        s.os = c.os.rawValue
        if c.kind == .rtos {
            s.rtPriority = c.rtPriority
            s.image = c.image
        } else {
            s.diskImage = c.diskImage
            s.diskSizeGiB = c.diskSizeGiB
            s.iso = c.installISO
            s.isoAttach = c.isoAttach.rawValue
            s.networkMode = c.networkMode
            s.bridge = c.bridge
            s.hostForward = c.hostForwards.map { f in
                "\(f.proto.rawValue):" + (f.hostAddress == "127.0.0.1" ? "" : f.hostAddress + ":") + "\(f.hostPort):\(f.guestPort)"
            }.joined(separator: ",")
            s.communication = d.entry.communication
        }
        s.pciDevices = c.pciDevices.joined(separator: ",")
        s.overridden = overridden(d)
        return s
    }

    /// `running`: the guest runs now (changes wait for its next start);
    /// `vmfLoaded`: VMF network changes wait for the next load.
    public static func update(
        _ folder: String, with change: GuestSettings, layout: HostLayout,
        running: Bool, vmfLoaded: Bool
    ) throws -> GuestEditResult {
        var d = try documents(folder, layout: layout)
        let kind = d.entry.kind
        let oldConfig = try GuestConfig(base: d.guest, user: d.user)
        let hvSection = "Guests\\\(folder)"
        var changes: [String] = [], notes: [String] = []
        var touchedHV = false
        for f in fields {
            guard var new = value(of: f.name, in: change) else { continue }
            new = new.trimmingCharacters(in: .whitespaces)
            guard f.applies == .all || (f.applies == .rtos) == (kind == .rtos) else {
                throw HVError(
                    .invalidArgument,
                    "\(f.label) applies to \(f.applies == .rtos ? "RTOS" : "KVM") guests only; \(d.entry.name) is \(kind == .rtos ? "an RTOS" : "a KVM") guest",
                    field: f.name)
            }
            let old: String
            switch f.place {
            case .guest:
                if let user = d.user.entry(f.section, f.key) {
                    guard user.value == new else {
                        throw HVError(
                            .conflict, "\(f.label) is set in usr.config (\"\(f.key)\"=\"\(user.value)\", line \(user.line)), which overrides guest.config",
                            hint: "change or remove that line of \(layout.guest(folder).userConfig.path)", field: f.name)
                    }
                    continue
                }
                old = d.guest.value(f.section, f.key) ?? ""
                guard old != new else { continue }
                try checkValue(new, f)
                d.guest.set(f.section, f.key, new)
                if f.name == "name" {
                    d.hv.set(hvSection, "Name", new)
                    touchedHV = true
                }
                changes.append("\(f.label): \(old.isEmpty ? "(none)" : old) → \(new.isEmpty ? "(none)" : new) (guest.config)")
            case .hv:
                old = d.hv.value(hvSection, f.key) ?? ""
                guard old != new else { continue }
                if f.name == "address" && new.isEmpty { _ = d.hv.remove(hvSection, f.key) } else { d.hv.set(hvSection, f.key, new) }
                touchedHV = true
                changes.append("\(f.label): \(old.isEmpty ? "(default)" : old) → \(new.isEmpty ? "(default)" : new) (hv.config)")
            }
        }
        guard !changes.isEmpty else {
            return GuestEditResult(folder: folder, changes: [], notes: [], message: "nothing changed for \(d.entry.name)")
        }
        // The whole files, as they will be loaded; an error names the field of the key it is about.
        let config: GuestConfig
        do { config = try GuestConfig(base: d.guest, user: d.user) } catch let e as HVError {
            let candidates = fields.filter { $0.place == .guest && ($0.applies == .all || ($0.applies == .rtos) == (kind == .rtos)) }
            let named = candidates.compactMap { f in e.message.range(of: "\"\(f.key)\"").map { (f.name, $0.lowerBound) } }
            throw HVError(e.code, e.message, hint: e.hint, field: e.field ?? named.min { $0.1 < $1.1 }?.0)
        }
        // Changed paths are the token holder's: only where a guest's files belong (APIPaths).
        if config.image != oldConfig.image { try APIPaths.checkImage(config.image) }
        if config.diskImage != oldConfig.diskImage, !config.diskImage.isEmpty {
            try APIPaths.checkDisk(config.diskImage, folder: folder, layout: layout, others: APIPaths.configuredDisks(layout: layout, except: folder))
        }
        if config.installISO != oldConfig.installISO, !config.installISO.isEmpty {
            try APIPaths.checkISO(config.installISO, folder: folder, layout: layout)
        }
        if kind == .rtos, config.image != oldConfig.image, !FileManager.default.fileExists(atPath: layout.template(config.image).path) {
            throw HVError(
                .missingImage, "templates/\(config.image) does not exist",
                hint: "RT-Linux's image comes from hv setup; VxWorks and RTOS-32 images are yours to provide", field: "image")
        }
        if touchedHV {
            do { _ = try HypervisorConfig(d.hv) } catch let e as HVError {
                let field =
                    e.message.contains("Address") || e.message.contains("address")
                    ? "address"
                    : e.message.contains("Communication") ? "communication" : nil
                throw HVError(.invalidArgument, e.message, hint: e.hint, field: field)
            }
        }
        notes += diskNotes(old: oldConfig, new: config, folder: layout.guest(folder), layout: layout)
        if running { notes.append("\(d.entry.name) is running: the changes take effect at its next start") }
        if vmfLoaded && changes.contains(where: { $0.hasPrefix("Communication") || $0.hasPrefix("VMF address") }) {
            notes.append("the VMF network changes when the VMF is loaded again")
        }
        // Everything checked: guest.config first; if hv.config cannot be written, guest.config goes back.
        let dir = layout.guest(folder)
        let before = try Data(contentsOf: dir.guestConfig)
        try RegistryFile.write(d.guest, to: dir.guestConfig)
        if touchedHV {
            do { try RegistryFile.write(d.hv, to: layout.hvConfig) } catch {
                try? AtomicFile.write(before, to: dir.guestConfig)
                throw error
            }
        }
        return GuestEditResult(
            folder: folder, changes: changes, notes: notes,
            message: "saved \(d.entry.name): " + changes.joined(separator: "; "))
    }

    /// One value by its schema entry; the error names the form field.
    static func checkValue(_ value: String, _ f: Field) throws {
        if f.name == "name" && value.trimmingCharacters(in: .whitespaces).isEmpty {
            throw HVError(.invalidArgument, "the name is empty", hint: "such as \"Controller\"", field: f.name)
        }
        guard let kind = GuestConfig.schema.section(for: f.section)?.keys.first(where: { $0.name == f.key })?.kind else { return }
        do { try ConfigSchema.check(value, as: kind, key: f.key, section: f.section, file: "the form", line: 0) } catch let e as ConfigError {
            throw HVError(.invalidArgument, "\(e.message) (expected \(e.expected))", field: f.name)
        }
    }

    /// A changed disk path or size never touches an existing disk: say so.
    static func diskNotes(old: GuestConfig, new: GuestConfig, folder: GuestFolder, layout: HostLayout) -> [String] {
        guard new.kind == .kvm else { return [] }
        let path = { (c: GuestConfig) -> URL in c.diskImage.isEmpty ? folder.defaultDisk : layout.resolve(c.diskImage) }
        let (was, now) = (path(old), path(new))
        var notes: [String] = []
        if was != now, FileManager.default.fileExists(atPath: was.path) {
            notes.append(
                "the disk \(was.path) stays where it is"
                    + (FileManager.default.fileExists(atPath: now.path)
                        ? "; the guest now boots \(now.path)" : "; the next start creates an empty \(now.path) and installs from the ISO"))
        }
        if new.diskSizeGiB != old.diskSizeGiB, FileManager.default.fileExists(atPath: now.path) {
            notes.append("\(now.path) exists: its size stays as it is (the size applies when a disk is created)")
        }
        return notes
    }
}
