import Foundation
import HVAPI
import HVCore
import HVEngine
import HVHost
import Testing

#if canImport(Glibc)
import Glibc
#endif

extension EndToEnd {
    /// KVM guests under QEMU q35 + OVMF (TCG here), installed from the test
    /// installer ISO (Tests/Fixtures/installer-iso) in place of Ubuntu's.
    @Suite struct KVMGuests {
        /// The seed's flow for ubuntu_rtlinux: the first start installs onto
        /// VMs/example_ubuntu/ubuntu.qcow2, the second boots the installed
        /// system, which writes into /hv/guests; RT-Linux runs beside it.
        @Test func ubuntuInstallsFromItsISOThenBootsFromDiskBesideRTLinux() throws {
            let host = try TestHost()
            defer { host.cleanup() }
            let rt = try host.prepare("ubuntu_rtlinux")
            let ubuntu = host.folder("guestubuntu")
            let disk = host.layout.vmsDir.appendingPathComponent("example_ubuntu/ubuntu.qcow2")
            let iso = host.layout.isoDir.appendingPathComponent("ubuntu.iso")

            let missing = host.run("hv_guest_start", cwd: ubuntu)
            #expect(missing.status == 10 && missing.err.contains("put it at \(iso.path)"), "\(missing.all)")
            #expect(!FileManager.default.fileExists(atPath: disk.path), "a refused start creates no disk")
            #expect(!FileManager.default.fileExists(atPath: ubuntu.appendingPathComponent("OVMF_VARS.fd").path))

            try host.provideISO("ubuntu.iso")
            let rtStart = host.run("hv_guest_start", cwd: rt)
            try #require(rtStart.status == 0, "\(rtStart.all)")
            let install = host.run("hv_guest_start", cwd: ubuntu)
            try #require(install.status == 0, "\(install.all)")
            #expect(install.out.contains("created the disk \(disk.path) (32 GiB"), "\(install.out)")
            #expect(install.out.contains("booting the installer \(iso.path)"), "\(install.out)")
            #expect(try host.status("guestubuntu").installing)
            // The installer partitions the disk and powers off.
            let installed = host.waitUntil(300) { (try? host.status("guestubuntu").state) == .stopped }
            let console = ubuntu.appendingPathComponent("console.log")
            try #require(installed, "the installer did not finish: \(host.text(console).suffix(800))")
            #expect(host.text(console).contains("hv-test: installed"))
            #expect(host.text(ubuntu.appendingPathComponent("shutdown_hook.log")).contains("(guest-poweroff)"))

            // From now on with a watchdog (an emulated i6300esb) that resets the guest, and a forwarded port.
            let usr = ubuntu.appendingPathComponent("usr.config"), forwarded = try freePort()
            try (host.text(usr) + "[Guest\\Recovery]\n    \"Watchdog\"=\"reset\"\n[Guest\\Network]\n    \"HostForward\"=\"tcp:\(forwarded):5000\"\n")
                .write(to: usr, atomically: true, encoding: .utf8)
            let boot = host.run("hv_guest_start", cwd: ubuntu)
            try #require(boot.status == 0, "\(boot.all)")
            #expect(!boot.out.contains("installer") && !boot.out.contains("created the disk"), "\(boot.out)")
            let status = try host.status("guestubuntu")
            #expect(!status.installing)
            #expect(status.display?.vncSocket == host.layout.guest("guestubuntu").vncSocket.path)
            let hello = ubuntu.appendingPathComponent("exchange/hello-from-installed-system.txt")
            let up = host.waitUntil(240) { host.text(hello).contains("PREEMPT_RT") }
            #expect(up, "the installed system did not write into its exchange folder: \(host.text(console).suffix(800))")
            // Hostile from inside: its own hook and RT-Linux's files are out of its reach.
            #expect(host.waitUntil(30) { host.text(console).contains("hv-test: cannot reach /hv/guests/guestrtlinux/") }, "\(host.text(console).suffix(800))")
            #expect(
                host.text(console).contains("hv-test: own hook is read-only") && !host.text(console).contains("PLANTED")
                    && !host.text(console).contains("REACHED"), "\(host.text(console).suffix(800))")
            // Its UEFI variables are its QEMU user's alone; its disk stays root's (mode 0600), and
            // QEMU, not root, has it only as the descriptors hvd passed.
            var st = stat()
            #expect(
                stat(ubuntu.appendingPathComponent("OVMF_VARS.fd").path, &st) == 0 && st.st_uid >= GuestIdentity.uidBase && st.st_mode & 0o777 == 0o600,
                "nvram \(st.st_uid) \(String(st.st_mode, radix: 8))")
            let qemuUID = host.text(URL(fileURLWithPath: "/proc/\(status.pid ?? 0)/status")).split(separator: "\n").first { $0.hasPrefix("Uid:") }
            #expect(qemuUID.map { $0.contains(String(st.st_uid)) } == true, "\(String(describing: qemuUID))")
            var diskStat = stat()
            #expect(
                stat(disk.path, &diskStat) == 0 && diskStat.st_uid == 0 && diskStat.st_mode & 0o777 == 0o600,
                "disk \(diskStat.st_uid) \(String(diskStat.st_mode, radix: 8))")
            #expect(host.openDescriptors(pid: status.pid, on: disk) >= 2)
            #expect(try host.status("guestrtlinux").state == .running, "RT-Linux runs beside it")
            #expect(try host.status("guestrtlinux").cores != status.cores)

            // Its screen, as a real PNG with something on it.
            let shot = host.root.appendingPathComponent("screen.png")
            let saved = host.run("hv", ["guest", "screenshot", "guestubuntu", shot.path])
            #expect(saved.status == 0 && saved.out.contains("PNG"), "\(saved.all)")
            let check = try PNGCheck.describe(shot)
            // Row filter bytes alone stay under 0.1 %; the console's text is far more.
            #expect(check.width >= 640 && check.nonZeroFraction > 0.001, "a blank screen: \(check)")
            let rtShot = host.run("hv", ["guest", "screenshot", "guestrtlinux", shot.path])
            #expect(rtShot.status == 9 && rtShot.err.contains("serial line"), "\(rtShot.all)")

            // The desktop console says how to connect; the serial console talks.
            let desktop = host.run("hv_guest_console", cwd: ubuntu)
            #expect(
                desktop.status == 0 && desktop.out.contains(status.display?.vncSocket ?? "?") && desktop.out.contains("hv manager url"),
                "\(desktop.all)")
            // QEMU's own VNC WebSocket has no authentication: not opened unless the guest configures a port.
            #expect(!desktop.out.contains("ws://") && status.display?.webSocketPort == 0, "\(desktop.all)")
            let qemuArgs = (try? String(contentsOfFile: "/proc/\(status.pid ?? 0)/cmdline", encoding: .utf8)) ?? ""
            #expect(qemuArgs.contains("vnc.sock") && !qemuArgs.contains("websocket"), "\(qemuArgs)")
            let serial = host.session("hv", ["guest", "console", "--serial", "guestubuntu"])
            usleep(500_000)
            serial.send("echo hv-$((6*7))\n")
            #expect(serial.waitFor("hv-42", timeout: 30), "\(serial.output.suffix(400))")
            // On the user network 10.0.2.2 is the host's loopback: a loopback service there is out of
            // the guest's reach (LoopbackGuard), while its HostForward port still carries a connection in.
            let loopbackPort = try freePort()
            let service = try UnixSocket.listenLoopback(port: loopbackPort)
            defer { service.close() }
            Thread.detachNewThread { while let c = try? service.accept() { c.close() } }
            serial.send(
                "ip addr add 10.0.2.15/24 dev eth0; ip link set eth0 up; sleep 2; "
                    + "if timeout 10 nc 10.0.2.2 \(loopbackPort) </dev/null; then echo REACHED-$((6*7)); else echo REFUSED-$((6*7)); fi\n")
            #expect(serial.waitFor("REFUSED-42", timeout: 60) && !serial.output.contains("REACHED-42"), "\(serial.output.suffix(400))")
            serial.send(
                "printf '#!/bin/sh\\necho hv-forwarded\\n' > /tmp/answer; chmod +x /tmp/answer; nc -l -p 5000 -e /tmp/answer & echo listening-$((6*7))\n")
            #expect(serial.waitFor("listening-42", timeout: 30), "\(serial.output.suffix(400))")
            var answer = ""
            for _ in 0..<20 where !answer.contains("hv-forwarded") {
                usleep(500_000)
                answer = HostileClient.rawText(HostileClient.tcp(forwarded), Data())
            }
            #expect(answer.contains("hv-forwarded"), "HostForward into the guest: \(answer)")
            // A hung guest: the watchdog is armed once and never fed again; QEMU resets
            // the guest, hvd says so, and the guest boots again in the same QEMU.
            let events = host.session("hv", ["events", "--json"])
            defer {
                kill(events.process.processIdentifier, SIGKILL)
                _ = events.finish(timeout: 5)
            }
            let pidBefore = try host.status("guestubuntu").pid
            let boots = { host.text(console).components(separatedBy: "hv-test: ready").count }
            let bootsBefore = boots()
            serial.send("modprobe i6300esb heartbeat=2 && echo 1 > /dev/watchdog && echo armed-$((6*7))\n")
            #expect(serial.waitFor("armed-42", timeout: 30), "\(serial.output.suffix(400))")
            serial.send("\u{1d}")
            _ = serial.finish(timeout: 20)
            #expect(events.waitFor("\"watchdog\"", timeout: 60), "no watchdog event: \(events.output.suffix(600))")
            #expect(events.output.contains("action: reset"), "\(events.output.suffix(600))")
            #expect(
                host.waitUntil(240) { boots() > bootsBefore },
                "no boot after the watchdog reset: \(host.text(console).suffix(800))")
            #expect(try host.status("guestubuntu").pid == pidBefore, "reset in place, not a new QEMU")

            let restart = host.run("hv_guest_restart", cwd: ubuntu)
            #expect(restart.status == 9 && restart.err.contains("only supported for RTOS guests"), "\(restart.all)")
            let stop = host.run("hv_guest_stop", cwd: ubuntu)
            #expect(stop.status == 0 && stop.out.contains("gracefully"), "\(stop.all)")
            #expect(host.text(ubuntu.appendingPathComponent("shutdown_hook.log")).contains("(requested)"))
            #expect(host.run("hv_guest_stop", cwd: rt).status == 0)
        }

        /// The token is no root: a disk path from the API may not name a host
        /// file, and a disk root names by hand is used without being given away
        /// (QEMU gets descriptors hvd opened; owner and mode stay as they were).
        @Test func theAPICannotHandAGuestAHostFile() throws {
            let host = try TestHost()
            defer { host.cleanup() }
            let port = try host.useFreeManagerPort()
            try host.prepare("ubuntu_rtlinux", loadVMF: false)
            try host.provideISO("ubuntu.iso")
            let ubuntu = host.folder("guestubuntu")
            let outsideDir = URL(fileURLWithPath: "/tmp/hv-outside-\(UUID().uuidString.prefix(6))")
            try FileManager.default.createDirectory(at: outsideDir, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: outsideDir) }
            let outside = outsideDir.appendingPathComponent("plant disk.qcow2")
            let made = try Command.run(["qemu-img", "create", "-q", "-f", "qcow2", outside.path, "1G"], timeout: 60)
            try #require(made.status == 0, "\(made.stderr)")
            chmod(outside.path, 0o644)
            func owner(_ url: URL) -> String {
                var st = stat()
                return stat(url.path, &st) == 0 ? "\(st.st_uid):\(st.st_gid) \(String(st.st_mode & 0o7777, radix: 8))" : "missing"
            }
            let ownerBefore = owner(outside)

            #expect(host.run("hv", ["manager", "url"]).status == 0)
            let token = host.text(host.layout.managerToken).trimmingCharacters(in: .whitespacesAndNewlines)
            let post = ["Authorization": "Bearer \(token)", "X-HV-Request": "1", "Content-Type": "application/json"]
            let config = ubuntu.appendingPathComponent("guest.config"), before = host.text(config)
            for path in [outside.path, "/etc/shadow", "../../etc/shadow"] {
                let r = Manager.request(port, "PATCH", "/v1/guests/guestubuntu/settings", headers: post, body: #"{"diskImage":"\#(path)"}"#)
                let answer = r?.json as? [String: Any]
                #expect(r?.status == 400 && answer?["field"] as? String == "diskImage", "\(path): \(String(decoding: r?.body ?? Data(), as: UTF8.self))")
            }
            let iso = Manager.request(port, "PATCH", "/v1/guests/guestubuntu/settings", headers: post, body: #"{"iso":"/etc/shadow"}"#)
            #expect(iso?.status == 400 && (iso?.json as? [String: Any])?["field"] as? String == "iso")
            #expect(host.text(config) == before, "a refused edit changes nothing")
            #expect(owner(outside) == ownerBefore && owner(URL(fileURLWithPath: "/etc/shadow")).hasPrefix("0:"))

            // Root names it by hand: the guest runs on it, and it stays root's.
            try host.writeUserConfig(ubuntu, "[Guest\\Disk]\n    \"Image\"=\"\(outside.path)\"\n")
            let start = host.run("hv_guest_start", cwd: ubuntu)
            try #require(start.status == 0, "\(start.all)")
            let status = try host.status("guestubuntu")
            #expect(status.diskImage == outside.path)
            #expect(host.openDescriptors(pid: status.pid, on: outside) >= 2, "QEMU holds the disk hvd opened for it")
            #expect(owner(outside) == ownerBefore, "\(owner(outside)) was \(ownerBefore)")
            // A running KVM guest's snapshot (its disk a path with a space, outside HV_ROOT): QEMU makes it.
            let snap = host.run("hv", ["guest", "snapshot", "guestubuntu", "create", "while-running"], timeout: 300)
            #expect(snap.status == 0 && snap.out.contains("while it ran"), "\(snap.all)")
            let listed = host.run("hv", ["guest", "snapshot", "guestubuntu", "list", "--json"])
            let snaps = try? JSONDecoder().decode(SnapshotList.self, from: Data(listed.out.utf8))
            #expect(snaps?.snapshots.map(\.name) == ["while-running"] && snaps?.snapshots.first?.complete == true, "\(listed.all)")
            #expect(host.run("hv", ["guest", "snapshot", "guestubuntu", "delete", "while-running", "--yes"], timeout: 300).status == 0)
            #expect(owner(outside) == ownerBefore, "a snapshot changes no owner: \(owner(outside))")
            let stop = host.run("hv", ["guest", "stop", "--force", "guestubuntu"])
            #expect(stop.status == 0, "\(stop.all)")
            #expect(owner(outside) == ownerBefore)
            // A disk an earlier hv gave to a guest's user goes back to root at the next start.
            #expect(chown(outside.path, GuestIdentity.uidBase + 99, GuestIdentity.sharedGroup()) == 0 && chmod(outside.path, 0o600) == 0)
            #expect(host.run("hv_guest_start", cwd: ubuntu).status == 0)
            #expect(owner(outside).hasPrefix("0:0 600"), "\(owner(outside))")
            #expect(host.run("hv", ["guest", "stop", "--force", "guestubuntu"]).status == 0)
        }

        /// The loopback rule is hvd's: there while hvd runs (and while guests do),
        /// refusing every guest user's new connections to the host's loopback
        /// but DNS, and gone with the last of them.
        @Test func guestUsersDoNotReachTheHostsLoopback() throws {
            let host = try TestHost()
            defer { host.cleanup() }
            let port = try host.useFreeManagerPort()
            try host.prepare("ubuntu_rtlinux", loadVMF: false)
            #expect(host.run("hv", ["manager", "url"]).status == 0)
            let guard_ = LoopbackGuard(layout: host.layout)
            #expect(guard_.installed, "hvd installs its rule when it starts")
            func connects(asUID uid: UInt32?) throws -> Bool {
                let probe = "exec 3<>/dev/tcp/127.0.0.1/\(port)"
                let argv =
                    uid.map { ["setpriv", "--reuid=\($0)", "--regid=\(GuestIdentity.uidBase)", "--clear-groups", "bash", "-c", probe] } ?? [
                        "bash", "-c", probe,
                    ]
                return try Command.run(argv, timeout: 20).status == 0
            }
            #expect(try connects(asUID: nil), "root reaches the System Manager")
            #expect(try !connects(asUID: GuestIdentity.uidBase + 1), "a guest's user does not")
            #expect(try !connects(asUID: GuestIdentity.uidBase + 59_999), "nor the last guest id's")
            #expect(try connects(asUID: 65_000), "an ordinary user is not a guest: the rule is not theirs")
            #expect(host.run("hv", ["daemon", "stop"]).status == 0)
            #expect(!guard_.installed, "no guest runs: hvd takes its rule with it")
        }

        /// Too much memory and a corrupt disk: clear errors, nothing created or changed.
        @Test func badInputChangesNothing() throws {
            let (host, ubuntu, usr, disk) = try ubuntuExample()
            defer { host.cleanup() }

            try "[Guest\\Memory]\n    \"SizeMiB\"=\"1000000\"\n".write(to: usr, atomically: true, encoding: .utf8)
            let big = host.run("hv_guest_start", cwd: ubuntu)
            #expect(big.status == 16 && big.err.contains("1000000 MiB") && big.err.contains("reserve"), "\(big.all)")
            #expect(!FileManager.default.fileExists(atPath: disk.path))
            #expect(host.qemuPid("guestubuntu") == nil)
            try "".write(to: usr, atomically: true, encoding: .utf8)

            try FileManager.default.createDirectory(at: disk.deletingLastPathComponent(), withIntermediateDirectories: true)
            var junk = Data("QFI\u{fb}".utf8) + Data([0, 0, 0, 3])
            junk += Data((0..<65_536).map { UInt8(truncatingIfNeeded: $0 &* 31) })
            try junk.write(to: disk)
            let corrupt = host.run("hv_guest_start", cwd: ubuntu)
            #expect(corrupt.status == 15 && corrupt.err.contains(disk.path), "\(corrupt.all)")
            #expect(try Data(contentsOf: disk) == junk, "the disk is left exactly as it was")
            #expect(!FileManager.default.fileExists(atPath: ubuntu.appendingPathComponent("OVMF_VARS.fd").path))
            #expect(host.qemuPid("guestubuntu") == nil)
        }

        /// Mode bridge, inside namespaces the test makes: hv (so hvd and QEMU)
        /// runs in one whose free veth leads to another holding 192.168.77.1.
        /// An interface carrying an address is refused; the veth gets a bridge
        /// of hv's with the guest's TAP, the installed guest reaches the other
        /// side, and bridge and TAP are gone when it stops (hv_brdelall then
        /// finds nothing).
        @Test func aBridgedGuestReachesTheOtherSideAndItsBridgeGoes() throws {
            let id = UUID().uuidString.prefix(6).lowercased()
            let (a, b) = ("hvka-\(id)", "hvkb-\(id)")
            defer {
                _ = TestHost.ip(["netns", "delete", a])
                _ = TestHost.ip(["netns", "delete", b])
            }
            for step in [
                ["netns", "add", a], ["netns", "add", b],
                ["-n", a, "link", "add", "vA", "type", "veth", "peer", "name", "vB", "netns", b],
                ["-n", a, "link", "set", "lo", "up"],
                ["-n", a, "link", "add", "busy0", "type", "veth", "peer", "name", "busy1"], ["-n", a, "addr", "add", "10.9.9.9/24", "dev", "busy0"],
                ["-n", b, "addr", "add", "192.168.77.1/24", "dev", "vB"], ["-n", b, "link", "set", "vB", "up"],
            ] {
                let (status, out) = TestHost.ip(step)
                try #require(status == 0, "ip \(step.joined(separator: " ")): \(out)")
            }
            let host = try TestHost()
            host.netns = a
            defer { host.cleanup() }
            try host.prepare("ubuntu_rtlinux", loadVMF: false)
            try host.provideISO("ubuntu.iso")
            let ubuntu = host.folder("guestubuntu")
            let usr = ubuntu.appendingPathComponent("usr.config")
            let install = host.run("hv_guest_start", cwd: ubuntu)
            try #require(install.status == 0, "\(install.all)")
            try #require(host.waitUntil(300) { (try? host.status("guestubuntu").state) == .stopped }, "the installer did not finish")

            try "[Guest\\Network]\n    \"Mode\"=\"bridge\"\n    \"Bridge\"=\"busy0\"\n".write(to: usr, atomically: true, encoding: .utf8)
            let refused = host.run("hv_guest_start", cwd: ubuntu)
            #expect(refused.status != 0 && refused.err.contains("busy0 carries the host's address 10.9.9.9/24"), "\(refused.all)")
            #expect(!TestHost.ip(["-n", a, "link"]).1.contains("hvg"), "no TAP left by a refused start")

            try "[Guest\\Network]\n    \"Mode\"=\"bridge\"\n    \"Bridge\"=\"vA\"\n".write(to: usr, atomically: true, encoding: .utf8)
            let console = ubuntu.appendingPathComponent("console.log")
            let boots = { host.text(console).components(separatedBy: "hv-test: ready").count }
            let bootsBefore = boots()
            let start = host.run("hv_guest_start", cwd: ubuntu)
            try #require(start.status == 0, "\(start.all)")
            let links = TestHost.ip(["-n", a, "-o", "link"]).1
            #expect(links.contains("vA@") && links.contains("master hvb"), "the veth is on hv's bridge: \(links)")
            #expect(links.split(separator: "\n").contains { $0.contains(": hvg") && $0.contains("master hvb") }, "the guest's TAP: \(links)")
            #expect(host.waitUntil(240) { boots() > bootsBefore }, "the installed system did not boot: \(host.text(console).suffix(600))")
            let ping = host.guestRun(
                "guestubuntu", "ip link set eth0 up; ip addr add 192.168.77.2/24 dev eth0; ping -c 3 -w 30 192.168.77.1",
                serial: true, timeout: 90)
            #expect(ping.contains(" 0% packet loss"), "\(ping.suffix(600))")
            // hv's bridge takes no IPv6 autoconfiguration from what guests send.
            let bridgeName = links.split(separator: " ").first { $0.hasPrefix("hvb") && !$0.hasSuffix(":") }.map(String.init) ?? "?"
            let (_, v6) = TestHost.ip(["netns", "exec", a, "cat", "/proc/sys/net/ipv6/conf/\(bridgeName)/disable_ipv6"])
            #expect(v6.trimmingCharacters(in: .whitespacesAndNewlines) == "1", "\(bridgeName): \(v6)")
            // With another MAC the guest reaches nobody; with its own again it does.
            let mac = QemuCommandLine.macAddress("guestubuntu")
            let spoofed = host.guestRun(
                "guestubuntu",
                "ip link set eth0 down; ip link set eth0 address 52:54:00:de:ad:01; ip link set eth0 up; "
                    + "ping -c 3 -w 8 192.168.77.1", serial: true, timeout: 60)
            #expect(spoofed.contains("100% packet loss"), "\(spoofed.suffix(600))")
            let own = host.guestRun(
                "guestubuntu",
                "ip link set eth0 down; ip link set eth0 address \(mac); ip link set eth0 up; "
                    + "ping -c 3 -w 30 192.168.77.1", serial: true, timeout: 90)
            #expect(own.contains(" 0% packet loss"), "\(own.suffix(600))")
            let busy = host.run("hv_brdelall")
            #expect(busy.status != 0 && busy.err.contains("running guests use hv's bridges"), "\(busy.all)")

            #expect(host.run("hv", ["guest", "stop", "guestubuntu", "--force"]).status == 0)
            let after = TestHost.ip(["-n", a, "-o", "link"]).1
            #expect(!after.contains("hvb") && !after.contains("hvg") && after.contains("vA@"), "bridge and TAP go with the guest: \(after)")
            let (_, tables) = TestHost.ip(["netns", "exec", a, "nft", "list", "tables"])
            #expect(!tables.contains("bridge hv_"), "the MAC rules go with the last TAP: \(tables)")
            let none = host.run("hv_brdelall")
            #expect(none.status == 0 && none.out.contains("nothing to remove"), "\(none.all)")
        }

        /// HostForward: a host port held by someone else is refused before
        /// anything is created; a free one is QEMU's listener on loopback.
        @Test func hostForwardListensOnTheHost() throws {
            let (host, ubuntu, usr, disk) = try ubuntuExample()
            defer { host.cleanup() }
            // A port this test holds.
            let held = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            defer { close(held) }
            var addr = sockaddr_in()
            addr.sin_family = sa_family_t(AF_INET)
            addr.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
            var len = socklen_t(MemoryLayout<sockaddr_in>.size)
            let bound = withUnsafeMutablePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(held, $0, len) == 0 && listen(held, 1) == 0 && getsockname(held, $0, &len) == 0 }
            }
            try #require(bound)
            let heldPort = Int(UInt16(bigEndian: addr.sin_port))
            try "[Guest\\Network]\n    \"HostForward\"=\"tcp:\(heldPort):22\"\n".write(to: usr, atomically: true, encoding: .utf8)
            let refused = host.run("hv_guest_start", cwd: ubuntu)
            #expect(
                refused.status != 0 && refused.err.contains("forwards tcp port \(heldPort) on 127.0.0.1, which another program or guest already uses"),
                "\(refused.all)")
            #expect(!FileManager.default.fileExists(atPath: disk.path), "nothing was created")

            let free = heldPort == 65000 ? 65001 : 65000
            try "[Guest\\Network]\n    \"HostForward\"=\"tcp:\(free):22\"\n".write(to: usr, atomically: true, encoding: .utf8)
            let start = host.run("hv_guest_start", cwd: ubuntu)
            try #require(start.status == 0, "\(start.all)")
            let pid = try #require(host.qemuPid("guestubuntu"))
            let cmd = (try? String(contentsOfFile: "/proc/\(pid)/cmdline", encoding: .utf8))?.replacingOccurrences(of: "\0", with: " ") ?? ""
            #expect(cmd.contains("hostfwd=tcp:127.0.0.1:\(free)-:22"), "\(cmd)")
            // QEMU (the guest's user) listens on the host's loopback.
            let hex = String(format: "0100007F:%04X", free)
            #expect(
                host.waitUntil(10) {
                    host.text(URL(fileURLWithPath: "/proc/net/tcp")).split(separator: "\n").contains { $0.contains(hex) && $0.contains(" 0A ") }
                },
                "no listener on 127.0.0.1:\(free)")
            #expect(host.run("hv", ["guest", "stop", "guestubuntu", "--force"]).status == 0)
        }

        /// A host with the ubuntu_rtlinux example (VMF not loaded) and its installer ISO:
        /// the host, the Ubuntu guest's folder, its usr.config and where its disk goes.
        func ubuntuExample() throws -> (TestHost, URL, URL, URL) {
            let host = try TestHost()
            do {
                try host.prepare("ubuntu_rtlinux", loadVMF: false)
                try host.provideISO("ubuntu.iso")
            } catch {
                host.cleanup()
                throw error
            }
            let ubuntu = host.folder("guestubuntu")
            return (
                host, ubuntu, ubuntu.appendingPathComponent("usr.config"),
                host.layout.vmsDir.appendingPathComponent("example_ubuntu/ubuntu.qcow2")
            )
        }

        /// Windows: UEFI with Secure Boot, a TPM 2.0 from swtpm, SATA and e1000e.
        @Test func windowsStartsWithSecureBootFirmwareAndATPM() throws {
            let host = try TestHost()
            defer { host.cleanup() }
            try host.prepare("windows_rtlinux", loadVMF: false)
            try host.provideISO("windows.iso")
            // With samba installed QEMU serves /hv/guests over SMB as the
            // guest's own user, which then needs a name: hv gives it one.
            let smb = FileManager.default.isExecutableFile(atPath: "/usr/sbin/smbd")
            let hv = try HypervisorConfig.load(host.layout.hvConfig)
            let identity = GuestIdentity.forGuest(id: hv.guest(folder: "guestwindows")?.id, folder: "guestwindows")
            let hadAccount = getpwuid(identity.uid) != nil
            defer {
                if !hadAccount && getpwuid(identity.uid) != nil {
                    _ = try? Command.run(["userdel", identity.accountName], timeout: 30)
                }
            }
            let start = host.run("hv", ["guest", "start", "guestwindows"])
            try #require(start.status == 0, "\(start.all)")
            #expect(start.out.contains("TPM 2.0"), "\(start.out)")
            let pid = try #require(host.qemuPid("guestwindows"))
            let cmd = (try? String(contentsOfFile: "/proc/\(pid)/cmdline", encoding: .utf8))?.replacingOccurrences(of: "\0", with: " ") ?? ""
            for part in ["tpm-crb", "ide-hd", "e1000e", "OVMF_CODE_4M.ms.fd", "usb-tablet"] {
                #expect(cmd.contains(part), "\(part) missing from \(cmd)")
            }
            if smb {
                #expect(cmd.contains(",smb=\(host.layout.guestsDir.path)"), "\(cmd)")
                let account = getpwuid(identity.uid).map { String(cString: $0.pointee.pw_name) }
                #expect(account == identity.accountName, "QEMU's user has a name for its smb.conf")
                #expect(getpwuid(identity.uid).map { String(cString: $0.pointee.pw_shell) } == "/usr/sbin/nologin")
            } else {
                #expect(!cmd.contains("smb="), "\(cmd)")
                #expect(start.out.contains("install samba"), "\(start.out)")
            }
            let run = host.layout.guest("guestwindows").runDir
            let tpmPid = Int32(host.text(run.appendingPathComponent("qemu/swtpm.pid")).trimmingCharacters(in: .whitespacesAndNewlines))
            let swtpm = try #require(tpmPid)
            #expect(TestHost.isAlive(swtpm))
            #expect(
                !((try? FileManager.default.contentsOfDirectory(atPath: host.folder("guestwindows").appendingPathComponent("tpm").path)) ?? []).isEmpty,
                "the TPM keeps its state in the guest folder")
            let stop = host.run("hv", ["guest", "stop", "guestwindows", "--force"])
            #expect(stop.status == 0, "\(stop.all)")
            #expect(host.waitUntil(10) { !TestHost.isAlive(swtpm) }, "swtpm ends with its QEMU")
        }

        /// A disk in the guest folder goes with the guest: said first, asked, moved to backup/.
        @Test func deletingAGuestMovesItsFolderAndDiskToBackup() throws {
            let host = try TestHost()
            defer { host.cleanup() }
            try host.prepare("ubuntu_rtlinux", loadVMF: false)
            let ubuntu = host.folder("guestubuntu")
            let disk = ubuntu.appendingPathComponent("disk.qcow2")
            let created = Process()
            created.executableURL = URL(fileURLWithPath: "/usr/bin/qemu-img")
            created.arguments = ["create", "-q", "-f", "qcow2", disk.path, "2G"]
            try created.run()
            created.waitUntilExit()
            let kept = host.layout.vmsDir.appendingPathComponent("example_ubuntu/ubuntu.qcow2")
            try FileManager.default.createDirectory(at: kept.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data("keep me".utf8).write(to: kept)

            let asked = host.run("hv", ["guest", "delete", "guestubuntu"])
            #expect(asked.status == 7, "no terminal to ask on: \(asked.all)")
            #expect(asked.out.contains("the disk image \(disk.path) (2.0 GiB disk, "), "\(asked.out)")
            #expect(asked.out.contains("Kept: the disk \(kept.path)"), "\(asked.out)")
            #expect(FileManager.default.fileExists(atPath: disk.path), "nothing changed")

            let done = host.run("hv", ["guest", "delete", "guestubuntu", "--yes"])
            #expect(done.status == 0, "\(done.all)")
            #expect(!FileManager.default.fileExists(atPath: ubuntu.path))
            let backups = (try? FileManager.default.contentsOfDirectory(atPath: host.layout.backupDir.path)) ?? []
            let moved = backups.map { host.layout.backupDir.appendingPathComponent($0).appendingPathComponent("guests/guestubuntu/disk.qcow2") }
                .filter { FileManager.default.fileExists(atPath: $0.path) }
            #expect(moved.count == 1, "the disk is in backup/: \(backups)")
            #expect(host.text(kept) == "keep me", "disks under VMs/ are never touched")
            let hv = host.text(host.layout.hvConfig)
            #expect(!hv.contains("Guests\\guestubuntu") && hv.contains("Guests\\guestrtlinux"), "\(hv)")
            #expect((try? HypervisorConfig.load(host.layout.hvConfig)) != nil, "hv.config stays valid: the region and event lists lose the guest too")
            #expect(!hv.contains("guestubuntu"), "\(hv)")
            let list = host.run("hv", ["guest", "list"])
            #expect(!list.out.contains("guestubuntu"), "\(list.out)")
        }
    }
}

