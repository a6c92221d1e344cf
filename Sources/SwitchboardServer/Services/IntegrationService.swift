import Foundation
import Providers
import SwitchboardCore
import SwitchboardStore

/// What an admin does to integrations — create, change, authorize, enable, disconnect a user, renew the signing
/// secret, delete — with its checks and audit entries. The admin API and the console are adapters over it.
struct IntegrationService: Sendable {
    let store: Store
    let settings: ServerSettings
    let authorization: AuthorizationService
    let tokens: TokenService
    let providers: ProviderDirectory
    let clock: any WallClock
    let audit: AuditLog

    /// Creates an integration from checked input; the API and the console both come here.
    /// Returns the integration and its new events signing secret (stored sealed; shown once by the API).
    func createIntegration(_ input: InputReader, by principal: Principal) async throws -> (record: IntegrationRecord, signingSecret: String) {
        let workspace = principal.workspace
        let name = input.string("name", required: true)
        let registry = providers.registry
        let provider = input.oneOf("provider", allowed: registry.providers.map(\.rawValue)).map { Provider($0) } ?? (input.hasValue("provider") ? nil : registry.defaultProvider)
        let app = input.oneOf("app", AppKind.self, required: true)
        let profileID = input.string("authProfileId", maxLength: 64)
        let mode = input.oneOf("authorization", AuthorizationMode.self, required: true)
        let region = input.oneOf("region", allowed: (provider.flatMap { registry[$0] }?.definition.api.baseURLs.keys).map { $0.sorted() } ?? [])
        let notifyURL = input.url("notifyURL")
        checkNotifyURL(notifyURL, input)
        let apiVersion = input.oneOf("apiVersion", allowed: (provider.flatMap { registry[$0] }?.definition.apiVersions?.allowed) ?? [])
        let verifyURL = input.url("verifyURL")
        if verifyURL != nil && mode == .preauthorized { input.fail("verifyURL", "applies to per_user integrations only") }
        let tools = input.has("tools") ? input.stringArray("tools", maxCount: 500, maxLength: 200) : nil
        if app == .custom && profileID == nil && !input.errors.contains(where: { $0.field == "authProfileId" }) {
            input.fail("authProfileId", "is required when app is 'custom'")
        }
        if app == .system && profileID != nil { input.fail("authProfileId", "must not be set when app is 'system'") }
        try input.finish()
        guard let name, let provider, let app, let mode else { throw Problem.validation(input.errors) }
        if let tools, let entry = providers.registry[provider] {
            Self.checkTools(tools, catalog: entry.catalog, input: input)
            try input.finish()
        }
        if app == .custom, let profileID, try await store.profiles.authProfile(id: profileID, workspaceID: workspace.id) == nil {
            // The body is well formed; what it names does not exist (as GET /v1/auth-profiles/{id} would say).
            var missing = Problem.notFound("authorization profile", id: profileID)
            missing.field = "authProfileId"
            throw missing
        }
        if app == .system, settings.systemApp == nil {
            throw Problem(status: 422, code: "system_app_not_configured", title: "System app not configured",
                          detail: "This deployment has no system \(registry[registry.defaultProvider]?.definition.title ?? "") app; choose app 'custom' with an authorization profile.", field: "app")
        }
        if app == .system, provider != registry.defaultProvider {
            throw Problem.validation([.init(field: "app", detail: "the system app is this deployment's \(registry[registry.defaultProvider]?.definition.title ?? "") app; use 'custom' with an authorization profile for \(provider.rawValue)")])
        }
        let now = clock.now()
        let integration = Integration(
            id: Identifier.make("int"), workspaceID: workspace.id, name: name, provider: provider, app: app,
            authProfileID: app == .custom ? profileID : nil, authorization: mode, region: region, notifyURL: notifyURL,
            enablement: .never, createdAt: now, updatedAt: now, verifyURL: verifyURL, toolAllowList: tools, apiVersion: apiVersion
        )
        try await store.integrations.insert(integration)
        let secret = EventSignature.generateSecret()
        try await store.integrations.setSigningSecret(secret, integrationID: integration.id, workspaceID: workspace.id)
        await audit.record(principal, "integration.created", "integration", integration.id,
                           ["app": .string(app.rawValue), "authorization": .string(mode.rawValue)])
        return (IntegrationRecord(integration: integration, sharedConnectionStatus: nil), secret)
    }

