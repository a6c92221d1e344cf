public import Foundation
import OpenAPIKit30
public import SwitchboardCore
import Yams

/// Makes a provider's generated action catalog from its official OpenAPI description: one action per operation.
///
/// OpenAPIKit reads the description's structure (its paths, operations, tags, success responses) and checks it is a
/// well-formed OpenAPI 3.0 document; the schemas are read from the same YAML raw (see `SchemaConverter` for why).
/// The output is deterministic: the same description gives the same bytes.
public enum CatalogGenerator {
    /// One version's description, as YAML text.
    public struct Description: Sendable {
        public var version: String
        public var yaml: String
        public init(version: String, yaml: String) {
            self.version = version
            self.yaml = yaml
        }
    }

    /// The catalog file for `provider` from the `current` description; `older` descriptions only say which versions
    /// have each operation (`versions`).
    public static func catalog(provider: String, current: Description, older: [Description] = []) throws -> JSONValue {
        let document = try Document(current)
        var versionsByOperation: [String: [String]] = [:]
        for description in older + [current] {
            for operation in try Document(description).operations() {
                versionsByOperation[operation.key, default: []].append(description.version)
            }
        }
        var converter = SchemaConverter(components: document.raw.at(pointer: "/components/schemas")?.objectValue ?? [:])
        var actions: [JSONValue] = []
        var names: Set<String> = []
        for operation in try document.operations() {
            let action = try makeAction(provider: provider, operation, version: current.version,
                                        versions: versionsByOperation[operation.key] ?? [current.version], converter: &converter)
            guard let name = action["name"]?.stringValue, names.insert(name).inserted else {
                throw GeneratorError("two operations are named \(action["name"]?.stringValue ?? "?")")
            }
            actions.append(action)
        }
        actions.sort { ($0["name"]?.stringValue ?? "") < ($1["name"]?.stringValue ?? "") }
        return .object([
            "provider": .string(provider),
            "generatedFrom": .object([
                "title": document.raw.at(pointer: "/info/title") ?? .null,
                "version": .string(current.version),
                "alsoChecked": .array(older.map { .string($0.version) }),
            ]),
            "defs": .object(try converter.definitions()),
            "actions": .array(actions),
        ])
    }

