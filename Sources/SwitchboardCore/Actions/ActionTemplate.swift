import Foundation

/// One catalog entry: what an action asks for, which Intercom call it makes, and what it answers.
public struct ActionTemplate: Sendable, Decodable {
    public struct RequestTemplate: Sendable, Decodable {
        public var method: String
        /// A path with `{input}` placeholders, percent-encoded when filled.
        public var path: String
        public var query: [String: String]?
        /// JSON with `"{{input}}"` strings: a whole-string placeholder keeps the input's type, and is dropped when the input is absent.
        public var body: JSONValue?
        /// Headers the operation requires with one value (a download's `Accept`), sent instead of the provider's own.
        public var headers: [String: String]?
    }

    public struct Output: Sendable, Decodable {
        /// A dotted path into the response (empty: the whole response).
        public var pick: String?
        public var schema: JSONValue?
        /// For a paged action answered whole (a generated one): the response's member that holds the page's items.
        /// The result is the last page's answer with that member holding every page's items, up to the limit.
        public var list: String?
    }

    /// The provider's operation an action makes, as its API description names it.
    public struct Operation: Sendable, Decodable, Equatable {
        public var method: String?
        /// The path as the description writes it (its parameters' names may differ from the request template's).
        public var path: String?
        public var operationId: String?
        /// The provider's reference page for the operation.
        public var docsURL: String?
    }

    /// How a curated action stands to the generated action of its operation.
    public enum Overlay: String, Sendable, Decodable {
        /// The generated action is not offered: the curated one is the way to that operation.
        case replaces
        /// Both are offered: the curated one covers a part of the operation (one kind of reply, say) in friendlier words.
        case beside
    }

    public var name: String
    public var title: String
    public var description: String
    /// Reads only: changes nothing at the provider.
    public var readOnly: Bool
    /// May overwrite or remove what is there (false: only adds). Meaningful for writes.
    public var destructive: Bool
    /// Running it twice with the same input does no more than running it once: safe to retry.
    public var idempotent: Bool
    /// The raw-request action: its method and path come from the input (`method`, `path`), and it is retried
    /// only when that method is GET.
    public var generic: Bool
    /// A list action that follows the provider's cursor paging until the caller's limit is reached.
    public var paged: Bool
    /// Inputs filled from the connection when the caller leaves them out: input name → `account.adminID`,
    /// `account.adminEmail` or `account.id`.
    public var inputDefaults: [String: String]
    public var input: JSONValue
    public var prompts: [String: String]
    public var request: RequestTemplate
    public var output: Output
    /// A Mustache template over the output (plain text), for the assistant to say.
    public var message: String
    /// What a 404 is about ("contact", "ticket"), for the problem's wording.
    public var object: String?
    /// The operation of the provider's API description this action makes (for a curated action, filled from the
    /// generated catalog by its `operationId`).
    public var operation: Operation?
    /// The description's tag for the operation ("Articles"): actions are listed and allowed by group.
    public var group: String?
    /// The API versions that have this action's operation; nil: every version the provider speaks.
    public var versions: [String]?
    /// A curated action's standing to the generated action of its operation.
    public var overlay: Overlay?
    /// Written by hand (the provider's `NAME-actions.json`), not generated from its API description.
    public var curated = false

    enum CodingKeys: String, CodingKey {
        case name, title, description, readOnly, destructive, idempotent, generic, paged, inputDefaults, input, prompts, request, output, message, object
        case operation, group, versions, overlay
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        name = try container.decode(String.self, forKey: .name)
        title = try container.decode(String.self, forKey: .title)
        description = try container.decode(String.self, forKey: .description)
        readOnly = try container.decode(Bool.self, forKey: .readOnly)
        destructive = try container.decode(Bool.self, forKey: .destructive)
        idempotent = try container.decode(Bool.self, forKey: .idempotent)
        generic = try container.decodeIfPresent(Bool.self, forKey: .generic) ?? false
        paged = try container.decodeIfPresent(Bool.self, forKey: .paged) ?? false
        inputDefaults = try container.decodeIfPresent([String: String].self, forKey: .inputDefaults) ?? [:]
        input = try container.decode(JSONValue.self, forKey: .input)
        prompts = try container.decodeIfPresent([String: String].self, forKey: .prompts) ?? [:]
        request = try container.decode(RequestTemplate.self, forKey: .request)
        output = try container.decode(Output.self, forKey: .output)
        message = try container.decode(String.self, forKey: .message)
        object = try container.decodeIfPresent(String.self, forKey: .object)
        operation = try container.decodeIfPresent(Operation.self, forKey: .operation)
        group = try container.decodeIfPresent(String.self, forKey: .group)
        versions = try container.decodeIfPresent([String].self, forKey: .versions)
        overlay = try container.decodeIfPresent(Overlay.self, forKey: .overlay)
    }

    /// Whether an integration speaking `version` of the provider's API can run this action.
    public func isAvailable(inVersion version: String) -> Bool {
        versions?.contains(version) ?? true
    }

    /// Whether a call with `input` may be retried: an idempotent action, or the generic call with GET.
    public func isRetrySafe(input: [String: JSONValue]) -> Bool {
        generic ? input["method"]?.stringValue == "GET" : idempotent
    }

