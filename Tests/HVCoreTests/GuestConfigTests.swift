import Foundation
import Testing

@testable import HVCore

@Suite struct GuestConfigTests {
    func base() throws -> RegistryDocument {
        let g = ExampleCatalogue.all[0].guests[0]
        let text = GuestFiles.guestConfig(g, project: "rt-linux").render()
        return try RegistryDocument(parsing: text, fileName: "guest.config")
    }

    @Test func generatedConfigValidates() throws {
        let c = try GuestConfig(base: try base(), user: RegistryDocument(fileName: "usr.config"))
        #expect(c.name == "RT-Linux")
        #expect(c.kind == .rtos)
        #expect(c.memoryMiB == 256)
        #expect(c.vcpus == 1)
        #expect(c.accelerator == .auto)
        #expect(c.image == "rt-linux")
    }

    @Test func usrConfigOverridesKeyByKey() throws {
        let user = try RegistryDocument(
            parsing: "[Guest\\Memory]\n    \"SizeMiB\"=\"512\"\n[Guest\\Cpu]\n    \"Accelerator\"=\"tcg\"\n",
            fileName: "usr.config")
        let c = try GuestConfig(base: try base(), user: user)
        #expect(c.memoryMiB == 512)
        #expect(c.accelerator == .tcg)
        #expect(c.vcpus == 1)
    }

