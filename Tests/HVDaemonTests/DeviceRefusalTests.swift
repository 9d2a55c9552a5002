import Foundation
import HVCore
import HVEngine
import Testing

@testable import HVDaemon

/// A start whose device is refused changes nothing: a KVM guest's first
/// start (no disk yet, an installer waiting) must not leave the new disk or
/// UEFI variables behind. On the real path (prepareKVM, real sysfs): this
/// host either has no IOMMU or no device at the address, refused both ways.
@Suite struct DeviceRefusalTests {
    @Test func aRefusedDeviceLeavesNoNewDiskBehind() throws {
        let root = URL(fileURLWithPath: "/tmp/hv-devrefusal-\(UUID().uuidString.prefix(8))")
        defer { try? FileManager.default.removeItem(at: root) }
        let layout = HostLayout(root: root)
        try FileManager.default.createDirectory(at: layout.isoDir, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: layout.runDir, withIntermediateDirectories: true)
        let example = try #require(try ExampleCatalogue.named("ubuntu_rtlinux").guests.first { $0.folder == "guestubuntu" })
        let folder = layout.guest(example.folder)
        try GuestFiles.write(guestConfig: GuestFiles.guestConfig(example, project: "ubuntu_rtlinux"), into: folder)
        try Data().write(to: layout.isoDir.appendingPathComponent("installer.iso"))
        try """
        [Guest\\Install]
            "Iso"="iso/installer.iso"
        [Guest\\Boot]
            "Firmware"="bios"
        [Guest\\Security]
            "Tpm"="no"
        [Guest\\Share]
            "GuestsFolder"="no"
        [Guest\\Devices]
            "Pci"="0000:7f:1f.7"

        """.write(to: folder.userConfig, atomically: true, encoding: .utf8)
        let config = try GuestConfig.load(from: folder)
        let disk = DiskImage.resolve(config, layout: layout, folder: folder).url
        let before = try FileManager.default.contentsOfDirectory(atPath: folder.url.path).sorted()

        let supervisor = GuestSupervisor(folder: folder, ctx: DaemonContext(layout: layout))
        let error = try #require(throws: HVError.self) { _ = try supervisor.start(wait: false, timeout: 5) }
        #expect(error.message.contains("0000:7f:1f.7") || error.message.contains("the IOMMU is off"), "\(error) \(error.hint ?? "")")
        #expect(!FileManager.default.fileExists(atPath: disk.path), "the refused start created \(disk.path)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.url.path).sorted() == before)
        #expect(supervisor.status().state == .stopped)
    }
}
