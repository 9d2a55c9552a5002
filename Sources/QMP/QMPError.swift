import HVSystem

/// A command QEMU refused, as QMP said it: its error class ("GenericError",
/// "DeviceNotFound", "CommandNotFound", …) and description, and the command.
/// Callers that must tell refusals apart look at `errorClass`; the API gets
/// `hvError` (an I/O failure carrying QEMU's words).
public struct QMPError: Error, Sendable, Equatable, CustomStringConvertible {
    public var errorClass: String
    public var desc: String
    /// The command refused (set when the answer is matched to it).
    public var command = ""

    public init(errorClass: String, desc: String, command: String = "") {
        self.errorClass = errorClass
        self.desc = desc
        self.command = command
    }

    public var description: String {
        "QEMU refused\(command.isEmpty ? "" : " " + command): \(desc) (\(errorClass))"
    }

    public var hvError: HVError { HVError(.io, description) }
}
