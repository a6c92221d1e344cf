public import Foundation

/// A tenant of Switchboard. Admin API keys belong to exactly one.
public struct Workspace: Sendable, Equatable {
    public var id: String
    public var name: String
    public var createdAt: Date
    public init(id: String, name: String, createdAt: Date) {
        self.id = id
        self.name = name
        self.createdAt = createdAt
    }
}

/// A workspace's own OAuth v2 app ("custom" in the guide).
public struct AuthProfile: Sendable, Equatable {
    public var id: String
    public var workspaceID: String
    public var name: String
    public var description: String?
    public var clientID: String
    /// Plaintext only in memory; encrypted in the database, never in a response.
    public var clientSecret: String
    public var authorizationURL: String
    public var tokenURL: String
    public var refreshTokenURL: String?
    public var scopes: [String]
    public var pkce: Bool
    public var tokenRequestFormat: TokenRequestFormat
    public var exchangeStyle: TokenExchangeStyle
    public var authorizationParameters: [String: String]
    public var fields: [String: String]
    public var createdAt: Date
    public var updatedAt: Date

    public init(
        id: String, workspaceID: String, name: String, description: String?, clientID: String, clientSecret: String,
        authorizationURL: String, tokenURL: String, refreshTokenURL: String?, scopes: [String], pkce: Bool,
        tokenRequestFormat: TokenRequestFormat, exchangeStyle: TokenExchangeStyle, authorizationParameters: [String: String],
        fields: [String: String], createdAt: Date, updatedAt: Date
    ) {
        self.id = id
        self.workspaceID = workspaceID
        self.name = name
        self.description = description
        self.clientID = clientID
        self.clientSecret = clientSecret
        self.authorizationURL = authorizationURL
        self.tokenURL = tokenURL
        self.refreshTokenURL = refreshTokenURL
        self.scopes = scopes
        self.pkce = pkce
        self.tokenRequestFormat = tokenRequestFormat
        self.exchangeStyle = exchangeStyle
        self.authorizationParameters = authorizationParameters
        self.fields = fields
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }

    /// Placeholders in the profile's URLs that `fields` does not fill.
    public var missingFields: [String] {
        let names = [authorizationURL, tokenURL, refreshTokenURL ?? ""].flatMap(URLTemplate.placeholders(in:))
        return Array(Set(names.filter { fields[$0] == nil })).sorted()
    }

    /// The profile as an OAuth client, templates filled.
    public func oauthApp() throws(URLTemplate.MissingField) -> OAuthApp {
        OAuthApp(
            clientID: clientID, clientSecret: clientSecret,
            authorizationURL: try URLTemplate.expand(authorizationURL, fields: fields),
            tokenURL: try URLTemplate.expand(tokenURL, fields: fields),
            refreshTokenURL: try refreshTokenURL.map { url throws(URLTemplate.MissingField) in try URLTemplate.expand(url, fields: fields) },
            scopes: scopes, pkce: pkce, tokenRequestFormat: tokenRequestFormat, exchangeStyle: exchangeStyle,
            authorizationParameters: authorizationParameters
        )
    }
}

public enum AppKind: String, Sendable, Codable, CaseIterable {
    /// The deployment's own Intercom app, configured by the operator.
    case system
    /// A workspace's authorization profile.
    case custom
}

public enum AuthorizationMode: String, Sendable, Codable, CaseIterable {
    /// One shared connection, authorized once by an admin.
    case preauthorized
    /// Each end user connects their own account through a connect link.
    case perUser = "per_user"
}

/// A provider's name, as its definition file gives it ("intercom"). The domain knows no provider by name: the
/// `Providers` target reads what each one is.
public struct Provider: RawRepresentable, Hashable, Sendable, Codable, CustomStringConvertible {
    public var rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public init(_ name: String) { self.rawValue = name }
    public var description: String { rawValue }
}

/// Whether an admin has switched the integration on.
public enum Enablement: String, Sendable, Codable, CaseIterable {
    case never
    case enabled
    case disabled
}

public enum IntegrationStatus: String, Sendable, Codable, CaseIterable {
    case configured
    case authorized
    case enabled
    case disabled
    case error
}

/// One configured use of a provider in a workspace.
public struct Integration: Sendable, Equatable {
    public var id: String
    public var workspaceID: String
    public var name: String
    public var provider: Provider
    public var app: AppKind
    public var authProfileID: String?
    public var authorization: AuthorizationMode
    /// The provider region whose API it calls (a key of the definition's `api.baseURLs`); nil: the connected account's.
    public var region: String?
    public var notifyURL: String?
    public var enablement: Enablement
    public var createdAt: Date
    public var updatedAt: Date
    /// Where the browser is sent, before Intercom, to confirm who opened a connect link (against forwarded links).
    public var verifyURL: String?
    /// The actions agents may use through MCP (catalog names); nil: every action of the provider.
    public var toolAllowList: [String]?
    /// The version of the provider's API it speaks (one its definition allows); nil: the definition's default.
    public var apiVersion: String?

