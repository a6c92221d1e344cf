public import Foundation
import IntercomSandbox
import Yams

/// JSON as parsed for validation: booleans and numbers kept apart (Foundation's NSNumber blurs them).
public indirect enum JSONNode: Sendable, Decodable, Equatable {
    case null, bool(Bool), int(Int), double(Double), string(String), array([JSONNode]), object([String: JSONNode])

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() { self = .null }
        else if let value = try? container.decode(Bool.self) { self = .bool(value) }
        else if let value = try? container.decode(Int.self) { self = .int(value) }
        else if let value = try? container.decode(Double.self) { self = .double(value) }
        else if let value = try? container.decode(String.self) { self = .string(value) }
        else if let value = try? container.decode([JSONNode].self) { self = .array(value) }
        else { self = .object(try container.decode([String: JSONNode].self)) }
    }

    public static func parse(_ data: Data) -> JSONNode? { try? JSONDecoder().decode(JSONNode.self, from: data) }

    public subscript(key: String) -> JSONNode? { if case .object(let o) = self { o[key] } else { nil } }
    public var string: String? { if case .string(let s) = self { s } else { nil } }
    public var int: Int? { if case .int(let i) = self { i } else { nil } }
    public var array: [JSONNode]? { if case .array(let a) = self { a } else { nil } }
    public var object: [String: JSONNode]? { if case .object(let o) = self { o } else { nil } }
}

/// Intercom's official OpenAPI description, and a JSON-schema check of responses against it.
///
/// Supports what the description uses: `$ref`, `allOf` (with sibling `properties`), `oneOf`/`anyOf`, `nullable`,
/// `type`, `enum`, `required`, `properties`, `items`, `additionalProperties`.
public final class OpenAPIContract: @unchecked Sendable {
    let document: [String: Any]

    /// Intercom's description of 2.14, the version the sandbox's own tests speak.
    public static let intercom: OpenAPIContract = intercom(version: "2.14")
    /// Intercom's description of 2.16, the default version of an integration.
    public static let intercom216: OpenAPIContract = intercom(version: "2.16")

    /// Intercom's description of `version`, for the versions bundled (2.14, 2.16).
    public static func intercom(_ version: String) -> OpenAPIContract? {
        switch version {
        case "2.14": intercom
        case "2.16": intercom216
        default: nil
        }
    }

    private static func intercom(version: String) -> OpenAPIContract {
        guard let url = IntercomDescription.url(version: version),
              let text = try? String(contentsOf: url, encoding: .utf8),
              let loaded = try? Yams.load(yaml: text) as? [String: Any]
        else { fatalError("Intercom's OpenAPI description of \(version) is missing from the sandbox's bundle") }
        return OpenAPIContract(document: loaded)
    }

    /// In a strict contract an object schema that lists its properties is closed unless it says otherwise
    /// (`additionalProperties`): a member the description does not name is a violation. Switchboard's own description
    /// is checked strictly, so a field added without describing it fails the tests; Intercom's is not.
    let strict: Bool

    init(document: [String: Any], strict: Bool = false) {
        self.document = document
        self.strict = strict
    }

    /// A description given as YAML text (e.g. Switchboard's own `/openapi.yaml`), checked strictly.
    public convenience init(yaml: String) throws {
        guard let loaded = try Yams.load(yaml: yaml) as? [String: Any] else { throw ContractError.notADocument }
        self.init(document: loaded, strict: true)
    }

    enum ContractError: Error { case notADocument }

