import Foundation
import Testing
@testable import HVCore

@Suite struct HypervisorConfigTests {
    func config(_ guests: [(String, GuestOS, String)]) -> HypervisorConfig {
        HypervisorConfig(project: "t", guests: guests.enumerated().map { i, g in
            .init(id: i + 1, folder: g.0, name: g.0, os: g.1, rtCores: g.2)
        })
    }

    @Test func firstRTOSGuestTakesTheLastCoreTheNextTheOneBelow() throws {
        let c = config([("a", .rtLinux, "auto"), ("w", .windows, "auto"), ("b", .vxworks, "auto")])
        let (cores, notes) = try c.reservedCores(hostCPUs: 4)
        #expect(cores == ["a": [3], "b": [2]])
        #expect(notes.isEmpty)
        #expect(try config([("a", .rtLinux, "auto")]).reservedCores(hostCPUs: 2).cores == ["a": [1]])
    }

    @Test func hostAlwaysKeepsACore() throws {
        let (cores, notes) = try config([("a", .rtLinux, "auto"), ("b", .rtos32, "auto")]).reservedCores(hostCPUs: 2)
        #expect(cores == ["a": [1], "b": []])
        #expect(notes.count == 1 && notes[0].contains("no core left to reserve for b"))
    }

    @Test func explicitCoresAreChecked() throws {
        #expect(throws: HVError.self) { try config([("a", .rtLinux, "5")]).reservedCores(hostCPUs: 4) }
        #expect(throws: HVError.self) { try config([("a", .rtLinux, "0")]).reservedCores(hostCPUs: 4) }
        #expect(throws: HVError.self) { try config([("a", .rtLinux, "2"), ("b", .rtLinux, "2")]).reservedCores(hostCPUs: 4) }
        #expect(try config([("a", .rtLinux, "2"), ("b", .rtLinux, "auto")]).reservedCores(hostCPUs: 4).cores == ["a": [2], "b": [3]])
    }

    @Test func documentRoundTripsAndIsValidated() throws {
        let c = ExampleCatalogue.all.first { $0.name == "windows_rtlinux" }!.hypervisorConfig
        let doc = try RegistryDocument(parsing: c.document().render(), fileName: "hv.config")
        #expect(try HypervisorConfig(doc) == c)
        let dup = c.document().render() + "[Guests\\other]\n    \"Id\"=\"1\"\n    \"Name\"=\"x\"\n    \"Os\"=\"ubuntu\"\n"
        #expect(throws: HVError.self) { try HypervisorConfig(try RegistryDocument(parsing: dup, fileName: "hv.config")) }
        let badFolder = "[Guests\\bad folder]\n    \"Id\"=\"1\"\n    \"Name\"=\"x\"\n    \"Os\"=\"ubuntu\"\n"
        #expect(throws: HVError.self) { try HypervisorConfig(try RegistryDocument(parsing: badFolder, fileName: "hv.config")) }
    }
}
