import Foundation

/// Checks action input against its JSON Schema, listing every violation by field.
///
/// Supports what the catalogs use: `type` (a name or a list of them, `null` included), `required`, `properties`,
/// `additionalProperties` (false or a schema), `enum`, `const`, `minLength`/`maxLength`, `pattern`,
/// `minimum`/`maximum` and their exclusive forms, `format: email`, `items`, `minItems`/`maxItems`, `allOf`, `anyOf`,
/// `oneOf`, and `$ref` to the root schema's `$defs` (so recursive schemas work).
public enum InputSchema {
    public static func violations(of value: JSONValue, against schema: JSONValue, at path: String = "") -> [Problem.FieldError] {
        var checker = Checker(definitions: schema["$defs"]?.objectValue ?? [:])
        checker.check(value, against: schema, at: path, depth: 0)
        return checker.errors
    }

    struct Checker {
        let definitions: [String: JSONValue]
        var errors: [Problem.FieldError] = []

        mutating func fail(_ path: String, _ detail: String) {
            errors.append(.init(field: path.isEmpty ? "input" : path, detail: detail))
        }

        /// Whether `value` passes `schema`, without recording why not.
        func passes(_ value: JSONValue, _ schema: JSONValue, at path: String, depth: Int) -> Bool {
            var probe = Checker(definitions: definitions)
            probe.check(value, against: schema, at: path, depth: depth)
            return probe.errors.isEmpty
        }

        mutating func check(_ value: JSONValue, against schema: JSONValue, at path: String, depth: Int) {
            guard depth < 64 else { return fail(path, "is nested too deeply") }
            if case .bool(let allowed) = schema {
                if !allowed { fail(path, "is not allowed") }
                return
            }
            if let ref = schema["$ref"]?.stringValue {
                let prefix = "#/$defs/"
                guard ref.hasPrefix(prefix), let target = definitions[String(ref.dropFirst(prefix.count))] else {
                    return fail(path, "cannot be checked: the schema names \(ref), which it does not define")
                }
                check(value, against: target, at: path, depth: depth + 1)
            }
            if let types = Self.types(of: schema) {
                guard types.contains(where: { Self.matches(value, type: $0) }) else {
                    let names = types.filter { $0 != "null" }.map(Self.article)
                    return fail(path, "must be \(names.isEmpty ? "null" : names.joined(separator: " or ")), not \(value.kindDescription)")
                }
            }
            if let allowed = schema["enum"]?.arrayValue, !allowed.contains(value) {
                fail(path, "must be one of \(allowed.map(Self.describe).joined(separator: ", "))")
            }
            if let constant = schema["const"], constant != value { fail(path, "must be \(Self.describe(constant))") }
            switch value {
            case .string(let string):
                if let min = schema["minLength"]?.numberValue, string.count < Int(min) {
                    fail(path, min == 1 ? "must not be empty" : "must be at least \(Int(min)) characters")
                }
                if let max = schema["maxLength"]?.numberValue, string.count > Int(max) { fail(path, "must be at most \(Int(max)) characters") }
                if schema["format"]?.stringValue == "email", !InputSchema.looksLikeEmail(string) { fail(path, "must be an email address") }
                if let pattern = schema["pattern"]?.stringValue, string.range(of: pattern, options: .regularExpression) == nil {
                    fail(path, "must match the pattern \(pattern)")
                }
            case .number(let number):
                if let min = schema["minimum"]?.numberValue, number < min { fail(path, "must be at least \(InputSchema.format(min))") }
                if let max = schema["maximum"]?.numberValue, number > max { fail(path, "must be at most \(InputSchema.format(max))") }
                if let min = schema["exclusiveMinimum"]?.numberValue, number <= min { fail(path, "must be more than \(InputSchema.format(min))") }
                if let max = schema["exclusiveMaximum"]?.numberValue, number >= max { fail(path, "must be less than \(InputSchema.format(max))") }
            case .array(let items):
                if let min = schema["minItems"]?.numberValue, items.count < Int(min) { fail(path, "must hold at least \(Int(min)) items") }
                if let max = schema["maxItems"]?.numberValue, items.count > Int(max) { fail(path, "must hold at most \(Int(max)) items") }
                if let itemSchema = schema["items"] {
                    for (index, item) in items.enumerated() { check(item, against: itemSchema, at: "\(path)[\(index)]", depth: depth + 1) }
                }
            case .object(let members):
                let properties = schema["properties"]?.objectValue ?? [:]
                let prefix = path.isEmpty ? "" : path + "."
                for name in schema["required"]?.arrayValue?.compactMap(\.stringValue) ?? [] where members[name] == nil || members[name] == .null {
                    errors.append(.init(field: prefix + name, detail: "is required"))
                }
                for (name, member) in members.sorted(by: { $0.key < $1.key }) {
                    if let propertySchema = properties[name] {
                        // A null member is one left out (an optional input the caller sent empty).
                        if member != .null { check(member, against: propertySchema, at: prefix + name, depth: depth + 1) }
                    } else if let additional = schema["additionalProperties"] {
                        if additional == .bool(false) {
                            errors.append(.init(field: prefix + name, detail: "is not an input of this action"))
                        } else if additional != .bool(true) {
                            check(member, against: additional, at: prefix + name, depth: depth + 1)
                        }
                    }
                }
            default:
                break
            }
            for part in schema["allOf"]?.arrayValue ?? [] { check(value, against: part, at: path, depth: depth + 1) }
            for keyword in ["anyOf", "oneOf"] {
                guard let alternatives = schema[keyword]?.arrayValue, !alternatives.isEmpty else { continue }
                let passing = alternatives.filter { passes(value, $0, at: path, depth: depth + 1) }
                if passing.isEmpty {
                    if alternatives.count == 1 {
                        check(value, against: alternatives[0], at: path, depth: depth + 1)
                    } else {
                        let names = alternatives.compactMap { alternative in self.title(of: alternative) }
                        fail(path, "must match one of its \(alternatives.count) forms" + (names.isEmpty ? "" : " (\(names.joined(separator: "; ")))"))
                    }
                } else if keyword == "oneOf", passing.count > 1 {
                    fail(path, "matches \(passing.count) of its forms; it must match exactly one")
                }
            }
        }

