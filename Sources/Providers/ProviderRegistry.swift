public import Foundation
public import SwitchboardCore

/// The providers this deployment knows: each one's definition and action catalog, by name. The bundled ones are read
/// from `Definitions/`; tests (and, later, operators) add others as data.
public struct ProviderRegistry: Sendable {
    public struct Entry: Sendable {
        public let definition: ProviderDefinition
        public let catalog: ActionCatalog

        public init(definition: ProviderDefinition, catalog: ActionCatalog) {
            self.definition = definition
            self.catalog = catalog
        }

        /// A provider from its two files: the definition and the action catalog.
        public init(definition: Data, catalog: Data) throws {
            self.init(definition: try ProviderDefinition(file: definition), catalog: try ActionCatalog(file: catalog))
        }

        public var provider: Provider { Provider(definition.name) }
    }

    public let entries: [Entry]
    private let byName: [String: Entry]
    /// The provider an integration uses when it names none: the first entry.
    public var defaultProvider: Provider { entries[0].provider }

    public init(_ entries: [Entry]) {
        precondition(!entries.isEmpty, "a registry needs at least one provider")
        self.entries = entries
        var byName: [String: Entry] = [:]
        for entry in entries { byName[entry.definition.name] = entry }
        self.byName = byName
    }

    /// What ships with Switchboard.
    public static let bundled = ProviderRegistry([Entry(definition: .intercom, catalog: .intercom)])

    public subscript(provider: Provider) -> Entry? { byName[provider.rawValue] }

    public var providers: [Provider] { entries.map(\.provider) }

    /// Every action of every provider (names are prefixed with the provider's, so they never collide).
    public var actions: [ActionTemplate] { entries.flatMap(\.catalog.actions) }

    /// The action named `name`, with the provider whose catalog holds it.
    public func action(named name: String) -> (entry: Entry, action: ActionTemplate)? {
        for entry in entries { if let action = entry.catalog.action(named: name) { return (entry, action) } }
        return nil
    }

    /// How a profile's token endpoint wants its requests when the profile does not say: the style of the provider
    /// whose token URL has the same path (a sandbox or proxy keeps the path), else RFC 6749.
    public func exchangeStyle(forTokenURL url: String) -> TokenExchangeStyle {
        guard let path = URLComponents(string: url)?.path, !path.isEmpty, path != "/" else { return .standard }
        for entry in entries where URLComponents(string: entry.definition.oauth.tokenURL)?.path == path {
            return entry.definition.oauth.exchangeStyle
        }
        return .standard
    }
}

extension Provider {
    /// The bundled Intercom definition's name.
    public static let intercom = Provider(ProviderDefinition.intercom.name)
}