    /// Events are POSTed to the notify URL: without `allowPrivateNetwork` it must be a public https URL.
    private func checkNotifyURL(_ url: String?, _ input: InputReader) {
        if let url, let why = AddressPolicy.savedURLProblem(url, allowPrivateNetwork: settings.allowPrivateNetwork) { input.fail("notifyURL", why) }
    }

    /// Deletes an integration, first revoking each of its grants at the provider (best effort: a grant the provider does
    /// not confirm is still deleted here, and the audit entry says how many were confirmed).
    func deleteIntegration(id: String, by principal: Principal) async throws {
        let record = try await load(id: id, workspace: principal.workspace)
        let (revoked, unconfirmed) = try await authorization.revokeAll(integration: record.integration)
        guard try await store.integrations.deleteIntegration(id: id, workspaceID: principal.workspace.id) else { throw Problem.notFound("integration", id: id) }
        await audit.record(principal, "integration.deleted", "integration", id,
                           ["grantsRevoked": .number(Double(revoked)), "grantsNotConfirmed": .number(Double(unconfirmed))])
    }

    /// What deleting an integration takes with it: its connections (their tokens revoked at the provider and erased),
    /// its agent tokens that still work, and the calls kept for end users who have not connected yet.
    struct DeletionImpact: Sendable, Equatable {
        var connections: Int
        var agentTokens: Int
        var keptCalls: Int
    }

    func deletionImpact(id: String, by principal: Principal) async throws -> DeletionImpact {
        let workspaceID = principal.workspace.id
        _ = try await load(id: id, workspace: principal.workspace)
        let now = clock.now()
        return DeletionImpact(
            connections: try await store.connections.connectionCount(integrationID: id, workspaceID: workspaceID),
            agentTokens: try await store.agentTokens.agentTokens(integrationID: id, workspaceID: workspaceID).filter { $0.works(at: now) }.count,
            keptCalls: try await store.authorizations.keptCallCount(integrationID: id, workspaceID: workspaceID, now: now))
    }

    /// The provider API version an integration speaks: its own choice, else its provider's default (nil when the
    /// provider names no versions).
    func apiVersion(of integration: Integration) -> String? {
        integration.apiVersion ?? providers.registry[integration.provider]?.definition.apiVersions?.default
    }

    /// Name, region and notify URL can change; which app and mode an integration uses cannot, since its credentials come from them.
    func update(id: String, with input: InputReader, by principal: Principal) async throws -> IntegrationRecord {
        var record = try await load(id: id, workspace: principal.workspace)
        if let name = input.string("name") { record.integration.name = name }
        if input.has("region") {
            let regions = providers.registry[record.integration.provider]?.definition.api.baseURLs.keys.sorted() ?? []
            record.integration.region = input.oneOf("region", allowed: regions)
        }
        if input.has("apiVersion") {
            let versions = providers.registry[record.integration.provider]?.definition.apiVersions?.allowed ?? []
            record.integration.apiVersion = input.oneOf("apiVersion", allowed: versions)
        }
        if input.has("notifyURL") {
            record.integration.notifyURL = input.url("notifyURL")
            checkNotifyURL(record.integration.notifyURL, input)
        }
        if input.has("verifyURL") {
            record.integration.verifyURL = input.url("verifyURL")
        }
        if input.has("tools") {
            let tools = input.stringArray("tools", maxCount: 500, maxLength: 200)
            if let tools { checkTools(tools, for: record.integration, input: input) }
            record.integration.toolAllowList = tools
        }
        for field in ["provider", "app", "authProfileId", "authorization"] where input.has(field) {
            _ = input.string(field, allowEmpty: true)
            input.fail(field, "cannot be changed after creation; create a new integration instead")
        }
        try input.finish()
        if input.hasValue("verifyURL"), record.integration.authorization == .preauthorized {
            // Well formed, but this integration has no end users to verify: a conflict with what it is.
            throw Self.perUserOnly("verifyURL", "a pre-authorized integration has no end users whose sign-in a verifyURL could confirm")
        }
        record.integration.updatedAt = clock.now()
        guard try await store.integrations.update(record.integration) else { throw Problem.notFound("integration", id: record.integration.id) }
        await audit.record(principal, "integration.updated", "integration", record.integration.id,
                           ["fields": .strings(["name", "region", "apiVersion", "notifyURL", "verifyURL", "tools"].filter(input.has))])
        return record
    }

