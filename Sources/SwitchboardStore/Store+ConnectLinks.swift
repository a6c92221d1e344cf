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
}

/// The connect link of an authorization was used already: nothing was stored.
public struct ConnectLinkUsed: Error {}

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

    init(_ link: ConnectLink) {
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
        try await database.withConnection { db in
            let row = try await filter(db.select().column(SQLFunction("COUNT", args: SQLLiteral.all), as: "n").from(table)).first()
            return try row?.decode(column: "n", as: Int.self) ?? 0
        }
    }
}
