// One libFuzzer binary for every target, so the sources under test are
// compiled once: HV_FUZZ_TARGET names the target a run feeds.
import Foundation

let fuzzTarget: @Sendable (UnsafePointer<UInt8>, Int) -> CInt = {
    switch ProcessInfo.processInfo.environment["HV_FUZZ_TARGET"] {
    case "http": return fuzzHTTP
    case "websocket": return fuzzWebSocket
    case "config": return fuzzConfig
    case "events": return fuzzEvents
    case "ntp": return fuzzNTP
    case "table": return fuzzTable
    case "tar": return fuzzTar
    case "cyclictest": return fuzzCyclictest
    case "oslat": return fuzzOslat
    default: fatalError("HV_FUZZ_TARGET must be http, websocket, config, events, ntp, table, tar, cyclictest or oslat")
    }
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt { fuzzTarget(data, size) }
