import Foundation
import HVAPI
import HVCore
import HVEngine

#if canImport(Glibc)
import Glibc
#endif

/// Host devices a guest holds ([Guest\Devices]): checked while the start is
/// prepared (nothing changes when one is refused), taken just before QEMU
/// runs, given back when it ends, however it ends. An RTOS guest's device
/// interrupts are put on its reserved cores as the guest's driver enables them.
extension GuestSupervisor {
    /// The refusals (no IOMMU, a device in use, an incomplete group, another
    /// guest's device), before the start creates anything: a KVM guest's first
    /// start would otherwise leave a new disk behind.
    func checkDevices(_ config: GuestConfig) throws {
        guard !config.pciDevices.isEmpty || !config.usbDevices.isEmpty else { return }
        try PCIPassthrough(layout: ctx.layout).preflight(
            config.pciDevices, guest: folder.name, takeInUse: config.takeDevicesInUse,
            allowNoReset: config.allowDevicesWithoutReset)
        if !config.usbDevices.isEmpty {
            _ = try USBPassthrough.resolve(config.usbDevices, among: USBPassthrough(layout: ctx.layout).list(), takeInUse: config.takeDevicesInUse)
        }
    }

    /// Takes the checked devices just before QEMU runs, gives them back if it does not.
    func attachDevices(_ config: GuestConfig, to spec: inout LaunchSpec) {
        guard !config.pciDevices.isEmpty || !config.usbDevices.isEmpty else { return }
        let pci = PCIPassthrough(layout: ctx.layout), usb = USBPassthrough(layout: ctx.layout)
        let guest = folder.name, take = config.takeDevicesInUse, noReset = config.allowDevicesWithoutReset
        let owner = (uid: spec.identity.uid, gid: spec.identity.gid)
        // VFIO pins every page of the guest's RAM for the device's DMA.
        if !config.pciDevices.isEmpty { spec.locksMemory = true }
        spec.devices = config.pciDevices
        spec.irqPriority = spec.rtPriority > 0 ? config.irqPriority : 0
        let earlier = spec.beforeLaunch, undo = spec.undo
        spec.beforeLaunch = {
            try pci.claim(config.pciDevices, guest: guest, takeInUse: take, allowNoReset: noReset, owner: owner)
            try usb.claim(config.usbDevices, guest: guest, takeInUse: take, owner: owner)
            return try earlier()
        }
        spec.undo = {
            undo()
            pci.release(guest: guest)
            usb.release(guest: guest)
        }
        let names = config.pciDevices + config.usbDevices.map { "usb \($0)" }
        spec.notes.append("host devices: \(names.joined(separator: ", "))")
    }

    /// What the guest held on the host goes back: its TAP, its devices.
    func releaseHostResources(_ rec: RunRecord?) {
        if let tap = rec?.tap { GuestBridge(layout: ctx.layout).detach(tap: tap) }
        PCIPassthrough(layout: ctx.layout).release(guest: folder.name)
        USBPassthrough(layout: ctx.layout).release(guest: folder.name)
    }

    /// Puts the devices' interrupts on the guest's cores once they exist
    /// (the guest's driver enables them, and enables them again after a
    /// reset): checked every second while this run lasts.
    func startDeviceInterruptWatch(generation gen: Int, rec: RunRecord) {
        let devices = rec.devices ?? [], cores = rec.placement.cores, priority = rec.irqPriority ?? 0
        guard !devices.isEmpty, !cores.isEmpty else { return }
        let t = Thread { [self] in
            let irqs = DeviceInterrupts()
            var placed: [Int: pid_t] = [:]
            while shared.withLock({ gen == $0.generation && $0.state.isActive }) {
                for note in irqs.place(addresses: devices, cores: cores, priority: priority, done: &placed) {
                    ctx.log.warning("\(folder.name): \(note)")
                }
                // The status reads these threads back without searching /proc again.
                shared.withLock { s in if gen == s.generation { s.interruptThreads = placed } }
                sleep(1)
            }
        }
        t.name = "irqs-\(folder.name)"
        t.start()
    }

    /// The devices as the kernel has them now (status).
    func observeDevices(_ rec: RunRecord) -> [AssignedDevice] {
        let addresses = rec.devices ?? []
        // A guest without reserved cores has no watch: its threads are looked up.
        let known = rec.placement.cores.isEmpty ? nil : shared.withLock { $0.interruptThreads }
        let seen = addresses.isEmpty ? [:] : DeviceInterrupts().observe(addresses, threads: known)
        let passthrough = PCIPassthrough(layout: ctx.layout)
        let pci = addresses.map { a in
            AssignedDevice(device: a, driver: passthrough.driver(a), interrupts: seen[a] ?? [])
        }
        let usb = (rec.usbDevices ?? []).map { AssignedDevice(device: "usb \($0)", driver: nil, interrupts: []) }
        return pci + usb
    }
}
