import CHVSys
import Foundation
import HVCore

#if canImport(Glibc)
import Glibc
#endif

/// A TAP device opened by hvd (root): it lives while a descriptor of it is open.
public enum TapDevice {
    /// Creates (or attaches to) the TAP `name`; `what` says whose it is in the error.
    public static func open(_ name: String, for what: String) throws -> Int32 {
        var buf = [CChar](repeating: 0, count: 16)
        for (i, c) in name.utf8CString.prefix(15).enumerated() { buf[i] = c }
        let fd = hv_tap_open(&buf)
        guard fd >= 0 else {
            throw HVError(
                .unsupported, "cannot create \(what), the network interface \(name): \(String(cString: strerror(-fd)))",
                hint: "hv needs /dev/net/tun (modprobe tun) and root")
        }
        return fd
    }
}
