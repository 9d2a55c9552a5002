import Foundation
import HVCore
import HVHost
import Testing

@testable import HVEngine

#if canImport(Glibc)
import Glibc
#endif

/// qemu-img and qemu-io on a guest's disk run as the guest's user, on the
/// descriptor hvd checked, and leave the file as it was.
@Suite struct GuestDiskToolTests {
    func scratch(_ name: String, _ format: DiskImage.Format) throws -> (URL, DiskImage) {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("hv-disktool-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let image = DiskImage(url: dir.appendingPathComponent(name), inGuestFolder: false)
        try Command.check(["qemu-img", "create", "-q", "-f", format.rawValue, image.url.path, "8M"])
        chmod(image.url.path, 0o600)
        return (dir, image)
    }

    let guest = GuestIdentity.forGuest(id: 9, folder: "g")

    @Test func theToolRunsAsTheGuestsUserAndTheFileIsGivenBack() throws {
        let (dir, image) = try scratch("d.qcow2", .qcow2)
        defer { try? FileManager.default.removeItem(at: dir) }
        let tool = GuestDiskTool(url: image.url, format: .qcow2, identity: guest)
        let id = try tool.run(["sh", "-c", "id -u; test -r /proc/self/fd/3 && echo readable"], timeout: 10)
        #expect(id.stdout.contains(GuestIdentity.dropsPrivileges ? "\(guest.uid)" : "\(geteuid())"), "\(id.stdout)\(id.stderr)")
        #expect(id.stdout.contains("readable"))
        var st = stat()
        #expect(stat(image.url.path, &st) == 0 && st.st_uid == geteuid() && st.st_mode & 0o7777 == 0o600)
    }

    @Test func aPartitionTableIsFoundWithoutRootReadingTheDisk() throws {
        let (dir, image) = try scratch("d.qcow2", .qcow2)
        defer { try? FileManager.default.removeItem(at: dir) }
        #expect(try image.inspect(as: guest).hasSystem == false)
        try Command.check(["qemu-io", "-f", "qcow2", "-c", "write -P 0x55 510 1", "-c", "write -P 0xaa 511 1", image.url.path])
        let seen = try image.inspect(as: guest)
        #expect(seen.hasSystem && seen.virtualSizeBytes == 8 << 20)
    }

    @Test func aRawImageAndACorruptQcow2() throws {
        let (dir, raw) = try scratch("d.img", .raw)
        defer { try? FileManager.default.removeItem(at: dir) }
        #expect(try raw.inspect(as: guest).virtualSizeBytes == 8 << 20)
        // A file named .qcow2 that is not one: refused with the file named, nothing changed.
        let fake = DiskImage(url: dir.appendingPathComponent("fake.qcow2"), inGuestFolder: false)
        try Data(repeating: 0x41, count: 4096).write(to: fake.url)
        let error = #expect(throws: HVError.self) { try fake.inspect(as: guest) }
        #expect(error?.message.contains(fake.url.path) == true)
        #expect(try Data(contentsOf: fake.url) == Data(repeating: 0x41, count: 4096))
    }

    @Test func onlyWellFormedDumpLinesCount() {
        let dump = """
            00000000:  eb 63 90 10 8e d0 bc 00 b0 b8 00 00 8e d8 8e c0  .c..............
            garbage: zz
            00000020:  ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff  ................
            00000010:  01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f 10  ................
            read 32/32 bytes at offset 0
            """
        let bytes = GuestDiskTool.hexDump(dump, upTo: 1024)
        #expect(bytes.count == 32 && bytes.first == 0xeb && bytes.last == 0x10)
        #expect(GuestDiskTool.hexDump(dump, upTo: 4).count == 4)
        #expect(GuestDiskTool.hexDump("", upTo: 10).isEmpty)
    }
}
