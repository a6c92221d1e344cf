public import Foundation
import Mustache
public import SwitchboardCore

/// A provider's actions, read from its catalog file at start.
public struct ActionCatalog: Sendable {
    public let actions: [ActionTemplate]
    /// The shared output schemas the actions' outputs were built from, by name.
    public private(set) var schemas: [String: JSONValue] = [:]
    private let byName: [String: ActionTemplate]
    private let messages: [String: MustacheTemplate]
    /// The top-level members each message can read; absent when it may read the whole output (`{{.}}`).
    private let messageMembers: [String: Set<String>]

    struct File: Decodable {
        var provider: String
        /// Output schemas shared by several actions; an action's output names one with `{"$ref": "#/schemas/NAME"}`.
        var schemas: [String: JSONValue]?
        var actions: [ActionTemplate]
    }

    /// Reads a catalog file, replacing each `$ref` in output schemas with the schema it names, so the catalog
    /// endpoints show every schema whole.
    public init(file data: Data) throws {
        let file = try JSONDecoder().decode(File.self, from: data)
        let shared = file.schemas ?? [:]
        func resolve(_ value: JSONValue) throws -> JSONValue {
            switch value {
            case .object(let members):
                if let ref = members["$ref"]?.stringValue {
                    let name = ref.hasPrefix("#/schemas/") ? String(ref.dropFirst("#/schemas/".count)) : ref
                    guard let schema = shared[name] else { throw CatalogError("the schema \(ref) is not defined") }
                    return try resolve(schema)
                }
                return .object(try members.mapValues(resolve))
            case .array(let items): return .array(try items.map(resolve))
            default: return value
            }
        }
        var actions = file.actions
        for index in actions.indices {
            if let schema = actions[index].output.schema { actions[index].output.schema = try resolve(schema) }
        }
        try self.init(actions: actions)
        self.schemas = shared
    }

    public init(actions: [ActionTemplate]) throws {
        self.actions = actions
        var byName: [String: ActionTemplate] = [:]
        var messages: [String: MustacheTemplate] = [:]
        var messageMembers: [String: Set<String>] = [:]
        for action in actions {
            guard byName[action.name] == nil else { throw CatalogError("the action \(action.name) is defined twice") }
            byName[action.name] = action
            // Messages are plain text for an assistant to say: no HTML escaping.
            messages[action.name] = try MustacheTemplate(string: "{{% CONTENT_TYPE: TEXT}}" + action.message)
            messageMembers[action.name] = Self.membersRead(by: action.message)
        }
        self.byName = byName
        self.messages = messages
        self.messageMembers = messageMembers
    }

    public func action(named name: String) -> ActionTemplate? { byName[name] }

    /// The assistant's message for an action's output.
    public func message(for name: String, output: JSONValue) -> String {
        guard let template = messages[name] else { return "" }
        return template.render(Self.mustacheValue(output)).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The top-level members of the output that the action's message can read, when that is known:
    /// the executor then reads only those of a large response.
    public func membersReadByMessage(of name: String) -> Set<String>? {
        messageMembers[name]
    }

    /// Every name that a tag of `template` mentions, which over-approximates the members rendering can look up
    /// (a name inside a section may be its item's or the top level's; both are read). Nil when a tag can reach
    /// the whole value (`{{.}}`, `{{#.}}`), changes delimiters or includes a partial.
    static func membersRead(by template: String) -> Set<String>? {
        var names: Set<String> = []
        var rest = template[...]
        while let open = rest.range(of: "{{") {
            guard let close = rest.range(of: "}}", range: open.upperBound..<rest.endIndex) else { return nil }
            let tag = rest[open.upperBound..<close.lowerBound].trimmingCharacters(in: .whitespaces)
            rest = rest[close.upperBound...]
            if tag.hasPrefix("!") { continue }
            if tag.hasPrefix("=") || tag.hasPrefix(">") || tag.hasPrefix("<") || tag.hasPrefix("$") { return nil }
            let name = tag.drop { "#^/&{".contains($0) }.trimmingCharacters(in: .whitespaces)
            if name.isEmpty || name.hasPrefix(".") || name.contains("(.") || name.contains("( .") { return nil }
            for word in name.split(whereSeparator: { !($0.isLetter || $0.isNumber || $0 == "_") }) { names.insert(String(word)) }
        }
        return names
    }

    static func mustacheValue(_ value: JSONValue) -> Any {
        switch value {
        case .null: return ""
        case .bool(let b): return b
        case .number(let n): return n.rounded() == n && abs(n) < 1e15 ? Int(n) : n
        case .string(let s): return s
        case .array(let a): return a.map(mustacheValue)
        // Nulls are left out, so a `{{#field}}` section skips them as it would a missing field.
        case .object(let o): return o.filter { $0.value != .null }.mapValues(mustacheValue)
        }
    }

    /// The bundled Intercom catalog.
    public static let intercom: ActionCatalog = {
        guard let url = Bundle.module.url(forResource: "intercom-actions", withExtension: "json", subdirectory: "Definitions"),
              let data = try? Data(contentsOf: url)
        else { fatalError("the Intercom action catalog is missing from the Providers bundle") }
        do {
            return try ActionCatalog(file: data)
        } catch {
            fatalError("the Intercom action catalog is malformed: \(error)")
        }
    }()
}

public struct CatalogError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
