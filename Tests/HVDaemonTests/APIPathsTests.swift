import Foundation
import HVAPI
import Testing

@testable import HVCore
@testable import HVDaemon

/// Disk and ISO paths that come through the API may name only what a
/// guest's files are for: the token must not buy write access to a host file.
@Suite struct APIPathsTests {
    typealias Host = GuestEditingTests.Host

    /// Each refused path: a clear error naming the field, and no file changed.
    @Test func theEditFormCannotPointADiskAtAHostFile() throws {
        let h = try Host()
        defer { h.cleanup() }
        let outside = FileManager.default.temporaryDirectory.appendingPathComponent("hv-secret-\(UUID().uuidString.prefix(6)).qcow2")
        try Data("secret".utf8).write(to: outside)
        defer { try? FileManager.default.removeItem(at: outside) }
        let vms = h.layout.vmsDir
        try FileManager.default.createDirectory(at: vms, withIntermediateDirectories: true)
        // A link under VMs/ to the outside file, and a folder link.
        try FileManager.default.createSymbolicLink(at: vms.appendingPathComponent("link.qcow2"), withDestinationURL: outside)
        try FileManager.default.createSymbolicLink(at: vms.appendingPathComponent("elsewhere"), withDestinationURL: outside.deletingLastPathComponent())
        let exchange = h.layout.guest("guest0002").exchangeDir
        try FileManager.default.createDirectory(at: exchange, withIntermediateDirectories: true)
        let refused: [(String, String)] = [
            ("/etc/shadow", "outside the places"),
            (outside.path, "outside the places"),
            ("../etc/passwd.qcow2", "outside the places"),
            ("\(h.layout.root.path)/../etc/x.qcow2", "outside the places"),
            ("config/hv.config", "outside the places"),
            ("run/guest0002/state.json", "outside the places"),
            ("guests/guest0001/disk.qcow2", "outside the places"),
            ("guests/guest0002/guest.config", "not named as a disk image"),
            ("guests/guest0002/exchange.img", "not named as a disk image"),
            ("guests/guest0002/exchange/planted.qcow2", "exchange folder"),
            ("guests/guest0002/tpm/x.img", "TPM state"),
            ("VMs/link.qcow2", "a symbolic link"),
            ("VMs/elsewhere/\(outside.lastPathComponent)", "a symbolic link"),
            ("VMs/.hidden.qcow2", "outside the places"),
        ]
        let before = try h.bytes()
        for (path, says) in refused {
            let e = try #require(throws: HVError.self, "\(path)") {
                try GuestEditing.update("guest0002", with: .init(diskImage: path), layout: h.layout, running: false, vmfLoaded: false)
            }
            #expect(e.field == "diskImage" && e.message.contains(says) && e.hint != nil, "\(path): \(e.message)")
        }
        #expect(try h.bytes() == before, "no configuration changed")
        #expect(try Data(contentsOf: outside) == Data("secret".utf8))
        // Where a guest's disk belongs: accepted.
        for path in ["VMs/hmi/ubuntu.qcow2", "guests/guest0002/system.img", "\(h.layout.root.path)/VMs/b.raw"] {
            _ = try GuestEditing.update("guest0002", with: .init(diskImage: path), layout: h.layout, running: false, vmfLoaded: false)
            #expect(try GuestConfig.load(from: h.layout.guest("guest0002")).diskImage == path)
        }
    }

    @Test func anISOMustBeAnISOWhereISOsAre() throws {
        let h = try Host()
        defer { h.cleanup() }
        for path in ["/root/secret.iso", "keys/hv_ed25519", "iso/notes.txt", "guests/guest0001/x.iso"] {
            let e = try #require(throws: HVError.self, "\(path)") {
                try GuestEditing.update("guest0002", with: .init(iso: path), layout: h.layout, running: false, vmfLoaded: false)
            }
            #expect(e.field == "iso", "\(path): \(e.message)")
        }
        _ = try GuestEditing.update("guest0002", with: .init(iso: "iso/debian-12.iso"), layout: h.layout, running: false, vmfLoaded: false)
        #expect(try GuestConfig.load(from: h.layout.guest("guest0002")).installISO == "iso/debian-12.iso")
    }

    /// Another guest's disk is that guest's, and an image is a template's name.
    @Test func noGuestTakesAnothersDiskOrAPathAsItsImage() throws {
        let h = try Host()
        defer { h.cleanup() }
        _ = try GuestEditing.update("guest0002", with: .init(diskImage: "VMs/shared.qcow2"), layout: h.layout, running: false, vmfLoaded: false)
        let taken = try #require(throws: HVError.self) {
            try GuestCreation.create(.init(type: .general, name: "Second HMI", os: "ubuntu", diskImage: "VMs/shared.qcow2"), layout: h.layout)
        }
        #expect(taken.code == .conflict && taken.message.contains("disk of guest guest0002"), "\(taken.message)")
        #expect(!FileManager.default.fileExists(atPath: h.layout.guest("guest0003").url.path), "a refused guest leaves no folder")
        for image in ["../../etc", "rt-linux/../../x", ".hidden", ""] {
            let e = try #require(throws: HVError.self, "\(image)") {
                try GuestEditing.update("guest0001", with: .init(image: image), layout: h.layout, running: false, vmfLoaded: false)
            }
            #expect(e.field == "image", "\(image): \(e.message)")
        }
        let created = try #require(throws: HVError.self) {
            try GuestCreation.create(.init(type: .rtLinux, name: "RT 2", image: "../templates/rt-linux"), layout: h.layout)
        }
        #expect(created.field == "image")
    }

    /// A project PUT carries whole guest.config files: the same rules, and its guests share no disk.
    @Test func aProjectFromTheAPIFollowsTheSameRules() throws {
        let h = try Host()
        defer { h.cleanup() }
        let hv = try String(contentsOf: h.layout.hvConfig, encoding: .utf8)
        let rt = try String(contentsOf: h.layout.guest("guest0001").guestConfig, encoding: .utf8)
        let hmi = try String(contentsOf: h.layout.guest("guest0002").guestConfig, encoding: .utf8)
        func withDisk(_ text: String, _ disk: String) throws -> String {
            var doc = try RegistryDocument(parsing: text, fileName: "guest.config")
            doc.set("Guest\\Disk", "Image", disk)
            return doc.render()
        }
        let bad = ProjectContent(hvConfig: hv, guests: ["guest0001": rt, "guest0002": try withDisk(hmi, "/etc/shadow")])
        let e = try #require(throws: HVError.self) { try ProjectSync.store("plant", content: bad, layout: h.layout) }
        #expect(e.message.contains("guest guest0002") && e.message.contains("/etc/shadow") && e.field == "diskImage", "\(e.message)")
        #expect(!FileManager.default.fileExists(atPath: h.layout.project("plant").path), "nothing stored")
        let shared = ProjectContent(hvConfig: hv, guests: ["guest0001": try withDisk(rt, "VMs/one.qcow2"), "guest0002": try withDisk(hmi, "VMs/one.qcow2")])
        let twice = try #require(throws: HVError.self) { try ProjectSync.store("plant", content: shared, layout: h.layout) }
        #expect(twice.code == .conflict && twice.message.contains("disk of guest guest0001"), "\(twice.message)")
        let good = ProjectContent(hvConfig: hv, guests: ["guest0001": rt, "guest0002": try withDisk(hmi, "VMs/hmi.qcow2")])
        _ = try ProjectSync.store("plant", content: good, layout: h.layout)
    }
}