    @Test func unknownKeySuggestsTheNearOne() throws {
        let user = try RegistryDocument(parsing: "; mine\n[Guest\\Cpu]\n    \"Cpus\"=\"2\"\n", fileName: "usr.config")
        #expect {
            _ = try GuestConfig(base: try base(), user: user)
        } throws: { error in
            guard let e = error as? HVError else { return false }
            return e.code == .invalidConfig && e.message.hasPrefix("usr.config:3: unknown key \"Cpus\" in [Guest\\Cpu]")
                && e.message.contains("did you mean \"Cores\"?")
        }
    }

    @Test func unknownSectionAndBadValuesAreRefused() throws {
        for (text, words) in [
            ("[Guest\\CPUS]\n    \"Cores\"=\"2\"\n", "unknown section [Guest\\CPUS]"),
            ("[Guest\\Memory]\n    \"SizeMiB\"=\"lots\"\n", "bad value \"lots\" for \"SizeMiB\""),
            ("[Guest\\Memory]\n    \"SizeMiB\"=\"8\"\n", "a whole number from 16"),
            ("[Guest\\Cpu]\n    \"Accelerator\"=\"hyperv\"\n", "one of \"auto\", \"kvm\", \"tcg\""),
            ("[Guest\\Share]\n    \"GuestsFolder\"=\"maybe\"\n", "\"yes\" or \"no\""),
            ("[Guest]\n    \"Kind\"=\"kvm\"\n", "does not match"),
        ] {
            let user = try RegistryDocument(parsing: text, fileName: "usr.config")
            #expect(throws: HVError.self) { _ = try GuestConfig(base: try base(), user: user) }
            do { _ = try GuestConfig(base: try base(), user: user) } catch let e as HVError {
                #expect(e.message.contains(words), "\(e.message)")
                let line = words.hasPrefix("unknown section") ? 1 : 2
                #expect(e.message.contains("usr.config:\(line):"), "\(e.message)")
            }
        }
    }

    @Test func missingRequiredKey() throws {
        let doc = try RegistryDocument(parsing: "[Guest]\n    \"Os\"=\"rt-linux\"\n", fileName: "guest.config")
        #expect(throws: HVError.self) { _ = try GuestConfig(base: doc, user: RegistryDocument(fileName: "usr.config")) }
    }

    /// Each key is declared once with its default: a guest.config naming only
    /// Name and Os gets exactly the declared defaults, per kind.
    @Test func unsetKeysTakeTheDeclaredDefaults() throws {
        for (os, kind) in [("rt-linux", GuestKind.rtos), ("ubuntu", .kvm)] {
            let doc = try RegistryDocument(parsing: "[Guest]\n    \"Name\"=\"g\"\n    \"Os\"=\"\(os)\"\n", fileName: "guest.config")
            let c = try GuestConfig(base: doc, user: RegistryDocument(fileName: "usr.config"))
            func declared(_ section: String, _ key: String) -> String? {
                GuestConfig.schema.key(section, key)?.defaultValue.text(for: kind)
            }
            #expect(String(c.vcpus) == declared("Guest\\Cpu", "Cores"))
            #expect(String(c.rtPriority) == declared("Guest\\Cpu", "RtPriority"))
            #expect(String(c.memoryMiB) == declared("Guest\\Memory", "SizeMiB"))
            #expect(String(c.stopTimeoutSeconds) == declared("Guest\\Stop", "TimeoutSeconds"))
            #expect(String(c.bootStallSeconds) == declared("Guest\\Boot", "BootStallSeconds"))
            #expect(String(c.onCrash.burst) == declared("Guest\\Recovery", "RestartLimitBurst"))
            #expect(c.networkMode == declared("Guest\\Network", "Mode"))
            #expect(c.image == os, "Image is described: the Os")
        }
        #expect(GuestConfig.schema.key("Guest\\Cpu", "RtPriority")?.defaultValue == .byKind(rtos: "50", kvm: "0"))
    }

    /// hv.config's defaults too come from its schema alone: a file that sets
    /// nothing and a configuration hv builds in code agree with it.
    @Test func hvConfigsUnsetKeysTakeTheDeclaredDefaults() throws {
        let text = "[Hypervisor]\n    \"Project\"=\"p\"\n[Guests\\g]\n    \"Id\"=\"1\"\n    \"Name\"=\"g\"\n    \"Os\"=\"rt-linux\"\n"
        let parsed = try HypervisorConfig(RegistryDocument(parsing: text, fileName: "hv.config"))
        let built = HypervisorConfig(project: "p", guests: [])
        func declared(_ section: String, _ key: String) -> String? { HypervisorConfig.schema.defaultText(section, key) }
        #expect(parsed.guests.first?.rtCores == declared("Guests\\g", "RtCores"))
        #expect(String(parsed.remainingHostMemoryMiB) == declared("Hypervisor\\Host", "RemainingHostMemoryMiB"))
        #expect(built.remainingHostMemoryMiB == parsed.remainingHostMemoryMiB)
        let net = CommunicationConfig.networkSection
        #expect(parsed.communication.network.mode == declared(net, "Mode") && built.communication.network.mode == parsed.communication.network.mode)
        #expect(built.communication.network.subnet == parsed.communication.network.subnet)
        #expect(built.communication.network.hostAddress == parsed.communication.network.hostAddress)
        #expect("\(parsed.communication.network.subnet)/\(parsed.communication.network.prefix)" == declared(net, "Subnet"))
    }

    /// Every key that is neither required nor free text says what it is when unset.
    @Test func everyOptionalKeyDeclaresItsDefault() {
        for schema in [GuestConfig.schema, HypervisorConfig.schema] {
            for section in schema.sections {
                for key in section.keys where !key.required && key.name != "Description" && key.name != "Project" && key.name != "Version" {
                    #expect(key.defaultValue != .none, "[\(section.name)] \(key.name) declares no default")
                }
            }
        }
        #expect(ConfigReference.markdown().contains("| `[Guest\\Stop]` | `TimeoutSeconds` | a whole number from 1 to 3600 | `10` (RTOS), `120` (KVM) |"))
    }

    /// HostForward: rules parsed and checked, errors name the file, the line and the rule.
    @Test func hostForwardRules() throws {
        func load(_ usr: String, os: String = "ubuntu") throws -> GuestConfig {
            let base = try RegistryDocument(parsing: "[Guest]\n    \"Name\"=\"g\"\n    \"Os\"=\"\(os)\"\n", fileName: "guest.config")
            return try GuestConfig(base: base, user: try RegistryDocument(parsing: usr, fileName: "usr.config"))
        }
        let ok = try load("[Guest\\Network]\n    \"HostForward\"=\"tcp:8080:80, udp:0.0.0.0:5000:5001\"\n")
        #expect(ok.hostForwards.map(\.qemuRule) == ["tcp:127.0.0.1:8080-:80", "udp:0.0.0.0:5000-:5001"])
        for (rule, words) in [
            ("tcp:80:80", "below 1024"), ("sctp:8080:80", "tcp or udp"), ("tcp:8080:70000", "1 to 65535"),
            ("tcp:10.0.0:8080:80", "not an IPv4 address"), ("tcp:8080:80,tcp:8080:81", "again"),
        ] {
            let e = #expect(throws: HVError.self) { try load("[Guest\\Network]\n    \"HostForward\"=\"\(rule)\"\n") }
            #expect(
                e?.message.contains(words) == true && e?.message.contains("usr.config:2:") == true,
                "\(rule): \(String(describing: e?.message))")
        }
        let rtos = #expect(throws: HVError.self) { try load("[Guest\\Network]\n    \"HostForward\"=\"tcp:8080:80\"\n", os: "rt-linux") }
        #expect(rtos?.message.contains("needs a KVM guest on the user-mode network") == true)
        #expect(throws: HVError.self) { try load("[Guest\\Network]\n    \"Mode\"=\"none\"\n    \"HostForward\"=\"tcp:8080:80\"\n") }
    }
}