/// Decodes a PNG's image data (zlib) with Python's standard library: a
/// check independent of hv's and QEMU's own code.
enum PNGCheck {
    struct Description: CustomStringConvertible {
        var width = 0, height = 0, distinctBytes = 0
        var nonZeroFraction = 0.0
        var description: String { "\(width)x\(height), \(distinctBytes) distinct bytes, \(nonZeroFraction) non-zero" }
    }

    static func describe(_ png: URL) throws -> Description {
        let script = """
            import struct, sys, zlib
            d = open(sys.argv[1], 'rb').read()
            assert d[:8] == b'\\x89PNG\\r\\n\\x1a\\n', 'not a PNG'
            pos, idat, w, h = 8, b'', 0, 0
            while pos < len(d):
                n, = struct.unpack('>I', d[pos:pos+4]); kind = d[pos+4:pos+8]
                if kind == b'IHDR': w, h = struct.unpack('>II', d[pos+8:pos+16])
                if kind == b'IDAT': idat += d[pos+8:pos+8+n]
                pos += 12 + n
            raw = zlib.decompress(idat)
            print(w, h, len(set(raw)), sum(1 for b in raw if b) / len(raw))
            """
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        p.arguments = ["-c", script, png.path]
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        let f = text.split(separator: " ").map { String($0).trimmingCharacters(in: .whitespacesAndNewlines) }
        guard p.terminationStatus == 0, f.count == 4 else { throw HVError(.io, "not a valid PNG: \(png.path)") }
        return Description(
            width: Int(f[0]) ?? 0, height: Int(f[1]) ?? 0, distinctBytes: Int(f[2]) ?? 0,
            nonZeroFraction: Double(f[3]) ?? 0)
    }
}
