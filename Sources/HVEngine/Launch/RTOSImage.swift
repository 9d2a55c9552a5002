import Foundation
import HVCore
import HVHost

/// The files an RTOS guest boots from, found under templates/<Image>/.
public struct RTOSImage: Sendable, Equatable {
    public var kernel: URL
    public var initrd: URL?
    /// A line the guest prints when it is ready for its user (nil: the image has none).
    public var readyMarker: String?
    /// Kernel command line the image needs (before the guest's own arguments).
    public var kernelArgs: String
    /// RT-Linux on its Debian root: the template a first start copies, and the kernel's modules.
    public var rootTemplate: URL?
    public var modulesImage: URL?

    /// The ready line printed by the RT-Linux image's init.
    public static let rtLinuxReadyMarker = GuestConfig.rtLinuxReadyLine

    public static func locate(for config: GuestConfig, layout: HostLayout) throws -> RTOSImage {
        let dir = layout.template(config.image)
        switch config.os {
        case .rtLinux:
            let image = RTLinuxImageFiles(dir: dir)
            guard FileManager.default.fileExists(atPath: image.vmlinux.path),
                FileManager.default.fileExists(atPath: image.initramfs.path)
            else {
                throw HVError(
                    .missingImage, "the RT-Linux image is not built: \(image.vmlinux.path) is missing",
                    hint: "run `hv setup` (it builds the image from Debian's PREEMPT_RT kernel)")
            }
            // With a vfio-pci device, the kernel QEMU 7.2 loads from the ELF (PVH) is
            // found zeroed once microvm's firmware has run (measured in the nested
            // passthrough test: the vCPU runs through zeros, nothing is printed); the
            // bzImage, which the firmware copies itself from fw_cfg, boots. Its
            // decompressor costs ~3 s under TCG, nothing to speak of under KVM.
            let kernel = config.pciDevices.isEmpty ? image.vmlinux : image.bzImage
            guard FileManager.default.fileExists(atPath: kernel.path) else {
                throw HVError(
                    .missingImage, "the RT-Linux image has no \(kernel.lastPathComponent), which a guest with PCI devices boots",
                    hint: "rebuild it: hv setup --rebuild-image")
            }
            var found = RTOSImage(
                kernel: kernel, initrd: image.initramfs, readyMarker: config.readyLine.isEmpty ? nil : config.readyLine,
                kernelArgs: RTLinuxImageFiles.defaultKernelArgs)
            if config.root == .debian {
                for file in [image.debianRoot, image.modules] where !FileManager.default.fileExists(atPath: file.path) {
                    throw HVError(
                        .missingImage, "the RT-Linux image has no Debian root: \(file.path) is missing",
                        hint: "build it: hv setup --rebuild-image (or boot the busybox image: \"Root\"=\"busybox\" in [Guest\\Boot] of usr.config)")
                }
                found.rootTemplate = image.debianRoot
                found.modulesImage = image.modules
                found.kernelArgs += " hv.root=disk"
            }
            return found
        case .vxworks, .rtos32:
            let file = dir.appendingPathComponent(config.os == .vxworks ? "vxWorks" : "rtos32.bin")
            guard FileManager.default.fileExists(atPath: file.path) else {
                throw HVError(
                    .missingImage,
                    "cannot start \(config.name): the \(config.os.displayName) image \(file.path) is missing",
                    hint: "hv cannot ship \(config.os.displayName); build a multiboot ELF image with its SDK and copy it to \(file.path) (docs/IMAGES.md)")
            }
            return RTOSImage(
                kernel: file, initrd: nil, readyMarker: config.readyLine.isEmpty ? nil : config.readyLine, kernelArgs: "",
                rootTemplate: nil, modulesImage: nil)
        case .windows, .ubuntu:
            throw HVError(.internal, "\(config.os.displayName) is not an RTOS")
        }
    }
}
