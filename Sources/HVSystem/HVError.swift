/// The one error type of hv. `code` is stable (it decides the exit status and
/// travels over the API); `message` says what happened and where; `hint` says
/// what to do about it.
public struct HVError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Code: String, Sendable, Codable, CaseIterable {
        case invalidArgument  // bad command-line input or API request
        case invalidConfig  // a .config file or script that does not validate
        case notFound  // unknown guest, example, file
        case conflict  // already running, console held, guest running
        case notLoaded  // an RTOS guest needs the VMF
        case needsConfirmation  // a destructive step without a terminal or --yes
        case cancelled  // the user answered no
        case unsupported  // this host or this guest kind cannot do it
        case missingImage  // a boot image or ISO is absent
        case bootStalled  // the guest stopped printing during boot
        case timeout  // a deadline passed
        case daemonUnavailable  // hvd could not be reached or started
        case io  // the host refused a file or process operation
        case badDiskImage  // a disk image QEMU cannot use (corrupt, wrong format, in use)
        case insufficientResources  // a start would leave the host less memory than its reserve
        case `internal`

        /// Exit statuses, documented in docs/EXIT-CODES.md. 1 is reserved for
        /// "no" answers such as hv_vmf_is_loaded's.
        public var exitStatus: Int32 {
            switch self {
            case .invalidArgument: 2
            case .invalidConfig: 3
            case .notFound: 4
            case .conflict: 5
            case .notLoaded: 6
            case .needsConfirmation: 7
            case .cancelled: 8
            case .unsupported: 9
            case .missingImage: 10
            case .bootStalled: 11
            case .timeout: 12
            case .daemonUnavailable: 13
            case .io: 14
            case .badDiskImage: 15
            case .insufficientResources: 16
            case .internal: 70
            }
        }
    }

    public var code: Code
    public var message: String
    public var hint: String?

    /// The form field (System Manager) the error belongs to, when there is one.
    public var field: String?

    public init(_ code: Code, _ message: String, hint: String? = nil, field: String? = nil) {
        self.code = code
        self.message = message
        self.hint = hint
        self.field = field
    }

    public var description: String {
        guard let hint else { return message }
        return "\(message)\n  → \(hint)"
    }
}

extension HVError {
    /// Wraps a failed system call with errno's text.
    public static func posix(_ what: String, errno err: Int32) -> HVError {
        HVError(.io, "\(what): \(String(cString: strerror(err)))")
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