/// [Guest\Devices]: PCI addresses and USB devices as people write them; a
/// wrong one is refused with its line.
@Suite struct DeviceConfigTests {
    func config(_ devices: String, os: String = "rt-linux") throws -> GuestConfig {
        try GuestConfig(
            base: RegistryDocument(parsing: "[Guest]\n    \"Name\"=\"g\"\n    \"Os\"=\"\(os)\"\n", fileName: "guest.config"),
            user: RegistryDocument(parsing: "[Guest\\Devices]\n" + devices, fileName: "usr.config"))
    }

    @Test func addressesAreNormalizedAndIrqPriorityFollowsTheVCPUs() throws {
        let c = try config("    \"Pci\"=\"03:00.0, 0000:03:00.1\"\n")
        #expect(c.pciDevices == ["0000:03:00.0", "0000:03:00.1"])
        #expect(c.irqPriority == 51 && !c.takeDevicesInUse)
        #expect(DeviceConfig.pciAddress("0000:03:20.0") == nil && DeviceConfig.pciAddress("0000:03:00.8") == nil)
        let k = try config("    \"Usb\"=\"046D:C52B,1-2.3\"\n", os: "ubuntu")
        #expect(k.usbDevices == [.ids(vendor: "046d", product: "c52b"), .port(bus: 1, path: "2.3")])
        #expect(k.irqPriority == 50)
    }

    @Test(arguments: [
        ("    \"Pci\"=\"03:00\"\n", "\"03:00\" is not a PCI address"),
        ("    \"Pci\"=\"03:00.0,0000:03:00.0\"\n", "listed twice"),
        ("    \"Usb\"=\"1-2\"\n", "is for KVM guests"),
        // Slots 0x02…0x0b: the doorbells take 0x0f down to 0x0c.
        ("    \"Pci\"=\"" + (0..<11).map { String(format: "%02x:00.0", $0 + 1) }.joined(separator: ",") + "\"\n", "has room for 10"),
        ("    \"IrqPriority\"=\"0\"\n", "bad value"),
    ])
    func wrongDevicesNameTheLine(text: String, words: String) throws {
        do {
            _ = try config(text)
            Issue.record("accepted: \(text)")
        } catch let e as HVError {
            #expect(e.message.contains("usr.config:2") && e.message.contains(words), "\(e.message)")
        }
    }
}
