import Foundation
import HVCore

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
