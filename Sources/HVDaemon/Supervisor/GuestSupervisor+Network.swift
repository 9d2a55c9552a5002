import Foundation
import HVCore
import HVEngine
import HVHost

#if canImport(Glibc)
import Glibc
#endif

extension GuestSupervisor {
    /// A guest's port on the VMF network, decided with its command line:
    /// the TAP's descriptor number comes after the `inheritedBefore`
    /// descriptors the guest kind passes first, vhost-net's after it (under
    /// KVM, where the host has /dev/vhost-net). Returns what opens them just
    /// before QEMU runs; nil when the guest is not on the network. When the
    /// VMF could not set the network up, the guest starts without its card
    /// there and `notes` says so.
    func wireVMFNetwork(
        _ comm: inout CommPlan?, accelerator: Accelerator, inheritedBefore: Int,
        notes: inout [String]
    ) -> (() throws -> [Int32])? {
        guard var plan = comm, plan.isOnNetwork else { return nil }
        if let problem = ctx.vmf.comm?.networkProblem {
            plan.address = nil
            plan.hostAddress = nil
            comm = plan
            notes.append("not on the VMF network: it could not be set up (\(problem))")
            return nil
        }
        let vhost = accelerator == .kvm && FileManager.default.fileExists(atPath: "/dev/vhost-net")
        plan.tapFD = InheritedFD.after(inheritedBefore)
        plan.vhostFD = vhost ? plan.tapFD + 1 : nil
        comm = plan
        let network = VMFNetwork(layout: ctx.layout), guest = folder.name
        // Named by the Id the VMF was loaded with, as the network's rules are (CommRuntime.ports).
        let id = ctx.vmf.current?.config.guest(folder: guest)?.id
        let tap = VMFNetwork.tapName(guestNumber: GuestIdentity.forGuest(id: id, folder: guest).uid &- GuestIdentity.uidBase)
        return {
            let fd = try network.openTap(tap, guest: guest)
            guard vhost else { return [fd] }
            guard let vhostFD = VMFNetwork.openVhost() else {
                let why = String(cString: strerror(errno))
                close(fd)
                throw HVError(
                    .unsupported, "cannot open /dev/vhost-net for \(guest)'s port on the VMF network: \(why)",
                    hint: "modprobe vhost_net; nothing was started")
            }
            return [fd, vhostFD]
        }
    }

    /// A guest an hv before the kernel's bridge started (its QEMU sends to
    /// hvd's userspace switch, which is gone) runs on, off the VMF network
    /// until its next start: said once, at adoption.
    func noteOlderNetwork(pid: pid_t) {
        let cmdline = (try? Data(contentsOf: URL(fileURLWithPath: "/proc/\(pid)/cmdline"))) ?? Data()
        guard String(decoding: cmdline, as: UTF8.self).contains("/run/net/switch.sock") else { return }
        let note = "started by an older hv on its userspace switch: off the VMF network until it is restarted (hv guest stop, then start)"
        shared.withLock { $0.record?.notes.append(note) }
        ctx.log.warning("\(folder.name): \(note)")
    }

    /// The descriptors of several openers in order; when one fails, the
    /// ones already open are closed before its error goes on.
    static func descriptors(_ openers: [() throws -> [Int32]]) throws -> [Int32] {
        var all: [Int32] = []
        do {
            for open in openers { all += try open() }
        } catch {
            all.forEach { close($0) }
            throw error
        }
        return all
    }
}
