import Foundation
import MCP
import Providers
import SwitchboardCore

/// The catalog's actions as MCP tools: names every major client accepts (`intercom_create_ticket`), the action's title,
/// description and schemas, and annotations from its flags. An agent sees only what the integration's allow-list and
/// its token's own list both allow.
enum MCPTools {
    /// `intercom.create_ticket` → `intercom_create_ticket` (`^[a-zA-Z0-9_-]{1,64}$`).
    static func name(of action: ActionTemplate) -> String {
        String(action.name.map { $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" ? $0 : "_" }.prefix(64))
    }

    /// The actions a token may use in an integration, by tool name.
    static func allowed(for integration: Integration, token: AgentToken, catalog: ActionCatalog,
                        names: [String: String] = [:]) -> [(name: String, action: ActionTemplate)] {
        catalog.actions.filter { action in
            ToolAllowList.allows(integration.toolAllowList, action) && ToolAllowList.allows(token.tools, action)
        }.map { (names[$0.name] ?? name(of: $0), $0) }
    }

    static func tool(_ name: String, _ action: ActionTemplate) -> Tool {
        Tool(name: name, title: action.title, description: action.description, inputSchema: value(action.input),
             annotations: .init(title: action.title, readOnlyHint: action.readOnly, destructiveHint: action.readOnly ? false : action.destructive,
                                idempotentHint: action.idempotent, openWorldHint: true),
             outputSchema: outputSchema(action))
    }

    /// MCP wants an object schema for `structuredContent`: an object output is used as it is, anything else (a list, the
    /// generic call's answer) is wrapped as `{"result": …}`. Generated actions declare none: their answers' schemas
    /// (Intercom's objects, with every definition they reach) would make the tool list megabytes long; their
    /// `structuredContent` is still the answer, and `GET /v1/actions/{name}` gives the schema.
    static func outputSchema(_ action: ActionTemplate) -> Value? {
        guard action.curated else { return nil }
        let schema = action.output.schema ?? .object([:])
        if wrapsResult(action) {
            return value(.object(["type": .string("object"), "properties": .object(["result": schema]), "required": .array([.string("result")])]))
        }
        return value(schema)
    }

    /// Whether the output is not an object (looking through a top-level `$ref` to the schema's own `$defs`).
    static func wrapsResult(_ action: ActionTemplate) -> Bool {
        guard var schema = action.output.schema else { return true }
        if let ref = schema["$ref"]?.stringValue, ref.hasPrefix("#/$defs/"), let target = schema["$defs"]?[String(ref.dropFirst("#/$defs/".count))] {
            schema = target
        }
        switch schema["type"] {
        case .string("object")?: return false
        case .array(let types)? where types == [.string("object")]: return false
        default: return true
        }
    }

    /// JSON as MCP's value type.
    static func value(_ json: JSONValue) -> Value {
        switch json {
        case .null: return .null
        case .bool(let bool): return .bool(bool)
        case .number(let number): return number.rounded() == number && abs(number) < 1e15 ? .int(Int(number)) : .double(number)
        case .string(let string): return .string(string)
        case .array(let items): return .array(items.map(value))
        case .object(let members): return .object(members.mapValues(value))
        }
    }

    /// MCP's value type as JSON (binary data as its base64 text).
    static func json(_ value: Value) -> JSONValue {
        switch value {
        case .null: return .null
        case .bool(let bool): return .bool(bool)
        case .int(let int): return .number(Double(int))
        case .double(let double): return .number(double)
        case .string(let string): return .string(string)
        case .data(_, let data): return .string(data.base64EncodedString())
        case .array(let items): return .array(items.map(json))
        case .object(let members): return .object(members.mapValues(json))
        }
    }

    /// What a user who must connect is told in a URL elicitation (the client shows it beside the link).
    static func connectMessage(_ problem: Problem, title: String) -> String {
        problem.extra?["reason"]?.stringValue == "reauthorize"
            ? "\(title) refused your stored authorization. Open the link to connect your \(title) account again; the agent goes on once you have."
            : "Open the link to connect your \(title) account; the agent goes on once you have."
    }

    /// A problem as a tool error the model can act on: its detail, each field's problem, and for a missing input the
    /// question the catalog asks the user.
    static func toolError(_ problem: Problem, action: ActionTemplate?, title: String) -> CallTool.Result {
        var lines: [String] = []
        var meta: [String: Value] = ["code": .string(problem.code)]
        if problem.code == "authorization_required", let url = problem.extra?["authorizationURL"]?.stringValue {
            let reason = problem.extra?["reason"]?.stringValue ?? "connect"
            lines.append(reason == "reauthorize"
                ? "\(title) refused the user's stored authorization. Ask the user to open this link to connect their \(title) account again: \(url) Then call the tool again."
                : "Ask the user to open this link to connect their \(title) account: \(url) Then call the tool again.")
            meta["authorizationURL"] = .string(url)
            meta["reason"] = .string(reason)
            if let expires = problem.extra?["expiresAt"] { meta["expiresAt"] = value(expires) }
        } else {
            lines.append(problem.detail)
            for error in problem.errors ?? [] {
                let input = error.field.hasPrefix("input.") ? String(error.field.dropFirst("input.".count)) : error.field
                if error.detail == "is required", let prompt = action?.prompts[input] {
                    lines.append("\(input) is missing: ask the user '\(prompt)'")
                } else {
                    lines.append("\(input): \(error.detail)")
                }
            }
            if let retryAfter = problem.extra?["retryAfter"] { meta["retryAfter"] = value(retryAfter) }
        }
        return CallTool.Result(content: [.text(text: lines.joined(separator: "\n"), annotations: nil, _meta: nil)], isError: true,
                               _meta: Metadata(additionalFields: meta))
    }
}
