import Foundation
import HTTPTypes
import HummingbirdTesting
import IntercomSandbox
import Providers
import SwitchboardCore
import SwitchboardTestSupport
import Testing

@Suite("Generated actions")
struct GeneratedActionsTests {
    /// An example's text as the input's schema types it.
    static func typed(_ text: String, _ schema: JSONValue?) -> JSONValue {
        let types = schema?["type"].flatMap { $0.stringValue.map { [$0] } ?? $0.arrayValue?.compactMap(\.stringValue) } ?? []
        if types.contains("integer") || types.contains("number"), let number = Double(text) { return .number(number) }
        if types.contains("boolean"), text == "true" || text == "false" { return .bool(text == "true") }
        return .string(text)
    }

    /// An action's input from its operation's example request.
    static func input(for action: ActionTemplate) -> [String: JSONValue]? {
        guard let operation = action.operation, let method = operation.method, let path = operation.path,
              let example = ExampleRequest(version: "2.16", method: method, template: path) else { return nil }
        let properties = action.input["properties"]?.objectValue ?? [:]
        var input: [String: JSONValue] = [:]
        for (name, value) in example.path.merging(example.query, uniquingKeysWith: { first, _ in first }) where properties[name] != nil {
            input[name] = typed(value, properties[name])
        }
        if let body = example.body, case .object(let members)? = JSONValue.parse(body) {
            for (name, value) in members where properties[name] != nil { input[name] = value }
        }
        return input
    }

    @Test("every generated action whose operation the sandbox answers from the description runs once through the action service with input from the description's examples, and its result validates against its output schema")
    func walk() async throws {
        let catalog = ActionCatalog.intercom
        let actions = catalog.actions.filter { action in
            guard !action.curated, let method = action.operation?.method, let path = action.operation?.path else { return false }
            return !SandboxRoutes.handWritten.contains(SandboxRoutes.shape(method: method, template: path))
        }
        // Deletions last: what they remove may be another action's example.
        let ordered = actions.filter { $0.request.method != "DELETE" } + actions.filter { $0.request.method == "DELETE" }
        try await Harness.with { harness, client in
            let id = try await harness.enabledIntegration(client)
            func run(_ action: ActionTemplate, _ input: [String: JSONValue]) async throws -> TestResponse {
                let body = String(decoding: JSONValue.object(["input": .object(input)]).jsonData(), as: UTF8.self)
                return try await client.call(.post, "/v1/integrations/\(id)/actions/\(action.name)", harness, json: body)
            }
            var problems: [String] = []
            for action in ordered {
                guard var input = Self.input(for: action), let operation = action.operation, let method = operation.method, let path = operation.path else {
                    problems.append("\(action.name): no example request")
                    continue
                }
                // An item of a collection one can add to is made first, through the generated action that adds to it.
                let parent = String(path[..<(path.range(of: "/", options: .backwards)?.lowerBound ?? path.endIndex)])
                if ExampleRequest.isItem(version: "2.16", method: method, template: path),
                   let create = catalog.actions.first(where: { !$0.curated && $0.operation?.method == "POST" && $0.operation?.path == parent }),
                   let createInput = Self.input(for: create) {
                    let created = try await run(create, createInput)
                    // The item lives under the collection it was made in: the same path parameters.
                    for (name, value) in createInput where path.contains("{\(name)}") { input[name] = value }
                    let key = String(path.split(separator: "/").last!.dropFirst().dropLast())
                    let result = (try? object(created))?["result"] as? [String: Any]
                    if let made = result?[key] ?? result?["id"] { input[key] = Self.typed("\(made)", action.input["properties"]?[key]) }
                }
                let response = try await run(action, input)
                guard response.status == .ok else {
                    problems.append("\(action.name) → \(response.status.code): \(text(response).prefix(300))")
                    continue
                }
                let body = try JSONValue.parse(Data(text(response).utf8)).unwrap(or: "\(action.name): the answer is not JSON")
                let result = body["result"] ?? .null
                if let schema = action.output.schema {
                    let violations = InputSchema.violations(of: result, against: schema, at: "result")
                    if !violations.isEmpty { problems.append("\(action.name): the result breaks its output schema: \(violations.prefix(3).map { "\($0.field) \($0.detail)" })") }
                }
                if (body["message"]?.stringValue ?? "").isEmpty { problems.append("\(action.name): no message") }
            }
            #expect(problems.isEmpty, "\(problems.count) of \(ordered.count) generated actions:\n\(problems.prefix(40).joined(separator: "\n"))")
            #expect(ordered.count >= 150, "most generated actions' operations are answered from the description (\(ordered.count))")
        }
    }
}

extension Optional {
    func unwrap(or message: String) throws -> Wrapped {
        guard let self else { throw UnwrapError(message: message) }
        return self
    }
}

struct UnwrapError: Error { let message: String }
