import Foundation
import HVAPI
import HVCore
import HVEngine
import HVHost
import Testing

extension EndToEnd {
    /// The communication subsystem with real guests: RT-Linux and the test
    /// image installed as the Ubuntu example's KVM guest.
    @Suite struct Communication {
        func ip(_ args: [String]) -> (Int32, String) { TestHost.ip(args) }

        @Test func networkSharedMemoryAndEventsBetweenRTLinuxAKVMGuestAndTheHost() throws {
            let host = try TestHost()
            defer { host.cleanup() }
            let rt = try host.prepare("ubuntu_rtlinux", loadVMF: false)
            // A second set of events: rtonly lists RT-Linux alone, so it has a table of its own that Ubuntu never maps.
            let hvConfig = HostLayout(root: host.root).hvConfig
            try (host.text(hvConfig) + "[Event\\rtonly]\n    \"Guests\"=\"guestrtlinux\"\n").write(to: hvConfig, atomically: true, encoding: .utf8)
            try #require(host.run("hv_vmf_start", cwd: rt).status == 0)
            try host.provideISO("ubuntu.iso")
            let ubuntu = host.folder("guestubuntu")
            try #require(host.run("hv_guest_start", cwd: rt).status == 0)
            try #require(host.run("hv_guest_start", cwd: ubuntu).status == 0)
            try #require(host.waitUntil(300) { (try? host.status("guestubuntu").state) == .stopped }, "the install did not finish")
            let console = ubuntu.appendingPathComponent("console.log")
            let offset = host.text(console).utf8.count
            try #require(host.run("hv_guest_start", cwd: ubuntu).status == 0)
            try #require(
                host.waitUntil(240) { String(host.text(console).utf8.dropFirst(offset)).map { $0.contains("hv-test: ready") } ?? false },
                "the installed system did not come up")
            #expect(String(host.text(console).utf8.dropFirst(offset))?.contains("eth1 is 10.77.0.2/24 on the VMF network") == true)

            let list = host.run("hv", ["guest", "list"]).out
            #expect(list.contains("10.77.0.1") && list.contains("10.77.0.2"), "\(list)")

            // The virtual network: guest to guest both ways, then the host in hv's namespace.
            #expect(host.guestRun("guestrtlinux", "ping -c 3 -w 30 10.77.0.2").contains(" 0% packet loss"))
            #expect(host.guestRun("guestubuntu", "ping -c 3 -w 30 10.77.0.1", serial: true).contains(" 0% packet loss"))
            let attach = host.run("hv", ["net", "attach"])
            #expect(attach.status == 0, "\(attach.all)")
            for address in ["10.77.0.1", "10.77.0.2"] {
                let ping = host.run("hv", ["net", "exec", "--", "busybox", "ping", "-c", "2", "-w", "20", address])
                #expect(ping.status == 0 && ping.out.contains("0% packet loss"), "host → \(address): \(ping.all)")
            }
            // Nothing of it in the host's own namespace: no address, no interface.
            #expect(!ip(["-o", "addr"]).1.contains("10.77.0."), "the VMF network reaches the host only inside hv's namespace")
            #expect(!ip(["-o", "link"]).1.contains("vmfg") && !ip(["-o", "link"]).1.contains("vmfbr"))
            let ns = HostLayout(root: host.root).instanceID
            #expect(ip(["netns", "list"]).1.contains(ns))

            // Shared memory: host → RT-Linux, Ubuntu → RT-Linux and the host.
            #expect(host.run("hv", ["shm", "write", "shm", "0", "from-the-host"]).status == 0)
            #expect(host.guestRun("guestrtlinux", "hv-comm shm read shm").contains("from-the-host"))
            _ = host.guestRun("guestubuntu", "hv-comm shm write shm 100 from-ubuntu", serial: true)
            #expect(host.guestRun("guestrtlinux", "hv-comm shm read shm 100").contains("from-ubuntu"))
            #expect(host.run("hv", ["shm", "read", "shm", "100"]).out.contains("from-ubuntu"))

