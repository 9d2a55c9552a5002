import HVCore

/// The layout of the events region shared by hvd and the guests' doorbell
/// devices: a header, then one slot per event with its name, a counter
/// that signalling increments, and the ivshmem peers waiting on it (u16
/// entries holding peer id + 1, 0 = free: peer ids only grow, because QEMU
/// cannot take a reused one).
public enum EventTable {
    public static let magic: UInt32 = 0x4856_4556  // "HVEV"
    public static let capacity = CommunicationConfig.maxEvents
    public static let headerSize = 64
    public static let slotSize = 128
    public static let nameOffset = 0, nameLength = 32, counterOffset = 32, waitersOffset = 48
    public static let waiterEntries = 40
    public static let regionSize = 1 << 16  // a power of two, as ivshmem wants
    /// Header: magic u32 @0, event count u32 @4, the host's (hvd's) peer id u32 @8.
    public static let hostPeerOffset = 8
    public static func slot(_ index: Int) -> Int { headerSize + index * slotSize }
}
