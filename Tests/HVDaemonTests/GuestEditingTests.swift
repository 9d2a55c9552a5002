import Foundation
import HVAPI
import HVHost
import Testing

@testable import HVCore
@testable import HVDaemon

/// Editing an existing guest: the form's fields over guest.config and
/// hv.config, checked like the files, written only when all pass.
@Suite struct GuestEditingTests {
    struct Host {
        let layout: HostLayout
        init() throws {
            let root = FileManager.default.temporaryDirectory.appendingPathComponent("hv-edit-\(UUID().uuidString.prefix(6))")
            layout = HostLayout(root: root)
            try layout.ensureDirectories()
            for t in ["rt-linux", "rt-linux-debug"] {
                try FileManager.default.createDirectory(at: layout.template(t), withIntermediateDirectories: true)
            }
            _ = try GuestCreation.create(.init(type: .rtLinux, name: "Controller"), layout: layout)
            _ = try GuestCreation.create(.init(type: .general, name: "HMI", os: "ubuntu"), layout: layout)
        }
        func bytes() throws -> [Data] {
            try [layout.hvConfig, layout.guest("guest0001").guestConfig, layout.guest("guest0002").guestConfig].map { try Data(contentsOf: $0) }
        }
        func cleanup() { try? FileManager.default.removeItem(at: layout.root) }
    }

    @Test func settingsShowWhatEachKindHas() throws {
        let h = try Host()
        defer { h.cleanup() }
        let rt = try GuestEditing.settings("guest0001", layout: h.layout)
        #expect(rt.kind == "rtos" && rt.name == "Controller" && rt.cores == 1 && rt.memoryMiB == 256 && rt.image == "rt-linux" && rt.rtPriority == 50)
        #expect(rt.diskImage == nil && rt.communication == nil && rt.overridden == [])
        let kvm = try GuestEditing.settings("guest0002", layout: h.layout)
        #expect(kvm.kind == "kvm" && kvm.os == "ubuntu" && kvm.iso == "iso/ubuntu.iso" && kvm.isoAttach == "until-installed")
        #expect(kvm.networkMode == "user" && kvm.communication == false && kvm.image == nil)
    }

