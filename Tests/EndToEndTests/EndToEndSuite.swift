import Foundation
import Testing

/// Real guests under QEMU (TCG here): one at a time, so that boots on a
/// two-core machine do not compete for the reserved core. A plain `swift
/// test` runs only the fast tiers (unit and component tests, seconds); this
/// suite runs when asked for with HV_E2E=1, as scripts/test.sh (the README's
/// test command) does.
@Suite(
    .serialized,
    .enabled(
        if: ProcessInfo.processInfo.environment["HV_E2E"] == "1",
        "the end-to-end suite boots real guests: HV_E2E=1 swift test, or bash scripts/test.sh"))
enum EndToEnd {}