        /// A form's name for a message: its title, or what it requires.
        func title(of schema: JSONValue) -> String? {
            var schema = schema
            if let ref = schema["$ref"]?.stringValue, ref.hasPrefix("#/$defs/"), let target = definitions[String(ref.dropFirst("#/$defs/".count))] {
                schema = target
            }
            if let title = schema["title"]?.stringValue { return title }
            if let required = schema["required"]?.arrayValue?.compactMap(\.stringValue), !required.isEmpty {
                return "with " + required.joined(separator: ", ")
            }
            return nil
        }

        static func types(of schema: JSONValue) -> [String]? {
            switch schema["type"] {
            case .string(let type)?: [type]
            case .array(let types)?: types.compactMap(\.stringValue)
            default: nil
            }
        }

        static func matches(_ value: JSONValue, type: String) -> Bool {
            switch (type, value) {
            case ("object", .object), ("string", .string), ("boolean", .bool), ("array", .array), ("number", .number), ("null", .null): true
            case ("integer", .number(let n)): n.rounded() == n
            default: false
            }
        }

        static func article(_ type: String) -> String {
            switch type {
            case "integer": "an integer"
            case "object": "an object"
            case "array": "an array"
            default: "a \(type)"
            }
        }

        static func describe(_ value: JSONValue) -> String {
            switch value {
            case .string(let string): "'\(string)'"
            case .null: "null"
            default: String(decoding: value.jsonData(), as: UTF8.self)
            }
        }
    }

    static func looksLikeEmail(_ string: String) -> Bool {
        let parts = string.split(separator: "@", omittingEmptySubsequences: false)
        return parts.count == 2 && !parts[0].isEmpty && parts[1].contains(".") && !string.contains(" ")
    }

    static func format(_ number: Double) -> String {
        number.rounded() == number ? String(Int(number)) : String(number)
    }
}
