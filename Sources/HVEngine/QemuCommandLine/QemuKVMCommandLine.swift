import Foundation
import HVCore
import HVHost

/// Everything the QEMU command line of a KVM guest (Windows, Ubuntu) depends
/// on, decided before anything starts. Building the command line from it is a
/// pure function (tested with golden files).
public struct KVMLaunchPlan: Sendable, Equatable {
    public var folderName: String
    public var config: GuestConfig
    public var accelerator: Accelerator
    /// nil: legacy BIOS (SeaBIOS).
    public var firmware: FirmwareFiles?
    public var nvram: String
    public var disk: String
    public var diskFormat: DiskImage.Format
    /// Attached as a CD-ROM (nil: none).
    public var iso: String?
    /// Boot the ISO first: the disk holds no system yet.
    public var installing: Bool
    /// swtpm's control socket (nil: no TPM).
    public var tpmSocket: String?
    public var vncSocket: String
    public var webSocketPort: Int
    /// The host folder /hv/guests: over virtio-9p for Linux, over SMB for Windows (nil: not shared).
    public var sharedGuestsDir: String?
    /// smbd is there: QEMU's user network can serve SMB.
    public var smbAvailable: Bool
    public var qmpSocket: String
    public var serialSocket: String
    public var consoleLog: String
    public var pidFile: String
    public var extraArgs: [String]
    /// The communication subsystem's wiring (nil: not part of it).
    public var comm: CommPlan? = nil
    /// Mode bridge: the guest's TAP device (hvd makes it before QEMU starts).
    public var tapName: String? = nil

    public var isWindows: Bool { config.os == .windows }

    /// QEMU's user network serves /hv/guests to Windows over SMB: it starts
    /// smbd itself, as the guest's user, which must then have a name.
    public var servesSMB: Bool { isWindows && smbAvailable && sharedGuestsDir != nil && config.networkMode == "user" }
}

