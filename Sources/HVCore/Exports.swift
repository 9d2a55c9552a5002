// The system pieces (errors, sockets, atomic files, Monitor, timestamps)
// come with HVCore for every module above it; QMP imports HVSystem alone.
@_exported import HVSystem
