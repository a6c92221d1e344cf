public import Foundation

/// A token an AI agent presents to `/mcp`: made for one integration, optionally for one end user (a person's own
/// agent) and a subset of its tools. Shown once; only its hash is kept.
public struct AgentToken: Sendable, Equatable {
    public var id: String
    public var workspaceID: String
    public var integrationID: String
    public var name: String
    /// The first characters of the token, to tell tokens apart in a list.
    public var displayPrefix: String
    /// Set: the token acts for this end user only. Nil: a server-side agent that names the user of each call.
    public var endUserID: String?
    /// Tool names the token may use, within the integration's own allow-list; nil: all the integration allows.
    public var tools: [String]?
    public var createdAt: Date
    public var expiresAt: Date?
    public var lastUsedAt: Date?
    public var revokedAt: Date?

    public init(id: String, workspaceID: String, integrationID: String, name: String, displayPrefix: String, endUserID: String?,
                tools: [String]?, createdAt: Date, expiresAt: Date?, lastUsedAt: Date? = nil, revokedAt: Date? = nil) {
        self.id = id
        self.workspaceID = workspaceID
        self.integrationID = integrationID
        self.name = name
        self.displayPrefix = displayPrefix
        self.endUserID = endUserID
        self.tools = tools
        self.createdAt = createdAt
        self.expiresAt = expiresAt
        self.lastUsedAt = lastUsedAt
        self.revokedAt = revokedAt
    }

    /// Whether it may be used at `now`: neither revoked nor expired.
    public func works(at now: Date) -> Bool { revokedAt == nil && (expiresAt.map { $0 > now } ?? true) }

    public static let prefix = "sbat_"
    public static func generate() -> String { prefix + SecureRandom.token(bytes: 32) }
    public static func hash(_ token: String) -> String { Digest.sha256Hex(token) }
}
