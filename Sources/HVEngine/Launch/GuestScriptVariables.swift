import Foundation
import HVCore
import HVHost

/// The variables a user may set in usr_guest_config.sh, read by sourcing
/// guest_config.sh with bash (which sources usr_guest_config.sh).
public struct GuestScriptVariables: Sendable, Equatable {
    public var kernelAppend = ""
    public var qemuExtraArgs: [String] = []
    public var hookEnvironment: [String: String] = [:]
    /// HV_CONFIG: the hypervisor configuration the folder names ("" for config/hv.config).
    public var hypervisorConfig = ""

    public init() {}

    public static func read(_ folder: GuestFolder) throws -> GuestScriptVariables {
        guard FileManager.default.fileExists(atPath: folder.guestConfigScript.path) else { return GuestScriptVariables() }
        // bash runs them as root: only root may be able to change them.
        try TrustedFile.check(folder.guestConfigScript, use: "hv sources it as root at every start")
        if FileManager.default.fileExists(atPath: folder.userConfigScript.path) {
            try TrustedFile.check(folder.userConfigScript, use: "hv sources it as root at every start")
        }
        // NUL-separated: kernel words, then each QEMU argument, then each hook variable.
        let script = """
            set -e
            . "$1" >&2
            printf '%s\\0' "${HV_CONFIG-}"
            printf '%s\\0' "${HV_KERNEL_APPEND-}"
            printf '%s\\0' "${#HV_QEMU_EXTRA_ARGS[@]}"
            for a in "${HV_QEMU_EXTRA_ARGS[@]}"; do printf '%s\\0' "$a"; done
            for a in "${HV_HOOK_ENV[@]}"; do printf '%s\\0' "$a"; done
            """
        let out = try Command.run(
            ["bash", "-c", script, "hv", folder.guestConfigScript.path],
            timeout: 10, cwd: folder.url,
            environment: CleanEnvironment.make(root: folder.url.deletingLastPathComponent().deletingLastPathComponent()))
        guard out.status == 0, !out.timedOut else {
            let why = out.timedOut ? "did not finish within 10 s" : "failed (exit \(out.status))"
            throw HVError(
                .invalidConfig,
                "\(folder.userConfigScript.path) \(why): \(out.stderr.trimmingCharacters(in: .whitespacesAndNewlines).suffix(500))",
                hint: "fix usr_guest_config.sh (bash -n \(folder.userConfigScript.path) checks its syntax); nothing was started")
        }
        var fields = out.stdout.split(separator: "\0", omittingEmptySubsequences: false).map(String.init)
        if fields.last == "" { fields.removeLast() }
        var v = GuestScriptVariables()
        guard !fields.isEmpty else {
            throw HVError(.invalidConfig, "\(folder.guestConfigScript.path) printed nothing", hint: "it must not exit early")
        }
        v.hypervisorConfig = fields.removeFirst()
        guard fields.count >= 2, let n = Int(fields[1]), fields.count >= 2 + n else {
            throw HVError(
                .invalidConfig, "\(folder.guestConfigScript.path) printed something unexpected",
                hint: "usr_guest_config.sh must not print to stdout (send messages to stderr: echo ... >&2)")
        }
        v.kernelAppend = fields[0]
        v.qemuExtraArgs = Array(fields[2..<(2 + n)])
        for pair in fields[(2 + n)...] {
            let kv = pair.split(separator: "=", maxSplits: 1).map(String.init)
            guard kv.count == 2, !kv[0].isEmpty else {
                throw HVError(.invalidConfig, "HV_HOOK_ENV element \"\(pair)\" in usr_guest_config.sh is not NAME=value")
            }
            v.hookEnvironment[kv[0]] = kv[1]
        }
        return v
    }
}
