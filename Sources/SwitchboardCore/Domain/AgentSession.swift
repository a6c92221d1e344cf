public import Foundation

/// An MCP session an agent opened with `initialize` over HTTP: what its client said it can do, kept in the database so
/// that any instance answers any of its requests. Bound to the agent token that opened it.
public struct AgentSession: Sendable, Equatable {
    /// The `Mcp-Session-Id` the client sends back (visible ASCII, not a credential: the bearer token still is).
    public var id: String
    public var agentTokenID: String
    public var workspaceID: String
    public var protocolVersion: String
    /// The client declared URL-mode elicitation: a user who must connect gets `-32042` with the link.
    public var elicitsURL: Bool
    /// The client declared form-mode elicitation (kept for what it says; Switchboard asks through tool errors).
    public var elicitsForm: Bool
    public var createdAt: Date
    public var lastSeenAt: Date

    public static let idPrefix = "sbms_"

    public init(id: String, agentTokenID: String, workspaceID: String, protocolVersion: String, elicitsURL: Bool, elicitsForm: Bool,
                createdAt: Date, lastSeenAt: Date) {
        self.id = id
        self.agentTokenID = agentTokenID
        self.workspaceID = workspaceID
        self.protocolVersion = protocolVersion
        self.elicitsURL = elicitsURL
        self.elicitsForm = elicitsForm
        self.createdAt = createdAt
        self.lastSeenAt = lastSeenAt
    }
}

/// A URL elicitation a session is waiting on: the end user was sent a connect link; once they have a working
/// connection made after `createdAt`, the session is told `notifications/elicitation/complete`.
public struct PendingElicitation: Sendable, Equatable {
    public var id: String
    public var sessionID: String
    public var integrationID: String
    public var endUserID: String
    public var createdAt: Date

    public init(id: String, sessionID: String, integrationID: String, endUserID: String, createdAt: Date) {
        self.id = id
        self.sessionID = sessionID
        self.integrationID = integrationID
        self.endUserID = endUserID
        self.createdAt = createdAt
    }

    /// Whether this connection answers the elicitation: working, and made or renewed after the link was sent (to the
    /// second, as the database keeps times).
    public func isAnswered(by connection: Connection?) -> Bool {
        guard let connection, connection.status == .active else { return false }
        return connection.updatedAt.timeIntervalSince1970.rounded(.down) >= createdAt.timeIntervalSince1970.rounded(.down)
    }
}
