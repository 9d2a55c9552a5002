import Foundation
import HVCore

public struct APIErrorBody: Sendable, Codable, Equatable {
    public var code: HVError.Code
    public var message: String
    public var hint: String?
    /// The form field it concerns (guest creation).
    public var field: String?
    public init(_ e: HVError) {
        code = e.code
        message = e.message
        hint = e.hint
        field = e.field
    }
    public var error: HVError { HVError(code, message, hint: hint, field: field) }
}

public enum APIJSON {
    public static func encodeCompact<T: Encodable>(_ v: T) -> Data {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? e.encode(v)) ?? Data("{}".utf8)
    }

    public static func encode<T: Encodable>(_ v: T) -> Data {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        return (try? e.encode(v)) ?? Data("{}".utf8)
    }

    public static func decode<T: Decodable>(_ type: T.Type, _ data: Data) throws -> T {
        do { return try JSONDecoder().decode(type, from: data) } catch {
            throw HVError(.invalidArgument, "bad request body: \(error)")
        }
    }
}
