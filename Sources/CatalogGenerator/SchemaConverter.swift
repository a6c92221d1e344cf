import Foundation
public import SwitchboardCore

/// Turns OpenAPI 3.0 schemas into JSON Schema (draft 2020-12) that a model, an MCP client and Switchboard's input
/// check read alike: `nullable` becomes a `null` type (or an `anyOf` with it), boolean exclusive bounds numbers,
/// `example` `examples`; a component `$ref` becomes `#/$defs/NAME`, and the components used are collected (so a
/// recursive schema stays finite). What JSON Schema has no word for (`discriminator`, `xml`, `x-…`) is left out.
///
/// The raw YAML is read, not OpenAPIKit's model of it: OpenAPIKit 6 drops the members beside a `$ref`
/// (`description`, `nullable`) and the `properties` and `required` beside `allOf`/`oneOf`/`anyOf`, and Intercom's
/// description has both.
public struct SchemaConverter {
    /// The description's `components.schemas`, raw.
    let components: [String: JSONValue]
    /// Every component a converted schema named, directly or through another.
    public private(set) var used: Set<String> = []

    public init(components: [String: JSONValue]) {
        self.components = components
    }

    /// The component a `#/components/schemas/NAME` reference names.
    public static func componentName(_ ref: String) -> String? {
        let prefix = "#/components/schemas/"
        return ref.hasPrefix(prefix) ? String(ref.dropFirst(prefix.count)) : nil
    }

    /// A raw component, with its references followed to the schema they name (at most 20 deep).
    public func resolved(_ schema: JSONValue) -> JSONValue {
        var schema = schema
        for _ in 0..<20 {
            guard let ref = schema["$ref"]?.stringValue, let name = Self.componentName(ref), let target = components[name] else { return schema }
            schema = target
        }
        return schema
    }

    public mutating func convert(_ schema: JSONValue) throws -> JSONValue {
        guard case .object(let raw) = schema else {
            if case .bool = schema { return schema }
            throw GeneratorError("a schema that is not an object: \(schema)")
        }
        let nullable = raw["nullable"] == .bool(true)
        if let ref = raw["$ref"]?.stringValue {
            guard let name = Self.componentName(ref), components[name] != nil else { throw GeneratorError("an unknown reference \(ref)") }
            used.insert(name)
            var out: [String: JSONValue] = ["$ref": .string("#/$defs/\(name)")]
            for key in ["description", "title"] { if let value = raw[key] { out[key] = value } }
            if nullable {
                var wrapped: [String: JSONValue] = ["anyOf": .array([.object(["$ref": .string("#/$defs/\(name)")]), .object(["type": .string("null")])])]
                for key in ["description", "title"] { if let value = raw[key] { wrapped[key] = value } }
                return .object(wrapped)
            }
            return .object(out)
        }
        var out: [String: JSONValue] = [:]
        let type = raw["type"]?.stringValue
        for (key, value) in raw {
            switch key {
            case "type":
                out["type"] = nullable && type != nil ? .array([value, .string("null")]) : value
            case "properties":
                guard case .object(let properties) = value else { throw GeneratorError("properties that are not an object") }
                var converted: [String: JSONValue] = [:]
                for (name, property) in properties { converted[name] = try convert(property) }
                out["properties"] = .object(converted)
            case "items", "not":
                out[key] = try convert(value)
            case "additionalProperties":
                out[key] = value.boolValue != nil ? value : try convert(value)
            case "allOf", "oneOf", "anyOf":
                guard case .array(let parts) = value else { throw GeneratorError("\(key) that is not an array") }
                // Intercom's `oneOf` alternatives overlap (a data attribute update fits two), and Intercom takes
                // a value that fits several: "exactly one" would refuse what it accepts, so they are `anyOf`.
                out[key == "oneOf" ? "anyOf" : key] = .array(try parts.map { try convert($0) })
            case "enum":
                if nullable, case .array(let values) = value, !values.contains(.null) { out["enum"] = .array(values + [.null]) } else { out["enum"] = value }
            case "format":
                // Kept where JSON Schema gives it a meaning for the type (Intercom also writes `date-time` on integers).
                let meaningful = type == "string" || type == nil || (["integer", "number"].contains(type) && ["int32", "int64", "float", "double"].contains(value.stringValue ?? ""))
                if meaningful { out["format"] = value }
            case "minimum", "maximum":
                let exclusive = raw[key == "minimum" ? "exclusiveMinimum" : "exclusiveMaximum"] == .bool(true)
                out[exclusive ? (key == "minimum" ? "exclusiveMinimum" : "exclusiveMaximum") : key] = value
            case "example":
                out["examples"] = .array([value])
            case "required", "description", "title", "default", "pattern", "minLength", "maxLength", "minItems", "maxItems", "uniqueItems",
                 "minProperties", "maxProperties", "multipleOf", "readOnly", "writeOnly", "deprecated", "const":
                out[key] = value
            default:
                break  // nullable (folded in above), exclusive bounds, discriminator, externalDocs, xml, x-…
            }
        }
        if nullable, type == nil, !out.isEmpty, out["enum"] == nil {
            // A combinator or an untyped schema that may be null: one of it or null.
            let description = out.removeValue(forKey: "description")
            var wrapped: [String: JSONValue] = ["anyOf": .array([.object(out), .object(["type": .string("null")])])]
            if let description { wrapped["description"] = description }
            return .object(wrapped)
        }
        return .object(out)
    }

    /// The converted components every converted schema named so far, and those they name in turn.
    public mutating func definitions() throws -> [String: JSONValue] {
        var defs: [String: JSONValue] = [:]
        var pending = used
        while let name = pending.popFirst() {
            guard defs[name] == nil, let raw = components[name] else { continue }
            let before = used
            defs[name] = try convert(raw)
            pending.formUnion(used.subtracting(before))
        }
        return defs
    }
}
