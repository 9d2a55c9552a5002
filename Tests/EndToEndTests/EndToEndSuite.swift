import Testing

/// Real guests under QEMU (TCG here): one at a time, so that boots on a
/// two-core machine do not compete for the reserved core.
@Suite(.serialized) enum EndToEnd {}
