import Foundation
import HVCore
import HVHost
import Testing

@testable import HVEngine

@Suite struct GuestScriptVariablesTests {
    func folder() throws -> (GuestFolder, URL) {
        let root = URL(fileURLWithPath: "/tmp/hv-vars-\(UUID().uuidString.prefix(8))")
        let f = HostLayout(root: root).guest("guestrtlinux")
        // The folder as hvd writes it: guest.config, guest_config.sh and the user's script.
        try FileManager.default.createDirectory(at: f.url, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
        try RegistryFile.write(GuestFiles.guestConfig(ExampleCatalogue.all[0].guests[0], project: "rt-linux"), to: f.guestConfig)
        try AtomicFile.write(GuestFiles.guestConfigScript(folder: f.name, name: "RT-Linux"), to: f.guestConfigScript, mode: 0o755)
        try AtomicFile.write(GuestFiles.userConfigScript, to: f.userConfigScript, mode: 0o755)
        return (f, root)
    }

    @Test func defaultsAreEmpty() throws {
        let (f, root) = try folder()
        defer { try? FileManager.default.removeItem(at: root) }
        #expect(try GuestScriptVariables.read(f) == GuestScriptVariables())
    }

    @Test func usrGuestConfigSetsTheVariables() throws {
        let (f, root) = try folder()
        defer { try? FileManager.default.removeItem(at: root) }
        try """
        HV_KERNEL_APPEND="isolcpus=0 quiet"
        HV_QEMU_EXTRA_ARGS=(-device "virtio-rng-pci,id=rng 0")
        HV_HOOK_ENV=(PLANT=line3 "NOTE=a b")
        echo "messages on stderr are fine" >&2
        """.write(to: f.userConfigScript, atomically: true, encoding: .utf8)
        let v = try GuestScriptVariables.read(f)
        #expect(v.kernelAppend == "isolcpus=0 quiet")
        #expect(v.qemuExtraArgs == ["-device", "virtio-rng-pci,id=rng 0"])
        #expect(v.hookEnvironment == ["PLANT": "line3", "NOTE": "a b"])
    }

    @Test func aFailingScriptIsAClearError() throws {
        let (f, root) = try folder()
        defer { try? FileManager.default.removeItem(at: root) }
        try "HV_KERNEL_APPEND=(\n".write(to: f.userConfigScript, atomically: true, encoding: .utf8)
        #expect { try GuestScriptVariables.read(f) } throws: { e in
            guard let e = e as? HVError else { return false }
            return e.code == .invalidConfig && e.message.contains("usr_guest_config.sh")
        }
        try "echo 'no such plant' >&2; exit 3".write(to: f.userConfigScript, atomically: true, encoding: .utf8)
        #expect { try GuestScriptVariables.read(f) } throws: { e in
            (e as? HVError)?.message.contains("failed (exit 3): no such plant") == true
        }
        // What the script prints goes to stderr, so it cannot garble the variables.
        try "echo chatty; HV_KERNEL_APPEND=ok".write(to: f.userConfigScript, atomically: true, encoding: .utf8)
        #expect(try GuestScriptVariables.read(f).kernelAppend == "ok")
    }
}
