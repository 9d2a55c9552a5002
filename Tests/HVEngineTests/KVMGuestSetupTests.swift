import Foundation
import HVCore
import HVHost
import Testing

@testable import HVEngine

/// A KVM guest's start preparation: checks first, then creation; a refused
/// start creates nothing. Uses the real qemu-img on scratch files.
@Suite struct KVMGuestSetupTests {
    final class Scratch {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("hv-kvmsetup-\(UUID().uuidString.prefix(8))")
        var layout: HostLayout { HostLayout(root: root) }
        var folder: GuestFolder { layout.guest("guestubuntu") }
        var ovmf: URL { root.appendingPathComponent("ovmf") }
        init() throws {
            try layout.ensureDirectories()
            try FileManager.default.createDirectory(at: folder.url, withIntermediateDirectories: true)
            try FileManager.default.createDirectory(at: ovmf, withIntermediateDirectories: true)
            try Data(repeating: 1, count: 4096).write(to: ovmf.appendingPathComponent("OVMF_CODE_4M.fd"))
            try Data(repeating: 2, count: 4096).write(to: ovmf.appendingPathComponent("OVMF_VARS_4M.fd"))
        }
        deinit { try? FileManager.default.removeItem(at: root) }

        func setup(usr: String = "") throws -> KVMGuestSetup {
            let g = try #require(try ExampleCatalogue.named("ubuntu_rtlinux").guests.last)
            let base = try RegistryDocument(parsing: GuestFiles.guestConfig(g, project: "t").render(), fileName: "guest.config")
            let config = try GuestConfig(base: base, user: try RegistryDocument(parsing: usr, fileName: "usr.config"))
            var s = KVMGuestSetup(config: config, folder: folder, layout: layout, accelerator: .tcg)
            s.ovmfDirectory = ovmf.path
            return s
        }
        var disk: URL { layout.vmsDir.appendingPathComponent("example_ubuntu/ubuntu.qcow2") }
        var iso: URL { layout.isoDir.appendingPathComponent("ubuntu.iso") }
    }

    @Test func aMissingISONamesItsPathAndCreatesNothing() throws {
        let s = try Scratch()
        let e = try #require(throws: HVError.self) { try s.setup().prepare() }
        #expect(e.code == .missingImage)
        #expect(e.message.contains(s.iso.path))
        #expect(!FileManager.default.fileExists(atPath: s.disk.path))
        #expect(!FileManager.default.fileExists(atPath: s.folder.nvram.path))
    }

    @Test func theFirstStartCreatesTheDiskAndNVRAMAndBootsTheInstaller() throws {
        let s = try Scratch()
        try Data("iso".utf8).write(to: s.iso)
        let p = try s.setup().prepare()
        #expect(p.plan.installing)
        #expect(p.plan.iso == s.iso.path)
        #expect(p.created.map(\.path).sorted() == [s.disk.path, s.folder.nvram.path].sorted())
        #expect(try Data(contentsOf: s.folder.nvram) == Data(repeating: 2, count: 4096))
        let info = try DiskImage(url: s.disk, inGuestFolder: false).inspect(as: nil)
        #expect(info.virtualSizeBytes == 32 << 30)
        #expect(!info.hasSystem)
        #expect(p.steps.contains { $0.contains("created the disk") })
    }

    @Test func anInstalledDiskBootsWithoutTheISO() throws {
        let s = try Scratch()
        // A raw disk (named .img) with an MBR signature: "installed".
        let disk = s.folder.url.appendingPathComponent("sys.img")
        var bytes = Data(count: 1 << 20)
        bytes[510] = 0x55
        bytes[511] = 0xAA
        try bytes.write(to: disk)
        let p = try s.setup(usr: "[Guest\\Disk]\n    \"Image\"=\"\(disk.path)\"\n").prepare()
        #expect(!p.plan.installing)
        #expect(p.plan.iso == nil, "the ISO (absent here) is not needed once installed")
        #expect(p.plan.diskFormat == .raw)
        #expect(p.created == [s.folder.nvram])
    }

    @Test func aCorruptQcow2IsRefusedAndLeftAsItWas() throws {
        let s = try Scratch()
        try Data("iso".utf8).write(to: s.iso)
        try FileManager.default.createDirectory(at: s.disk.deletingLastPathComponent(), withIntermediateDirectories: true)
        #expect(try Command.run(["qemu-img", "create", "-q", "-f", "qcow2", s.disk.path, "1G"]).status == 0)
        // Point the L1 table far beyond the file: qemu-img check reports corruption.
        var data = try Data(contentsOf: s.disk)
        for i in 40..<48 { data[i] = 0x7f }
        try data.write(to: s.disk)
        let e = try #require(throws: HVError.self) { try s.setup().prepare() }
        #expect(e.code == .badDiskImage)
        #expect(e.message.contains(s.disk.path))
        #expect(try Data(contentsOf: s.disk) == data)
        #expect(!FileManager.default.fileExists(atPath: s.folder.nvram.path))
    }

    @Test func partitionTablesAreRecognised() {
        var head = Data(count: 1024)
        #expect(!DiskImage.hasPartitionTable(head))
        head[510] = 0x55
        head[511] = 0xAA
        #expect(DiskImage.hasPartitionTable(head))
        var gpt = Data(count: 1024)
        gpt.replaceSubrange(512..<520, with: Array("EFI PART".utf8))
        #expect(DiskImage.hasPartitionTable(gpt))
        #expect(!DiskImage.hasPartitionTable(Data(count: 100)))
    }

    @Test func theHostKeepsItsReserve() throws {
        try HostMemory.checkStart(guest: "Ubuntu", requestMiB: 4096, running: [("RT-Linux", 256)], reserveMiB: 2048, totalMiB: 8192)
        let e = try #require(throws: HVError.self) {
            try HostMemory.checkStart(guest: "Ubuntu", requestMiB: 6000, running: [("RT-Linux", 256)], reserveMiB: 2048, totalMiB: 8192)
        }
        #expect(e.code == .insufficientResources)
        for number in ["6000", "8192", "256", "1936", "2048"] { #expect(e.message.contains(number), "\(number) in \(e.message)") }
    }
}