    /// Every way the description's own examples break their schemas (request bodies and responses, `example` and each
    /// of `examples`), so that what the documentation shows is what the server takes and gives.
    public func exampleViolations() -> [String] {
        var problems: [String] = []
        func check(_ content: [String: Any]?, at place: String) {
            for (mediaType, value) in content ?? [:] {
                guard let media = value as? [String: Any], let schema = media["schema"] as? [String: Any] else { continue }
                var samples: [(String, Any)] = []
                if let example = media["example"] { samples.append(("example", example)) }
                for (name, example) in media["examples"] as? [String: Any] ?? [:] {
                    if let value = (example as? [String: Any])?["value"] { samples.append(("examples.\(name)", value)) }
                }
                for (name, sample) in samples {
                    guard let data = try? JSONSerialization.data(withJSONObject: sample, options: [.fragmentsAllowed]),
                          let json = JSONNode.parse(data) else { problems.append("\(place) \(mediaType) \(name): not JSON"); continue }
                    problems += validate(json, schema, at: "$").map { "\(place) \(mediaType) \(name): \($0)" }
                }
            }
        }
        for (path, item) in document["paths"] as? [String: Any] ?? [:] {
            for (method, value) in item as? [String: Any] ?? [:] {
                guard let operation = value as? [String: Any] else { continue }
                let requestBody = resolve(operation["requestBody"] as? [String: Any] ?? [:])
                check(requestBody["content"] as? [String: Any], at: "\(method.uppercased()) \(path) request")
                for (status, response) in operation["responses"] as? [String: Any] ?? [:] {
                    check(resolve(response as? [String: Any] ?? [:])["content"] as? [String: Any], at: "\(method.uppercased()) \(path) \(status)")
                }
            }
        }
        return problems.sorted()
    }

    /// How many examples the description holds (so a check of them cannot pass by finding none).
    public var exampleCount: Int {
        var count = 0
        func visit(_ node: Any) {
            if let object = node as? [String: Any] {
                if object["example"] != nil, object["schema"] != nil { count += 1 }
                if let examples = object["examples"] as? [String: Any], object["schema"] != nil { count += examples.count }
                object.values.forEach(visit)
            } else if let array = node as? [Any] { array.forEach(visit) }
        }
        visit(document)
        return count
    }

    /// Every `method path` the description has, e.g. `get /v1/integrations/{id}`.
    public var operations: Set<String> {
        var result = Set<String>()
        for (path, item) in document["paths"] as? [String: Any] ?? [:] {
            for method in ["get", "put", "post", "delete", "patch", "head", "options"] where (item as? [String: Any])?[method] != nil {
                result.insert("\(method) \(path)")
            }
        }
        return result
    }

    /// The path template of the description that `path` (no query) matches, preferring literal segments over
    /// `{parameters}` (`/v1/actions/{name}` loses to a literal `/v1/actions/x` if both exist).
    public func template(matching path: String) -> String? {
        let segments = path.split(separator: "/", omittingEmptySubsequences: true)
        let paths = (document["paths"] as? [String: Any])?.keys ?? [String: Any]().keys
        var best: (template: String, literals: Int)?
        for template in paths {
            let parts = template.split(separator: "/", omittingEmptySubsequences: true)
            guard parts.count == segments.count else { continue }
            var literals = 0
            var matches = true
            for (part, segment) in zip(parts, segments) {
                if part.hasPrefix("{") && part.hasSuffix("}") { continue }
                guard part == segment else { matches = false; break }
                literals += 1
            }
            if matches, literals > (best?.literals ?? -1) { best = (template, literals) }
        }
        return best?.template
    }

    /// Every way an answer breaks the description: a status the operation does not list, a media type it does not
    /// list, a body its schema refuses (strictly: no member it does not name). An answer to a path the description
    /// does not have (the console) is not its business; a path it has, asked with a method it does not list, must be
    /// the 405 problem.
    public func violations(path: String, method: String, status: Int, contentType: String?, body: Data) -> [String] {
        guard let template = template(matching: path) else { return [] }
        let item = (document["paths"] as? [String: Any])?[template] as? [String: Any] ?? [:]
        guard let operation = item[method.lowercased()] as? [String: Any] else {
            guard status == 405 || status == 404 || status == 401 else { return ["\(method) is not described on \(template), yet answered \(status)"] }
            return status == 405 ? violations(of: body, schema: "Problem") : []
        }
        let responses = operation["responses"] as? [String: Any] ?? [:]
        // `default` describes every status the operation does not list.
        let response = resolve(responses[String(status)] as? [String: Any] ?? responses["default"] as? [String: Any] ?? [:])
        guard !response.isEmpty else {
            return ["\(method.uppercased()) \(template) answered \(status), which the description does not list (it lists \(responses.keys.sorted().joined(separator: ", ")))"]
        }
        guard let content = response["content"] as? [String: Any], !content.isEmpty else {
            return body.isEmpty ? [] : ["\(method.uppercased()) \(template) \(status) has no described body, yet answered \(body.count) bytes"]
        }
        let mediaType = (contentType ?? "").split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
        guard let media = content[mediaType] as? [String: Any] else {
            return ["\(method.uppercased()) \(template) \(status) answered \(mediaType.isEmpty ? "no content type" : mediaType), not one described (\(content.keys.sorted().joined(separator: ", ")))"]
        }
        guard mediaType.hasSuffix("json"), let schema = media["schema"] as? [String: Any] else { return [] }
        guard let json = JSONNode.parse(body) else { return ["\(method.uppercased()) \(template) \(status): the body is not JSON"] }
        return validate(json, schema, at: "$").map { "\(method.uppercased()) \(template) \(status): \($0)" }
    }

