import ArgumentParser
import Foundation
import HVAPI
import HVCore
import HVHost

/// `hv guest ssh` and `hv guest copy`: into an RT-Linux guest's Debian root
/// over the VMF network, from hv's own network namespace (the guest has no
/// address outside the host), with hv's key and the guest's pinned host key.
enum GuestLogin {
    struct Target {
        var folder: String
        var address: String
        var namespace: String
    }

    static func target(_ ctx: Context, ref: String) throws -> Target {
        guard geteuid() == 0 else {
            throw HVError(
                .unsupported, "hv guest ssh and copy need root: they enter hv's network namespace and use hv's key",
                hint: "run it with sudo")
        }
        let g = try ctx.api.get(.guestStatus(ref), as: GuestStatus.self)
        guard g.root == RTLinuxRoot.debian.rawValue else {
            throw HVError(
                .unsupported,
                "\(g.name) has no SSH: " + (g.os == GuestOS.rtLinux.rawValue ? "it boots the busybox image" : "hv reaches only RT-Linux's Debian root"),
                hint: g.os == GuestOS.rtLinux.rawValue
                    ? "remove \"Root\"=\"busybox\" from [Guest\\Boot] of its usr.config (or use hv guest console)" : "use hv guest console")
        }
        guard g.state == .running else {
            throw HVError(.conflict, "\(g.name) is \(g.state.rawValue)", hint: "start it first: hv guest start \(g.folder)")
        }
        guard let address = g.address else {
            throw HVError(.notLoaded, "\(g.name) is not on the VMF network", hint: "load the VMF (hv_vmf_start), then restart the guest")
        }
        var comm = try ctx.api.get(.commStatus, as: CommStatus.self)
        if !comm.hostAttached { comm = try ctx.api.post(.netAttach, [String: String](), as: CommStatus.self) }
        guard FileManager.default.fileExists(atPath: ctx.layout.guestHostKey(g.folder).path) else {
            throw HVError(
                .notFound, "hv did not make \(g.name)'s disk, so it knows no host key for it (\(ctx.layout.guestHostKey(g.folder).path))",
                hint: "a disk hv makes at a first start carries hv's key and a host key hv knows")
        }
        return Target(folder: g.folder, address: address, namespace: comm.namespace)
    }

    /// One shell word: ssh hands the guest's shell one string.
    static func quote(_ word: String) -> String { "'" + word.replacingOccurrences(of: "'", with: "'\\''") + "'" }
}

extension GuestGroup {
    struct SSH: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "ssh",
            abstract: "A shell in an RT-Linux guest (Debian root), or run a command there and return its exit status.",
            discussion: """
                hv guest ssh guestrtlinux -- uname -v (a command with its arguments), or -- 'a; b' (one word: a shell command line). \
                Over the VMF network from hv's namespace, with hv's key (root); the exit status is the command's (255: ssh's own failure).
                """)
        @Argument(help: "Guest name or folder") var guest: String
        @Argument(parsing: .captureForPassthrough, help: "The command and its arguments (after --)") var command: [String] = []

        func run() throws {
            let ctx = Context()
            let t = try GuestLogin.target(ctx, ref: guest)
            let words = Array(command.drop { $0 == "--" })
            var argv = ["ssh"] + GuestSSH.options(ctx.layout, folder: t.folder)
            argv += words.isEmpty ? ["-t"] : ["-T"]
            argv += ["root@\(t.address)"]
            // One word is a shell command line, as ssh takes it ('a; b'); several keep their boundaries.
            if words.count == 1 { argv += ["--", words[0]] }
            if words.count > 1 { argv += ["--", words.map(GuestLogin.quote).joined(separator: " ")] }
            try NamespaceExec.exec(namespace: t.namespace, argv)
        }
    }

    struct Copy: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Copy files into or out of an RT-Linux guest: hv guest copy NAME ./ctl guest:/usr/local/bin/ (folders too).")
        @Argument(help: "Guest name or folder") var guest: String
        @Argument(help: "What to copy (guest:PATH for the guest's side)") var source: String
        @Argument(help: "Where to (guest:PATH for the guest's side)") var destination: String

        func validate() throws {
            guard source.hasPrefix("guest:") != destination.hasPrefix("guest:") else {
                throw ValidationError("exactly one of SOURCE and DESTINATION is the guest's, as guest:PATH")
            }
        }

        func run() throws {
            let ctx = Context()
            let t = try GuestLogin.target(ctx, ref: guest)
            // scp reads "a:b" as a remote path: a local one with a colon is said as ./a:b.
            let side = { (p: String) -> String in
                if p.hasPrefix("guest:") { return "root@\(t.address):" + p.dropFirst("guest:".count) }
                return p.contains(":") && !p.hasPrefix("/") ? "./" + p : p
            }
            let local = source.hasPrefix("guest:") ? destination : source
            if !source.hasPrefix("guest:") && !FileManager.default.fileExists(atPath: local) {
                throw HVError(.notFound, "\(local) does not exist", hint: "name a file or folder on this host")
            }
            try NamespaceExec.exec(
                namespace: t.namespace,
                ["scp", "-q", "-r"] + GuestSSH.options(ctx.layout, folder: t.folder)
                    + [side(source), side(destination)])
        }
    }
}

extension GuestGroup {
    struct Packages: ParsableCommand {
        enum Action: String, ExpressibleByArgument, CaseIterable { case add, remove, list }
        static let configuration = CommandConfiguration(
            abstract: "Debian packages in an RT-Linux guest: its own apt, through the host's package proxy (hv guest packages NAME add PKG...).",
            discussion:
                "add runs apt-get update first when its lists are older than six hours; remove keeps the packages' settings; list shows what is installed.")
        @Argument(help: "Guest name or folder") var guest: String
        @Argument(help: "add, remove or list") var action: Action
        @Argument(help: "Debian package names") var packages: [String] = []

        /// Debian's rule for a package name (Policy 5.6.1), so nothing else reaches the guest's shell.
        static func isPackageName(_ s: String) -> Bool {
            let allowed = Set("abcdefghijklmnopqrstuvwxyz0123456789+-.")
            guard let first = s.first, first.isLetter || first.isNumber, s.count >= 2, s.count <= 128 else { return false }
            return s.allSatisfy { allowed.contains($0) }
        }

        func validate() throws {
            if let bad = packages.first(where: { !Self.isPackageName($0) }) {
                throw ValidationError("\"\(bad)\" is not a Debian package name (lower-case letters, digits, + - .)")
            }
            if action != .list && packages.isEmpty { throw ValidationError("name the packages to \(action.rawValue)") }
        }

        /// The guest's shell line for this action (package names are checked words).
        var script: String {
            let names = packages.joined(separator: " ")
            switch action {
            case .add:
                return "export DEBIAN_FRONTEND=noninteractive; "
                    + "if [ -z \"$(find /var/lib/apt/lists -maxdepth 1 -name '*_Packages*' -mmin -360 2>/dev/null)\" ]; then apt-get update || exit; fi; "
                    + "apt-get install -y --no-install-recommends \(names)"
            case .remove: return "export DEBIAN_FRONTEND=noninteractive; apt-get remove -y \(names)"
            case .list: return "dpkg-query -W -f '${Package} ${Version}\\n' \(names)"
            }
        }

        func run() throws {
            let ctx = Context()
            let t = try GuestLogin.target(ctx, ref: guest)
            try NamespaceExec.exec(
                namespace: t.namespace,
                ["ssh"] + GuestSSH.options(ctx.layout, folder: t.folder)
                    + ["-T", "root@\(t.address)", "--", script])
        }
    }
}
