import Foundation
import Providers
import SwitchboardCore

/// The providers as this deployment runs them: each definition with the operator's overrides (API bases, the system
/// app), and one provider client per provider, shared by every run so that pacing sees all of this instance's calls.
struct ProviderDirectory: Sendable {
    let registry: ProviderRegistry
    let settings: ServerSettings
    private let clients: [Provider: ProviderClient]
    let transport: any HTTPTransport

    init(registry: ProviderRegistry, settings: ServerSettings, transport: any HTTPTransport, clock: any WallClock) {
        self.registry = registry
        self.settings = settings
        self.transport = transport
        var clients: [Provider: ProviderClient] = [:]
        for entry in registry.entries {
            clients[entry.provider] = ProviderClient(definition: entry.definition, catalog: entry.catalog, transport: transport, clock: clock)
        }
        self.clients = clients
    }

    /// The provider an integration uses, or a problem when this deployment no longer knows it.
    func entry(for integration: Integration) throws -> ProviderRegistry.Entry {
        guard let entry = registry[integration.provider] else {
            throw Problem.conflict("provider_unknown", "The integration's provider '\(Problem.clip(integration.provider.rawValue, to: 64))' is not defined in this deployment.")
        }
        return entry
    }

    func client(for integration: Integration) throws -> ProviderClient {
        guard let client = clients[try entry(for: integration).provider] else { throw Problem.internalError() }
        return client
    }

    func definition(for integration: Integration) throws -> ProviderDefinition { try entry(for: integration).definition }

    /// The API base an integration calls: see `ServerSettings.apiBase(for:definition:accountRegion:)`.
    func apiBase(for integration: Integration, accountRegion: String? = nil) throws -> URL {
        settings.apiBase(for: integration, definition: try definition(for: integration), accountRegion: accountRegion)
    }

    func identifier(for integration: Integration) throws -> AccountIdentifier {
        AccountIdentifier(definition: try definition(for: integration), transport: transport)
    }

    /// The provider's title for messages ("Intercom"), or a neutral word when it is unknown.
    func title(of integration: Integration) -> String { registry[integration.provider]?.definition.title ?? "The provider" }
}
