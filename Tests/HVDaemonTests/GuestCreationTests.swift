import Foundation
import HVAPI
import HVCore
import HVHost
import Testing

@testable import HVDaemon

/// The product's rule for new guests: with any RTOS guest or any guest with
/// the communication subsystem, the first guest is an RTOS guest.
@Suite struct GuestCreationTests {
    func scratch() throws -> HostLayout {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("hv-create-\(UUID().uuidString.prefix(6))")
        let layout = HostLayout(root: root)
        try layout.ensureDirectories()
        try FileManager.default.createDirectory(at: layout.template("rt-linux"), withIntermediateDirectories: true)
        return layout
    }

    @Test func theFirstGuestMustBeAnRTOSGuestOnceOneMatters() throws {
        let layout = try scratch()
        defer { try? FileManager.default.removeItem(at: layout.root) }
        let e = try #require(throws: HVError.self) {
            try GuestCreation.create(.init(type: .generalWithComm, name: "Desktop"), layout: layout)
        }
        #expect(e.field == "type" && e.message.contains("first guest must be an RTOS guest"))
        #expect(!FileManager.default.fileExists(atPath: layout.hvConfig.path))
        // A general-purpose guest alone is fine; adding an RTOS guest after it is not.
        _ = try GuestCreation.create(.init(type: .general, name: "Desktop"), layout: layout)
        #expect(throws: HVError.self) { try GuestCreation.create(.init(type: .rtLinux, name: "RT"), layout: layout) }
    }

    @Test func anRTOSGuestFirstThenAnyOther() throws {
        let layout = try scratch()
        defer { try? FileManager.default.removeItem(at: layout.root) }
        let rt = try GuestCreation.create(.init(type: .rtLinux, name: "Controller"), layout: layout)
        #expect(rt.folder == "guest0001" && rt.id == 1)
        let kvm = try GuestCreation.create(.init(type: .generalWithComm, name: "HMI", os: "windows", memoryMiB: 8192), layout: layout)
        #expect(kvm.folder == "guest0002")
        let hv = try HypervisorConfig.load(layout.hvConfig)
        #expect(hv.guests.map(\.folder) == ["guest0001", "guest0002"])
        #expect(hv.communication.members.map(\.folder) == ["guest0001", "guest0002"])
        let config = try GuestConfig.load(from: layout.guest("guest0002"))
        #expect(config.os == .windows && config.memoryMiB == 8192 && config.installISO == "iso/windows.iso")
    }
}
