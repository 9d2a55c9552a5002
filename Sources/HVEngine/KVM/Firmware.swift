import Foundation
import HVCore

/// Debian's OVMF (UEFI for x86-64 guests): the read-only code and the
/// template of the variable store each guest gets its own copy of.
public struct FirmwareFiles: Sendable, Equatable {
    public var code: URL
    public var varsTemplate: URL
    /// Secure Boot with Microsoft's keys enrolled (needs SMM and a secure flash).
    public var secureBoot: Bool

    public init(code: URL, varsTemplate: URL, secureBoot: Bool) {
        self.code = code
        self.varsTemplate = varsTemplate
        self.secureBoot = secureBoot
    }

    public static func locate(secureBoot: Bool, directory: String = "/usr/share/OVMF") throws -> FirmwareFiles {
        let dir = URL(fileURLWithPath: directory)
        // The 4 MiB builds first (Debian 12's default); the 2 MiB ones of older releases next.
        let pairs =
            secureBoot
            ? [("OVMF_CODE_4M.ms.fd", "OVMF_VARS_4M.ms.fd"), ("OVMF_CODE.ms.fd", "OVMF_VARS.ms.fd")]
            : [("OVMF_CODE_4M.fd", "OVMF_VARS_4M.fd"), ("OVMF_CODE.fd", "OVMF_VARS.fd")]
        for (code, vars) in pairs {
            let c = dir.appendingPathComponent(code), v = dir.appendingPathComponent(vars)
            if FileManager.default.fileExists(atPath: c.path) && FileManager.default.fileExists(atPath: v.path) {
                return FirmwareFiles(code: c, varsTemplate: v, secureBoot: secureBoot)
            }
        }
        throw HVError(
            .notFound, "UEFI firmware is missing: no \(pairs[0].0) in \(directory)",
            hint: "install Debian's ovmf package (hv setup does), or set \"Firmware\"=\"bios\" in the guest's usr.config")
    }

    /// Gives the guest its own variable store (boot entries, Secure Boot
    /// keys) on its first start; an existing one is the guest's and is kept.
    /// Returns whether it was created.
    @discardableResult
    public func provideVariables(at nvram: URL) throws -> Bool {
        guard !FileManager.default.fileExists(atPath: nvram.path) else { return false }
        try AtomicFile.write(try Data(contentsOf: varsTemplate), to: nvram, mode: 0o600)
        return true
    }
}
