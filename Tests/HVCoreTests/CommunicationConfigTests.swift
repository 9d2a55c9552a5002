import Foundation
import Testing

@testable import HVCore

/// The communication subsystem's part of hv.config: defaults, and each bad
/// value refused with its file and line.
@Suite struct CommunicationConfigTests {
    static let base = """
        [Hypervisor]
            "Project"="t"
        [Guests\\guestrtlinux]
            "Id"="1"
            "Name"="RT-Linux"
            "Os"="rt-linux"
        [Guests\\guestubuntu]
            "Id"="2"
            "Name"="Ubuntu"
            "Os"="ubuntu"
            "Communication"="yes"
        [Guests\\guestwindows]
            "Id"="3"
            "Name"="Windows"
            "Os"="windows"

        """

    func parse(_ extra: String) throws -> HypervisorConfig {
        try HypervisorConfig(try RegistryDocument(parsing: Self.base + extra, fileName: "hv.config"))
    }

    func failure(_ extra: String) -> HVError? {
        do {
            _ = try parse(extra)
            return nil
        } catch let e as HVError { return e } catch { return nil }
    }

    @Test func defaultsGiveEachMemberTheAddressOfItsId() throws {
        let c = try parse("").communication
        #expect(c.network.cidr == "10.77.0.0/24")
        #expect(c.network.hostAddress.description == "10.77.0.254")
        #expect(c.members.map(\.folder) == ["guestrtlinux", "guestubuntu"], "RTOS guests always; KVM guests when asked")
        #expect(c.members.map(\.address.description) == ["10.77.0.1", "10.77.0.2"])
    }

    @Test func regionsAndEventsAreRead() throws {
        let c = try parse(
            "[SharedMemory\\shm]\n    \"SizeKiB\"=\"1024\"\n    \"Guests\"=\"guestrtlinux, guestubuntu\"\n[Event\\ev]\n    \"Guests\"=\"guestrtlinux\"\n"
        ).communication
        #expect(c.regions == [.init(name: "shm", sizeKiB: 1024, guests: ["guestrtlinux", "guestubuntu"])])
        #expect(c.regions(of: "guestubuntu").count == 1 && c.events(of: "guestubuntu").isEmpty)
    }

