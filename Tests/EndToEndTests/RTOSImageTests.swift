import Foundation
import HVCore
import HVEngine
import Testing

extension EndToEnd {
    /// The image contract (docs/IMAGES.md) for the RTOSes hv cannot ship:
    /// a multiboot ELF the tests build (Tests/Fixtures/multiboot-kernel)
    /// stands in for VxWorks and RTOS-32 and goes through both examples as a
    /// user's image would: refused while missing, booted by QEMU's multiboot
    /// loader on the reserved core, up when it prints its ReadyLine, talked to
    /// on the console, stopped by the ladder (it has no ACPI).
    @Suite struct RTOSImages {
        @Test(arguments: ["vxworks", "rtos-32"])
        func aMultibootImageBootsAnswersAndIsStopped(example: String) throws {
            let host = try TestHost()
            defer { host.cleanup() }
            let guest = try #require(try ExampleCatalogue.named(example).guests.first)
            let dir = try host.prepare(example)
            let image = host.layout.template(guest.os.rawValue)
                .appendingPathComponent(guest.os == .vxworks ? "vxWorks" : "rtos32.bin")

            let missing = host.run("hv_guest_start", cwd: dir)
            #expect(missing.status != 0 && missing.err.contains(image.path) && missing.err.contains("docs/IMAGES.md"), "\(missing.all)")

            try FileManager.default.createDirectory(
                at: image.deletingLastPathComponent(), withIntermediateDirectories: true,
                attributes: [.posixPermissions: 0o755])
            let build = Process()
            build.executableURL = URL(fileURLWithPath: "/bin/sh")
            build.arguments = [TestHost.package.appendingPathComponent("Tests/Fixtures/multiboot-kernel/build.sh").path, image.path]
            try build.run()
            build.waitUntilExit()
            try #require(build.terminationStatus == 0, "the test image did not build")
            chmod(image.path, 0o644)
            try """
            [Guest\\Boot]
                "ReadyLine"="hv-test-rtos: ready"
            [Guest\\Stop]
                "TimeoutSeconds"="2"

            """.write(to: dir.appendingPathComponent("usr.config"), atomically: true, encoding: .utf8)

            try "#!/bin/bash\necho \"reason=$HV_STOP_REASON\"\n".write(to: dir.appendingPathComponent("vm_shutdown_hook.sh"), atomically: true, encoding: .utf8)

            let start = host.run("hv_guest_start", cwd: dir)
            #expect(start.status == 0 && start.out.contains("is up in"), "\(start.all)")
            let log = dir.appendingPathComponent("console.log")
            #expect(host.text(log).contains("hv-test-rtos: started by a multiboot loader"), "\(host.text(log))")
            let status = try host.status(guest.folder)
            #expect(status.booted && status.vcpuPlacement.first?.cores == [1], "on the reserved core: \(status.vcpuPlacement)")

            let console = host.session("hv_guest_console", cwd: dir)
            #expect(host.waitUntil(10) { console.output.contains("hv-test-rtos") }, "the console replays the boot: \(console.output)")
            console.send("ping\r")
            #expect(host.waitUntil(10) { host.text(log).contains("pong") }, "\(host.text(log))")
            console.send("mem\r")
            #expect(host.waitUntil(10) { host.text(log).contains(" MiB") }, "\(host.text(log))")
            let answer = host.text(log).components(separatedBy: "mem ").last?.components(separatedBy: " MiB").first
            let reported = answer.flatMap { Int($0) } ?? 0
            #expect((guest.memoryMiB - 2...guest.memoryMiB).contains(reported), "the loader's memory map: \(reported) MiB of \(guest.memoryMiB)")
            console.send("\u{1d}")
            _ = console.finish(timeout: 10)

            let stop = host.run("hv_guest_stop", cwd: dir)
            #expect(stop.status == 0 && stop.out.contains("did not shut down within 2 s and was stopped by force"), "\(stop.all)")
            #expect(host.qemuPid(guest.folder) == nil)
            let hook = host.text(dir.appendingPathComponent("shutdown_hook.log"))
            #expect(hook.contains("reason=forced"), "\(hook)")
        }
    }
}