    public init(
        id: String, workspaceID: String, name: String, provider: Provider, app: AppKind, authProfileID: String?,
        authorization: AuthorizationMode, region: String?, notifyURL: String?, enablement: Enablement,
        createdAt: Date, updatedAt: Date, verifyURL: String? = nil, toolAllowList: [String]? = nil, apiVersion: String? = nil
    ) {
        self.apiVersion = apiVersion
        self.verifyURL = verifyURL
        self.toolAllowList = toolAllowList
        self.id = id
        self.workspaceID = workspaceID
        self.name = name
        self.provider = provider
        self.app = app
        self.authProfileID = authProfileID
        self.authorization = authorization
        self.region = region
        self.notifyURL = notifyURL
        self.enablement = enablement
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }

    /// The status the guide's steps move through, derived from enablement and the shared connection.
    ///
    /// Deriving it (rather than storing it) means a connection that dies turns the integration
    /// to `error` in the same write, and re-authorizing brings back whatever the admin had chosen.
    public func status(sharedConnection: ConnectionStatus?) -> IntegrationStatus {
        switch authorization {
        case .preauthorized:
            switch sharedConnection {
            case .needsReauthorization: return .error
            case nil, .revoked: return enablement == .disabled ? .disabled : .configured
            case .active:
                switch enablement {
                case .never: return .authorized
                case .enabled: return .enabled
                case .disabled: return .disabled
                }
            }
        case .perUser:
            switch enablement {
            case .never: return .configured
            case .enabled: return .enabled
            case .disabled: return .disabled
            }
        }
    }
}

public enum ConnectionStatus: String, Sendable, Codable, CaseIterable {
    case active
    case needsReauthorization = "needs_reauthorization"
    case revoked
}

/// The provider account a connection reaches (for Intercom: the workspace behind `/me`).
public struct ProviderAccount: Sendable, Equatable {
    public var id: String
    public var name: String
    public var region: String?
    public var adminID: String?
    public var adminEmail: String?

    public init(id: String, name: String, region: String? = nil, adminID: String? = nil, adminEmail: String? = nil) {
        self.id = id
        self.name = name
        self.region = region
        self.adminID = adminID
        self.adminEmail = adminEmail
    }
}

/// Stored credentials for an integration (shared) or an (integration, end user) pair.
public struct Connection: Sendable, Equatable {
    /// The end-user id of the shared connection of a pre-authorized integration.
    public static let sharedUser = ""

    public var id: String
    public var workspaceID: String
    public var integrationID: String
    public var endUserID: String
    public var status: ConnectionStatus
    public var account: ProviderAccount
    public var tokens: TokenGrant
    public var lastError: String?
    public var lastRefreshedAt: Date?
    public var createdAt: Date
    public var updatedAt: Date
    /// Goes up by one each time the stored tokens are replaced (a refresh, a new authorization): a call that was refused
    /// (401) compares it to tell "another call or instance replaced the token meanwhile" from "the grant is dead".
    public var tokenVersion: Int64

    public init(
        id: String, workspaceID: String, integrationID: String, endUserID: String, status: ConnectionStatus,
        account: ProviderAccount, tokens: TokenGrant, lastError: String?, lastRefreshedAt: Date?, createdAt: Date, updatedAt: Date,
        tokenVersion: Int64 = 1
    ) {
        self.id = id
        self.workspaceID = workspaceID
        self.integrationID = integrationID
        self.endUserID = endUserID
        self.status = status
        self.account = account
        self.tokens = tokens
        self.lastError = lastError
        self.lastRefreshedAt = lastRefreshedAt
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.tokenVersion = tokenVersion
    }

    /// Whether the access token should be refreshed before use at `now`: when less than `RefreshPolicy.margin(for:)`
    /// of its life remains.
    public func refreshDue(at now: Date) -> Bool {
        guard let expiresAt = tokens.expiresAt, tokens.refreshToken != nil else { return false }
        return expiresAt.timeIntervalSince(now) <= RefreshPolicy.margin(for: tokens)
    }
}

public enum RefreshPolicy {
    /// Long-lived tokens are refreshed this long before they expire.
    public static let margin: TimeInterval = 120

    /// How long before expiry a token is refreshed: the smaller of `margin` and a quarter of its lifetime, so that a
    /// token living less than `margin` is not due the moment it is issued (each refresh would revoke the token the
    /// calls still in flight carry). A token whose issue time is unknown gets the full margin.
    public static func margin(for grant: TokenGrant) -> TimeInterval {
        guard let issuedAt = grant.issuedAt, let expiresAt = grant.expiresAt else { return margin }
        return min(margin, max(0, expiresAt.timeIntervalSince(issuedAt)) / 4)
    }

