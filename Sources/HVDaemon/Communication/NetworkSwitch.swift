import Foundation
import HVCore
import HVEngine
import CHVSys
#if canImport(Glibc)
import Glibc
#endif

/// The VMF's virtual network: a learning Ethernet switch in hvd. Each guest's
/// QEMU sends its frames as datagrams from its own Unix socket
/// (`run/net/<guest>.sock`) to the switch's (`run/net/switch.sock`); the host
/// joins through a TAP device inside hv's network namespace, and bridge mode
/// adds a raw socket on a host interface. Unix sockets cannot leave the host:
/// nothing is routed anywhere unless bridge mode says so.
final class NetworkSwitch: @unchecked Sendable {
    enum Port: Hashable { case guest(String), tap, bridge }

    let socketPath: String
    private let lock = NSLock()
    private var guestPaths: [String]
    private var tapFD: Int32 = -1
    private var bridgeFD: Int32 = -1
    private var table: [[UInt8]: Port] = [:]
    private var fd: Int32 = -1
    private var running = false
    private let wake = Pipe()

    /// Each guest's own MAC (the one hv gives its card): frames it sends with another source are dropped.
    private let assignedMACs: [String: [UInt8]]
    /// A learning table that a guest sending from random MACs cannot grow without end.
    static let maxTableEntries = 4096

    init(socketPath: String, guestSockets: [String], assignedMACs: [String: [UInt8]] = [:]) {
        self.socketPath = socketPath
        guestPaths = guestSockets
        self.assignedMACs = assignedMACs
    }

    func start() throws {
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw HVError.posix("switch socket", errno: errno) }
        unlink(socketPath)
        guard UnixSocket.bindPath(fd, path: socketPath) else {
            let e = errno
            close(fd)
            throw HVError.posix("bind \(socketPath)", errno: e)
        }
        chmod(socketPath, 0o600)
        HostPermissions.shareSocket(URL(fileURLWithPath: socketPath))
        running = true
        Thread.detachNewThread { [self] in loop() }
    }

    func stop() {
        lock.lock(); running = false; lock.unlock()
        try? wake.fileHandleForWriting.write(contentsOf: Data([1]))
    }

    /// The host's TAP (owned by the switch from now on; -1 detaches).
    func setTap(_ newFD: Int32) {
        lock.lock()
        if tapFD >= 0 { close(tapFD) }
        tapFD = newFD
        table = table.filter { $0.value != .tap }
        lock.unlock()
        try? wake.fileHandleForWriting.write(contentsOf: Data([1]))
    }

    func setBridge(_ newFD: Int32) {
        lock.lock(); bridgeFD = newFD; lock.unlock()
        try? wake.fileHandleForWriting.write(contentsOf: Data([1]))
    }

    var hasTap: Bool { lock.lock(); defer { lock.unlock() }; return tapFD >= 0 }

    private func loop() {
        var buf = [UInt8](repeating: 0, count: 65_536)
        let wakeFD = wake.fileHandleForReading.fileDescriptor
        while true {
            lock.lock()
            let (alive, tap, bridge) = (running, tapFD, bridgeFD)
            lock.unlock()
            guard alive else { break }
            var fds = [pollfd(fd: fd, events: Int16(POLLIN), revents: 0), pollfd(fd: wakeFD, events: Int16(POLLIN), revents: 0)]
            if tap >= 0 { fds.append(pollfd(fd: tap, events: Int16(POLLIN), revents: 0)) }
            if bridge >= 0 { fds.append(pollfd(fd: bridge, events: Int16(POLLIN), revents: 0)) }
            guard poll(&fds, nfds_t(fds.count), 1000) > 0 else { continue }
            if fds[1].revents != 0 { _ = read(wakeFD, &buf, 64) }
            if fds[0].revents & Int16(POLLIN) != 0 {
                var from = sockaddr_un()
                var len = socklen_t(MemoryLayout<sockaddr_un>.size)
                let n = withUnsafeMutablePointer(to: &from) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { recvfrom(fd, &buf, buf.count, 0, $0, &len) }
                }
                if n > 0 { forward(Array(buf[0..<n]), from: .guest(UnixSocket.path(of: from))) }
            }
            for extra in fds.dropFirst(2) where extra.revents & Int16(POLLIN) != 0 {
                let n = read(extra.fd, &buf, buf.count)
                if n > 0 { forward(Array(buf[0..<n]), from: extra.fd == tap ? .tap : .bridge) }
            }
        }
        // The path is not unlinked here: a new switch may already be bound to it.
        close(fd)
    }

    /// Learns the sender's MAC, then delivers to the one port that has it, or floods.
    private func forward(_ frame: [UInt8], from source: Port) {
        guard frame.count >= 14 else { return }
        let dst = Array(frame[0..<6]), src = Array(frame[6..<12])
        if case .guest(let path) = source {
            // Only the members' sockets are ports; a guest speaks with its own MAC only.
            guard guestPaths.contains(path) else { return }
            if let mac = assignedMACs[path], mac != src { return }
        }
        lock.lock()
        if src[0] & 1 == 0 {
            if table[src] == nil && table.count >= Self.maxTableEntries { table.removeAll(keepingCapacity: true) }
            table[src] = source
        }
        let known = dst[0] & 1 == 0 ? table[dst] : nil
        var targets: [Port] = known.map { [$0] } ?? (guestPaths.map { .guest($0) } + [.tap, .bridge])
        targets.removeAll { $0 == source }
        let (tap, bridge) = (tapFD, bridgeFD)
        lock.unlock()
        for t in targets {
            switch t {
            case .guest(let path): _ = UnixSocket.sendDatagram(fd, frame, to: path)
            case .tap: if tap >= 0 { _ = write(tap, frame, frame.count) }
            case .bridge: if bridge >= 0 { _ = write(bridge, frame, frame.count) }
            }
        }
    }
}
