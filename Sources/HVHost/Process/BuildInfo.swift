import CHVSys

/// What `hv --version` and `hvd` report, and what the Debian package is named after.
public enum BuildInfo {
    /// Raised with each release; the package's version is this one.
    public static let version = "0.13.0"
    /// The git commit the package was built from ("dev" for a development build).
    public static var commit: String { String(cString: hv_build_commit()) }
    public static var description: String { "\(version) (\(commit == "dev" ? "development build" : "commit \(commit)"))" }
}
