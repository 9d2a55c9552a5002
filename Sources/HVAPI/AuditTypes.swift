/// One finding of `hv rt check`.
public struct AuditItem: Sendable, Codable, Equatable {
    public enum State: String, Sendable, Codable { case ok, info, warn, critical }
    public var id: String
    public var title: String
    public var state: State
    public var detail: String
    /// What to do about it (empty when nothing needs doing).
    public var fix: String

    public init(_ id: String, _ title: String, _ state: State, _ detail: String, fix: String = "") {
        self.id = id
        self.title = title
        self.state = state
        self.detail = detail
        self.fix = fix
    }
}
