import Foundation
import HTTPTypes
import Yams

/// Intercom's description of one API version, read by the sandbox (with its own reader: it shares no code with the
/// product) to answer the operations it has no hand-written route for.
final class DescribedAPI: Sendable {
    struct Operation: Sendable {
        let method: String
        let template: String
        let segments: [String]
        let raw: SJSON
    }

    let version: String
    let operations: [Operation]
    let document: SJSON

    init(version: String, yaml: String) throws {
        guard let loaded = try Yams.load(yaml: yaml) else { throw IntercomError(.internalServerError, code: "server_error", message: "empty description") }
        document = Self.json(loaded)
        var operations: [Operation] = []
        for (template, item) in (document["paths"]?.object ?? [:]).sorted(by: { $0.key < $1.key }) {
            for method in ["get", "put", "post", "delete", "patch"] {
                guard let raw = item[method] else { continue }
                operations.append(Operation(method: method.uppercased(), template: template,
                                            segments: template.split(separator: "/").map(String.init), raw: raw))
            }
        }
        self.version = version
        self.operations = operations
    }

    /// The description a request's version speaks: 2.14's for 2.14 and older, 2.16's for 2.15, 2.16 and none.
    static func forVersion(_ header: String?) -> DescribedAPI? {
        guard let header, header.hasPrefix("2."), let minor = Int(header.dropFirst(2)), minor >= 15 else {
            return header == nil ? bundled["2.16"] : bundled["2.14"]
        }
        return bundled["2.16"]
    }

    /// Read on first use, once per process.
    static let bundled: [String: DescribedAPI] = {
        var loaded: [String: DescribedAPI] = [:]
        for version in IntercomDescription.versions {
            guard let url = IntercomDescription.url(version: version), let text = try? String(contentsOf: url, encoding: .utf8),
                  let api = try? DescribedAPI(version: version, yaml: text) else { continue }
            loaded[version] = api
        }
        return loaded
    }()

    /// The operation `method path` names, with its path parameters' values; literal segments win over parameters.
    func match(method: String, path: String) -> (Operation, [String: String])? {
        let parts = path.split(separator: "/").map(String.init)
        var best: (Operation, [String: String], Int)?
        for operation in operations where operation.method == method && operation.segments.count == parts.count {
            var values: [String: String] = [:]
            var literals = 0
            var matched = true
            for (segment, part) in zip(operation.segments, parts) {
                if segment.hasPrefix("{") {
                    values[String(segment.dropFirst().dropLast())] = part.removingPercentEncoding ?? part
                } else if segment == part {
                    literals += 1
                } else {
                    matched = false
                    break
                }
            }
            if matched, literals > (best?.2 ?? -1) { best = (operation, values, literals) }
        }
        return best.map { ($0.0, $0.1) }
    }

    /// Whether any operation has `template` + `/{…}`: the template is a collection of items.
    func isCollection(_ segments: [String]) -> Bool {
        operations.contains { $0.segments.count == segments.count + 1 && Array($0.segments.dropLast()) == segments && $0.segments.last!.hasPrefix("{") }
    }

    /// A `$ref` within the document followed (components' schemas, responses, examples).
    func resolve(_ value: SJSON?) -> SJSON? {
        var value = value
        for _ in 0..<10 {
            guard let ref = value?["$ref"]?.string, ref.hasPrefix("#/") else { return value }
            var node: SJSON? = document
            for part in ref.dropFirst(2).split(separator: "/") { node = node?[String(part)] }
            value = node
        }
        return value
    }

    /// The operation's first success status (a redirect when it has no 2xx) with its content type and example (the
    /// first by name when there are several, made to conform to the schema: some of Intercom's examples break their
    /// own), or a value made from its schema when it gives none; nil body when the success has no content.
    func success(of operation: Operation) -> (status: Int, contentType: String?, example: SJSON?) {
        let responses = operation.raw["responses"]?.object ?? [:]
        let codes = responses.keys.compactMap(Int.init)
        let status = codes.filter { (200..<300).contains($0) }.min() ?? codes.filter { (300..<400).contains($0) }.min() ?? 200
        // An operation that lists no success answers its `default` response with 200.
        guard let response = resolve(responses[String(status)] ?? responses["default"]), let content = response["content"]?.object, let type = content.keys.sorted().first,
              let media = content[type] else { return (status, nil, nil) }
        let schema = media["schema"]
        var example = media["example"]
        if example == nil, let examples = media["examples"]?.object, let first = examples.keys.sorted().first {
            example = resolve(examples[first])?["value"]
        }
        guard let example else { return (status, type, schema.map { made(from: $0, depth: 0) }) }
        return (status, type, schema.map { conformed(example, to: $0, depth: 0) } ?? example)
    }

    /// The JSON schema of the operation's success answer, if it has one.
    func successSchema(of operation: Operation) -> SJSON? {
        let responses = operation.raw["responses"]?.object ?? [:]
        let codes = responses.keys.compactMap(Int.init)
        let status = codes.filter { (200..<300).contains($0) }.min() ?? codes.filter { (300..<400).contains($0) }.min() ?? 200
        return resolve(responses[String(status)] ?? responses["default"])?["content"]?["application/json"]?["schema"]
    }