    /// Every way a request breaks the description: an operation it does not have, a version header outside its enum,
    /// a query parameter it does not declare or a value its schema refuses, a required one missing, a body where it
    /// declares none or one its schema refuses (open objects: Intercom's own schemas are not closed).
    /// `undeclaredQuery` names parameters a path takes although the description leaves them out.
    public func requestViolations(method: String, path: String, query: [(name: String, value: String)], headers: [(name: String, value: String)],
                                  body: Data?, undeclaredQuery: [String: Set<String>] = [:]) -> [String] {
        let verb = method.uppercased()
        guard let template = template(matching: path),
              let operation = ((document["paths"] as? [String: Any])?[template] as? [String: Any])?[method.lowercased()] as? [String: Any]
        else { return ["\(verb) \(path) is not an operation of the description"] }
        let item = (document["paths"] as? [String: Any])?[template] as? [String: Any] ?? [:]
        let parameters = ((operation["parameters"] as? [Any] ?? []) + (item["parameters"] as? [Any] ?? [])).compactMap { ($0 as? [String: Any]).map(resolve) }
        var problems: [String] = []
        for parameter in parameters {
            guard let name = parameter["name"] as? String, let location = parameter["in"] as? String else { continue }
            let schema = parameter["schema"] as? [String: Any] ?? [:]
            let sent: String? = switch location {
            case "query": query.first { $0.name == name }?.value
            case "header": headers.first { $0.name.lowercased() == name.lowercased() }?.value
            default: nil
            }
            if sent == nil, parameter["required"] as? Bool == true, location != "path" { problems.append("\(verb) \(template): the required \(location) parameter \(name) is missing") }
            guard let sent else { continue }
            // A query or header value is text: checked as the JSON its schema's type reads it as.
            let value: JSONNode = switch (resolve(schema)["type"] as? String) {
            case "integer": Int(sent).map(JSONNode.int) ?? .string(sent)
            case "number": Double(sent).map(JSONNode.double) ?? .string(sent)
            case "boolean": sent == "true" ? .bool(true) : sent == "false" ? .bool(false) : .string(sent)
            default: .string(sent)
            }
            problems += validate(value, schema, at: "\(location) \(name)", closed: false).map { "\(verb) \(template): \($0)" }
        }
        let declared = Set(parameters.filter { $0["in"] as? String == "query" }.compactMap { $0["name"] as? String })
        for item in query where !declared.contains(item.name) && !(undeclaredQuery[template]?.contains(item.name) ?? false) {
            problems.append("\(verb) \(template): the query parameter \(item.name) is not declared")
        }
        let requestBody = (operation["requestBody"] as? [String: Any]).map(resolve)
        if let body, !body.isEmpty {
            guard let schema = ((requestBody?["content"] as? [String: Any])?["application/json"] as? [String: Any])?["schema"] as? [String: Any] else {
                return problems + ["\(verb) \(template) sends a body the description does not declare"]
            }
            guard let json = JSONNode.parse(body) else { return problems + ["\(verb) \(template): the body is not JSON"] }
            problems += validate(json, schema, at: "body", closed: false).map { "\(verb) \(template): \($0)" }
        } else if requestBody?["required"] as? Bool == true {
            problems.append("\(verb) \(template): the required body is missing")
        }
        return problems
    }

    /// The JSON schema of a response, if the description has one.
    public func responseSchema(path: String, method: String, status: Int) -> [String: Any]? {
        let paths = document["paths"] as? [String: Any]
        let operation = (paths?[path] as? [String: Any])?[method.lowercased()] as? [String: Any]
        let responses = operation?["responses"] as? [String: Any]
        let response = responses?[String(status)] as? [String: Any]
        let content = response?["content"] as? [String: Any]
        return (content?["application/json"] as? [String: Any])?["schema"] as? [String: Any]
    }

