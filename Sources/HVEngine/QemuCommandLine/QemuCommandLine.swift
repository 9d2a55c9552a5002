import Foundation
import HVCore
import HVHost

/// Everything the QEMU command line of an RTOS guest depends on. Building the
/// command line is a pure function of this value (tested with golden files).
public struct RTOSLaunchPlan: Sendable, Equatable {
    public var folderName: String
    public var config: GuestConfig
    public var accelerator: Accelerator
    public var image: RTOSImage
    public var qmpSocket: String
    public var serialSocket: String
    public var consoleLog: String
    public var pidFile: String
    /// The host folder shared as /hv/guests (nil: not shared).
    public var sharedGuestsDir: String?
    /// Words from usr_guest_config.sh's HV_KERNEL_APPEND.
    public var kernelAppend: String
    /// Arguments from usr_guest_config.sh's HV_QEMU_EXTRA_ARGS.
    public var extraArgs: [String]
    /// The host's TSC frequency: under TCG the guest is told it instead of
    /// calibrating (microvm's calibration hangs about one boot in three).
    public var hostTSCKHz: Int?
    /// The communication subsystem's wiring (nil: the guest is not part of it).
    public var comm: CommPlan?
    /// RT-Linux on its Debian root: the guest's own disk.
    public var rootDisk: DiskImage?

    public init(
        folderName: String, config: GuestConfig, accelerator: Accelerator, image: RTOSImage,
        folder: GuestFolder, sharedGuestsDir: String?, kernelAppend: String = "", extraArgs: [String] = [],
        hostTSCKHz: Int? = nil
    ) {
        self.folderName = folderName
        self.config = config
        self.accelerator = accelerator
        self.image = image
        qmpSocket = folder.qmpSocket.path
        serialSocket = folder.serialSocket.path
        consoleLog = folder.consoleLog.path
        pidFile = folder.pidFile.path
        self.sharedGuestsDir = sharedGuestsDir
        self.kernelAppend = kernelAppend
        self.extraArgs = extraArgs
        self.hostTSCKHz = hostTSCKHz
    }
}

public enum QemuCommandLine {
    public static let binary = "qemu-system-x86_64"

    /// The 9p mount tag of the host folder /hv/guests.
    public static let guestsMountTag = "hvguests"

    /// Whether the guest's memory is preallocated and locked.
    public static func locksMemory(_ plan: RTOSLaunchPlan) -> Bool {
        switch plan.config.lockMemory {
        case "yes": true
        case "no": false
        default: plan.accelerator == .kvm
        }
    }

    /// microvm gets a PCIe bus only when something needs one (~0.5–1 s more boot under TCG).
    public static func needsPCI(_ plan: RTOSLaunchPlan) -> Bool {
        plan.comm?.needsPCI == true || !plan.config.pciDevices.isEmpty
    }

