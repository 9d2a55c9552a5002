import Foundation
import HVAPI
import HVCore
import HVHost
import Testing

@testable import HVDaemon
@testable import HVEngine

#if canImport(Glibc)
import Glibc
#endif

/// A guest's backup written with real qemu-img and GNU tar, restored on
/// another scratch root and under another name; damaged and hostile
/// archives refused with nothing created.
@Suite(.serialized) struct GuestBackupTests {
    struct Plant {
        let layout: HostLayout
        init() throws {
            layout = HostLayout(root: URL(fileURLWithPath: "/tmp/hv-bk-\(UUID().uuidString.prefix(8))"))
            try layout.ensureDirectories()
        }
        func remove() { try? FileManager.default.removeItem(at: layout.root) }
        var guestsAndConfig: [String] {
            (((try? FileManager.default.contentsOfDirectory(atPath: layout.guestsDir.path)) ?? []).sorted())
                + [(try? String(contentsOf: layout.hvConfig, encoding: .utf8)) ?? ""]
        }
    }

    /// A KVM guest "hmi" with a disk holding 0xa5, its variables, TPM state and a script of the user's.
    func makeGuest(_ plant: Plant) throws -> (GuestBackup, URL) {
        _ = try GuestCreation.create(
            NewGuestRequest(type: .general, name: "HMI", os: "ubuntu", folder: "hmi", memoryMiB: 512, diskSizeGiB: 1),
            layout: plant.layout)
        let folder = plant.layout.guest("hmi")
        let disk = DiskImage(url: folder.defaultDisk, inGuestFolder: true)
        try Command.check(["qemu-img", "create", "-q", "-f", "qcow2", disk.url.path, "32M"])
        chmod(disk.url.path, 0o600)
        try Command.check(["qemu-io", "-f", "qcow2", "-c", "write -P 0xa5 0 1M", disk.url.path])
        try Data("vars".utf8).write(to: folder.nvram)
        try FileManager.default.createDirectory(at: folder.tpmDir, withIntermediateDirectories: true)
        try Data("tpm state".utf8).write(to: folder.tpmDir.appendingPathComponent("tpm2-00.permall"))
        let script = folder.url.appendingPathComponent("autorun.sh")
        try Data("#!/bin/sh\necho hi\n".utf8).write(to: script)
        chmod(script.path, 0o755)
        try Data("log".utf8).write(to: folder.consoleLog)
        try GuestSSH.ensureKeysDir(plant.layout)
        try Data("hv-hmi ssh-ed25519 AAAAkey root@hmi\n".utf8).write(to: plant.layout.guestHostKey("hmi"))
        let backup = GuestBackup(
            folder: folder, layout: plant.layout, disk: disk, identity: GuestIdentity.forGuest(id: 1, folder: "hmi"),
            name: "HMI", kind: .kvm)
        let entry = try RegistryFile.read(plant.layout.hvConfig).entries(in: "Guests\\hmi").map { [$0.key, $0.value] }
        let written = try backup.write(into: plant.layout.backupDir, source: .image, hvConfigEntry: entry)
        return (backup, written.archive)
    }

