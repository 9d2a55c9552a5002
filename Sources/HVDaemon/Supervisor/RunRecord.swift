import Foundation
import HVAPI
import HVCore
import HVEngine
import HVHost

/// What hvd knows about a running guest, kept in run/<guest>/state.json so a
/// new hvd can re-adopt the guest after the old one died.
struct RunRecord: Codable, Sendable {
    var pid: Int32
    var name: String
    var os: GuestOS
    var vcpus: Int
    var memoryMiB: Int
    var startedAt: Date
    var accelerator: Accelerator
    var acceleratorReason: String
    var placement: Placement.Outcome
    /// Where in console.log the current boot's output begins.
    var bootLogOffset: UInt64
    var bootStartedAt: Date
    var bootedAt: Date?
    var readyMarker: String?
    var bootStallSeconds: Int
    var stopTimeoutSeconds: Int
    var consoleLogMaxBytes: UInt64
    var hookEnvironment: [String: String]
    var notes: [String]
    /// KVM guests.
    var display: GuestDisplay? = nil
    var diskImage: String? = nil
    var installing: Bool? = nil
    /// Mode bridge: the TAP hvd made for the guest (nil: none).
    var tap: String? = nil
    /// PCI devices (vfio-pci) and USB devices it holds, and its interrupts' thread priority.
    var devices: [String]? = nil
    var usbDevices: [String]? = nil
    var irqPriority: Int? = nil
    /// QEMU's start time (proc(5) starttime): an adopting hvd checks that the pid is still this process.
    var processStart: UInt64? = nil

    static func file(_ url: URL) -> RecordFile<RunRecord> { RecordFile(url, what: "a guest's run (its QEMU, placement, devices)") }

    static func load(_ url: URL) -> RunRecord? { file(url).value }

    /// Saves it; false (and nothing else changed) when it could not be written.
    @discardableResult
    func save(_ url: URL) -> Bool { (try? Self.file(url).write(self)) != nil }
}