    func startAuthorization(id: String, by principal: Principal, binding: AuthorizationService.Binding) async throws -> AuthorizationService.Started {
        let record = try await load(id: id, workspace: principal.workspace)
        guard record.integration.authorization == .preauthorized else {
            throw Problem.conflict("per_user_integration",
                                   "This integration is per-user: each end user authorizes through a connect link. Admins authorize only pre-authorized integrations.",
                                   field: "authorization")
        }
        return try await authorization.start(integration: record.integration, endUserID: Connection.sharedUser, binding: binding, startedBy: principal.keyID)
    }

    /// Enabling a pre-authorized integration first proves its connection works now.
    func setEnabled(_ enabled: Bool, id: String, by principal: Principal) async throws -> IntegrationRecord {
        let workspace = principal.workspace
        var record = try await load(id: id, workspace: workspace)
        if enabled {
            let app = try await authorization.oauthApp(for: record.integration)
            if record.integration.authorization == .preauthorized {
                try await verifySharedConnection(record.integration, app: app)
                record = try await load(id: id, workspace: workspace)
            }
        }
        record.integration.enablement = enabled ? .enabled : .disabled
        record.integration.updatedAt = clock.now()
        try await store.integrations.update(record.integration)
        await audit.record(principal, enabled ? "integration.enabled" : "integration.disabled", "integration", id)
        return record
    }

    /// An admin disconnects one end user (API and console): nil when the user has no connection, else whether the
    /// provider confirmed the revocation.
    func disconnect(_ integration: Integration, endUserID: String, by principal: Principal) async throws -> Bool? {
        guard let revoked = try await authorization.disconnect(integration: integration, endUserID: endUserID, by: .admin) else { return nil }
        await audit.record(principal, "connection.disconnected", "integration", integration.id,
                           ["revokedAtProvider": .bool(revoked)])
        return revoked
    }

    /// A new signing secret (shown once by the caller); nil-free: throws not found for an unknown integration.
    func rotateSigningSecret(id: String, by principal: Principal) async throws -> String {
        let secret = EventSignature.generateSecret()
        guard try await store.integrations.setSigningSecret(secret, integrationID: id, workspaceID: principal.workspace.id) else {
            throw Problem.notFound("integration", id: id)
        }
        await audit.record(principal, "signing_secret.rotated", "integration", id)
        return secret
    }

