import Foundation
public import SwitchboardCore
public import Yams

extension JSONValue {
    /// A YAML node as JSON, each scalar typed as YAML 1.1's core schema resolves it (quoted scalars stay strings).
    public init(yaml node: Node) throws {
        switch node {
        case .scalar(let scalar):
            if scalar.style != .plain {
                self = .string(scalar.string)
            } else if node.null != nil {
                self = .null
            } else if let bool = node.bool {
                self = .bool(bool)
            } else if let int = node.int {
                self = .number(Double(int))
            } else if let float = node.float {
                self = .number(float)
            } else {
                self = .string(scalar.string)
            }
        case .mapping(let mapping):
            var members: [String: JSONValue] = [:]
            for (key, value) in mapping {
                guard let name = key.string else { throw GeneratorError("a mapping key that is not a string at \(key.mark.map(String.init(describing:)) ?? "?")") }
                members[name] = try JSONValue(yaml: value)
            }
            self = .object(members)
        case .sequence(let sequence):
            self = .array(try sequence.map { try JSONValue(yaml: $0) })
        case .alias:
            throw GeneratorError("YAML aliases are not expected in an OpenAPI description")
        }
    }

    /// The member at a JSON pointer's tokens (`~1` for `/`, `~0` for `~`), or nil.
    func at(pointer: String) -> JSONValue? {
        var value: JSONValue? = self
        for token in pointer.split(separator: "/", omittingEmptySubsequences: false).dropFirst() {
            let name = token.replacingOccurrences(of: "~1", with: "/").replacingOccurrences(of: "~0", with: "~")
            switch value {
            case .object(let members)?: value = members[name]
            case .array(let items)?: value = Int(name).flatMap { items.indices.contains($0) ? items[$0] : nil }
            default: return nil
            }
        }
        return value
    }
}

/// A generator failure, naming what in the description it could not read.
public struct GeneratorError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
