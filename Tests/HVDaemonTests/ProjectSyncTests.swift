import Foundation
import HVAPI
import HVCore
import Testing

@testable import HVDaemon

@Suite struct ProjectSyncTests {
    @Test func aPreviewNamesEachChangedKey() throws {
        let old = try RegistryDocument(parsing: "[Guests\\g]\n    \"RtCores\"=\"1\"\n    \"Name\"=\"A\"\n", fileName: "hv.config")
        let new = try RegistryDocument(parsing: "[Guests\\g]\n    \"RtCores\"=\"auto\"\n[Event\\ev]\n    \"Guests\"=\"g\"\n", fileName: "hv.config")
        let lines = ProjectSync.keyChanges(from: old, to: new, label: "config/hv.config")
        #expect(
            lines == [
                "config/hv.config: [Event\\ev] Guests = \"g\" (added)",
                "config/hv.config: [Guests\\g] Name = \"A\" (removed)",
                "config/hv.config: [Guests\\g] RtCores \"1\" → \"auto\"",
            ])
    }
}
