import Foundation
import HVSystem

/// An event QEMU sent on its own (SHUTDOWN, RESET, STOP, ...).
public struct QMPEvent: Sendable, Equatable {
    public var name: String
    public var data: JSONValue
}

/// A QMP client on a Unix socket: greeting and capabilities negotiation,
/// commands matched to answers by id, events handed to a callback, a
/// deadline on every wait. One thread reads; any thread may call execute.
public final class QMPClient: @unchecked Sendable {
    private let socket: UnixSocket
    private let reader: LineReader
    private let cond = NSCondition()
    private var answers: [Int: Result<JSONValue, QMPError>] = [:]
    private var nextID = 1
    private var closed = false
    private let onEvent: @Sendable (QMPEvent) -> Void
    private let onClose: @Sendable () -> Void
    public let version: String

    /// Connects, reads the greeting and leaves negotiation mode.
    public init(
        path: String, timeout: Double = 5,
        onEvent: @escaping @Sendable (QMPEvent) -> Void = { _ in },
        onClose: @escaping @Sendable () -> Void = {}
    ) throws {
        socket = try UnixSocket.connect(to: path, timeout: timeout)
        reader = LineReader(socket)
        self.onEvent = onEvent
        self.onClose = onClose
        guard let line = try reader.nextLine(timeout: timeout),
            let greeting = try? JSONValue(parsing: line), let qmp = greeting["QMP"]
        else {
            socket.close()
            throw HVError(.io, "\(path) did not greet as a QMP server")
        }
        let v = qmp["version"]?["qemu"]
        version = [v?["major"]?.int, v?["minor"]?.int, v?["micro"]?.int].compactMap { $0 }.map(String.init).joined(separator: ".")
        let thread = Thread { [self] in readLoop() }
        thread.name = "qmp-reader"
        thread.start()
        _ = try execute("qmp_capabilities", timeout: timeout)
    }

    deinit { socket.close() }

    /// Runs a command and returns its "return" value; a QMP error becomes an HVError.
    @discardableResult
    public func execute(_ command: String, _ arguments: [String: JSONValue]? = nil, timeout: Double = 10) throws -> JSONValue {
        cond.lock()
        guard !closed else {
            cond.unlock()
            throw HVError(.io, "QMP connection closed (QEMU has exited)")
        }
        let id = nextID
        nextID += 1
        cond.unlock()
        var msg: [String: JSONValue] = ["execute": .string(command), "id": .number(Double(id))]
        if let arguments { msg["arguments"] = .object(arguments) }
        var data = try JSONValue.object(msg).serialized()
        data.append(0x0A)
        try socket.write(data)
        let deadline = Date().addingTimeInterval(timeout)
        cond.lock()
        defer { cond.unlock() }
        while answers[id] == nil {
            if closed { throw HVError(.io, "QMP connection closed while waiting for \(command)") }
            guard cond.wait(until: deadline) else {
                throw HVError(.timeout, "QEMU did not answer \(command) within \(timeout) s")
            }
        }
        switch answers.removeValue(forKey: id) {
        case .success(let value)?: return value
        case .failure(var refusal)?:
            refusal.command = command
            throw refusal
        case nil: throw HVError(.internal, "QMP lost the answer to \(command)")
        }
    }

    public var isClosed: Bool {
        cond.lock()
        defer { cond.unlock() }
        return closed
    }

    public func close() {
        socket.shutdown()
    }

    private func readLoop() {
        while let line = try? reader.nextLine() {
            guard let msg = try? JSONValue(parsing: line) else { continue }
            if let event = msg["event"]?.string {
                onEvent(QMPEvent(name: event, data: msg["data"] ?? .null))
                continue
            }
            guard let id = msg["id"]?.int else { continue }
            cond.lock()
            if let err = msg["error"] {
                answers[id] = .failure(
                    QMPError(
                        errorClass: err["class"]?.string ?? "GenericError",
                        desc: err["desc"]?.string ?? "unknown error"))
            } else {
                answers[id] = .success(msg["return"] ?? .null)
            }
            cond.broadcast()
            cond.unlock()
        }
        cond.lock()
        closed = true
        cond.broadcast()
        cond.unlock()
        socket.close()
        onClose()
    }
}
