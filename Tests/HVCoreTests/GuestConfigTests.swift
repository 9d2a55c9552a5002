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
        let user = try RegistryDocument(parsing: "[Guest\\Memory]\n    \"SizeMiB\"=\"512\"\n[Guest\\Cpu]\n    \"Accelerator\"=\"tcg\"\n",
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
        for (text, words) in [("[Guest\\CPUS]\n    \"Cores\"=\"2\"\n", "unknown section [Guest\\CPUS]"),
                              ("[Guest\\Memory]\n    \"SizeMiB\"=\"lots\"\n", "bad value \"lots\" for \"SizeMiB\""),
                              ("[Guest\\Memory]\n    \"SizeMiB\"=\"8\"\n", "a whole number from 16"),
                              ("[Guest\\Cpu]\n    \"Accelerator\"=\"hyperv\"\n", "one of \"auto\", \"kvm\", \"tcg\""),
                              ("[Guest\\Share]\n    \"GuestsFolder\"=\"maybe\"\n", "\"yes\" or \"no\""),
                              ("[Guest]\n    \"Kind\"=\"kvm\"\n", "does not match")] {
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
}