    /// Every way `body` breaks the schema of `method path` answered with `status`; empty when it conforms.
    public func violations(of body: Data, path: String, method: String, status: Int) -> [String] {
        guard let schema = responseSchema(path: path, method: method, status: status) else {
            return ["the description has no JSON schema for \(method.uppercased()) \(path) \(status)"]
        }
        guard let json = JSONNode.parse(body) else { return ["the body is not JSON"] }
        return validate(json, schema, at: "$")
    }

    /// Every way `body` breaks a named component schema (e.g. `error` for answers the paths do not list).
    public func violations(of body: Data, schema name: String) -> [String] {
        guard let json = JSONNode.parse(body) else { return ["the body is not JSON"] }
        return validate(json, ["$ref": "#/components/schemas/\(name)"], at: "$")
    }

    /// Every way a JSON value breaks a self-contained JSON schema (e.g. an MCP tool's output schema).
    public static func violations(of value: Data, jsonSchema: [String: Any]) -> [String] {
        guard let json = JSONNode.parse(value) else { return ["the value is not JSON"] }
        return OpenAPIContract(document: [:]).validate(json, jsonSchema, at: "$")
    }

    /// A component's properties, with those of its `allOf` parts merged in.
    public func properties(ofComponent name: String) -> [String: [String: Any]]? {
        guard let schema = (((document["components"] as? [String: Any])?["schemas"]) as? [String: Any])?[name] as? [String: Any] else { return nil }
        func collect(_ schema: [String: Any]) -> [String: [String: Any]] {
            let resolved = resolve(schema)
            var result: [String: [String: Any]] = [:]
            for part in resolved["allOf"] as? [[String: Any]] ?? [] { result.merge(collect(part)) { first, _ in first } }
            for (key, value) in resolved["properties"] as? [String: Any] ?? [:] {
                if let property = value as? [String: Any] { result[key] = resolve(property) }
            }
            return result
        }
        return collect(schema)
    }

    func resolve(_ schema: [String: Any]) -> [String: Any] {
        guard let ref = schema["$ref"] as? String, ref.hasPrefix("#/") else { return schema }
        var node: Any? = document
        for part in ref.dropFirst(2).split(separator: "/") { node = (node as? [String: Any])?[String(part)] }
        guard let resolved = node as? [String: Any] else { return [:] }
        return resolve(resolved)
    }

    /// Properties the description's schema does not mark nullable, although its own examples and text give null.
    /// Each is a documented inconsistency of the description, not a sandbox liberty.
    static let knownNullableGaps: Set<String> = [
        // "null if there has been no change in assignment", and null in 18 examples; `reference` lacks `nullable`.
        "conversation_part.assigned_to",
    ]

    static func matches(_ type: String, _ value: JSONNode) -> Bool {
        switch (type, value) {
        case ("string", .string), ("boolean", .bool), ("integer", .int), ("array", .array), ("object", .object), ("null", .null): true
        case ("number", .int), ("number", .double): true
        default: false
        }
    }

    /// Every property an object schema names, its `allOf` parts' included.
    func namedProperties(_ rawSchema: [String: Any]) -> [String: Any] {
        let schema = resolve(rawSchema)
        var result = schema["properties"] as? [String: Any] ?? [:]
        for part in schema["allOf"] as? [[String: Any]] ?? [] { result.merge(namedProperties(part)) { first, _ in first } }
        return result
    }