    public static func kernelCommandLine(_ plan: RTOSLaunchPlan) -> String {
        // Under TCG: a known TSC rate (no calibration hang), trusted across vCPUs.
        let tsc = plan.accelerator == .tcg ? plan.hostTSCKHz.map { "tsc_early_khz=\($0) tsc=reliable" } ?? "tsc=reliable" : ""
        var imageArgs = plan.image.kernelArgs
        // ivshmem and assigned devices need the PCI bus that microvm otherwise goes without.
        if needsPCI(plan) {
            imageArgs = imageArgs.split(separator: " ").filter { $0 != "pci=off" }.joined(separator: " ")
        }
        // hv.hb: the guest's init keeps a heartbeat only when hvd watches it (no wake-ups otherwise).
        let heartbeat = plan.config.watchdog != .off ? "hv.hb" : ""
        return [imageArgs, tsc, "hv.guest=\(plan.folderName)", heartbeat, plan.comm?.guestWords ?? "", plan.config.kernelArgs, plan.kernelAppend]
            .map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty }
            .joined(separator: " ")
    }

    /// `-M microvm`: no PCI, no firmware, no legacy devices to emulate; under
    /// TCG it reached the shell ~25 % sooner than `-M pc` here. Its ACPI (GED)
    /// power button serves the graceful stop; 9p rides on virtio-mmio.
    public static func rtos(_ plan: RTOSLaunchPlan) -> [String] {
        var a = [
            binary,
            "-name", "guest=\(plan.folderName),debug-threads=on",
            "-nodefaults", "-no-user-config",
            "-sandbox", sandbox(spawn: false),
            "-machine", "microvm" + (needsPCI(plan) ? ",pcie=on" : "") + (plan.config.hugePages ? ",memory-backend=mem" : ""),
        ]
        let lock = locksMemory(plan)
        // Locked memory includes TCG's code buffer: keep it at 64 MiB instead of 1 GiB.
        a += ["-accel", plan.accelerator == .tcg && lock ? "tcg,tb-size=64" : plan.accelerator.rawValue]
        // Under TCG, +arat gives the guest high-resolution timers (without it
        // wakeups land on the 4 ms tick).
        a += ["-cpu", plan.accelerator == .kvm ? "host" : "qemu64,+arat"]
        if plan.config.hugePages {
            // Huge pages from a memfd: no hugetlbfs mount needed; always preallocated.
            a += ["-object", "memory-backend-memfd,id=mem,size=\(plan.config.memoryMiB)M,hugetlb=on,hugetlbsize=2M,prealloc=on"]
        }
        if lock {
            // Preallocated and locked: guest memory never pages out or faults in late.
            a += ["-overcommit", "mem-lock=on"] + (plan.config.hugePages ? [] : ["-mem-prealloc"])
        }
        a += [
            "-smp", String(plan.config.vcpus),
            "-m", "\(plan.config.memoryMiB)M",
            "-kernel", plan.image.kernel.path,
        ]
        if let initrd = plan.image.initrd { a += ["-initrd", initrd.path] }
        let cmdline = kernelCommandLine(plan)
        if !cmdline.isEmpty { a += ["-append", cmdline] }
        a += [
            "-chardev", "socket,id=serial0,path=\(esc(plan.serialSocket)),server=on,wait=off,logfile=\(esc(plan.consoleLog)),logappend=on",
            "-serial", "chardev:serial0",
            "-qmp", "unix:\(esc(plan.qmpSocket)),server=on,wait=off",
            "-pidfile", plan.pidFile,
            "-display", "none",
        ]
        if let disk = plan.rootDisk, let modules = plan.image.modulesImage {
            // Found by their serials in the guest (virtio-mmio's order is not the command line's);
            // the modules are read-only to it, so they always match the kernel it boots.
            a +=
                InheritedFD.diskArgs + [
                    "-drive", "if=none,id=hvroot,file=\(InheritedFD.diskPath),format=\(disk.format.rawValue),discard=unmap",
                    "-device", "virtio-blk-device,drive=hvroot,serial=hv-root",
                    "-drive", "if=none,id=hvmodules,file=\(esc(modules.path)),format=raw,readonly=on",
                    "-device", "virtio-blk-device,drive=hvmodules,serial=hv-modules",
                ]
        }
        if let dir = plan.sharedGuestsDir {
            a += [
                "-fsdev", "local,id=hvguests,path=\(esc(dir)),security_model=none",
                "-device", "virtio-9p-device,fsdev=hvguests,mount_tag=\(guestsMountTag)",
            ]
        }
        a += plan.comm?.qemuArgs(nic: "virtio-net-device") ?? []
        a += DeviceArgs.pci(plan.config.pciDevices, fixedSlots: true)
        // Paused until its vCPU threads are placed on their cores.
        a += ["-S"]
        a += plan.extraArgs
        return a
    }
}

/// QEMU's seccomp filter: no obsolete system calls, no gaining privileges,
/// no changing its own scheduling (hvd places its threads from outside).
/// Spawning stays allowed only where QEMU must start a helper itself (smbd
/// for a Windows guest's share).
func sandbox(spawn: Bool) -> String {
    "on,obsolete=deny,elevateprivileges=deny,spawn=\(spawn ? "allow" : "deny"),resourcecontrol=deny"
}

/// QEMU's option syntax doubles a comma inside a value.
func esc(_ value: String) -> String { value.replacingOccurrences(of: ",", with: ",,") }
