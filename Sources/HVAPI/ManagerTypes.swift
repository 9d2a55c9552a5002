import Foundation
import HVCore

/// What the System Manager's live stream sends on each change.
public struct ManagerSnapshot: Sendable, Codable, Equatable {
    public var guests: [GuestStatus]
    public var vmf: VMFStatus
    public var host: HostInfo
    /// hv.config's RtCores per RTOS guest ("auto" or core numbers): what the CPU tab edits.
    public var rtCores: [String: String]
    public init(guests: [GuestStatus], vmf: VMFStatus, host: HostInfo, rtCores: [String: String]) {
        self.guests = guests
        self.vmf = vmf
        self.host = host
        self.rtCores = rtCores
    }
}

/// Where the System Manager is (`GET /v1/manager`).
public struct ManagerInfo: Sendable, Codable, Equatable {
    public var port: Int
    public var url: String
    public init(port: Int, url: String) {
        self.port = port
        self.url = url
    }
}

/// A single-use address for the System Manager (`hv manager url`): the code
/// rides in the fragment, which browsers never send, and is worth the token
/// once, for `expiresInSeconds`.
public struct ManagerLoginCode: Sendable, Codable, Equatable {
    public var code: String
    public var url: String
    public var expiresInSeconds: Int
    public init(code: String, url: String, expiresInSeconds: Int) {
        self.code = code
        self.url = url
        self.expiresInSeconds = expiresInSeconds
    }
}

public struct ManagerLoginRequest: Sendable, Codable, Equatable {
    public var code: String
    public init(code: String) { self.code = code }
}

public struct ManagerLoginResponse: Sendable, Codable, Equatable {
    public var token: String
    public init(token: String) { self.token = token }
}

/// `credential`: "manager" (the token of the page and the API) or "metrics" (GET /v1/metrics only).
public struct ManagerRotateRequest: Sendable, Codable, Equatable {
    public var credential: String
    public init(credential: String) { self.credential = credential }
}