    /// The catalog as the checked-in file holds it: pretty-printed, keys sorted, a final newline.
    public static func encode(_ catalog: JSONValue) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        var data = try encoder.encode(catalog)
        data.append(UInt8(ascii: "\n"))
        return data
    }

    // MARK: - Reading the description

    /// One operation as the generator reads it.
    struct Operation {
        var method: String
        var path: String
        var operationID: String?
        var summary: String?
        var description: String?
        var tags: [String]
        /// Path-item and operation parameters, raw, the operation's winning (by name and location).
        var parameters: [JSONValue]
        var body: (schema: JSONValue, required: Bool)?
        /// The success response's JSON schema, raw; nil when it has no JSON body.
        var response: JSONValue?
        var successStatus: String?

        /// The method and the path with its parameters unnamed: the same operation in another version.
        var key: String {
            let shape = path.split(separator: "/").map { $0.hasPrefix("{") ? "{}" : String($0) }.joined(separator: "/")
            return "\(method) /\(shape)"
        }
    }

    struct Document {
        let model: OpenAPI.Document
        let raw: JSONValue

        init(_ description: Description) throws {
            do {
                // From the text: the decoder reads every scalar as a string (a response's key `'200'` included),
                // where `compose` below types them.
                model = try YAMLDecoder().decode(OpenAPI.Document.self, from: description.yaml, userInfo: [VendorExtensionsConfiguration.enabledKey: false])
            } catch {
                let readable = OpenAPI.Error(from: error)
                throw GeneratorError("the description of \(description.version) is not OpenAPI 3.0 that OpenAPIKit reads: \(readable.localizedDescription) at \(readable.codingPathString)")
            }
            guard let node = try Yams.compose(yaml: description.yaml) else { throw GeneratorError("the description of \(description.version) is empty") }
            raw = try JSONValue(yaml: node)
        }

        func resolve(_ value: JSONValue?, in section: String) -> JSONValue? {
            guard let ref = value?["$ref"]?.stringValue else { return value }
            let prefix = "#/components/\(section)/"
            guard ref.hasPrefix(prefix) else { return nil }
            return raw.at(pointer: "/components/\(section)/" + ref.dropFirst(prefix.count))
        }

        func operations() throws -> [Operation] {
            var operations: [Operation] = []
            for (path, itemEither) in model.paths {
                guard let item = model.components[itemEither] else { throw GeneratorError("the path item \(path.rawValue) is a reference that cannot be followed") }
                let rawItem = raw["paths"]?[path.rawValue]
                for endpoint in item.endpoints {
                    let method = endpoint.method.rawValue.uppercased()
                    guard let rawOperation = rawItem?[method.lowercased()] else { throw GeneratorError("\(method) \(path.rawValue) is missing from the raw description") }
                    var parameters: [JSONValue] = []
                    var seen: Set<String> = []
                    for parameter in (rawOperation["parameters"]?.arrayValue ?? []) + (rawItem?["parameters"]?.arrayValue ?? []) {
                        guard let resolved = resolve(parameter, in: "parameters"), let name = resolved["name"]?.stringValue, let location = resolved["in"]?.stringValue else {
                            throw GeneratorError("a parameter of \(method) \(path.rawValue) that cannot be read")
                        }
                        if seen.insert("\(location) \(name)").inserted { parameters.append(resolved) }
                    }
                    var body: (JSONValue, Bool)?
                    if let request = resolve(rawOperation["requestBody"], in: "requestBodies") {
                        guard let schema = request["content"]?["application/json"]?["schema"] else {
                            throw GeneratorError("\(method) \(path.rawValue) takes a body that is not JSON")
                        }
                        body = (schema, request["required"]?.boolValue ?? false)
                    }
                    let operation = endpoint.operation
                    let success = operation.responses.first { $0.key.isSuccess }?.key.rawValue
                    let response = success.flatMap { resolve(rawOperation["responses"]?[$0], in: "responses") }
                    operations.append(Operation(
                        method: method, path: path.rawValue, operationID: operation.operationId, summary: operation.summary,
                        description: operation.description, tags: operation.tags ?? [], parameters: parameters, body: body,
                        response: response?["content"]?["application/json"]?["schema"], successStatus: success))
                }
            }
            return operations
        }
    }

    // MARK: - Making an action

    static func makeAction(provider: String, _ operation: Operation, version: String, versions: [String], converter: inout SchemaConverter) throws -> JSONValue {
        let where_ = "\(operation.method) \(operation.path)"
        let name = "\(provider).\(operation.operationID.map(Naming.snakeCase) ?? Naming.fallbackName(method: operation.method, path: operation.path))"
        let group = operation.tags.first ?? "Other"
        let title = operation.summary ?? Naming.words(name)

        var properties: [String: JSONValue] = [:]
        var required: [String] = []
        var query: [String: JSONValue] = [:]
        var bodyTemplate: [String: JSONValue] = [:]
        var headers: [String: JSONValue] = [:]
        var variants: (keyword: String, schemas: [JSONValue])?

        func described(_ schema: JSONValue, _ description: JSONValue?) -> JSONValue {
            guard let description, case .object(var members) = schema, members["description"] == nil else { return schema }
            members["description"] = description
            return .object(members)
        }
        for parameter in operation.parameters {
            guard let parameterName = parameter["name"]?.stringValue, let location = parameter["in"]?.stringValue else { continue }
            if location == "header", parameterName.lowercased() != "intercom-version", parameter["required"] == .bool(true),
               let values = parameter["schema"]?["enum"]?.arrayValue, values.count == 1, let value = values[0].stringValue {
                headers[parameterName] = .string(value)  // one value the operation requires (a download's Accept)
            }
            guard location == "path" || location == "query" else { continue }  // other headers (the version) are the provider's
            let schema = try converter.convert(parameter["schema"] ?? .object(["type": .string("string")]))
            properties[parameterName] = described(schema, parameter["description"])
            if location == "path" || parameter["required"] == .bool(true) { required.append(parameterName) }
            if location == "query" { query[parameterName] = .string("{{\(parameterName)}}") }
        }

        if let body = operation.body {
            let parts = try bodyParts(body.schema, converter: converter)
            for (property, schema) in parts.properties.sorted(by: { $0.key < $1.key }) {
                guard properties[property] == nil else { throw GeneratorError("\(where_): the body's \(property) has the name of a parameter") }
                let converted = try schema.map { try converter.convert($0) }
                properties[property] = converted.count == 1 ? converted[0] : .object(["anyOf": .array(converted)])
                bodyTemplate[property] = .string("{{\(property)}}")
            }
            if body.required { required += parts.required.sorted() }
            // The alternatives are kept whether or not the description marks the body required: Intercom's bodies
            // with alternatives (a reply, a conversation's parts, a new contact) are always sent.
            if let alternatives = parts.variants {
                // As `anyOf` (see SchemaConverter): Intercom's alternatives overlap.
                variants = ("anyOf", try alternatives.schemas.map { try converter.convert($0) })
            }
        }

        // Cursor paging: a list answered with `pages` whose request takes a `starting_after` cursor (in the query or in
        // the body's `pagination`) follows the pages up to `limit`.
        var paged = false
        var listField: String?
        let response = operation.response.map { converter.resolved($0) }
        if let responseProperties = response?["properties"]?.objectValue, responseProperties["pages"] != nil,
           query["starting_after"] != nil || bodyTemplate["pagination"] != nil,
           let list = responseProperties.keys.sorted().first(where: { converter.resolved(responseProperties[$0]!)["type"]?.stringValue == "array" }) {
            paged = true
            listField = list
            if query["starting_after"] != nil {
                for parameter in ["per_page", "starting_after"] {
                    properties[parameter] = nil
                    required.removeAll { $0 == parameter }
                }
                query["per_page"] = .string("{{limit}}")
                query["starting_after"] = .string("{{starting_after}}")
            } else {
                properties["pagination"] = nil
                required.removeAll { $0 == "pagination" }
                bodyTemplate["pagination"] = .object(["per_page": .string("{{limit}}"), "starting_after": .string("{{starting_after}}")])
            }
            properties["limit"] = .object([
                "type": .string("integer"), "minimum": .number(1), "maximum": .number(1000),
                "description": .string("At most this many \(list.replacingOccurrences(of: "_", with: " ")), following the pages (default 50)."),
            ])
        }

        var input: [String: JSONValue] = [
            "type": .string("object"), "properties": .object(properties),
            "required": .array(Array(Set(required)).sorted().map(JSONValue.string)), "additionalProperties": .bool(false),
        ]
        if let variants { input[variants.keyword] = .array(variants.schemas) }

        var request: [String: JSONValue] = ["method": .string(operation.method), "path": .string(operation.path)]
        if !query.isEmpty { request["query"] = .object(query) }
        if !bodyTemplate.isEmpty { request["body"] = .object(bodyTemplate) }
        if !headers.isEmpty { request["headers"] = .object(headers) }

        var output: [String: JSONValue] = [:]
        if let schema = operation.response { output["schema"] = try converter.convert(schema) }
        if let listField { output["list"] = .string(listField) }

        let readOnly = operation.method == "GET" || isSearch(operation)
        var action: [String: JSONValue] = [
            "name": .string(name), "title": .string(title),
            "description": .string(Naming.modelDescription(operation.description, summary: title)),
            "group": .string(group),
            "operation": .object([
                "method": .string(operation.method), "path": .string(operation.path),
                "operationId": operation.operationID.map(JSONValue.string) ?? .null,
                "docsURL": .string(Naming.docsURL(version: version, tag: group, operationID: operation.operationID)),
            ]),
            "versions": .array(versions.map(JSONValue.string)),
            "readOnly": .bool(readOnly), "destructive": .bool(operation.method == "DELETE"),
            "idempotent": .bool(readOnly || ["PUT", "DELETE"].contains(operation.method)),
            "input": .object(input),
            "prompts": .object(Dictionary(uniqueKeysWithValues: Set(required).map { ($0, .string("What is the \(Naming.words($0))?")) })),
            "request": .object(request),
            "output": .object(output),
            "message": .string(message(title: title, response: response, listField: listField, converter: converter)),
        ]
        if paged { action["paged"] = .bool(true) }
        return .object(action)
    }

    /// A search sent as POST only reads.
    static func isSearch(_ operation: Operation) -> Bool {
        operation.method == "POST" && (operation.path.hasSuffix("/search") || (operation.operationID?.lowercased().hasPrefix("search") ?? false))
    }

    /// A body's top-level properties (raw schemas, several when alternatives differ), its required ones, and the
    /// alternatives it allows (`oneOf`/`anyOf`), kept whole to check the input against.
    static func bodyParts(_ schema: JSONValue, converter: SchemaConverter) throws -> (properties: [String: [JSONValue]], required: Set<String>, variants: (keyword: String, schemas: [JSONValue])?) {
        var properties: [String: [JSONValue]] = [:]
        func add(_ name: String, _ property: JSONValue) {
            if !(properties[name] ?? []).contains(property) { properties[name, default: []].append(property) }
        }
        let resolved = converter.resolved(schema)
        var required = Set(resolved["required"]?.arrayValue?.compactMap(\.stringValue) ?? [])
        for (name, property) in resolved["properties"]?.objectValue ?? [:] { add(name, property) }
        for part in resolved["allOf"]?.arrayValue ?? [] {
            let inner = try bodyParts(part, converter: converter)
            for (name, schemas) in inner.properties { schemas.forEach { add(name, $0) } }
            required.formUnion(inner.required)
        }
        var variants: (String, [JSONValue])?
        for keyword in ["oneOf", "anyOf"] {
            guard let alternatives = resolved[keyword]?.arrayValue, !alternatives.isEmpty else { continue }
            var common: Set<String>?
            for alternative in alternatives {
                let inner = try bodyParts(alternative, converter: converter)
                for (name, schemas) in inner.properties { schemas.forEach { add(name, $0) } }
                common = common.map { $0.intersection(inner.required) } ?? inner.required
            }
            required.formUnion(common ?? [])
            variants = (keyword, alternatives)
        }
        return (properties, required, variants)
    }

    /// The assistant's sentence: what was done, and the object's type and id, or how many a list holds.
    static func message(title: String, response: JSONValue?, listField: String?, converter: SchemaConverter) -> String {
        let properties = response?["properties"]?.objectValue ?? [:]
        if let listField {
            return properties["total_count"] != nil ? "\(title): {{total_count}} in all." : "\(title): {{#\(listField)}}{{id}} {{/\(listField)}}"
        }
        if properties["id"] != nil {
            return properties["type"] != nil ? "\(title): {{type}} {{id}}." : "\(title): {{id}}."
        }
        return "\(title): done."
    }
}