    /// Checks the shared connection against the provider (`/me`), refreshing its token first if due.
    func verifySharedConnection(_ integration: Integration, app: OAuthApp) async throws {
        guard let connection = try await store.connections.connection(integrationID: integration.id, endUserID: Connection.sharedUser),
              connection.status != .revoked
        else {
            throw Problem.conflict("authorization_required",
                                   "Authorize the integration first: POST /v1/integrations/\(integration.id)/authorize, then complete the provider's login.")
        }
        let title = providers.title(of: integration)
        var token = try await tokens.accessTokenOrProblem(for: connection, app: app, providerTitle: title)
        let base = try providers.apiBase(for: integration, accountRegion: connection.account.region)
        let identifier = try providers.identifier(for: integration)
        func identify() async -> Result<ProviderAccount, AccountIdentifier.Failure> {
            do { return .success(try await identifier.identify(accessToken: token, apiBase: base)) } catch { return .failure(error) }
        }
        var outcome = await identify()
        if case .failure(.unauthorized) = outcome {
            // Refused: perhaps replaced meanwhile by another instance's refresh; tried once more with the current token.
            let fresh: String?
            do {
                fresh = try await tokens.retryToken(after: token, connectionID: connection.id, app: app)
            } catch .needsReauthorization(let why) {
                throw Problem.conflict("reauthorization_required", "\(title) refused the stored authorization (\(why)). Authorize the integration again.")
            } catch .unavailable(let why) {
                throw Problem(status: 503, code: "provider_unavailable", title: "Provider unavailable",
                              detail: "\(title) could not confirm the connection (\(why)). Try again shortly.")
            } catch .databaseUnavailable {
                throw Problem.databaseUnavailable
            }
            if let fresh {
                token = fresh
                outcome = await identify()
            }
        }
        switch outcome {
        case .success:
            return
        case .failure(.unauthorized(let code, let message)):
            guard try await tokens.markRefused(token, connectionID: connection.id, reason: "\(title) refused the token (\(code): \(message))") else {
                throw Problem(status: 503, code: "provider_unavailable", title: "Provider unavailable",
                              detail: "\(title) refused a token that was replaced meanwhile; try again.")
            }
            throw Problem.conflict("reauthorization_required", "\(title) refused the stored authorization (\(code)). Authorize the integration again.")
        case .failure(.refused(let why)):
            throw Problem.conflict("account_refused", "The connected account cannot be used: \(why).")
        case .failure(.unavailable(let why)):
            throw Problem(status: 503, code: "provider_unavailable", title: "Provider unavailable",
                          detail: "\(title) could not confirm the connection (\(why)). Try again shortly.")
        }
    }

    /// Tools are named by their actions (`intercom.create_ticket`): each must be in the integration's catalog.
    func checkTools(_ tools: [String], for integration: Integration, input: InputReader) {
        guard let entry = providers.registry[integration.provider] else { return }
        Self.checkTools(tools, catalog: entry.catalog, input: input)
    }

    /// Each entry names an action of the catalog, or a group of it as `group:NAME`.
    static func checkTools(_ tools: [String], catalog: ActionCatalog, input: InputReader) {
        for (index, entry) in tools.enumerated() {
            if let group = ToolAllowList.group(in: entry) {
                if !catalog.actions.contains(where: { $0.group?.caseInsensitiveCompare(group) == .orderedSame }) {
                    input.fail("tools[\(index)]", "no group is named '\(Problem.clip(group, to: 64))'; each action's group is in GET /v1/actions")
                }
            } else if catalog.action(named: entry) == nil {
                input.fail("tools[\(index)]", "no action is named '\(Problem.clip(entry, to: 64))'; GET /v1/actions lists them")
            }
        }
    }

    /// Tools that exist but are outside the integration's allow-list (a group: any of its actions outside it): the
    /// request conflicts with the integration.
    static func toolsOutsideAllowList(_ tools: [String], allowed: [String]?, catalog: ActionCatalog) -> Problem? {
        guard let allowed else { return nil }
        let outside = tools.enumerated().first { _, entry in
            let actions = ToolAllowList.group(in: entry).map { group in catalog.actions.filter { $0.group?.caseInsensitiveCompare(group) == .orderedSame } }
                ?? catalog.action(named: entry).map { [$0] } ?? []
            return actions.contains { !ToolAllowList.allows(allowed, $0) }
        }
        guard let (index, entry) = outside else { return nil }
        return Problem.conflict("tool_not_allowed", "'\(Problem.clip(entry, to: 64))' is not within the integration's tool allow-list (\(Problem.clip(allowed.joined(separator: ", "), to: 300))); widen the allow-list first.",
                                field: "tools[\(index)]")
    }

    /// 409 `preauthorized_integration`: a field that applies to per-user integrations, sent for a pre-authorized one.
    static func perUserOnly(_ field: String, _ why: String) -> Problem {
        Problem.conflict("preauthorized_integration", "\(field) applies to per_user integrations only: \(why).", field: field)
    }

    func load(id: String, workspace: Workspace) async throws -> IntegrationRecord {
        guard let record = try await store.integrations.integration(id: id, workspaceID: workspace.id) else {
            throw Problem.notFound("integration", id: id)
        }
        return record
    }
}
