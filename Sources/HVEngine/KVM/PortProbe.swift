import Foundation
import HVCore

#if canImport(Glibc)
import Glibc
#endif

/// Whether a host port can still be bound: checked before a KVM guest's
/// start so that a HostForward rule another program (or guest) already holds
/// is refused with its name, not with QEMU's "could not set up host forwarding rule".
public enum PortProbe {
    public static func isFree(_ f: PortForward) -> Bool {
        let fd = socket(AF_INET, Int32(f.proto == .tcp ? SOCK_STREAM.rawValue : SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return true }
        defer { close(fd) }
        var one: Int32 = 1
        // As QEMU binds: a port in TIME_WAIT is free.
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(f.hostPort).bigEndian)
        addr.sin_addr.s_addr = (IPv4(f.hostAddress)?.value ?? 0x7f00_0001).bigEndian
        let r = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        return r == 0 || errno != EADDRINUSE
    }
}