extension QemuCommandLine {
    /// `q35` (PCIe, AHCI, ICH9 ACPI power button) with UEFI: what current
    /// Windows and Ubuntu installers expect. Windows gets devices it drives
    /// without extra drivers (SATA, e1000e, USB tablet, VGA); Linux gets virtio.
    public static func kvm(_ plan: KVMLaunchPlan) -> [String] {
        let secure = plan.firmware?.secureBoot ?? false
        let smb = plan.servesSMB
        var a = [
            binary,
            "-name", "guest=\(plan.folderName),debug-threads=on",
            "-nodefaults", "-no-user-config",
            "-sandbox", sandbox(spawn: smb),
            "-machine", "q35" + (secure ? ",smm=on" : "") + ",vmport=off",
            "-accel", plan.accelerator.rawValue,
            "-cpu", cpuModel(plan),
            "-smp", String(plan.config.vcpus),
            "-m", "\(plan.config.memoryMiB)M",
        ]
        if let fw = plan.firmware {
            if secure { a += ["-global", "driver=cfi.pflash01,property=secure,value=on"] }
            a += [
                "-drive", "if=pflash,format=raw,unit=0,readonly=on,file=\(esc(fw.code.path))",
                "-drive", "if=pflash,format=raw,unit=1,file=\(esc(plan.nvram))",
            ]
        }
        // Windows keeps the hardware clock in local time.
        a += ["-rtc", plan.isWindows ? "base=localtime,driftfix=slew" : "base=utc"]
        a +=
            InheritedFD.diskArgs + [
                "-drive", "if=none,id=disk0,format=\(plan.diskFormat.rawValue),file=\(InheritedFD.diskPath),discard=unmap",
                "-device", (plan.isWindows ? "ide-hd,bus=ide.0" : "virtio-blk-pci") + ",drive=disk0,bootindex=\(plan.installing ? 1 : 0)",
            ]
        if let iso = plan.iso {
            a += [
                "-drive", "if=none,id=cd0,media=cdrom,readonly=on,file=\(esc(iso))",
                "-device", "ide-cd,bus=ide.1,drive=cd0,bootindex=\(plan.installing ? 0 : 1)",
            ]
        }
        if plan.config.networkMode == "user" {
            var netdev = "user,id=net0"
            // Windows has no 9p driver: it reaches /hv/guests as \\10.0.2.4\qemu.
            if plan.servesSMB, let dir = plan.sharedGuestsDir { netdev += ",smb=\(esc(dir))" }
            for f in plan.config.hostForwards { netdev += ",hostfwd=\(f.qemuRule)" }
            a += [
                "-netdev", netdev,
                "-device", (plan.isWindows ? "e1000e" : "virtio-net-pci") + ",netdev=net0,mac=\(macAddress(plan.folderName))",
            ]
        } else if plan.config.networkMode == "bridge", plan.tapName != nil {
            // The TAP is opened by hvd and inherited (after the lock and the disk): QEMU,
            // unprivileged, needs no access to /dev/net/tun and runs no scripts.
            a += [
                "-netdev", "tap,id=net0,fd=\(InheritedFD.tap)",
                "-device", (plan.isWindows ? "e1000e" : "virtio-net-pci") + ",netdev=net0,mac=\(macAddress(plan.folderName))",
            ]
        }
        a += ["-device", "qemu-xhci,id=usb", "-device", "usb-tablet,bus=usb.0"]
        a += DeviceArgs.usb(plan.config.usbDevices) + DeviceArgs.pci(plan.config.pciDevices, fixedSlots: false)
        a += [
            "-device", "VGA",
            "-vnc", "unix:\(esc(plan.vncSocket))" + (plan.webSocketPort > 0 ? ",websocket=127.0.0.1:\(plan.webSocketPort)" : ""),
        ]
        if let tpm = plan.tpmSocket {
            a += [
                "-chardev", "socket,id=tpmchr,path=\(esc(tpm))",
                "-tpmdev", "emulator,id=tpm0,chardev=tpmchr",
                "-device", "tpm-crb,tpmdev=tpm0",
            ]
        }
        // A watchdog the guest's driver arms (Linux: i6300esb, Windows: its built-in driver);
        // QEMU resets the guest when it expires, or only tells hvd (report).
        if plan.config.watchdog != .off {
            a += ["-device", "i6300esb", "-action", "watchdog=" + (plan.config.watchdog == .reset ? "reset" : "none")]
        }
        if !plan.isWindows {
            a += ["-device", "virtio-rng-pci"]
            if let dir = plan.sharedGuestsDir {
                a += [
                    "-fsdev", "local,id=hvguests,path=\(esc(dir)),security_model=none",
                    "-device", "virtio-9p-pci,fsdev=hvguests,mount_tag=\(guestsMountTag)",
                ]
            }
        }
        if let comm = plan.comm {
            a += comm.qemuArgs(nic: plan.isWindows ? "e1000e" : "virtio-net-pci")
            a += ["-fw_cfg", "name=opt/hv/comm,string=\(esc(comm.guestWords))"]
        }
        // The guest can read its folder's name: /sys/firmware/qemu_fw_cfg/by_name/opt/hv/guest/raw.
        a += [
            "-fw_cfg", "name=opt/hv/guest,string=\(esc(plan.folderName))",
            "-chardev", "socket,id=serial0,path=\(esc(plan.serialSocket)),server=on,wait=off,logfile=\(esc(plan.consoleLog)),logappend=on",
            "-serial", "chardev:serial0",
            "-qmp", "unix:\(esc(plan.qmpSocket)),server=on,wait=off",
            "-pidfile", plan.pidFile,
            "-S",
        ]
        a += plan.extraArgs
        return a
    }

    static func cpuModel(_ plan: KVMLaunchPlan) -> String {
        guard plan.accelerator == .kvm else { return "max" }
        // Hyper-V enlightenments: Windows' timers and spinlocks behave under KVM.
        return plan.isWindows
            ? "host,hv_relaxed,hv_vapic,hv_spinlocks=0x1fff,hv_time,hv_vpindex,hv_synic,hv_stimer"
            : "host"
    }

    /// A locally administered MAC that stays the same for a guest folder
    /// (Windows ties its network profile to it). FNV-1a: stable across runs.
    public static func macAddress(_ folder: String) -> String {
        var h: UInt32 = 2_166_136_261
        for b in folder.utf8 { h = (h ^ UInt32(b)) &* 16_777_619 }
        return String(format: "52:54:00:%02x:%02x:%02x", (h >> 16) & 0xff, (h >> 8) & 0xff, h & 0xff)
    }
}
