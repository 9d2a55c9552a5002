// libFuzzer target: a .config file (registry style), parsed and checked
// against the guest and hypervisor schemas as hv does with guest.config,
// usr.config and hv.config.
import Foundation

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    if let doc = try? RegistryDocument(parsing: text, fileName: "fuzz.config") {
        _ = try? HypervisorConfig(doc)
        _ = try? GuestConfig.schema.validate(doc)
        // What hv writes back must read back.
        if (try? RegistryDocument(parsing: doc.render(), fileName: "again")) == nil { fatalError("render does not parse again") }
    }
    return 0
}
