import Foundation
import Hummingbird
import NIOCore

/// JSON as the sandbox reads and writes it. (The sandbox shares no code with the product, by design.)
public enum SJSON: Sendable, Hashable, Codable {
    case null
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case array([SJSON])
    case object([String: SJSON])

    /// Parses a request body; nil when it is not JSON.
    static func parse(_ data: Data) -> SJSON? {
        try? JSONDecoder().decode(SJSON.self, from: data)
    }

    /// The JSON text of this value, keys sorted.
    func encoded() -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(self)) ?? Data("null".utf8)
    }

    subscript(key: String) -> SJSON? { if case .object(let object) = self { object[key] } else { nil } }

    var string: String? { if case .string(let value) = self { value } else { nil } }
    var int: Int? {
        switch self {
        case .int(let value): value
        case .double(let value) where value.rounded() == value: Int(value)
        default: nil
        }
    }
    var number: Double? {
        switch self {
        case .int(let value): Double(value)
        case .double(let value): value
        default: nil
        }
    }
    var bool: Bool? { if case .bool(let value) = self { value } else { nil } }
    var array: [SJSON]? { if case .array(let value) = self { value } else { nil } }
    var object: [String: SJSON]? { if case .object(let value) = self { value } else { nil } }
    var isNull: Bool { self == .null }

    var typeName: String {
        switch self {
        case .null: "null"
        case .bool: "boolean"
        case .int: "integer"
        case .double: "number"
        case .string: "string"
        case .array: "array"
        case .object: "object"
        }
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() { self = .null }
        else if let value = try? container.decode(Bool.self) { self = .bool(value) }
        else if let value = try? container.decode(Int.self) { self = .int(value) }
        else if let value = try? container.decode(Double.self) { self = .double(value) }
        else if let value = try? container.decode(String.self) { self = .string(value) }
        else if let value = try? container.decode([SJSON].self) { self = .array(value) }
        else { self = .object(try container.decode([String: SJSON].self)) }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let value): try container.encode(value)
        case .int(let value): try container.encode(value)
        case .double(let value): try container.encode(value)
        case .string(let value): try container.encode(value)
        case .array(let value): try container.encode(value)
        case .object(let value): try container.encode(value)
        }
    }

    static func optional(_ value: String?) -> SJSON { value.map(SJSON.string) ?? .null }
    static func optional(_ value: Int?) -> SJSON { value.map(SJSON.int) ?? .null }
}

extension JSONBody {
    static func json(status: HTTPResponse.Status = .ok, _ json: SJSON) -> Response {
        Response(status: status, headers: [.contentType: "application/json; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(bytes: json.encoded())))
    }
}
