import Foundation
import HVCore
import HVHost
import Testing

@testable import HVEngine

/// Which kernel file an RT-Linux guest boots: the uncompressed ELF (PVH)
/// unless the guest has PCI devices, then the bzImage (QEMU 7.2 on microvm
/// zeroes the PVH kernel when a vfio-pci device is present).
@Suite struct RTOSImageTests {
    func located(usr: String, files: [String]) throws -> Result<RTOSImage, HVError> {
        let root = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("hv-image-\(UUID().uuidString.prefix(8))")
        defer { try? FileManager.default.removeItem(at: root) }
        let layout = HostLayout(root: root)
        let dir = layout.template("rt-linux")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        for f in files { try Data("x".utf8).write(to: dir.appendingPathComponent(f)) }
        let g = ExampleCatalogue.all[0].guests[0]
        let base = try RegistryDocument(parsing: GuestFiles.guestConfig(g, project: "rt-linux").render(), fileName: "guest.config")
        let config = try GuestConfig(base: base, user: try RegistryDocument(parsing: usr, fileName: "usr.config"))
        do { return .success(try RTOSImage.locate(for: config, layout: layout)) } catch let e as HVError { return .failure(e) }
    }

    static let all = ["vmlinux", "bzImage", "initramfs.cpio", "debian-root.img", "modules.img"]
    static let busybox = "[Guest\\Boot]\n    \"Root\"=\"busybox\"\n"
    static let withDevice = "[Guest\\Devices]\n    \"Pci\"=\"0000:03:00.0\"\n"

    @Test func withoutDevicesTheUncompressedKernelBoots() throws {
        let image = try located(usr: "", files: Self.all).get()
        #expect(image.kernel.lastPathComponent == "vmlinux" && image.initrd?.lastPathComponent == "initramfs.cpio")
    }

    @Test func withAPCIDeviceTheBzImageBoots() throws {
        let image = try located(usr: Self.withDevice, files: Self.all).get()
        #expect(image.kernel.lastPathComponent == "bzImage")
        #expect(image.kernelArgs == RTLinuxImageFiles.defaultKernelArgs + " hv.root=disk")
    }

    @Test func anImageWithoutTheBzImageSaysToRebuild() throws {
        guard case .failure(let e) = try located(usr: Self.withDevice, files: ["vmlinux", "initramfs.cpio"]) else {
            Issue.record("an image without bzImage was accepted for a guest with a device")
            return
        }
        #expect(e.code == .missingImage && e.message.contains("bzImage") && (e.hint ?? "").contains("hv setup --rebuild-image"), "\(e)")
        // Without a device the same image still boots.
        #expect(try located(usr: "", files: ["vmlinux", "initramfs.cpio", "debian-root.img", "modules.img"]).get().kernel.lastPathComponent == "vmlinux")
    }

    @Test func theDebianRootBootsFromItsDiskWithTheKernelsModules() throws {
        let image = try located(usr: "", files: Self.all).get()
        #expect(image.rootTemplate?.lastPathComponent == "debian-root.img" && image.modulesImage?.lastPathComponent == "modules.img")
        #expect(image.kernelArgs.split(separator: " ").contains("hv.root=disk"))
        let small = try located(usr: Self.busybox, files: ["vmlinux", "bzImage", "initramfs.cpio"]).get()
        #expect(small.rootTemplate == nil && small.modulesImage == nil && !small.kernelArgs.contains("hv.root"))
    }

    @Test func anImageWithoutTheDebianRootSaysHowToGetOne() throws {
        for missing in ["debian-root.img", "modules.img"] {
            guard case .failure(let e) = try located(usr: "", files: Self.all.filter { $0 != missing }) else {
                Issue.record("an image without \(missing) was accepted for the Debian root")
                continue
            }
            #expect(e.code == .missingImage && e.message.contains(missing), "\(e)")
            #expect((e.hint ?? "").contains("hv setup --rebuild-image") && (e.hint ?? "").contains("busybox"), "\(e)")
        }
    }
}
