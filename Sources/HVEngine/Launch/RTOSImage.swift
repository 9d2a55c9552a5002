import Foundation
import HVCore

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
                  FileManager.default.fileExists(atPath: image.initramfs.path) else {
                throw HVError(.missingImage, "the RT-Linux image is not built: \(image.vmlinux.path) is missing",
                              hint: "run `hv setup` (it builds the image from Debian's PREEMPT_RT kernel)")
            }
            // With a vfio-pci device, the kernel QEMU 7.2 loads from the ELF (PVH) is
            // found zeroed once microvm's firmware has run (measured in the nested
            // passthrough test: the vCPU runs through zeros, nothing is printed); the
            // bzImage, which the firmware copies itself from fw_cfg, boots. Its
            // decompressor costs ~3 s under TCG, nothing to speak of under KVM.
            let kernel = config.pciDevices.isEmpty ? image.vmlinux : image.bzImage
            guard FileManager.default.fileExists(atPath: kernel.path) else {
                throw HVError(.missingImage, "the RT-Linux image has no \(kernel.lastPathComponent), which a guest with PCI devices boots",
                              hint: "rebuild it: hv setup --rebuild-image")
            }
            var found = RTOSImage(kernel: kernel, initrd: image.initramfs, readyMarker: config.readyLine.isEmpty ? nil : config.readyLine,
                                  kernelArgs: RTLinuxImageFiles.defaultKernelArgs)
            if config.root == .debian {
                for file in [image.debianRoot, image.modules] where !FileManager.default.fileExists(atPath: file.path) {
                    throw HVError(.missingImage, "the RT-Linux image has no Debian root: \(file.path) is missing",
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
                throw HVError(.missingImage,
                              "cannot start \(config.name): the \(config.os.displayName) image \(file.path) is missing",
                              hint: "hv cannot ship \(config.os.displayName); build a multiboot ELF image with its SDK and copy it to \(file.path) (docs/IMAGES.md)")
            }
            return RTOSImage(kernel: file, initrd: nil, readyMarker: config.readyLine.isEmpty ? nil : config.readyLine, kernelArgs: "",
                             rootTemplate: nil, modulesImage: nil)
        case .windows, .ubuntu:
            throw HVError(.internal, "\(config.os.displayName) is not an RTOS")
        }
    }
}

/// The layout of templates/rt-linux/.
public struct RTLinuxImageFiles: Sendable {
    public let dir: URL
    public init(dir: URL) { self.dir = dir }
    /// Uncompressed ELF kernel: QEMU enters it through PVH, skipping the decompressor.
    public var vmlinux: URL { dir.appendingPathComponent("vmlinux") }
    /// The same kernel as Debian ships it: what a guest with PCI devices boots
    /// (see `RTOSImage.locate`), and the baseline of bench/boot.
    public var bzImage: URL { dir.appendingPathComponent("bzImage") }
    public var initramfs: URL { dir.appendingPathComponent("initramfs.cpio") }
    public var manifest: URL { dir.appendingPathComponent("image.config") }
    /// hv-comm and hv_ivshmem.ko as built for this kernel (for other Linux guests with the same kernel).
    public var guestTools: URL { dir.appendingPathComponent("guest-tools") }
    /// The Debian root's read-only template (ext4): each guest's disk starts as a copy.
    public var debianRoot: URL { dir.appendingPathComponent("debian-root.img") }
    /// The kernel's modules (ext4, attached read-only): a guest always gets those of the kernel it boots.
    public var modules: URL { dir.appendingPathComponent("modules.img") }

    /// `quiet` keeps the emulated UART (slow under TCG) out of the boot's way;
    /// `cryptomgr.notests` skips crypto self-tests that cost ~0.4 s under TCG;
    /// `pci=off`: the microvm machine has no PCI bus to probe.
    public static let defaultKernelArgs = "console=ttyS0 panic=5 quiet cryptomgr.notests pci=off"
}
