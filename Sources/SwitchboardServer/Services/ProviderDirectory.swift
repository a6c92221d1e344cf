import Foundation
import Providers
import SwitchboardCore

/// The providers as this deployment runs them: each definition with the operator's overrides (API bases, the system
/// app), and one provider client per provider, shared by every run so that pacing sees all of this instance's calls.
struct ProviderDirectory: Sendable {
    let registry: ProviderRegistry
    let settings: ServerSettings
    private let clients: [Provider: ProviderClient]
    /// Each provider's API bases by region, the operator's overrides over the definition's, parsed once.
    private let bases: [Provider: [String: URL]]
    let transport: any HTTPTransport

    private let observed: [Provider: ObservedTransport]

    init(registry: ProviderRegistry, settings: ServerSettings, transport: any HTTPTransport, clock: any WallClock, metrics: DomainMetrics) {
        self.registry = registry
        self.settings = settings
        self.transport = transport
        var clients: [Provider: ProviderClient] = [:]
        var observed: [Provider: ObservedTransport] = [:]
        for entry in registry.entries {
            // Every exchange with the provider's API (actions and identity) is counted by status class and timed.
            let counted = ObservedTransport(base: transport, metrics: metrics, provider: entry.provider.rawValue)
            observed[entry.provider] = counted
            let provider = entry.provider.rawValue
            clients[entry.provider] = ProviderClient(definition: entry.definition, catalog: entry.catalog, transport: counted, clock: clock) { reason, seconds in
                metrics.rateLimitWait(provider: provider, reason: reason.rawValue, seconds: seconds)
            }
        }
        self.observed = observed
        self.clients = clients
        var bases: [Provider: [String: URL]] = [:]
        for entry in registry.entries {
            var regions: [String: URL] = [:]
            for region in entry.definition.api.baseURLs.keys {
                regions[region] = settings.apiBase(for: entry.definition, region: region)
            }
            bases[entry.provider] = regions
        }
        self.bases = bases
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

    /// The API base an integration calls: its own region if set, else the connected account's (as the identity answer
    /// names it), else the definition's default; the operator's override for that region if there is one.
    func apiBase(for integration: Integration, accountRegion: String? = nil) throws -> URL {
        let definition = try definition(for: integration)
        let region = integration.region ?? accountRegion.flatMap(definition.region(named:)) ?? definition.api.defaultRegion
        if let base = bases[integration.provider]?[region] ?? bases[integration.provider]?[definition.api.defaultRegion] { return base }
        return settings.apiBase(for: definition, region: region)
    }

    func identifier(for integration: Integration) throws -> AccountIdentifier {
        let entry = try entry(for: integration)
        return AccountIdentifier(definition: entry.definition, transport: observed[entry.provider] ?? transport, apiVersion: integration.apiVersion)
    }

    /// The provider's title for messages ("Intercom"), or a neutral word when it is unknown.
    func title(of integration: Integration) -> String { registry[integration.provider]?.definition.title ?? "The provider" }
}
