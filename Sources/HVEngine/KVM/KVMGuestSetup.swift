import Foundation
import HVCore
import HVHost

#if canImport(Glibc)
import Glibc
#endif

/// Turns a KVM guest's configuration into a launch plan. Every check comes
/// first (firmware, disk, ISO, TPM); only when all pass does it create what a
/// first start needs (the disk, the NVRAM copy). A refused start creates nothing.
public struct KVMGuestSetup {
    public let config: GuestConfig
    public let folder: GuestFolder
    public let layout: HostLayout
    public let accelerator: Accelerator
    public var extraArgs: [String] = []
    public var ovmfDirectory = "/usr/share/OVMF"
    /// Whose tools read the guest's disk (its QEMU user; nil: hvd's own, in tests).
    public var identity: GuestIdentity?

    public init(config: GuestConfig, folder: GuestFolder, layout: HostLayout, accelerator: Accelerator, extraArgs: [String] = []) {
        self.config = config
        self.folder = folder
        self.layout = layout
        self.accelerator = accelerator
        self.extraArgs = extraArgs
    }

    public struct Prepared: Sendable {
        public var plan: KVMLaunchPlan
        /// What this start did or decided, for the user ("created disk …", "installing from …").
        public var steps: [String]
        /// Files this start created: removed again if QEMU does not come up.
        public var created: [URL]
    }

    public func prepare() throws -> Prepared {
        let disk = DiskImage.resolve(config, layout: layout, folder: folder)
        let firmware = config.firmware == .uefi ? try FirmwareFiles.locate(secureBoot: wantsSecureBoot, directory: ovmfDirectory) : nil
        let inspection = disk.exists ? try disk.inspect(as: identity) : nil
        let installing = !(inspection?.hasSystem ?? false)
        let iso = try isoToAttach(installing: installing, disk: disk)
        let tpm = try wantsTPM()
        if config.networkMode == "user", let taken = config.hostForwards.first(where: { !PortProbe.isFree($0) }) {
            throw HVError(
                .conflict,
                "\(config.name) forwards \(taken.proto.rawValue) port \(taken.hostPort) on \(taken.hostAddress), which another program or guest already uses",
                hint: "choose another host port in \"HostForward\" of [Guest\\Network] (usr.config), or stop what holds it (ss -lntup)")
        }
        // All checks passed: from here on, things are created.
        var steps: [String] = [], created: [URL] = []
        if inspection == nil {
            try disk.create(sizeGiB: config.diskSizeGiB)
            created.append(disk.url)
            steps.append("created the disk \(disk.url.path) (\(config.diskSizeGiB) GiB, \(disk.format.rawValue), thin: it grows as the guest writes)")
        }
        if let firmware, try firmware.provideVariables(at: folder.nvram) {
            created.append(folder.nvram)
            steps.append("gave the guest its own UEFI variables: \(folder.nvram.path)")
        }
        if installing, let iso {
            steps.append("no system on the disk yet: booting the installer \(iso.path)")
        } else if let iso {
            steps.append("booting from the disk; \(iso.path) stays attached (\"Attach\"=\"always\")")
        }
        // QEMU runs smbd from this fixed path.
        let smb = FileManager.default.isExecutableFile(atPath: "/usr/sbin/smbd")
        if config.os == .windows && config.shareGuestsFolder && config.networkMode == "user" && !smb {
            steps.append("note: /hv/guests is not shared with Windows: install samba (Windows reaches it as \\\\10.0.2.4\\qemu)")
        }
        let plan = KVMLaunchPlan(
            folderName: folder.name, config: config, accelerator: accelerator, firmware: firmware,
            nvram: folder.nvram.path, disk: disk.url.path, diskFormat: disk.format, iso: iso?.path,
            installing: installing, tpmSocket: tpm ? folder.swtpmSocket.path : nil,
            vncSocket: folder.vncSocket.path, webSocketPort: config.webSocketPort,
            sharedGuestsDir: config.shareGuestsFolder ? layout.guestsDir.path : nil, smbAvailable: smb,
            qmpSocket: folder.qmpSocket.path, serialSocket: folder.serialSocket.path,
            consoleLog: folder.consoleLog.path, pidFile: folder.pidFile.path, extraArgs: extraArgs)
        return Prepared(plan: plan, steps: steps, created: created)
    }

    /// Windows 11 wants Secure Boot; Linux installers boot either way.
    var wantsSecureBoot: Bool { config.os == .windows }

    func wantsTPM() throws -> Bool {
        switch config.tpm {
        case "yes":
            guard SoftwareTPM.isInstalled else {
                throw HVError(
                    .notFound, "\(config.name) is configured with a TPM (\"Tpm\"=\"yes\") but swtpm is not installed",
                    hint: "install swtpm and swtpm-tools (hv setup does), or set \"Tpm\"=\"no\" in usr.config")
            }
            return true
        case "no": return false
        default: return config.os == .windows && SoftwareTPM.isInstalled
        }
    }

    /// The ISO to attach: needed while nothing is installed, kept after that
    /// only with "Attach"="always".
    func isoToAttach(installing: Bool, disk: DiskImage) throws -> URL? {
        guard installing || config.isoAttach == .always else { return nil }
        let text = config.installISO.trimmingCharacters(in: .whitespaces)
        guard !text.isEmpty else {
            if !installing { return nil }
            throw HVError(
                .missingImage, "\(config.name) has no system on \(disk.url.path) and no installation ISO is configured",
                hint: "set \"Iso\" in [Guest\\Install] of \(folder.userConfig.path) to the installer's path (under \(layout.isoDir.path)/)")
        }
        let iso = layout.resolve(text)
        guard FileManager.default.fileExists(atPath: iso.path) else {
            throw HVError(
                .missingImage,
                installing
                    ? "\(config.name) has no installed system yet and its installation ISO is missing: put it at \(iso.path)"
                    : "\(config.name) keeps its ISO attached (\"Attach\"=\"always\") but \(iso.path) is missing",
                hint: installing
                    ? "copy the \(config.os.displayName) installation ISO to \(iso.path) (e.g. scp it to this host), then start again; nothing was created"
                    : "put it back, or set \"Attach\"=\"until-installed\" in [Guest\\Install] of usr.config")
        }
        return iso
    }
}
