import Foundation
import Testing

@testable import HVCore

@Suite struct ExampleAndLayoutTests {
    @Test func theSeedsFiveExamplesWithTheirFolders() throws {
        let folders = Dictionary(uniqueKeysWithValues: ExampleCatalogue.all.map { ($0.name, $0.guests.map(\.folder)) })
        #expect(
            folders == [
                "rt-linux": ["guestrtlinux"], "rtos-32": ["guestrtos32"], "vxworks": ["guestvxworks"],
                "windows_rtlinux": ["guestrtlinux", "guestwindows"],
                "ubuntu_rtlinux": ["guestrtlinux", "guestubuntu"],
            ])
        let win = try ExampleCatalogue.named("windows_rtlinux").guests[1]
        #expect(win.diskImage == "VMs/example_win/windows.qcow2" && win.installISO == "iso/windows.iso")
        let ubu = try ExampleCatalogue.named("ubuntu_rtlinux").guests[1]
        #expect(ubu.diskImage == "VMs/example_ubuntu/ubuntu.qcow2" && ubu.installISO == "iso/ubuntu.iso")
        // Each example runs one RTOS.
        for e in ExampleCatalogue.all { #expect(e.guests.filter { $0.os.kind == .rtos }.count == 1) }
    }

    @Test func unknownExampleListsTheValidOnesAndGuesses() {
        do {
            _ = try ExampleCatalogue.named("ubunutu_rtlinux")
            Issue.record("no error")
        } catch let e as HVError {
            #expect(e.code == .notFound)
            #expect(e.hint?.contains("did you mean ubuntu_rtlinux?") == true)
            for n in ExampleCatalogue.names { #expect(e.hint?.contains(n) == true) }
        } catch { Issue.record("\(error)") }
    }

    @Test func guestFolderIsFoundFromAnySubfolder() {
        let layout = HostLayout(root: URL(fileURLWithPath: "/tmp/hvroot"))
        #expect(layout.guestFolderName(containing: URL(fileURLWithPath: "/tmp/hvroot/guests/guestrtlinux")) == "guestrtlinux")
        #expect(layout.guestFolderName(containing: URL(fileURLWithPath: "/tmp/hvroot/guests/guestrtlinux/logs/x")) == "guestrtlinux")
        #expect(layout.guestFolderName(containing: URL(fileURLWithPath: "/tmp/hvroot/guests")) == nil)
        #expect(layout.guestFolderName(containing: URL(fileURLWithPath: "/tmp/other/guests/x")) == nil)
        #expect(HostLayout.fromEnvironment(["HV_ROOT": "/srv/hv"]).root.path == "/srv/hv")
        #expect(HostLayout.fromEnvironment([:]).root.path == "/hv")
    }

}

@Suite struct DocsTests {
    @Test func configReferenceInDocsIsCurrent() throws {
        let doc = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("docs/CONFIG.md")
        #expect(
            try String(contentsOf: doc, encoding: .utf8) == ConfigReference.markdown(),
            "docs/CONFIG.md is stale: regenerate it with `hv config-reference > docs/CONFIG.md`")
    }
}