    /// Events that list the same guests (in any order) share a table; each
    /// guest gets a doorbell per set it is in, and no more than four.
    @Test func eventsAreGroupedIntoSetsByTheirGuests() throws {
        let c = try parse(
            """
            [Event\\estop]
                "Guests"="guestrtlinux, guestubuntu"
            [Event\\rtonly]
                "Guests"="guestrtlinux"
            [Event\\reset]
                "Guests"="guestubuntu,guestrtlinux"
            [Event\\hostonly]
                "Guests"=","

            """
        ).communication
        #expect(c.eventSets.map(\.number) == [1, 2, 3])
        #expect(c.eventSets.map(\.names) == [["estop", "reset"], ["rtonly"], ["hostonly"]])
        #expect(c.eventSets.map(\.guests) == [["guestrtlinux", "guestubuntu"], ["guestrtlinux"], []])
        #expect(c.eventSets(of: "guestrtlinux").map(\.number) == [1, 2])
        #expect(c.eventSets(of: "guestubuntu").map(\.number) == [1], "Ubuntu has no table holding rtonly")
        #expect(c.eventSets(of: "guestwindows").isEmpty)

        // A fifth set for one guest is refused at the event that makes it, with its line.
        let sets = [
            "guestrtlinux", "guestrtlinux,guestubuntu", "guestrtlinux,guestwindows",
            "guestrtlinux,guestubuntu,guestwindows", "guestwindows,guestrtlinux", "guestrtlinux,guestother",
        ]
        let events = sets.enumerated().map { "[Event\\e\($0.offset)]\n    \"Guests\"=\"\($0.element)\"\n" }
        let other = "[Guests\\guestother]\n    \"Id\"=\"4\"\n    \"Name\"=\"Other\"\n    \"Os\"=\"ubuntu\"\n"
        #expect(
            try parse(events.prefix(5).joined() + other).communication.eventSets(of: "guestrtlinux").count == 4,
            "e4 lists the same guests as e2, in another order: four sets")
        let e = try #require(failure(events.joined() + other))
        #expect(e.message.contains("guestrtlinux is in 5 different sets of events"), "\(e.message)")
        #expect(e.message.contains("hv.config:27"), "the line of e5's Guests: \(e.message)")
    }

    @Test func badValuesNameTheirLine() throws {
        let cases: [(String, String, Int)] = [
            ("[SharedMemory\\shm]\n    \"SizeKiB\"=\"1000\"\n    \"Guests\"=\"guestrtlinux\"\n", "not a power of two", 17),
            ("[SharedMemory\\shm]\n    \"SizeKiB\"=\"1024\"\n    \"Guests\"=\"guestrtlinx\"\n", "unknown guest \"guestrtlinx\"", 18),
            ("[Event\\ev]\n    \"Guests\"=\"nobody\"\n", "unknown guest \"nobody\"", 17),
            ("[Hypervisor\\Network]\n    \"Subnet\"=\"10.77.0.0/33\"\n", "not an IPv4 network", 17),
            ("[Hypervisor\\Network]\n    \"Subnet\"=\"10.77.0.1/24\"\n", "host bits set", 17),
            ("[Hypervisor\\Network]\n    \"Mode\"=\"bridge\"\n", "names no \"BridgeInterface\"", 17),
        ]
        for (extra, message, line) in cases {
            let e = try #require(failure(extra), "accepted: \(extra)")
            #expect(e.code == .invalidConfig)
            #expect(e.message.contains(message) && e.message.contains("hv.config:\(line):"), "line \(line): \(e.message)")
        }
        #expect(
            failure("[SharedMemory\\shm]\n    \"SizeKiB\"=\"1024\"\n    \"Guests\"=\"guestrtlinx\"\n")?.message.contains("\"guestrtlinux\"?") == true,
            "a near miss is suggested")
    }

    @Test func overlappingAddressesAreRefused() throws {
        let doc = Self.base.replacingOccurrences(of: "\"Communication\"=\"yes\"", with: "\"Communication\"=\"yes\"\n    \"Address\"=\"10.77.0.1\"")
        let e = try #require(throws: HVError.self) { try HypervisorConfig(try RegistryDocument(parsing: doc, fileName: "hv.config")) }
        #expect(e.message.contains("10.77.0.1 of guestubuntu is already used by guestrtlinux"), "\(e.message)")
        let outside = Self.base.replacingOccurrences(of: "\"Communication\"=\"yes\"", with: "\"Communication\"=\"yes\"\n    \"Address\"=\"192.168.1.5\"")
        let e2 = try #require(throws: HVError.self) { try HypervisorConfig(try RegistryDocument(parsing: outside, fileName: "hv.config")) }
        #expect(e2.message.contains("not a host address of 10.77.0.0/24"))
    }

    @Test func aRegionBiggerThanTheHostCanGiveIsRefused() throws {
        let doc = try RegistryDocument(
            parsing: Self.base + "[SharedMemory\\big]\n    \"SizeKiB\"=\"1048576\"\n    \"Guests\"=\"guestrtlinux\"\n", fileName: "hv.config")
        let e = try #require(throws: HVError.self) {
            try CommunicationConfig.parse(
                doc, guests: [(folder: "guestrtlinux", id: 1, kind: .rtos, section: "Guests\\guestrtlinux")],
                hostMemoryMiB: 1536, reserveMiB: 1024)
        }
        #expect(e.message.contains("need 1024 MiB") && e.message.contains("512 MiB") && e.message.contains("beyond its reserve"), "\(e.message)")
    }

    @Test func theGuestsAChangeReachesAreNamed() throws {
        let old = try parse("[SharedMemory\\shm]\n    \"SizeKiB\"=\"64\"\n    \"Guests\"=\"guestrtlinux,guestubuntu\"\n").communication
        let new = try parse("[SharedMemory\\shm]\n    \"SizeKiB\"=\"128\"\n    \"Guests\"=\"guestrtlinux,guestubuntu\"\n").communication
        #expect(new.guestsAffected(comparedTo: old) == ["guestrtlinux", "guestubuntu"])
        #expect(old.guestsAffected(comparedTo: old).isEmpty)
    }

    @Test func addressesParseAndPrint() {
        #expect(IPv4("10.77.0.1")?.description == "10.77.0.1")
        #expect(IPv4("10.77.0") == nil && IPv4("10.77.0.256") == nil && IPv4("01.2.3.4") == nil)
        let (net, prefix) = IPv4.parseCIDR("192.168.8.0/22") ?? (IPv4(value: 0), 0)
        #expect(net.last(prefix).description == "192.168.11.254")
        #expect(IPv4("192.168.11.255")?.isHost(in: net, prefix) == false)
    }
}