    /// Whether a call with `input` only reads (an idempotency key is then not needed).
    public func isReadOnly(input: [String: JSONValue]) -> Bool {
        generic ? input["method"]?.stringValue == "GET" : readOnly
    }

    /// The JSON the catalog endpoints show.
    public var json: JSONValue {
        var object: [String: JSONValue] = [
            "name": .string(name), "title": .string(title), "description": .string(description), "input": input,
            "prompts": .object(prompts.mapValues(JSONValue.string)), "method": .string(request.method), "path": .string(request.path),
            "readOnly": .bool(readOnly), "destructive": .bool(destructive), "idempotent": .bool(idempotent),
        ]
        if let schema = output.schema { object["output"] = schema }
        if let group { object["group"] = .string(group) }
        if let versions { object["versions"] = .array(versions.map(JSONValue.string)) }
        if let operation {
            var described: [String: JSONValue] = [:]
            if let method = operation.method { described["method"] = .string(method) }
            if let path = operation.path { described["path"] = .string(path) }
            if let id = operation.operationId { described["operationId"] = .string(id) }
            if let url = operation.docsURL { described["docsURL"] = .string(url) }
            object["operation"] = .object(described)
        }
        object["curated"] = .bool(curated)
        return .object(object)
    }
}

/// Fills request templates from checked input.
public enum RequestRendering {
    public struct Rendered: Sendable, Equatable {
        public var method: String
        /// Path and query, relative to the API base.
        public var pathAndQuery: String
        public var body: JSONValue?
    }

    /// What may stand unescaped in one path segment.
    static let pathSegmentAllowed = CharacterSet.urlPathAllowed.subtracting(CharacterSet(charactersIn: "/?#"))

    /// Inputs that fill a path segment must name something: empty, `.` and `..` would make `/contacts/..` and reach
    /// another endpoint with the caller's token.
    public static func pathViolations(_ template: ActionTemplate.RequestTemplate, input: JSONValue, at prefix: String) -> [Problem.FieldError] {
        guard case .object(let values) = input else { return [] }
        return values.keys.sorted().compactMap { name in
            guard template.path.contains("{\(name)}"), let value = values[name] else { return nil }
            let text = value.stringValue ?? value.numberValue.map { InputSchema.format($0) } ?? ""
            guard text.isEmpty || text == "." || text == ".." else { return nil }
            return Problem.FieldError(field: "\(prefix).\(name)", detail: "fills a path segment, so it must not be empty, '.' or '..'")
        }
    }

    public static func render(_ template: ActionTemplate.RequestTemplate, input: [String: JSONValue]) -> Rendered {
        var path = template.path
        for (name, value) in input where path.contains("{\(name)}") {
            let text = value.stringValue ?? value.numberValue.map { InputSchema.format($0) } ?? ""
            let escaped = text.addingPercentEncoding(withAllowedCharacters: pathSegmentAllowed) ?? text
            path = path.replacingOccurrences(of: "{\(name)}", with: escaped)
        }
        var items: [URLQueryItem] = []
        for (name, value) in (template.query ?? [:]).sorted(by: { $0.key < $1.key }) {
            guard let filled = fill(.string(value), input) else { continue }
            items.append(URLQueryItem(name: name, value: filled.stringValue ?? filled.numberValue.map { InputSchema.format($0) } ?? ""))
        }
        if !items.isEmpty {
            var components = URLComponents()
            components.queryItems = items
            path += "?" + (components.percentEncodedQuery ?? "")
        }
        return Rendered(method: template.method, pathAndQuery: path, body: template.body.flatMap { fill($0, input) })
    }

    /// Whether a template holds a placeholder whose input is absent.
    static func lacksInput(_ template: JSONValue, _ input: [String: JSONValue]) -> Bool {
        switch template {
        case .string(let text):
            return text.matches(of: /\{\{([A-Za-z0-9_]+)\}\}/).contains { input[String($0.1)] == nil }
        case .array(let items): return items.contains { lacksInput($0, input) }
        case .object(let members): return members.values.contains { lacksInput($0, input) }
        default: return false
        }
    }

    /// Replaces placeholders; nil means "leave this out" (an absent optional input).
    static func fill(_ template: JSONValue, _ input: [String: JSONValue]) -> JSONValue? {
        switch template {
        case .string(let text):
            if text.hasPrefix("{{"), text.hasSuffix("}}"), text.dropFirst(2).dropLast(2).allSatisfy({ $0 != "{" && $0 != "}" }) {
                return input[String(text.dropFirst(2).dropLast(2))]
            }
            guard text.contains("{{") else { return template }
            var result = text
            for (name, value) in input { result = result.replacingOccurrences(of: "{{\(name)}}", with: value.stringValue ?? "\(value)") }
            return result.contains("{{") ? nil : .string(result)
        case .array(let items):
            // An item that still lacks an input is dropped whole: optional search filters drop out of their group.
            let filled = items.compactMap { item -> JSONValue? in
                guard let value = fill(item, input) else { return nil }
                return lacksInput(item, input) ? nil : value
            }
            return filled.isEmpty && !items.isEmpty ? nil : .array(filled)
        case .object(let members):
            var result: [String: JSONValue] = [:]
            for (key, value) in members { if let filled = fill(value, input) { result[key] = filled } }
            return result.isEmpty && !members.isEmpty ? nil : .object(result)
        default:
            return template
        }
    }
}