    /// How long a connection's refresh lease lasts from its last renewal: the holder renews it every `leaseRenewal`
    /// while it refreshes, so an instance that dies mid-refresh holds the others up for at most this long (they wait
    /// up to 15 s, then take the lapsed lease over).
    public static let leaseDuration: TimeInterval = 10
    /// How often the holder renews its lease while its refresh runs (the token request alone may take 20 s).
    public static let leaseRenewal: Duration = .seconds(3)
}

public enum AuthorizationRequestStatus: String, Sendable, Codable, CaseIterable {
    case pending
    case processing
    case completed
    case failed
    case expired
}

/// One OAuth round trip in progress. Only a hash of `state` is stored.
public struct AuthorizationRequest: Sendable, Equatable {
    public static let lifetime: TimeInterval = 600

    public var id: String
    public var workspaceID: String
    public var integrationID: String
    public var endUserID: String
    public var stateHash: String
    public var pkceVerifier: String?
    public var redirectURI: String
    public var status: AuthorizationRequestStatus
    public var createdAt: Date
    public var expiresAt: Date
    public var error: String?
    /// The connect link that started it, for an end user's authorization; nil when an admin started it.
    public var connectLinkID: String?
    /// SHA-256 of the nonce in the cookie of the browser that started it: the callback must come from that browser.
    /// `unboundMarker` until the admin's browser opens the start page of an API-started authorization.
    public var browserBindingHash: String?
    /// The admin API key that started it (nil for an end user's).
    public var startedBy: String?

    /// A binding no nonce hashes to: the callback is refused until a browser binds the request.
    public static let unboundMarker = "unbound"

    public init(
        id: String, workspaceID: String, integrationID: String, endUserID: String, stateHash: String, pkceVerifier: String?,
        redirectURI: String, status: AuthorizationRequestStatus, createdAt: Date, expiresAt: Date, error: String?,
        connectLinkID: String? = nil, browserBindingHash: String? = nil, startedBy: String? = nil
    ) {
        self.connectLinkID = connectLinkID
        self.browserBindingHash = browserBindingHash
        self.startedBy = startedBy
        self.id = id
        self.workspaceID = workspaceID
        self.integrationID = integrationID
        self.endUserID = endUserID
        self.stateHash = stateHash
        self.pkceVerifier = pkceVerifier
        self.redirectURI = redirectURI
        self.status = status
        self.createdAt = createdAt
        self.expiresAt = expiresAt
        self.error = error
    }
}

public enum ConnectLinkStatus: String, Sendable, Codable, CaseIterable {
    case pending
    case completed
}

/// Why a connect link was made: a first connection, or a new one after the provider refused the stored one.
public enum ConnectLinkReason: String, Sendable, Codable, CaseIterable {
    case connect
    case reauthorize
}

/// The URL an assistant sends an end user: it starts an authorization for exactly that user. Only a hash of the token is stored.
public struct ConnectLink: Sendable, Equatable {
    /// How long a link works unless the `connect.link.ttl` setting says otherwise.
    public static let defaultLifetime: TimeInterval = 15 * 60

    public var id: String
    public var workspaceID: String
    public var integrationID: String
    public var endUserID: String
    public var conversationID: String?
    public var tokenHash: String
    public var reason: ConnectLinkReason
    public var status: ConnectLinkStatus
    public var createdAt: Date
    public var expiresAt: Date
    public var completedAt: Date?

    public init(id: String, workspaceID: String, integrationID: String, endUserID: String, conversationID: String?, tokenHash: String,
                reason: ConnectLinkReason, status: ConnectLinkStatus, createdAt: Date, expiresAt: Date, completedAt: Date?) {
        self.id = id
        self.workspaceID = workspaceID
        self.integrationID = integrationID
        self.endUserID = endUserID
        self.conversationID = conversationID
        self.tokenHash = tokenHash
        self.reason = reason
        self.status = status
        self.createdAt = createdAt
        self.expiresAt = expiresAt
        self.completedAt = completedAt
    }

    /// The token in `/connect/{token}`: 256 random bits, base64url (43 characters).
    public static func generateToken() -> String { SecureRandom.token(bytes: 32) }
    public static func isWellFormed(_ token: String) -> Bool { OAuthState.isWellFormed(token) }
}

/// The OAuth `state` value: 256 random bits, base64url.
public enum OAuthState {
    public static func generate() -> String { SecureRandom.token(bytes: 32) }
    /// A state Switchboard could have made: base64url, 43 characters; anything else is refused before a lookup.
    public static func isWellFormed(_ state: String) -> Bool {
        state.count == 43 && state.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }
    }
}

/// Admin API keys: shown once, stored as a SHA-256 hash.
public enum AdminAPIKey {
    public static let prefix = "sbk_"
    public static func generate() -> String { prefix + SecureRandom.token(bytes: 32) }
    public static func hash(_ key: String) -> String { Digest.sha256Hex(key) }
}
