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
        /// A generated catalog's schemas, which its actions' schemas name with `{"$ref": "#/$defs/NAME"}`: each
        /// action's schema carries those it reaches as its own `$defs`, so it stands alone (and may be recursive).
        var defs: [String: JSONValue]?
        var actions: [ActionTemplate]
    }

    /// A provider's catalog: its curated actions (written by hand) over the actions generated from its API
    /// description. A curated action names its operation by `operationId` and takes the generated entry's method,
    /// path, reference page, group and versions; with `overlay: replaces` the generated action is not offered.
    /// Curated actions come first, then the generated ones by name.
    public init(curated: Data, generated: Data?) throws {
        let curatedCatalog = try ActionCatalog(file: curated)
        guard let generated else {
            self = curatedCatalog
            return
        }
        let file = try JSONDecoder().decode(File.self, from: generated)
        let defs = file.defs ?? [:]
        var byOperation: [String: ActionTemplate] = [:]
        for var action in file.actions {
            action.input = try Self.standalone(action.input, defs: defs)
            if let schema = action.output.schema { action.output.schema = try Self.standalone(schema, defs: defs) }
            if let id = action.operation?.operationId { byOperation[id] = action }
        }
        var replaced: Set<String> = []
        var actions: [ActionTemplate] = []
        for var action in curatedCatalog.actions {
            if let id = action.operation?.operationId {
                guard let made = byOperation[id] else { throw CatalogError("\(action.name) names the operation \(id), which the generated catalog does not have") }
                action.operation = made.operation
                action.group = action.group ?? made.group
                action.versions = action.versions ?? made.versions
                if action.overlay == .replaces { replaced.insert(id) }
            }
            actions.append(action)
        }
        for var action in file.actions.sorted(by: { $0.name < $1.name }) where !replaced.contains(action.operation?.operationId ?? "") {
            if let id = action.operation?.operationId, let made = byOperation[id] { action = made }
            actions.append(action)
        }
        try self.init(actions: actions)
        self.schemas = curatedCatalog.schemas
    }

    /// A schema with the `$defs` it reaches (through each other too) as its own; unknown names are an error.
    static func standalone(_ schema: JSONValue, defs: [String: JSONValue]) throws -> JSONValue {
        var reached: [String: JSONValue] = [:]
        var pending = Self.definitionsNamed(in: schema)
        while let name = pending.popFirst() {
            guard reached[name] == nil else { continue }
            guard let definition = defs[name] else { throw CatalogError("the schema #/$defs/\(name) is not defined") }
            reached[name] = definition
            pending.formUnion(Self.definitionsNamed(in: definition).subtracting(reached.keys))
        }
        guard !reached.isEmpty, case .object(var members) = schema else { return schema }
        members["$defs"] = .object(reached)
        return .object(members)
    }

    static func definitionsNamed(in value: JSONValue) -> Set<String> {
        switch value {
        case .object(let members):
            var names: Set<String> = []
            if let ref = members["$ref"]?.stringValue, ref.hasPrefix("#/$defs/") { names.insert(String(ref.dropFirst("#/$defs/".count))) }
            for member in members.values { names.formUnion(definitionsNamed(in: member)) }
            return names
        case .array(let items):
            return items.reduce(into: []) { $0.formUnion(definitionsNamed(in: $1)) }
        default:
            return []
        }
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
            actions[index].curated = true
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

    /// The bundled Intercom catalog: `intercom-actions.json` (curated) over `intercom-generated.json`.
    public static let intercom: ActionCatalog = {
        guard let url = Bundle.module.url(forResource: "intercom-actions", withExtension: "json", subdirectory: "Definitions"),
              let data = try? Data(contentsOf: url)
        else { fatalError("the Intercom action catalog is missing from the Providers bundle") }
        let generated = Bundle.module.url(forResource: "intercom-generated", withExtension: "json", subdirectory: "Definitions").flatMap { try? Data(contentsOf: $0) }
        do {
            return try ActionCatalog(curated: data, generated: generated)
        } catch {
            fatalError("the Intercom action catalog is malformed: \(error)")
        }
    }()
}

public struct CatalogError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