            // Events: the host wakes a waiter in RT-Linux, and RT-Linux wakes the host.
            let waiter = host.session("hv", ["guest", "console", "guestrtlinux"])
            usleep(500_000)
            waiter.send("\nhv-comm event wait ev 60; echo waited-$((1+1))\n")
            usleep(1_500_000)
            let signal = host.run("hv", ["event", "signal", "ev"])
            #expect(signal.status == 0, "\(signal.all)")
            #expect(waiter.waitFor("waited-2", timeout: 30) && waiter.output.contains("ev signalled"), "\(waiter.output.suffix(300))")
            waiter.send("\u{1d}")
            _ = waiter.finish(timeout: 20)
            // One doorbell interrupt wakes every reader blocked on it (hv_ivshmem's list, woken in
            // hard interrupt context), and a wait nobody signals gives up at its timeout, exit 1.
            let pair = host.session("hv", ["guest", "console", "guestrtlinux"])
            usleep(500_000)
            pair.send(
                "\nhv-comm event wait ev 60 > /tmp/w1 & hv-comm event wait ev 60 > /tmp/w2; wait; echo woken-$(cat /tmp/w1 /tmp/w2 | grep -c signalled)\n")
            usleep(2_000_000)
            #expect(host.run("hv", ["event", "signal", "ev"]).status == 0)
            #expect(pair.waitFor("woken-2", timeout: 30), "both waiters woken by one signal: \(pair.output.suffix(400))")
            pair.send("\u{1d}")
            _ = pair.finish(timeout: 20)
            let lonely = host.guestRun("guestrtlinux", "hv-comm event wait ev 2; echo rc=$?")
            #expect(lonely.contains("ev was not signalled within 2 s") && lonely.contains("rc=1"), "\(lonely.suffix(300))")
            let hostWait = host.session("hv", ["event", "wait", "ev", "--timeout", "60"])
            usleep(1_000_000)
            _ = host.guestRun("guestrtlinux", "hv-comm event signal ev")
            let woke = hostWait.finish(timeout: 60)
            #expect(woke.status == 0 && woke.out.contains("ev signalled"), "\(woke.all)")
            // A host program on the doorbells itself (no hvd in the path): woken by RT-Linux, waking it.
            let direct = host.session("hv", ["event", "session", "--direct"])
            direct.send("count ev\n")
            try #require(direct.waitFor("ev ", timeout: 20), "\(direct.output)")
            usleep(300_000)
            let seen = direct.output.split(separator: "\n").first.flatMap { $0.split(separator: " ").last }.map(String.init) ?? "0"
            direct.send("wait ev \(seen) 60\n")
            usleep(500_000)
            _ = host.guestRun("guestrtlinux", "hv-comm event signal ev")
            let next = (UInt64(seen) ?? 0) + 1
            #expect(direct.waitFor("ev \(next)\n", timeout: 60), "the direct session was woken by RT-Linux: \(direct.output)")
            let rtWaits = host.session("hv", ["guest", "console", "guestrtlinux"])
            usleep(500_000)
            rtWaits.send("\nhv-comm event wait ev 60; echo direct-$((2+2))\n")
            usleep(1_500_000)
            direct.send("signal ev\n")
            #expect(
                rtWaits.waitFor("direct-4", timeout: 30) && rtWaits.output.contains("ev signalled"),
                "RT-Linux was woken by the direct session: \(rtWaits.output.suffix(300))")
            rtWaits.send("\u{1d}")
            _ = rtWaits.finish(timeout: 20)
            direct.closeInput()
            #expect(direct.finish(timeout: 20).status == 0)
            // A host program with include/hv/hv_events.h: the doorbells inside the program itself.
            let tables = host.run("hv", ["event", "list", "--names"]).out.split(separator: "\n").map(String.init)
            let layout = HostLayout(root: host.root)
            #expect(
                tables == [layout.eventsHostSocket(set: 1).path + " ev", layout.eventsHostSocket(set: 2).path + " rtonly"],
                "a line per table, its socket and its names in slot order: \(tables)")
            let names = "ev"
            let program = host.root.appendingPathComponent("host_events").path
            let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../..").standardizedFileURL
            let cc = host.run(
                "/usr/bin/gcc",
                [
                    "-std=gnu11", "-O2", "-Wall", "-Werror", "-I", repo.appendingPathComponent("include").path, "-o", program,
                    repo.appendingPathComponent("Tests/Fixtures/host-events/host_events.c").path,
                ])
            try #require(cc.status == 0, "\(cc.all)")
            let sock = layout.eventsHostSocket(set: 1).path
            let count = host.run("hv", ["event", "list"]).out
            let before =
                UInt64(count.split(separator: "\n").dropFirst().first?.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "") ?? 0
            let programWaits = host.session(program, [sock, names, "wait", "ev", String(before), "60"])
            usleep(1_000_000)
            _ = host.guestRun("guestrtlinux", "hv-comm event signal ev")
            let programWoke = programWaits.finish(timeout: 60)
            #expect(programWoke.status == 0 && programWoke.out == "ev \(before + 1)\n", "woken by RT-Linux: \(programWoke.all)")
            let rtWaitsForProgram = host.session("hv", ["guest", "console", "guestrtlinux"])
            usleep(500_000)
            rtWaitsForProgram.send("\nhv-comm event wait ev 60; echo program-$((3+3))\n")
            usleep(1_500_000)
            let programSignals = host.run(program, [sock, names, "signal", "ev"])
            #expect(programSignals.status == 0, "\(programSignals.all)")
            #expect(
                rtWaitsForProgram.waitFor("program-6", timeout: 30) && rtWaitsForProgram.output.contains("ev signalled"),
                "RT-Linux was woken by the program: \(rtWaitsForProgram.output.suffix(300))")
            rtWaitsForProgram.send("\u{1d}")
            _ = rtWaitsForProgram.finish(timeout: 20)

            try eventsOfAnotherSetAreOutOfAGuestsReach(host)

            // Last, since the guests' doorbells do not survive an hvd (docs/ARCHITECTURE.md, 20): the network does.
            aGuestSendingWithAnotherMACReachesNobody(host)
            try hvdIsInNoFramesPath(host, namespace: ns)

            // Regions survive a guest restart; unloading the VMF removes them and hv's namespace.
            #expect(host.run("hv_guest_restart", cwd: rt).status == 0)
            #expect(host.guestRun("guestrtlinux", "hv-comm shm read shm").contains("from-the-host"))
            #expect(host.run("hv_guest_stop", cwd: ubuntu).status == 0)
            #expect(host.run("hv_vmf_stop", ["--yes"], cwd: rt).status == 0)
            #expect(!FileManager.default.fileExists(atPath: HostLayout(root: host.root).sharedMemoryDir.path))
            #expect(!ip(["netns", "list"]).1.contains(ns), "no namespace of hv's is left")
            #expect(!ip(["-o", "link"]).1.contains("vmf"), "no bridge or TAP of hv's is left")
            let nft = (try? Command.run(["nft", "list", "tables"], timeout: 10))?.stdout ?? ""
            #expect(!nft.contains("hv_vmf"), "no rule of the VMF network's is left: \(nft)")
            for set in [1, 2] {
                #expect(!FileManager.default.fileExists(atPath: layout.ivshmemSocket(set: set).path), "no doorbell socket is left")
            }
        }

        /// The VMF network is the kernel's bridge: a ping stream RT-Linux →
        /// Ubuntu and the host's seat → both guests goes on, not one lost,
        /// while hvd is SIGKILLed ten times and a new one adopts the guests each time.
        func hvdIsInNoFramesPath(_ host: TestHost, namespace ns: String) throws {
            let count = 600
            _ = host.guestRun("guestrtlinux", "(ping -q -c \(count) -i 0.05 10.77.0.2 > /tmp/vmf-ping 2>&1; echo vmf-ping-ended >> /tmp/vmf-ping) & true")
            let seats = ["10.77.0.1", "10.77.0.2"].map { address in
                host.session("/usr/sbin/ip", ["netns", "exec", ns, "ping", "-q", "-c", String(count), "-i", "0.05", address])
            }
            var pids: Set<Int32> = []
            for round in 1...10 {
                let hvd = try #require(host.hvdPid, "round \(round): no hvd")
                pids.insert(hvd)
                kill(hvd, SIGKILL)
                #expect(host.waitUntil(10) { !TestHost.isAlive(hvd) })
                usleep(500_000)
                // The next command starts a new hvd, which adopts both guests.
                let list = host.run("hv", ["guest", "list", "--json"])
                let states = (try? JSONDecoder().decode([GuestStatus].self, from: Data(list.out.utf8)))?.map(\.state) ?? []
                #expect(states.count == 2 && states.allSatisfy { $0 == .running }, "round \(round): \(list.all)")
            }
            #expect(pids.count == 10, "ten hvds were killed")
            for (address, seat) in zip(["10.77.0.1", "10.77.0.2"], seats) {
                let r = seat.finish(timeout: 120)
                #expect(r.out.contains("\(count) packets transmitted, \(count) received, 0% packet loss"), "host's seat → \(address): \(r.all)")
            }
            #expect(host.waitUntil(120) { host.guestRun("guestrtlinux", "cat /tmp/vmf-ping").contains("vmf-ping-ended") })
            let rt = host.guestRun("guestrtlinux", "cat /tmp/vmf-ping")
            #expect(rt.contains("\(count) packets transmitted, \(count) packets received, 0% packet loss"), "RT-Linux → Ubuntu: \(rt.suffix(400))")
        }

        /// RT-Linux is in two sets of events (ev with Ubuntu, rtonly alone): two
        /// doorbells, both working. Ubuntu, hostile, sees only ev's table; it
        /// writes a count into every slot of every events table it can map
        /// (through /dev/mem, past hv-comm), and rtonly neither counts it nor
        /// wakes RT-Linux's waiter. (With one table for all events, as before,
        /// rtonly was Ubuntu's to signal.)
        func eventsOfAnotherSetAreOutOfAGuestsReach(_ host: TestHost) throws {
            let words = host.guestRun("guestrtlinux", "cat /proc/cmdline")
            #expect(words.contains("hv.ev=0f,0e"), "RT-Linux has a doorbell per set: \(words.suffix(300))")
            let rtList = host.guestRun("guestrtlinux", "hv-comm event list")
            #expect(rtList.contains("ev ") && rtList.contains("rtonly 0"), "\(rtList.suffix(300))")
            let ubuntuList = host.guestRun("guestubuntu", "hv-comm event list; hv-comm event signal rtonly; echo rc=$?", serial: true)
            #expect(ubuntuList.contains("ev ") && !ubuntuList.contains("rtonly 0"), "Ubuntu sees ev alone: \(ubuntuList.suffix(400))")
            #expect(ubuntuList.contains("no event named rtonly") && ubuntuList.contains("rc=2"), "\(ubuntuList.suffix(400))")

            // RT-Linux waits on rtonly (its second doorbell) while Ubuntu scribbles.
            _ = host.guestRun("guestrtlinux", "(hv-comm event wait rtonly 25 > /tmp/rtonly 2>&1; echo rtonly-rc=$? >> /tmp/rtonly) & true")
            let attack = host.guestRun(
                "guestubuntu",
                """
                n=0; for d in /sys/bus/pci/devices/*; do [ "$(cat $d/vendor)" = 0x1af4 ] || continue;                 base=$(sed -n 3p $d/resource | cut -d' ' -f1); [ $((base)) -ne 0 ] || continue;                 [ "$(devmem $base 32)" = 0x48564556 ] || continue;                 i=0; while [ $i -lt 64 ]; do devmem $(printf 0x%x $((base + 96 + i * 128))) 32 30583; i=$((i + 1)); done;                 n=$((n + 1)); done; echo scribbled-on-$n-tables
                """, serial: true, timeout: 120)
            #expect(attack.contains("scribbled-on-1-tables"), "Ubuntu maps one events table and wrote over it: \(attack.suffix(400))")
            let list = host.run("hv", ["event", "list"]).out
            let count = { (name: String) in
                list.split(separator: "\n").first { $0.hasPrefix(name + " ") }?.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first.map(
                    String.init)
            }
            #expect(count("ev") == "30583", "what Ubuntu may reach, it reached: \(list)")
            #expect(count("rtonly") == "0", "rtonly is out of its reach: \(list)")
            // The console's replay holds the line that started it ("rtonly-rc=$?") and earlier
            // statuses: wait for this waiter's own status.
            #expect(
                host.waitUntil(90) {
                    let t = host.guestRun("guestrtlinux", "cat /tmp/rtonly")
                    return t.contains("rtonly-rc=1") || t.contains("rtonly-rc=0")
                })
            let waited = host.guestRun("guestrtlinux", "cat /tmp/rtonly")
            #expect(waited.contains("rtonly was not signalled") && waited.contains("rtonly-rc=1"), "nothing woke RT-Linux's waiter: \(waited.suffix(300))")

            // The host signals rtonly: RT-Linux's second doorbell rings.
            let waiter = host.session("hv", ["guest", "console", "guestrtlinux"])
            usleep(500_000)
            waiter.send("\nhv-comm event wait rtonly 60; echo rtonly-$((4+4))\n")
            usleep(1_500_000)
            #expect(host.run("hv", ["event", "signal", "rtonly"]).status == 0)
            #expect(waiter.waitFor("rtonly-8", timeout: 30) && waiter.output.contains("rtonly signalled (count 1)"), "\(waiter.output.suffix(300))")
            waiter.send("\u{1d}")
            _ = waiter.finish(timeout: 20)
        }

        /// RT-Linux's card given another MAC reaches nobody; with its own again it reaches Ubuntu.
        func aGuestSendingWithAnotherMACReachesNobody(_ host: TestHost) {
            let own = CommPlan.mac(forFolder: "guestrtlinux")
            let find = "dev=; for i in /sys/class/net/*; do [ \"$(cat $i/address)\" = \(own) ] && dev=${i##*/}; done"
            func setMAC(_ mac: String) -> String { "ip link set $dev down; ip link set $dev address \(mac); ip link set $dev up" }
            let spoofed = host.guestRun("guestrtlinux", "\(find); \(setMAC("52:54:01:de:ad:01")); ping -c 3 -w 8 10.77.0.2; \(setMAC(own))", timeout: 90)
            #expect(spoofed.contains("100% packet loss"), "with another MAC: \(spoofed.suffix(400))")
            let honest = host.guestRun("guestrtlinux", "ping -c 3 -w 20 10.77.0.2", timeout: 60)
            #expect(honest.contains(" 0% packet loss"), "with its own MAC again: \(honest.suffix(400))")
        }

        /// hv event session: one connection for many events; a waiter in the
        /// session is woken by a signal sent through the ordinary API, and
        /// a bad line is answered without ending the session. The same lines
        /// whether hvd answers them or hv joins the doorbells itself.
        @Test(arguments: ["--through-hvd", "--direct"])
        func anEventSessionSignalsAndWaitsOverOneConnection(mode: String) throws {
            let host = try TestHost()
            defer { host.cleanup() }
            try host.prepare("ubuntu_rtlinux")
            let s = host.session("hv", ["event", "session", mode])
            s.send("count ev\nsignal ev\nbogus\nwait ev 1 30\n")
            #expect(s.waitFor("ev 1\n", timeout: 30) && s.waitFor("error \"bogus\"", timeout: 10), "\(s.output)")
            usleep(300_000)
            #expect(host.run("hv", ["event", "signal", "ev"]).status == 0)
            #expect(s.waitFor("ev 2\n", timeout: 30), "the waiting session was woken: \(s.output)")
            s.send("wait nosuch 0 1\n")
            #expect(s.waitFor("error no event \"nosuch\"", timeout: 10), "\(s.output)")
            s.closeInput()
            let r = s.finish(timeout: 20)
            #expect(r.status == 0, "the session ends with its input: \(r.all)")
            #expect(r.out.split(separator: "\n").first == "ev 0", "\(r.out)")
        }

        /// Bridge mode, confined to namespaces the test makes: hv (and so
        /// hvd and the guest) runs in one whose veth leads to another holding
        /// 10.77.0.200; the guest reaches it through the bridge.
        @Test func bridgeModeReachesAnInterfaceInsideTheTestsNamespaces() throws {
            let id = UUID().uuidString.prefix(6).lowercased()
            let (a, b) = ("hvta-\(id)", "hvtb-\(id)")
            defer {
                _ = ip(["netns", "delete", a])
                _ = ip(["netns", "delete", b])
            }
            for step in [
                ["netns", "add", a], ["netns", "add", b],
                ["-n", a, "link", "add", "vA", "type", "veth", "peer", "name", "vB", "netns", b],
                ["-n", a, "link", "set", "vA", "up"], ["-n", a, "link", "set", "lo", "up"],
                ["-n", b, "addr", "add", "10.77.0.200/24", "dev", "vB"], ["-n", b, "link", "set", "vB", "up"],
            ] {
                let (status, out) = ip(step)
                try #require(status == 0, "ip \(step.joined(separator: " ")): \(out)")
            }
            let host = try TestHost()
            host.netns = a
            defer { host.cleanup() }
            let rt = try host.prepare("rt-linux", loadVMF: false)
            var hv = host.text(host.layout.hvConfig)
            hv = hv.replacingOccurrences(of: "\"Mode\"=\"switch\"", with: "\"Mode\"=\"bridge\"\n    \"BridgeInterface\"=\"vA\"")
            try hv.write(to: host.layout.hvConfig, atomically: true, encoding: .utf8)
            let load = host.run("hv_vmf_start", cwd: rt)
            try #require(load.status == 0, "\(load.all)")
            try #require(host.run("hv_guest_start", cwd: rt).status == 0)
            #expect(host.guestRun("guestrtlinux", "ping -c 3 -w 30 10.77.0.200").contains(" 0% packet loss"))
            #expect(ip(["link", "show", "vA"]).0 != 0, "the bridged interface is not in the host's namespace")
            #expect(host.run("hv_vmf_stop", ["--yes"], cwd: rt).status == 0)
        }
    }
}
