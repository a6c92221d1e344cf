public import Foundation
import SQLKit
public import SwitchboardCore

/// The result of storing an authorization: the connection, and the one it replaced, if any.
public struct CompletedAuthorization: Sendable {
    public struct Previous: Sendable, Equatable {
        public var accountID: String
        public var status: ConnectionStatus
    }

    public var connection: Connection
    public var previous: Previous?
    /// The event recorded with it, if any (its delivery is for the caller to start).
    public var event: EventRecord?
    /// Whether calls were kept with `resume: true` on the link: their run was put in the outbox, in the same transaction.
    public var resumeQueued = false
}

/// The connect link of an authorization was used already: nothing was stored.
public struct ConnectLinkUsed: Error {}

extension SQLRepository {
    static func linkTokenContext(_ id: String) -> String { "connect_links:\(id):token" }
}

struct ConnectLinkRow: Codable {
    var id: String
    var workspace_id: String
    var integration_id: String
    var end_user_id: String
    var conversation_id: String?
    var token_hash: String
    var reason: String
    var status: String
    var created_at: Int64
    var expires_at: Int64
    var completed_at: Int64?
    /// The link's token, sealed, so that the user's open link can be handed out again (nil for links made before).
    var token_sealed: String?

    init(_ link: ConnectLink, tokenSealed: String? = nil) {
        token_sealed = tokenSealed
        id = link.id
        workspace_id = link.workspaceID
        integration_id = link.integrationID
        end_user_id = link.endUserID
        conversation_id = link.conversationID
        token_hash = link.tokenHash
        reason = link.reason.rawValue
        status = link.status.rawValue
        created_at = link.createdAt.unixSeconds
        expires_at = link.expiresAt.unixSeconds
        completed_at = link.completedAt?.unixSeconds
    }

    var model: ConnectLink {
        ConnectLink(id: id, workspaceID: workspace_id, integrationID: integration_id, endUserID: end_user_id, conversationID: conversation_id,
                    tokenHash: token_hash, reason: ConnectLinkReason(rawValue: reason) ?? .connect, status: ConnectLinkStatus(rawValue: status) ?? .completed,
                    createdAt: Date(unixSeconds: created_at), expiresAt: Date(unixSeconds: expires_at), completedAt: completed_at.map(Date.init(unixSeconds:)))
    }
}

extension SQLRepository {
    func count(_ table: String, _ filter: @escaping @Sendable (SQLSelectBuilder) -> SQLSelectBuilder) async throws -> Int {
        try await database.read { db in
            let row = try await filter(db.select().column(SQLFunction("COUNT", args: SQLLiteral.all), as: "n").from(table)).first()
            return try row?.decode(column: "n", as: Int.self) ?? 0
        }
    }
}

// MARK: - Authorization requests

struct AuthorizationRequestRow: Codable {
    var id: String
    var workspace_id: String
    var integration_id: String
    var end_user_id: String
    var state_hash: String
    var pkce_verifier_sealed: String?
    var redirect_uri: String
    var status: String
    var created_at: Int64
    var expires_at: Int64
    var error: String?
    var connect_link_id: String?
    var browser_binding_hash: String?
    var started_by: String?

    /// The request; the PKCE verifier is opened only by the caller that claims it.
    func model(pkceVerifier: String?) -> AuthorizationRequest {
        AuthorizationRequest(id: id, workspaceID: workspace_id, integrationID: integration_id, endUserID: end_user_id, stateHash: state_hash,
                             pkceVerifier: pkceVerifier, redirectURI: redirect_uri, status: AuthorizationRequestStatus(rawValue: status) ?? .failed,
                             createdAt: Date(unixSeconds: created_at), expiresAt: Date(unixSeconds: expires_at), error: error,
                             connectLinkID: connect_link_id, browserBindingHash: browser_binding_hash, startedBy: started_by)
    }
}

/// What a callback's `state` turned out to be.
public enum AuthorizationClaim: Sendable, Equatable {
    /// Pending and fresh: now `processing`, and this caller alone owns it.
    case claimed(AuthorizationRequest)
    case unknown
    case expired
    /// Already used (completed, failed or being processed): a replay.
    case alreadyUsed
}

extension SQLRepository {
    static func verifierContext(requestID: String) -> String { "authorization_requests:\(requestID):pkce_verifier" }
}

// MARK: - Calls kept until their user connects

/// An action held until its user connects (`resume: true`); the input is sealed.
public struct PendingAction: Sendable, Equatable {
    public var id: String
    public var workspaceID: String
    public var integrationID: String
    public var connectLinkID: String
    public var endUserID: String
    public var conversationID: String?
    public var action: String
    public var input: JSONValue
    public var createdAt: Date
    public var expiresAt: Date

    public init(id: String, workspaceID: String, integrationID: String, connectLinkID: String, endUserID: String, conversationID: String?,
                action: String, input: JSONValue, createdAt: Date, expiresAt: Date) {
        self.id = id
        self.workspaceID = workspaceID
        self.integrationID = integrationID
        self.connectLinkID = connectLinkID
        self.endUserID = endUserID
        self.conversationID = conversationID
        self.action = action
        self.input = input
        self.createdAt = createdAt
        self.expiresAt = expiresAt
    }
}

struct PendingActionRow: Codable {
    var id: String
    var workspace_id: String
    var integration_id: String
    var connect_link_id: String
    var end_user_id: String
    var conversation_id: String?
    var action: String
    var input_sealed: String
    var status: String
    var created_at: Int64
    var expires_at: Int64
}

extension SQLRepository {
    static func inputContext(pendingID: String) -> String { "pending_actions:\(pendingID):input" }
}
