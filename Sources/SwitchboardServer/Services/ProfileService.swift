import Foundation
import Providers
import SwitchboardCore
import SwitchboardStore

/// A workspace's authorization profiles (its own OAuth apps): create, change, delete, with their checks and audit
/// entries. The admin API and the console are adapters over it.
struct ProfileService: Sendable {
    let store: Store
    let settings: ServerSettings
    let clock: any WallClock
    let audit: AuditLog
    let registry: ProviderRegistry

    /// Creates a profile from checked input; the API and the console both come here.
    func createProfile(_ input: InputReader, by principal: Principal) async throws -> AuthProfile {
        let workspace = principal.workspace
        let now = clock.now()
        var profile = AuthProfile(
            id: Identifier.make("ap"), workspaceID: workspace.id, name: "", description: nil, clientID: "", clientSecret: "",
            authorizationURL: "", tokenURL: "", refreshTokenURL: nil, scopes: [], pkce: false, tokenRequestFormat: .form,
            exchangeStyle: .standard, authorizationParameters: [:], fields: [:], createdAt: now, updatedAt: now
        )
        try Self.apply(input, to: &profile, creating: true, systemClientID: settings.systemApp?.clientID, registry: registry,
                       allowPrivateNetwork: settings.allowPrivateNetwork)
        try await store.profiles.insert(profile)
        await audit.record(principal, "auth_profile.created", "auth_profile", profile.id)
        return profile
    }

    /// Changing where tokens come from (client id, token or refresh URL, the authorization URL's host) marks every
    /// connection made through the profile as needing a new authorization: a refresh token is never sent to a host,
    /// or a client, it was not issued to.
    func update(id: String, with input: InputReader, by principal: Principal) async throws -> AuthProfile {
        let before = try await load(id: id, workspace: principal.workspace)
        var profile = before
        try Self.apply(input, to: &profile, creating: false, systemClientID: settings.systemApp?.clientID, registry: registry,
                       allowPrivateNetwork: settings.allowPrivateNetwork)
        profile.updatedAt = clock.now()
        let changed = Self.issuerChanged(from: before, to: profile)
        let (updated, marked) = try await store.profiles.update(
            profile, markingConnections: changed ? "the authorization profile's client or endpoints changed; authorize again" : nil, now: clock.now())
        guard updated else { throw Problem.notFound("authorization profile", id: profile.id) }
        var detail: [String: JSONValue] = ["fields": .strings(Self.fieldNames.filter(input.has))]
        if changed { detail["connectionsMarked"] = .number(Double(marked)) }
        await audit.record(principal, "auth_profile.updated", "auth_profile", profile.id, detail)
        return profile
    }

    /// The profile's fields as the API names them (the audit log lists which changed; never their values).
    static let fieldNames = ["name", "description", "clientId", "clientSecret", "authorizationURL", "tokenURL", "refreshTokenURL", "scopes",
                             "pkce", "tokenRequestFormat", "exchangeStyle", "authorizationParameters", "fields"]

    /// Reads the profile form; on create the required fields must all be there, on update any subset.
    /// A profile may not use the system app's client id: its codes and tokens would be confused with the system app's.
    /// Token and refresh URLs are called by Switchboard: without `allowPrivateNetwork` they must be public https URLs.
    static func apply(_ input: InputReader, to profile: inout AuthProfile, creating: Bool, systemClientID: String?, registry: ProviderRegistry,
                      allowPrivateNetwork: Bool) throws {
        if let name = input.string("name", required: creating) { profile.name = name }
        if input.has("description") { profile.description = input.string("description", maxLength: 2000, allowEmpty: true) }
        if let clientID = input.string("clientId", required: creating, maxLength: 512) {
            if clientID == systemClientID {
                input.fail("clientId", "is the deployment's system app; choose the System app for the integration instead of a custom profile")
            }
            profile.clientID = clientID
        }
        if let secret = input.string("clientSecret", required: creating, maxLength: 4096) { profile.clientSecret = secret }
        if let url = input.url("authorizationURL", required: creating, allowTemplate: true) { profile.authorizationURL = url }
        let tokenURL = input.url("tokenURL", required: creating, allowTemplate: true)
        if let tokenURL { profile.tokenURL = tokenURL }
        if input.has("refreshTokenURL") { profile.refreshTokenURL = input.url("refreshTokenURL", allowTemplate: true) }
        if let scopes = input.stringArray("scopes") { profile.scopes = scopes }
        if let pkce = input.bool("pkce") { profile.pkce = pkce }
        if let format = input.oneOf("tokenRequestFormat", TokenRequestFormat.self) { profile.tokenRequestFormat = format }
        if let style = input.oneOf("exchangeStyle", TokenExchangeStyle.self) {
            profile.exchangeStyle = style
        } else if let tokenURL, creating || !input.has("exchangeStyle") {
            profile.exchangeStyle = registry.exchangeStyle(forTokenURL: tokenURL)
        }
        if let parameters = input.stringMap("authorizationParameters") {
            for key in parameters.keys.sorted() where reservedAuthorizationParameters.contains(key) {
                input.fail("authorizationParameters.\(key)", "is set by Switchboard and cannot be overridden")
            }
            profile.authorizationParameters = parameters
        }
        if let fields = input.stringMap("fields") { profile.fields = fields }
        for (field, value) in [("tokenURL", profile.tokenURL), ("refreshTokenURL", profile.refreshTokenURL ?? "")] where input.has(field) && !value.isEmpty {
            if let why = AddressPolicy.savedURLProblem(value, allowPrivateNetwork: allowPrivateNetwork) { input.fail(field, why) }
        }
        try input.finish()
        let missing = profile.missingFields
        if !missing.isEmpty {
            throw Problem.validation(missing.map { .init(field: "fields.\($0)", detail: "is used as {\($0)} in a URL and must be given") })
        }
    }

    static func issuerChanged(from old: AuthProfile, to new: AuthProfile) -> Bool {
        func host(_ url: String) -> String? { URLComponents(string: url)?.host?.lowercased() }
        return old.clientID != new.clientID || old.tokenURL != new.tokenURL
            || (old.refreshTokenURL ?? old.tokenURL) != (new.refreshTokenURL ?? new.tokenURL)
            || host(old.authorizationURL) != host(new.authorizationURL) || old.fields != new.fields
    }

    func deleteProfile(id: String, by principal: Principal) async throws {
        switch try await store.profiles.deleteAuthProfile(id: id, workspaceID: principal.workspace.id) {
        case .deleted: await audit.record(principal, "auth_profile.deleted", "auth_profile", id)
        case .notFound: throw Problem.notFound("authorization profile", id: id)
        case .inUse(let integrations):
            throw Problem.conflict("auth_profile_in_use",
                                   "The profile is used by integration(s) \(integrations.joined(separator: ", ")); delete them or move them to another profile first.")
        }
    }

    func load(id: String, workspace: Workspace) async throws -> AuthProfile {
        guard let profile = try await store.profiles.authProfile(id: id, workspaceID: workspace.id) else {
            throw Problem.notFound("authorization profile", id: id)
        }
        return profile
    }
}
