// libFuzzer target: a .config file (registry style), parsed and checked
// against the guest and hypervisor schemas as hv does with guest.config,
// usr.config and hv.config.
import Foundation

@Sendable func fuzzConfig(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    if let doc = try? RegistryDocument(parsing: text, fileName: "fuzz.config") {
        _ = try? HypervisorConfig(doc)
        _ = try? GuestConfig.schema.validate(doc)
        // The whole guest model too: defaults, HostForward rules, the bridge name.
        _ = try? GuestConfig(base: doc, user: RegistryDocument(fileName: "usr.config"))
        _ = try? GuestConfig(base: RegistryDocument(fileName: "guest.config"), user: doc)
        // What hv writes back must read back.
        if (try? RegistryDocument(parsing: doc.render(), fileName: "again")) == nil { fatalError("render does not parse again") }
    }
    return 0
}
