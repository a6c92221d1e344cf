public import Foundation
import SQLKit
public import SwitchboardCore

struct EventRow: Codable {
    var id: String
    var workspace_id: String
    var integration_id: String
    var type: String
    var end_user_id: String?
    var payload_sealed: String
    var status: String
    var attempts: Int
    var next_attempt_at: Int64?
    var lease_until: Int64?
    var last_status: Int?
    var last_error: String?
    var created_at: Int64
    var delivered_at: Int64?
}

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
    static func secretContext(integrationID: String) -> String { "integrations:\(integrationID):signing_secret" }
    static func payloadContext(eventID: String) -> String { "events:\(eventID):payload" }
    static func inputContext(pendingID: String) -> String { "pending_actions:\(pendingID):input" }

    // MARK: Signing secrets
    // MARK: Events

    func model(_ row: EventRow) throws -> EventRecord {
        let payload = try vault.open(row.payload_sealed, context: Store.payloadContext(eventID: row.id))
        return EventRecord(
            id: row.id, workspaceID: row.workspace_id, integrationID: row.integration_id, type: EventType(rawValue: row.type) ?? .connectionFailed,
            endUserID: row.end_user_id, payload: JSONValue.parse(Data(payload.utf8)) ?? .null, status: EventStatus(rawValue: row.status) ?? .failed,
            attempts: row.attempts, nextAttemptAt: row.next_attempt_at.map(Date.init(unixSeconds:)), lastStatus: row.last_status,
            lastError: row.last_error, createdAt: Date(unixSeconds: row.created_at), deliveredAt: row.delivered_at.map(Date.init(unixSeconds:)))
    }

    // MARK: Pending actions
}

extension SQLRepository {
}
