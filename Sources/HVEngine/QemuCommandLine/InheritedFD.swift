/// The descriptors a guest's QEMU inherits from hvd, by number: the
/// command line names them, the launch passes them in this order.
///
/// The disk is opened by hvd (as root) and handed over, as libvirt does with
/// `-add-fd`: QEMU, unprivileged, then never needs to own the file, so hv
/// changes no disk's owner or mode, and a path that names a host file gives
/// QEMU nothing it could not already reach unless hvd opened it. QEMU's fd
/// set wants one descriptor of each access mode it opens the file with (it
/// probes read-only, then writes), hence two.
public enum InheritedFD {
    /// The guest's lock (GuestLock), held for as long as QEMU runs.
    public static let lock: Int32 = 3
    public static let diskReadWrite: Int32 = 4
    public static let diskReadOnly: Int32 = 5
    /// A bridged KVM guest's TAP (KVM guests always have a disk before it).
    public static let tap: Int32 = 6

    /// The number of the descriptor passed after `count` others (the lock
    /// is 3, the first passed 4): the VMF network's TAP and vhost-net come
    /// after whatever the guest kind inherits first.
    public static func after(_ count: Int) -> Int32 { lock + 1 + Int32(count) }

    static let diskSet = 1
    static var diskPath: String { "/dev/fdset/\(diskSet)" }
    static var diskArgs: [String] {
        ["-add-fd", "fd=\(diskReadWrite),set=\(diskSet)", "-add-fd", "fd=\(diskReadOnly),set=\(diskSet)"]
    }
}