    @Test func aBackupRestoresOnAnotherHostWithItsDiskAndFiles() throws {
        let a = try Plant(), b = try Plant()
        defer {
            a.remove()
            b.remove()
        }
        let (_, archive) = try makeGuest(a)
        var mode = stat()
        #expect(stat(archive.path, &mode) == 0 && mode.st_mode & 0o077 == 0, "the archive is root's alone")
        let listing = try Command.check(["tar", "-tf", archive.path])
        #expect(listing.split(separator: "\n").first == "manifest.json", "\(listing)")
        #expect(!listing.contains("console.log"))

        let restore = GuestRestore(archive: archive, layout: b.layout, as: nil)
        let plan = try restore.plan()
        #expect(plan.folder == "hmi" && plan.steps.count == 3, "\(plan.steps)")
        #expect(listing.contains("keys/known_hosts"))
        let done = try restore.perform()
        #expect(done.folder == "hmi")
        let folder = b.layout.guest("hmi")
        let read = try Command.run(["qemu-io", "-f", "qcow2", "-c", "read -P 0xa5 0 1M", folder.defaultDisk.path])
        #expect(read.status == 0 && !read.stdout.contains("verification failed"), "\(read.stdout)")
        #expect(try String(contentsOf: folder.tpmDir.appendingPathComponent("tpm2-00.permall"), encoding: .utf8) == "tpm state")
        #expect(try String(contentsOf: folder.nvram, encoding: .utf8) == "vars")
        var st = stat()
        #expect(stat(folder.url.appendingPathComponent("autorun.sh").path, &st) == 0 && st.st_mode & 0o777 == 0o755)
        let hv = try HypervisorConfig(try RegistryFile.read(b.layout.hvConfig))
        #expect(hv.guests.map(\.folder) == ["hmi"] && hv.guests.first?.id == 1)
        #expect(try GuestConfig.load(from: folder).name == "HMI")
        // Nothing of the restore's own is left behind.
        #expect(try FileManager.default.contentsOfDirectory(atPath: b.layout.backupDir.path).isEmpty)
    }

    @Test func aRestoreOverwritesNothingAndTakesANewName() throws {
        let a = try Plant()
        defer { a.remove() }
        let (_, archive) = try makeGuest(a)
        let before = a.guestsAndConfig
        #expect(throws: HVError.self) { try GuestRestore(archive: archive, layout: a.layout, as: nil).plan() }
        #expect(a.guestsAndConfig == before)
        let done = try GuestRestore(archive: archive, layout: a.layout, as: "hmi2").perform()
        #expect(done.folder == "hmi2")
        let hv = try HypervisorConfig(try RegistryFile.read(a.layout.hvConfig))
        #expect(hv.guests.map(\.folder) == ["hmi", "hmi2"] && hv.guests.map(\.id) == [1, 2])
        #expect(try GuestConfig.load(from: a.layout.guest("hmi2")).name == "hmi2")
        #expect(try String(contentsOf: a.layout.guestHostKey("hmi2"), encoding: .utf8) == "hv-hmi2 ssh-ed25519 AAAAkey root@hmi\n")
    }

