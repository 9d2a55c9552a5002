import Foundation

/// Reading `.config` files from disk, and the checked text of one to write.
public enum RegistryFile {
    public static func read(_ url: URL) throws -> RegistryDocument {
        guard let doc = try readIfPresent(url) else {
            throw HVError(.notFound, "\(url.path) does not exist")
        }
        return doc
    }

    public static func readIfPresent(_ url: URL) throws -> RegistryDocument? {
        guard FileManager.default.fileExists(atPath: url.path) else { return nil }
        let data = try TrustedFile.readConfig(url)
        guard let text = String(data: data, encoding: .utf8) else {
            throw HVError(.invalidConfig, "\(url.path) is not UTF-8 text", hint: "save it as UTF-8")
        }
        do { return try RegistryDocument(parsing: text, fileName: url.path) } catch let e as ConfigError {
            throw e.asHVError
        }
    }

    /// The text a `.config` file gets: the document rendered, and checked
    /// to read back (whatever went into it). Writing it is a host action
    /// (HVHost's `RegistryFile.write`); the model itself writes nothing.
    public static func checkedText(_ doc: RegistryDocument, for url: URL) throws -> String {
        let text = doc.render()
        do { _ = try RegistryDocument(parsing: text, fileName: url.path) } catch let e as ConfigError {
            throw HVError(.invalidArgument, "not written: \(e.message)", hint: "a value may not contain a line break or other control characters")
        }
        return text
    }
}
