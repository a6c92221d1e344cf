import Foundation

/// Checks action input against its JSON Schema, listing every violation by field.
///
/// Supports what the catalog uses: `type` (object, string, integer, number, boolean, array), `required`,
/// `properties`, `additionalProperties: false`, `enum`, `minLength`/`maxLength`, `minimum`/`maximum`,
/// `format: email`, `items`, `maxItems`.
public enum InputSchema {
    public static func violations(of value: JSONValue, against schema: JSONValue, at path: String = "") -> [Problem.FieldError] {
        var errors: [Problem.FieldError] = []
        func fail(_ detail: String) { errors.append(.init(field: path.isEmpty ? "input" : path, detail: detail)) }
        if let type = schema["type"]?.stringValue {
            let ok: Bool = switch (type, value) {
            case ("object", .object), ("string", .string), ("boolean", .bool), ("array", .array): true
            case ("number", .number): true
            case ("integer", .number(let n)): n.rounded() == n
            default: false
            }
            guard ok else {
                fail("must be \(type == "integer" ? "an integer" : type == "object" ? "an object" : type == "array" ? "an array" : "a \(type)"), not \(value.kindDescription)")
                return errors
            }
        }
        if let allowed = schema["enum"]?.arrayValue, !allowed.contains(value) {
            fail("must be one of \(allowed.compactMap { $0.stringValue.map { "'\($0)'" } }.joined(separator: ", "))")
        }
        if case .string(let string) = value {
            if let min = schema["minLength"]?.numberValue, string.count < Int(min) {
                fail(min == 1 ? "must not be empty" : "must be at least \(Int(min)) characters")
            }
            if let max = schema["maxLength"]?.numberValue, string.count > Int(max) { fail("must be at most \(Int(max)) characters") }
            if schema["format"]?.stringValue == "email", !Self.looksLikeEmail(string) { fail("must be an email address") }
        }
        if case .number(let number) = value {
            if let min = schema["minimum"]?.numberValue, number < min { fail("must be at least \(Self.format(min))") }
            if let max = schema["maximum"]?.numberValue, number > max { fail("must be at most \(Self.format(max))") }
        }
        if case .array(let items) = value {
            if let max = schema["maxItems"]?.numberValue, items.count > Int(max) { fail("must hold at most \(Int(max)) items") }
            if let itemSchema = schema["items"] {
                for (index, item) in items.enumerated() { errors += violations(of: item, against: itemSchema, at: "\(path)[\(index)]") }
            }
        }
        if case .object(let members) = value {
            let properties = schema["properties"]?.objectValue ?? [:]
            let prefix = path.isEmpty ? "" : path + "."
            for name in schema["required"]?.arrayValue?.compactMap(\.stringValue) ?? [] where members[name] == nil || members[name] == .null {
                errors.append(.init(field: prefix + name, detail: "is required"))
            }
            for (name, member) in members.sorted(by: { $0.key < $1.key }) {
                if let propertySchema = properties[name] {
                    if member != .null { errors += violations(of: member, against: propertySchema, at: prefix + name) }
                } else if schema["additionalProperties"] == .bool(false) {
                    errors.append(.init(field: prefix + name, detail: "is not an input of this action"))
                }
            }
        }
        return errors
    }

    static func looksLikeEmail(_ string: String) -> Bool {
        let parts = string.split(separator: "@", omittingEmptySubsequences: false)
        return parts.count == 2 && !parts[0].isEmpty && parts[1].contains(".") && !string.contains(" ")
    }

    static func format(_ number: Double) -> String {
        number.rounded() == number ? String(Int(number)) : String(number)
    }
}