    @Test func aTruncatedOrDamagedArchiveIsRefusedAndNothingIsCreated() throws {
        let a = try Plant(), b = try Plant()
        defer {
            a.remove()
            b.remove()
        }
        let (_, archive) = try makeGuest(a)
        let whole = try Data(contentsOf: archive)
        let before = b.guestsAndConfig
        for (label, bytes) in [
            ("truncated", whole.prefix(whole.count / 2)), ("without its end marker", withoutEndMarker(whole)),
            ("damaged", damage(whole, in: "disk.qcow2")),
        ] {
            let copy = b.layout.root.appendingPathComponent("copy.tar")
            try? FileManager.default.removeItem(at: copy)
            try bytes.write(to: copy)
            chmod(copy.path, 0o600)
            let error = #expect(throws: HVError.self, "\(label)") { try GuestRestore(archive: copy, layout: b.layout, as: nil).perform() }
            #expect(error?.message.contains(copy.path) == true, "\(label): \(error?.message ?? "")")
            if label == "damaged" { #expect(error?.message.contains("disk.qcow2") == true, "\(error?.message ?? "")") }
            #expect(b.guestsAndConfig == before, "\(label): nothing created")
            #expect(try FileManager.default.contentsOfDirectory(atPath: b.layout.backupDir.path).isEmpty)
        }
    }

    /// Every member whole, the end marker (and tar's padding) cut off.
    func withoutEndMarker(_ data: Data) -> Data {
        var end = data.count
        while end >= 512, data[(end - 512)..<end].allSatisfy({ $0 == 0 }) { end -= 512 }
        return data.prefix(end)
    }

    /// One byte changed in the middle of a member's content.
    func damage(_ data: Data, in member: String) -> Data {
        var d = data
        // Its header: the name at the start of a block (the manifest names it too, inside its content).
        var from = d.startIndex
        var header: Int?
        while let at = d.range(of: Data(member.utf8), in: from..<d.endIndex) {
            if at.lowerBound % 512 == 0 {
                header = at.lowerBound
                break
            }
            from = at.upperBound
        }
        guard let header else { return d }
        let content = header + 512 + 4096
        if content < d.count { d[content] ^= 0xff }
        return d
    }

    @Test func membersABackupNeverHoldsAreRefused() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("hv-tar-\(UUID().uuidString.prefix(6))")
        defer { try? FileManager.default.removeItem(at: dir) }
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try Data("{}".utf8).write(to: dir.appendingPathComponent("manifest.json"))
        try FileManager.default.createSymbolicLink(atPath: dir.appendingPathComponent("link").path, withDestinationPath: "/etc/shadow")
        let long = String(repeating: "n", count: 120)
        try Data().write(to: dir.appendingPathComponent(long))
        for (member, expected) in [("link", "symbolic link"), (long, "long-name")] {
            let tar = dir.appendingPathComponent("t.tar")
            try? FileManager.default.removeItem(at: tar)
            try Command.check(["tar", "--format=gnu", "-cf", tar.path, "-C", dir.path, member])
            let fd = open(tar.path, O_RDONLY)
            defer { close(fd) }
            var reader = TarReader(fd: fd, what: "t.tar")
            let error = #expect(throws: HVError.self) { _ = try reader.next() }
            #expect(error?.message.contains(expected) == true, "\(error?.message ?? "")")
        }
        for bad in ["../x", "/etc/x", "a//b", "a/./b", "", "x\u{1}y"] { #expect(TarReader.nameProblem(bad) != nil, "\(bad)") }
        #expect(TarReader.nameProblem("folder/tpm/tpm2-00.permall") == nil)
    }

    @Test func headersThatLieAreRefused() throws {
        func header(name: String, size: String, type: UInt8 = UInt8(ascii: "0"), checksum: Bool = true) -> [UInt8] {
            var h = [UInt8](repeating: 0, count: 512)
            for (i, b) in name.utf8.enumerated() where i < 100 { h[i] = b }
            for (i, b) in size.utf8.enumerated() { h[124 + i] = b }
            h[156] = type
            for (i, b) in "ustar  ".utf8.enumerated() { h[257 + i] = b }
            for i in 148..<156 { h[i] = 32 }
            let sum = h.reduce(0) { $0 + Int($1) } + (checksum ? 0 : 1)
            for (i, b) in String(format: "%06o\u{0} ", sum).utf8.enumerated() { h[148 + i] = b }
            return h
        }
        let fail: (String) -> HVError = { HVError(.badDiskImage, $0) }
        #expect(try TarReader.parse(header(name: "disk.qcow2", size: "00000001000"), at: 0, fail: fail).size == 512)
        #expect(throws: HVError.self) { try TarReader.parse(header(name: "a", size: "1", checksum: false), at: 0, fail: fail) }
        #expect(throws: HVError.self) { try TarReader.parse(header(name: "a", size: "9999"), at: 0, fail: fail) }
        #expect(throws: HVError.self) { try TarReader.parse(header(name: "dev", size: "0", type: UInt8(ascii: "3")), at: 0, fail: fail) }
        var big = header(name: "a", size: "")
        big[124] = 0x80
        for i in 125..<136 { big[i] = 0xff }
        for i in 148..<156 { big[i] = 32 }
        let sum = big.reduce(0) { $0 + Int($1) }
        for (i, b) in String(format: "%06o\u{0} ", sum).utf8.enumerated() { big[148 + i] = b }
        #expect(throws: HVError.self) { try TarReader.parse(big, at: 0, fail: fail) }
    }

    @Test func anArchiveOthersMayWriteIsNotRestored() throws {
        guard GuestIdentity.dropsPrivileges else { return }
        let a = try Plant()
        defer { a.remove() }
        let (_, archive) = try makeGuest(a)
        chmod(archive.path, 0o666)
        let error = #expect(throws: HVError.self) { try GuestRestore(archive: archive, layout: a.layout, as: "other").plan() }
        #expect(error?.message.contains("not root's alone") == true)
    }
}