    func validate(_ value: JSONNode, _ rawSchema: [String: Any], at path: String, closed: Bool = true) -> [String] {
        let schema = resolve(rawSchema)
        let schemaName = (rawSchema["$ref"] as? String)?.split(separator: "/").last.map(String.init)
        if value == .null {
            // `nullable` beside a `$ref` is how the description marks a nullable reference (e.g. `ai_agent`).
            if rawSchema["nullable"] as? Bool == true || schema["nullable"] as? Bool == true || schema.isEmpty { return [] }
            if let types = schema["type"] as? [String], types.contains("null") { return [] }
            if schema["type"] as? String == "null" { return [] }
            // A null that the schema does not allow, unless a branch of oneOf/anyOf allows it.
            let branches = (schema["oneOf"] as? [[String: Any]] ?? []) + (schema["anyOf"] as? [[String: Any]] ?? [])
            if branches.contains(where: { validate(.null, $0, at: path).isEmpty }) { return [] }
            if schema["type"] == nil && schema["allOf"] == nil && branches.isEmpty && schema["properties"] == nil { return [] }
            return ["\(path): null is not allowed"]
        }
        var problems: [String] = []
        // The parts of an allOf are checked open; the whole is closed over the properties they name together.
        for part in schema["allOf"] as? [[String: Any]] ?? [] { problems += validate(value, part, at: path, closed: false) }
        for key in ["oneOf", "anyOf"] {
            guard let branches = schema[key] as? [[String: Any]], !branches.isEmpty else { continue }
            if !branches.contains(where: { validate(value, $0, at: path).isEmpty }) {
                problems.append("\(path): matches no branch of \(key) (\(branches.map { validate(value, $0, at: path).first ?? "" }.joined(separator: " | ")))")
            }
        }
        let types = (schema["type"] as? String).map { [$0] } ?? schema["type"] as? [String] ?? []
        if !types.isEmpty, !types.contains(where: { Self.matches($0, value) }) {
            return problems + ["\(path): expected \(types.joined(separator: " or ")), got \(value)"]
        }
        if let allowed = schema["enum"] as? [Any], let string = value.string {
            let strings = allowed.map { "\($0)" }
            if !strings.contains(string) { problems.append("\(path): '\(string)' is not one of \(strings)") }
        }
        if let constant = schema["const"], let string = value.string, "\(constant)" != string {
            problems.append("\(path): '\(string)' is not \(constant)")
        }
        // Bounds and formats are checked on Switchboard's own description (Intercom's is checked as it always was).
        if strict, let string = value.string {
            if let minimum = schema["minLength"] as? Int, string.count < minimum { problems.append("\(path): shorter than \(minimum)") }
            if let maximum = schema["maxLength"] as? Int, string.count > maximum { problems.append("\(path): longer than \(maximum)") }
            if schema["format"] as? String == "date-time", (try? Date(string, strategy: .iso8601)) == nil {
                problems.append("\(path): '\(string)' is not an RFC 3339 date-time")
            }
        }
        if strict, let number = value.int.map(Double.init) ?? { if case .double(let d) = value { d } else { nil } }() {
            if let minimum = (schema["minimum"] as? NSNumber)?.doubleValue, number < minimum { problems.append("\(path): \(number) is below \(minimum)") }
            if let maximum = (schema["maximum"] as? NSNumber)?.doubleValue, number > maximum { problems.append("\(path): \(number) is above \(maximum)") }
        }
        if case .object(let members) = value {
            for name in schema["required"] as? [String] ?? [] where members[name] == nil {
                problems.append("\(path): required property '\(name)' is missing")
            }
            let properties = schema["properties"] as? [String: Any] ?? [:]
            let closedOver = strict && closed && schema["additionalProperties"] == nil && (schema["properties"] != nil || schema["allOf"] != nil)
                ? namedProperties(rawSchema) : nil
            for name in members.keys.sorted() where closedOver != nil && closedOver?[name] == nil {
                problems.append("\(path): property '\(name)' is not in the description")
            }
            for (name, member) in members {
                if member == .null, let schemaName, Self.knownNullableGaps.contains("\(schemaName).\(name)") { continue }
                if let propertySchema = properties[name] as? [String: Any] {
                    problems += validate(member, propertySchema, at: "\(path).\(name)")
                } else if let additional = schema["additionalProperties"] as? [String: Any] {
                    problems += validate(member, additional, at: "\(path).\(name)")
                } else if schema["additionalProperties"] as? Bool == false {
                    problems.append("\(path): property '\(name)' is not allowed")
                }
            }
        }
        if strict, case .array(let items) = value {
            if let minimum = schema["minItems"] as? Int, items.count < minimum { problems.append("\(path): fewer than \(minimum) items") }
            if let maximum = schema["maxItems"] as? Int, items.count > maximum { problems.append("\(path): more than \(maximum) items") }
        }
        if case .array(let items) = value, let itemSchema = schema["items"] as? [String: Any] {
            for (index, item) in items.enumerated() { problems += validate(item, itemSchema, at: "\(path)[\(index)]") }
        }
        return problems
    }
}
