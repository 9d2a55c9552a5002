import Foundation
import Testing

@testable import HVCore

@Suite struct HypervisorConfigTests {
    func config(_ guests: [(String, GuestOS, String)]) -> HypervisorConfig {
        HypervisorConfig(
            project: "t",
            guests: guests.enumerated().map { i, g in
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

    /// Cores=N takes N physical cores, one per vCPU; too many is refused with the numbers.
    @Test func aMultiCoreGuestTakesOneCorePerVCPU() throws {
        let two = try config([("a", .rtLinux, "auto"), ("b", .vxworks, "auto")]).reservedCores(hostCPUs: 4, vcpus: ["a": 2])
        #expect(two.cores == ["a": [3, 2], "b": [1]] && two.notes.isEmpty)
        let error = #expect(throws: HVError.self) {
            try config([("a", .rtLinux, "auto")]).reservedCores(hostCPUs: 4, vcpus: ["a": 4])
        }
        #expect(
            error?.message.contains("wants 4 reserved cores (Cores=4), and the host can give 3 more (1,2,3) of its 4 CPUs") == true,
            "\(String(describing: error?.message))")
        let listed = #expect(throws: HVError.self) { try config([("a", .rtLinux, "3")]).reservedCores(hostCPUs: 4, vcpus: ["a": 2]) }
        #expect(listed?.message.contains("each vCPU needs a reserved core of its own") == true)
        #expect(try config([("a", .rtLinux, "2,3")]).reservedCores(hostCPUs: 4, vcpus: ["a": 2]).cores == ["a": [2, 3]])
    }

    /// SMT: a physical core goes whole (its sibling idles with the guest), core 0's siblings stay with the host.
    @Test func smtSiblingsAreNeverSplit() throws {
        let smt = CoreTopology(groups: [[0, 4], [1, 5], [2, 6], [3, 7]])
        let auto = try config([("a", .rtLinux, "auto")]).reservedCores(hostCPUs: 8, vcpus: ["a": 2], topology: smt)
        #expect(auto.cores == ["a": [3, 2, 7, 6]], "vCPUs on 3 and 2, their siblings idle")
        #expect(try config([("a", .rtLinux, "5")]).reservedCores(hostCPUs: 8, topology: smt).cores == ["a": [5, 1]])
        let host = #expect(throws: HVError.self) { try config([("a", .rtLinux, "4")]).reservedCores(hostCPUs: 8, topology: smt) }
        #expect(host?.message.contains("a sibling of CPU 0") == true)
        #expect(throws: HVError.self) { try config([("a", .rtLinux, "5"), ("b", .rtLinux, "1")]).reservedCores(hostCPUs: 8, topology: smt) }
        #expect(smt.hasSMT && !CoreTopology.flat(4).hasSMT && smt.description == "0,4 1,5 2,6 3,7")
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