    /// `value` changed where it breaks `schema`: a number as text where text is wanted (and back), a made value where
    /// an object, an array or a non-null is wanted; members and items followed.
    func conformed(_ value: SJSON, to schema: SJSON, depth: Int) -> SJSON {
        guard depth < 12, let schema = resolve(schema) else { return value }
        if let parts = schema["allOf"]?.array {
            var result = value
            for part in parts { result = conformed(result, to: part, depth: depth + 1) }
            return result
        }
        if let alternatives = (schema["oneOf"] ?? schema["anyOf"])?.array, !alternatives.isEmpty, case .object(var own) = schema {
            // A schema with members beside its alternatives (Intercom writes some so): those first, and an
            // alternative that only names what it requires reads their properties.
            own["oneOf"] = nil
            own["anyOf"] = nil
            let value = own.count > (own["description"] == nil ? 0 : 1) ? conformed(value, to: .object(own), depth: depth + 1) : value
            let properties = own["properties"]?.object ?? [:]
            let alternatives = alternatives.map { alternative -> SJSON in
                guard !properties.isEmpty, case .object(var members)? = resolve(alternative) else { return alternative }
                members["properties"] = .object(properties.merging(members["properties"]?.object ?? [:]) { _, theirs in theirs })
                return .object(members)
            }
            // The alternative the value fits best: of its type, and with the most members whose type and allowed
            // values it has (an email message's `message_type` picks the email form); else the first.
            func score(_ alternative: SJSON) -> Int {
                guard let resolved = resolve(alternative) else { return -1 }
                if let type = resolved["type"]?.string, !Self.matches(value, type: type) { return -1 }
                guard case .object(let members) = value else { return 0 }
                let properties = resolved["properties"]?.object ?? [:]
                return members.reduce(0) { total, member in
                    guard let property = resolve(properties[member.key]) else { return total }
                    if let allowed = property["enum"]?.array { return total + (allowed.contains(member.value) ? 3 : -3) }
                    if let type = property["type"]?.string { return total + (Self.matches(member.value, type: type) ? 1 : -1) }
                    return total
                }
            }
            let best = alternatives.max { score($0) < score($1) } ?? alternatives[0]
            return conformed(value, to: best, depth: depth + 1)
        }
        if value.isNull {
            return schema["nullable"]?.bool == true || schema["type"] == nil ? value : made(from: schema, depth: depth + 1)
        }
        if let type = schema["type"]?.string, !Self.matches(value, type: type) {
            switch (type, value) {
            case ("string", .int(let int)): return .string(String(int))
            case ("string", .double(let double)): return .string(String(double))
            case ("string", .bool(let bool)): return .string(String(bool))
            case ("integer", .string(let text)) where Int(text) != nil: return .int(Int(text)!)
            case ("number", .string(let text)) where Double(text) != nil: return .double(Double(text)!)
            default: return made(from: schema, depth: depth + 1)
            }
        }
        if let allowed = schema["enum"]?.array, !allowed.contains(value), let first = allowed.first { return first }
        if schema["format"]?.string == "email", case .string(let text) = value, !(text.contains("@") && text.contains(".")) {
            return .string("someone@example.com")
        }
        switch value {
        case .object(var members):
            let properties = schema["properties"]?.object ?? [:]
            for (name, member) in members {
                if let property = properties[name] { members[name] = conformed(member, to: property, depth: depth + 1) }
                else if let additional = schema["additionalProperties"], additional.object != nil { members[name] = conformed(member, to: additional, depth: depth + 1) }
            }
            for name in schema["required"]?.array?.compactMap(\.string) ?? [] where members[name] == nil {
                members[name] = properties[name].map { made(from: $0, depth: depth + 1) } ?? .string("string")
            }
            return .object(members)
        case .array(let items):
            guard let itemSchema = schema["items"] else { return value }
            return .array(items.map { conformed($0, to: itemSchema, depth: depth + 1) })
        default:
            return value
        }
    }

    static func matches(_ value: SJSON, type: String) -> Bool {
        switch (type, value) {
        case ("string", .string), ("boolean", .bool), ("integer", .int), ("array", .array), ("object", .object): true
        case ("number", .int), ("number", .double): true
        default: false
        }
    }

    /// A value the schema accepts: its example or default, else the least that satisfies it (required members only).
    func made(from schema: SJSON, depth: Int) -> SJSON {
        guard depth < 8, let schema = resolve(schema) else { return .null }
        if let example = schema["example"] { return example }
        if let value = schema["default"] { return value }
        if let first = schema["enum"]?.array?.first { return first }
        if let parts = schema["allOf"]?.array {
            var merged: [String: SJSON] = [:]
            for part in parts { merged.merge(made(from: part, depth: depth + 1).object ?? [:]) { first, _ in first } }
            return .object(merged)
        }
        if let first = (schema["oneOf"] ?? schema["anyOf"])?.array?.first { return made(from: first, depth: depth + 1) }
        switch schema["type"]?.string {
        case "string": return .string(schema["format"]?.string == "date-time" ? "2026-01-01T00:00:00Z" : "string")
        case "integer": return .int(1)
        case "number": return .double(1)
        case "boolean": return .bool(false)
        case "array": return .array([])
        default:
            var members: [String: SJSON] = [:]
            let properties = schema["properties"]?.object ?? [:]
            for name in schema["required"]?.array?.compactMap(\.string) ?? [] {
                members[name] = properties[name].map { made(from: $0, depth: depth + 1) } ?? .string("string")
            }
            return .object(members)
        }
    }

    static func json(_ value: Any) -> SJSON {
        switch value {
        case is NSNull: return .null
        case let bool as Bool: return .bool(bool)
        case let int as Int: return .int(int)
        case let double as Double: return .double(double)
        case let string as String: return .string(string)
        case let date as Date: return .string(ISO8601DateFormatter().string(from: date))
        case let array as [Any]: return .array(array.map(json))
        case let object as [String: Any]: return .object(object.mapValues(json))
        default: return .string("\(value)")
        }
    }
}
