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

extension Store {
    public func insert(_ link: ConnectLink) async throws {
        try await database.withConnection { db in
            try await db.insert(into: "connect_links").model(ConnectLinkRow(link), nilEncodingStrategy: .asNil).run()
        }
    }

    /// The link a `/connect/{token}` URL names, found by the token's hash.
    public func connectLink(token: String) async throws -> ConnectLink? {
        let hash = Digest.sha256Hex(token)
        return try await database.withConnection { db in
            try await db.select().columns("*").from("connect_links").where("token_hash", .equal, hash).first(decoding: ConnectLinkRow.self)?.model
        }
    }

    /// How many of a workspace's connect links can still be used (pending and unexpired).
    public func openConnectLinkCount(workspaceID: String, now: Date) async throws -> Int {
        try await count("connect_links") { $0.where("workspace_id", .equal, workspaceID).where("status", .equal, ConnectLinkStatus.pending.rawValue)
            .where("expires_at", .greaterThan, now.unixSeconds) }
    }

    /// How many calls a workspace keeps for users who have not connected yet.
    public func keptCallCount(workspaceID: String, now: Date) async throws -> Int {
        try await count("pending_actions") { $0.where("workspace_id", .equal, workspaceID).where("status", .equal, "pending")
            .where("expires_at", .greaterThan, now.unixSeconds) }
    }

    /// How many idempotency records a workspace holds (they live a day).
    public func idempotencyRecordCount(workspaceID: String, now: Date) async throws -> Int {
        try await count("idempotency_keys") { $0.where("workspace_id", .equal, workspaceID)
            .where("created_at", .greaterThanOrEqual, now.addingTimeInterval(-Store.idempotencyLifetime).unixSeconds) }
    }

    func count(_ table: String, _ filter: @escaping @Sendable (SQLSelectBuilder) -> SQLSelectBuilder) async throws -> Int {
        try await database.withConnection { db in
            let row = try await filter(db.select().column(SQLFunction("COUNT", args: SQLLiteral.all), as: "n").from(table)).first()
            return try row?.decode(column: "n", as: Int.self) ?? 0
        }
    }

    /// Records that a verifyURL confirmation (by its hash) was used; false when it was used already. Kept until it expires.
    public func useConfirmation(hash: String, expiresAt: Date) async throws -> Bool {
        try await database.withConnection { db in
            try await db.insert(into: "used_confirmations").columns("id", "expires_at").values(SQLBind(hash), SQLBind(expiresAt.unixSeconds))
                .ignoringConflicts(with: ["id"]).returning("id").all().count == 1
        }
    }

    public func connectLink(id: String) async throws -> ConnectLink? {
        try await database.withConnection { db in
            try await db.select().columns("*").from("connect_links").where("id", .equal, id).first(decoding: ConnectLinkRow.self)?.model
        }
    }

    /// The request a callback's state names, without claiming it (to check which browser it belongs to first).
    public func authorizationRequest(state: String) async throws -> AuthorizationRequest? {
        let hash = Digest.sha256Hex(state)
        let row = try await database.withConnection { db in
            try await db.select().columns("*").from("authorization_requests").where("state_hash", .equal, hash).first(decoding: AuthorizationRequestRow.self)
        }
        return row?.model(pkceVerifier: nil)
    }
}
