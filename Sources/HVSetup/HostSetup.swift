import Foundation
import HVCore
import HVHost

/// `hv setup`: the Debian packages hv needs, the host layout and the RT-Linux
/// image. Idempotent, and quick when everything is already in place.
public struct HostSetup: Sendable {
    /// Packages the host needs to run RTOS guests and build their image.
    /// RTOS guests need the first line; KVM guests UEFI (ovmf), a TPM for
    /// Windows 11 (swtpm) and SMB for Windows' view of /hv/guests (samba).
    public static let packages = [
        "qemu-system-x86", "qemu-utils", "busybox-static", "cpio", "rt-tests",
        "kmod", "xz-utils", "util-linux",
        // hv rt qualify --load and hv rt bench --load: the host's load.
        "stress-ng",
        "ovmf", "swtpm", "swtpm-tools", "samba",
        // RT-Linux's Debian root: built from Debian's archive, each guest's disk made
        // from it (debugfs, no mount), hv guest ssh and copy.
        "mmdebstrap", "e2fsprogs", "openssh-client",
        // hv net exec -- ping … (the README's example).
        "iputils-ping",
        // LoopbackGuard: user-network guests do not reach the host's loopback.
        "nftables",
        // Its packages: Debian's caching proxy, started by hvd per connection.
        "approx",
        // The guest's communication tools are compiled for its kernel.
        "gcc", "make", "libc6-dev", "iproute2",
        // hv rt bench renders its plot's PNG from the SVG.
        "librsvg2-bin", "fonts-dejavu-core",
        // hv devices list names PCI devices.
        "pci.ids",
        // The System Manager shows KVM desktops with Debian's noVNC.
        "novnc",
    ]

    public let layout: HostLayout
    public let log: @Sendable (String) -> Void

    public init(layout: HostLayout, log: @escaping @Sendable (String) -> Void) {
        self.layout = layout
        self.log = log
    }

    public static var cacheDir: URL {
        URL(fileURLWithPath: ProcessInfo.processInfo.environment["HV_CACHE"] ?? "/var/cache/hv")
    }

    public func missingPackages() -> [String] {
        Self.packages.filter { pkg in
            let out = try? Command.run(["dpkg-query", "-W", "-f=${Status}", pkg], timeout: 30)
            return !(out?.stdout.contains("install ok installed") ?? false)
        }
    }

    public func installPackages() throws {
        let missing = missingPackages()
        guard !missing.isEmpty else {
            log("Debian packages: all present")
            return
        }
        guard geteuid() == 0 else {
            throw HVError(
                .unsupported, "hv needs these Debian packages: \(missing.joined(separator: " "))",
                hint: "run `hv setup` as root, or: apt-get install \(missing.joined(separator: " "))")
        }
        log("installing \(missing.joined(separator: " "))")
        try Command.check(["apt-get", "update"], timeout: 900, what: "apt-get update", passThrough: true)
        var env = ProcessInfo.processInfo.environment
        env["DEBIAN_FRONTEND"] = "noninteractive"
        let out = try Command.run(
            ["apt-get", "install", "-y", "--no-install-recommends"] + missing,
            timeout: 1800, environment: env, passThrough: true)
        guard out.status == 0 else {
            throw HVError(
                .io, "apt-get install \(missing.joined(separator: " ")) failed (exit \(out.status))",
                hint: "see apt-get's output above")
        }
        // approx's own socket unit would offer Debian's archive on every interface (port 9999):
        // hvd starts approx itself, per connection, for the guests only.
        if missing.contains("approx") && FileManager.default.fileExists(atPath: "/run/systemd/system") {
            _ = try? Command.run(["systemctl", "disable", "--now", "approx.socket"], timeout: 60)
        }
    }

    public func run(rebuildImage: Bool, installPackages install: Bool = true) throws {
        if install { try installPackages() }
        try layout.ensureDirectories()
        if GuestIdentity.dropsPrivileges {
            // Guests' QEMUs run in this group (docs/SECURITY.md); hvd makes it too when it is missing.
            log("guests' QEMU processes: group \(GuestIdentity.groupName) (\(GuestIdentity.sharedGroup())), a user of their own each")
        }
        try RTLinuxImageBuilder(layout: layout, cacheDir: Self.cacheDir.appendingPathComponent("debs"), log: log)
            .build(force: rebuildImage)
    }
}
