import Foundation
import HVCore

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

    public init(folderName: String, config: GuestConfig, accelerator: Accelerator, image: RTOSImage,
                folder: GuestFolder, sharedGuestsDir: String?, kernelAppend: String = "", extraArgs: [String] = []) {
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

    public static func kernelCommandLine(_ plan: RTOSLaunchPlan) -> String {
        [plan.image.kernelArgs, "hv.guest=\(plan.folderName)", plan.config.kernelArgs, plan.kernelAppend]
            .map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty }
            .joined(separator: " ")
    }

    /// `-M pc` rather than microvm: under TCG it boots the PVH vmlinux only
    /// ~0.2 s slower, never showed microvm's early TSC-calibration hang, and has
    /// the PCI bus that ivshmem needs.
    public static func rtos(_ plan: RTOSLaunchPlan) -> [String] {
        var a = [binary,
                 "-name", "guest=\(plan.folderName),debug-threads=on",
                 "-nodefaults", "-no-user-config",
                 "-machine", plan.config.hugePages ? "pc,memory-backend=mem" : "pc"]
        let lock = locksMemory(plan)
        // Locked memory includes TCG's code buffer: keep it at 64 MiB instead of 1 GiB.
        a += ["-accel", plan.accelerator == .tcg && lock ? "tcg,tb-size=64" : plan.accelerator.rawValue]
        if plan.accelerator == .kvm { a += ["-cpu", "host"] }
        if plan.config.hugePages {
            // Huge pages from a memfd: no hugetlbfs mount needed; always preallocated.
            a += ["-object", "memory-backend-memfd,id=mem,size=\(plan.config.memoryMiB)M,hugetlb=on,hugetlbsize=2M,prealloc=on"]
        }
        if lock {
            // Preallocated and locked: guest memory never pages out or faults in late.
            a += ["-overcommit", "mem-lock=on"] + (plan.config.hugePages ? [] : ["-mem-prealloc"])
        }
        a += ["-smp", String(plan.config.vcpus),
              "-m", "\(plan.config.memoryMiB)M",
              "-kernel", plan.image.kernel.path]
        if let initrd = plan.image.initrd { a += ["-initrd", initrd.path] }
        let cmdline = kernelCommandLine(plan)
        if !cmdline.isEmpty { a += ["-append", cmdline] }
        a += ["-chardev", "socket,id=serial0,path=\(esc(plan.serialSocket)),server=on,wait=off,logfile=\(esc(plan.consoleLog)),logappend=on",
              "-serial", "chardev:serial0",
              "-qmp", "unix:\(esc(plan.qmpSocket)),server=on,wait=off",
              "-pidfile", plan.pidFile,
              "-display", "none"]
        if let dir = plan.sharedGuestsDir {
            a += ["-fsdev", "local,id=hvguests,path=\(esc(dir)),security_model=none",
                  "-device", "virtio-9p-pci,fsdev=hvguests,mount_tag=\(guestsMountTag)"]
        }
        // Paused until its vCPU threads are placed on their cores.
        a += ["-S"]
        a += plan.extraArgs
        return a
    }
}

/// QEMU's option syntax doubles a comma inside a value.
func esc(_ value: String) -> String { value.replacingOccurrences(of: ",", with: ",,") }