    @Test func changesAreWrittenAndListed() throws {
        let h = try Host()
        defer { h.cleanup() }
        let r = try GuestEditing.update(
            "guest0001", with: .init(name: "Press line", memoryMiB: 512, image: "rt-linux-debug"),
            layout: h.layout, running: true, vmfLoaded: false)
        #expect(
            r.changes == [
                "Name: Controller → Press line (guest.config)", "Memory MiB: 256 → 512 (guest.config)",
                "Image: rt-linux → rt-linux-debug (guest.config)",
            ])
        #expect(r.notes.contains { $0.contains("take effect at its next start") })
        let c = try GuestConfig.load(from: h.layout.guest("guest0001"))
        #expect(c.name == "Press line" && c.memoryMiB == 512 && c.image == "rt-linux-debug")
        #expect(try HypervisorConfig.load(h.layout.hvConfig).guest(folder: "guest0001")?.name == "Press line")
        // The same values again: nothing to do, nothing written.
        let again = try GuestEditing.update("guest0001", with: .init(memoryMiB: 512), layout: h.layout, running: false, vmfLoaded: false)
        #expect(again.changes.isEmpty && again.message.contains("nothing changed"))
    }

    @Test func theCommunicationSubsystemAndAddressLiveInHVConfig() throws {
        let h = try Host()
        defer { h.cleanup() }
        let r = try GuestEditing.update(
            "guest0002", with: .init(communication: true, address: "10.77.0.20"),
            layout: h.layout, running: false, vmfLoaded: true)
        #expect(r.changes.count == 2 && r.notes.contains { $0.contains("VMF is loaded again") })
        let hv = try HypervisorConfig.load(h.layout.hvConfig)
        #expect(hv.communication.member("guest0002")?.address.description == "10.77.0.20")
        // Back to the default address: the key goes.
        _ = try GuestEditing.update("guest0002", with: .init(address: ""), layout: h.layout, running: false, vmfLoaded: false)
        #expect(try HypervisorConfig.load(h.layout.hvConfig).communication.member("guest0002")?.address.description == "10.77.0.2")
    }

    @Test func everyBadValueNamesItsFieldAndChangesNothing() throws {
        let h = try Host()
        defer { h.cleanup() }
        let before = try h.bytes()
        let cases: [(String, GuestSettings, String)] = [
            ("guest0001", .init(cores: 0), "cores"),
            ("guest0001", .init(memoryMiB: -5), "memoryMiB"),
            ("guest0001", .init(name: "  "), "name"),
            ("guest0001", .init(rtPriority: 120), "rtPriority"),
            ("guest0001", .init(image: "no-such-image"), "image"),
            ("guest0001", .init(iso: "iso/x.iso"), "iso"),
            ("guest0002", .init(image: "rt-linux"), "image"),
            ("guest0002", .init(diskSizeGiB: 0), "diskSizeGiB"),
            ("guest0002", .init(isoAttach: "sometimes"), "isoAttach"),
            ("guest0002", .init(networkMode: "bridged"), "networkMode"),
            ("guest0002", .init(communication: true, address: "10.77.0.1"), "address"),
            ("guest0002", .init(communication: true, address: "192.168.9.9"), "address"),
            ("guest0002", .init(communication: true, address: "not an address"), "address"),
            // A valid value with a bad one: the valid one is not written either.
            ("guest0001", .init(cores: 0, memoryMiB: 512), "cores"),
        ]
        for (folder, change, field) in cases {
            let e = try #require(throws: HVError.self, "\(field)") {
                try GuestEditing.update(folder, with: change, layout: h.layout, running: false, vmfLoaded: false)
            }
            #expect(e.field == field, "\(field): \(e.message) (field \(e.field ?? "none"))")
            #expect(!e.message.isEmpty)
        }
        #expect(try h.bytes() == before)
    }

    /// The network fields: a bridge and forwarded ports set from the form,
    /// read back; a bad rule or a bridge without a name names its field and changes nothing.
    @Test func networkFieldsFromTheForm() throws {
        let h = try Host()
        defer { h.cleanup() }
        var forward = GuestSettings()
        forward.hostForward = "tcp:2222:22,udp:0.0.0.0:5000:5000"
        _ = try GuestEditing.update("guest0002", with: forward, layout: h.layout, running: false, vmfLoaded: false)
        #expect(try GuestEditing.settings("guest0002", layout: h.layout).hostForward == "tcp:2222:22,udp:0.0.0.0:5000:5000")
        let before = try h.bytes()
        var bad = GuestSettings()
        bad.hostForward = "tcp:80:80"
        let e = try #require(throws: HVError.self) { try GuestEditing.update("guest0002", with: bad, layout: h.layout, running: false, vmfLoaded: false) }
        #expect(e.message.contains("below 1024") && e.field == "hostForward", "\(e.message) \(e.field ?? "no field")")
        var bridged = GuestSettings(networkMode: "bridge")
        let noName = try #require(throws: HVError.self) {
            try GuestEditing.update("guest0002", with: bridged, layout: h.layout, running: false, vmfLoaded: false)
        }
        #expect(noName.message.contains("names no \"Bridge\"") && noName.field == "networkMode", "\(noName.message)")
        #expect(try h.bytes() == before)
        bridged.bridge = "br0"
        bridged.hostForward = ""
        _ = try GuestEditing.update("guest0002", with: bridged, layout: h.layout, running: false, vmfLoaded: false)
        let s = try GuestEditing.settings("guest0002", layout: h.layout)
        #expect(s.networkMode == "bridge" && s.bridge == "br0" && s.hostForward == "")
    }

    @Test func usrConfigOverridesAreTheUsersAndStay() throws {
        let h = try Host()
        defer { h.cleanup() }
        let usr = h.layout.guest("guest0001").userConfig
        try "[Guest\\Memory]\n    \"SizeMiB\"=\"384\"\n".write(to: usr, atomically: true, encoding: .utf8)
        let s = try GuestEditing.settings("guest0001", layout: h.layout)
        #expect(s.memoryMiB == 384 && s.overridden == ["memoryMiB"])
        let before = try h.bytes()
        let e = try #require(throws: HVError.self) {
            try GuestEditing.update("guest0001", with: .init(memoryMiB: 512), layout: h.layout, running: false, vmfLoaded: false)
        }
        #expect(e.code == .conflict && e.field == "memoryMiB" && e.message.contains("usr.config"))
        #expect(try h.bytes() == before)
        // Sending the value usr.config already gives is no change.
        #expect(try GuestEditing.update("guest0001", with: .init(memoryMiB: 384), layout: h.layout, running: false, vmfLoaded: false).changes.isEmpty)
    }

    @Test func aMovedDiskIsNeverTouched() throws {
        let h = try Host()
        defer { h.cleanup() }
        let disk = h.layout.guest("guest0002").defaultDisk
        try Data("disk".utf8).write(to: disk)
        let r = try GuestEditing.update(
            "guest0002", with: .init(diskImage: "VMs/hmi/ubuntu.qcow2", diskSizeGiB: 80),
            layout: h.layout, running: false, vmfLoaded: false)
        #expect(r.notes.contains { $0.contains("\(disk.path) stays where it is") && $0.contains("creates an empty") }, "\(r.notes)")
        #expect(try Data(contentsOf: disk) == Data("disk".utf8))
    }

    @Test func anUnknownGuestIsNotFound() throws {
        let h = try Host()
        defer { h.cleanup() }
        let e = try #require(throws: HVError.self) { try GuestEditing.settings("guest0099", layout: h.layout) }
        #expect(e.code == .notFound)
    }

    /// The edit form's fields come from the declarations and name real settings.
    @Test func theFormsFieldsAreTheDeclaredOnes() throws {
        let names = GuestEditing.fields.map(\.name)
        #expect(names.contains("cores") && names.contains("rtPriority") && names.contains("communication") && names.contains("address"))
        var all = GuestSettings(
            name: "x", cores: 1, memoryMiB: 1, rtPriority: 1, image: "x", diskImage: "x", diskSizeGiB: 1, iso: "x",
            isoAttach: "x", networkMode: "x", communication: true, address: "x")
        all.bridge = "x"
        all.hostForward = "x"
        all.pciDevices = "x"
        let encoded = try JSONSerialization.jsonObject(with: JSONEncoder().encode(all)) as? [String: Any]
        for field in GuestEditing.fields {
            #expect(encoded?[field.name] != nil, "\(field.name) is not a GuestSettings field")
            #expect(GuestEditing.value(of: field.name, in: all) != nil, "\(field.name) has no value in the form")
        }
    }
}
