public import Foundation

/// Intercom's official OpenAPI descriptions (MIT, `Descriptions/LICENSE.md`), one per API version the sandbox speaks:
/// the sandbox answers as they say, and tests check its answers (and what Switchboard sends) against them.
public enum IntercomDescription {
    /// The versions whose description is bundled, oldest first.
    public static let versions = ["2.14", "2.16"]

    /// The YAML text of a version's description, or nil for a version not bundled.
    public static func url(version: String) -> URL? {
        guard versions.contains(version) else { return nil }
        return Bundle.module.url(forResource: "intercom-openapi-\(version)", withExtension: "yaml", subdirectory: "Descriptions")
    }
}

/// What the sandbox answers how.
public enum SandboxRoutes {
    /// The operations its hand-written routes answer, as `METHOD /path/{}/shape` (parameters unnamed); every other
    /// operation of its descriptions is answered from the description.
    public static var handWritten: Set<String> { RestAPI.handWritten }

    /// `METHOD /a/{}/b` for a method and a path template.
    public static func shape(method: String, template: String) -> String {
        "\(method.uppercased()) /" + template.split(separator: "/").map { $0.hasPrefix("{") ? "{}" : String($0) }.joined(separator: "/")
    }
}

/// A valid request for an operation, from Intercom's description: its examples, else values made from its schemas.
public struct ExampleRequest: Sendable {
    /// Path parameters by name: each one's example, else the example answer's `id`.
    public var path: [String: String]
    /// Required query parameters by name.
    public var query: [String: String]
    /// The body's JSON text, when the operation takes one.
    public var body: Data?

    /// For `method template` of `version`'s description; nil when the description has no such operation.
    public init?(version: String, method: String, template: String) {
        guard let api = DescribedAPI.bundled[version],
              let operation = api.operations.first(where: { $0.method == method.uppercased() && $0.template == template }) else { return nil }
        let parameters = (operation.raw["parameters"]?.array ?? []).compactMap { api.resolve($0) }
        var path: [String: String] = [:]
        for segment in operation.segments where segment.hasPrefix("{") {
            let name = String(segment.dropFirst().dropLast())
            let declared = parameters.first { $0["name"]?.string == name }
            if let example = declared?["example"] ?? declared?["schema"]?["example"] {
                path[name] = DescribedStore.text(example)
            } else if let id = api.success(of: operation).example?["id"] {
                path[name] = DescribedStore.text(id)
            } else {
                path[name] = "1"
            }
        }
        var query: [String: String] = [:]
        for parameter in parameters where parameter["in"]?.string == "query" && parameter["required"]?.bool == true {
            let value = parameter["example"] ?? parameter["schema"].map { api.made(from: $0, depth: 0) } ?? .string("1")
            query[parameter["name"]?.string ?? ""] = DescribedStore.text(value)
        }
        var body: Data?
        if let media = api.resolve(operation.raw["requestBody"])?["content"]?["application/json"] {
            let example = media["example"] ?? media["examples"]?.object.flatMap { examples in
                examples.keys.sorted().first.flatMap { api.resolve(examples[$0])?["value"] }
            } ?? media["schema"].map { api.made(from: $0, depth: 0) }
            // Some of Intercom's request examples break their own schema (an id as a number where text is wanted).
            body = example.map { example in (media["schema"].map { api.conformed(example, to: $0, depth: 0) } ?? example).encoded() }
        }
        self.path = path
        self.query = query
        self.body = body
    }

    /// Whether the operation acts on one stored item of a collection (made first for a valid request).
    public static func isItem(version: String, method: String, template: String) -> Bool {
        guard let api = DescribedAPI.bundled[version],
              let operation = api.operations.first(where: { $0.method == method.uppercased() && $0.template == template }) else { return false }
        return DescribedStore.isItem(operation, in: api)
    }
}
