public import Foundation
import Logging
import SQLKit
public import SwitchboardCore

/// Tokens AI agents present to `/mcp`, one integration each, kept as hashes. A working token is remembered for a
/// second (`HotReads`), as admin keys are; revoking one forgets it at once in this instance.
public protocol AgentTokenRepository: Sendable {
    /// Stores a token made for an integration; only its hash is kept.
    func insert(_ token: AgentToken, secret: String) async throws

    /// An integration's tokens, newest first, revoked and expired ones included.
    func agentTokens(integrationID: String, workspaceID: String) async throws -> [AgentToken]

    /// Revokes a token and ends its MCP sessions; nil when the integration has no such token. A token revoked already
    /// stays as it was.
    func revokeAgentToken(id: String, integrationID: String, workspaceID: String, now: Date) async throws -> AgentToken?

    /// How many of an integration's tokens work at `now` (neither revoked nor expired): what the cap per integration counts.
    func usableAgentTokenCount(integrationID: String, workspaceID: String, now: Date) async throws -> Int

    /// Deletes a token that no longer works (revoked or expired): `.deleted`, `.stillWorks` (revoke it first), or
    /// `.notFound` when the integration has no such token.
    func deleteAgentToken(id: String, integrationID: String, workspaceID: String, now: Date) async throws -> AgentTokenDeletion

    /// The token a presented value names, if it works at `now` (remembered for a second; expiry checked on every use).
    func workingAgentToken(_ secret: String, now: Date) async throws -> AgentToken?

    /// Records that a token was used, at most once a minute per token and instance.
    func noteAgentTokenUsed(id: String, now: Date) async
}

public enum AgentTokenDeletion: Sendable, Equatable {
    case deleted, stillWorks, notFound
}

struct AgentTokenRow: Codable {
    var id: String
    var workspace_id: String
    var integration_id: String
    var name: String
    var display_prefix: String
    var end_user_id: String?
    var tools: String?
    var created_at: Int64
    var expires_at: Int64?
    var last_used_at: Int64?
    var revoked_at: Int64?

    var model: AgentToken {
        AgentToken(id: id, workspaceID: workspace_id, integrationID: integration_id, name: name, displayPrefix: display_prefix,
                   endUserID: end_user_id, tools: tools.map { SQLAgentTokenRepository.decodeJSON($0, as: [String].self, default: []) },
                   createdAt: Date(unixSeconds: created_at), expiresAt: expires_at.map(Date.init(unixSeconds:)),
                   lastUsedAt: last_used_at.map(Date.init(unixSeconds:)), revokedAt: revoked_at.map(Date.init(unixSeconds:)))
    }
}

/// The SQL implementation over the shared database.
struct SQLAgentTokenRepository: AgentTokenRepository, SQLRepository {
    let shared: StoreShared

    public func insert(_ token: AgentToken, secret: String) async throws {
        defer { hot.invalidate() }
        try await database.write { db in
            try await db.insert(into: "agent_tokens")
                .columns("id", "workspace_id", "integration_id", "name", "token_hash", "display_prefix", "end_user_id", "tools", "created_at", "expires_at")
                .values(SQLBind(token.id), SQLBind(token.workspaceID), SQLBind(token.integrationID), SQLBind(token.name),
                        SQLBind(AgentToken.hash(secret)), SQLBind(token.displayPrefix), SQLBind(token.endUserID),
                        SQLBind(token.tools.map { Self.json($0) }), SQLBind(token.createdAt.unixSeconds), SQLBind(token.expiresAt?.unixSeconds))
                .run()
        }
    }

    public func agentTokens(integrationID: String, workspaceID: String) async throws -> [AgentToken] {
        try await database.read { db in
            try await db.select().columns("*").from("agent_tokens")
                .where("integration_id", .equal, integrationID).where("workspace_id", .equal, workspaceID)
                .orderBy("created_at", .descending).orderBy("id", .descending)
                .all(decoding: AgentTokenRow.self)
        }.map(\.model)
    }

    public func revokeAgentToken(id: String, integrationID: String, workspaceID: String, now: Date) async throws -> AgentToken? {
        defer { hot.invalidate() }
        return try await database.transaction { db in
            try await db.update("agent_tokens").set("revoked_at", to: now.unixSeconds)
                .where("id", .equal, id).where("integration_id", .equal, integrationID).where("workspace_id", .equal, workspaceID)
                .where("revoked_at", .is, SQLLiteral.null)
                .run()
            let row = try await db.select().columns("*").from("agent_tokens")
                .where("id", .equal, id).where("integration_id", .equal, integrationID).where("workspace_id", .equal, workspaceID)
                .first(decoding: AgentTokenRow.self)
            // Its sessions end with it (and what they wait on): an open stream sees that at its next poll and ends.
            if row != nil { try await db.delete(from: "mcp_sessions").where("agent_token_id", .equal, id).run() }
            return row
        }?.model
    }

    public func usableAgentTokenCount(integrationID: String, workspaceID: String, now: Date) async throws -> Int {
        try await count("agent_tokens") { query in
            query.where("integration_id", .equal, integrationID).where("workspace_id", .equal, workspaceID).where("revoked_at", .is, SQLLiteral.null)
                .where { $0.where("expires_at", .is, SQLLiteral.null).orWhere("expires_at", .greaterThan, now.unixSeconds) }
        }
    }

    public func deleteAgentToken(id: String, integrationID: String, workspaceID: String, now: Date) async throws -> AgentTokenDeletion {
        defer { hot.invalidate() }
        return try await database.write { db in
            guard let row = try await db.select().columns("*").from("agent_tokens")
                .where("id", .equal, id).where("integration_id", .equal, integrationID).where("workspace_id", .equal, workspaceID)
                .first(decoding: AgentTokenRow.self) else { return .notFound }
            guard row.revoked_at != nil || !row.model.works(at: now) else { return .stillWorks }
            try await db.delete(from: "agent_tokens").where("id", .equal, id).run()
            return .deleted
        }
    }

    public func workingAgentToken(_ secret: String, now: Date) async throws -> AgentToken? {
        guard secret.hasPrefix(AgentToken.prefix), secret.count <= 200 else { return nil }
        let hash = AgentToken.hash(secret)
        let token: AgentToken? = try await hot.value("agent-token:\(hash)") {
            try await database.read { db in
                try await db.select().columns("*").from("agent_tokens").where("token_hash", .equal, hash)
                    .where("revoked_at", .is, SQLLiteral.null)
                    .first(decoding: AgentTokenRow.self)
            }?.model
        }
        return token.flatMap { $0.works(at: now) ? $0 : nil }
    }

    public func noteAgentTokenUsed(id: String, now: Date) async {
        guard keyUseThrottle.shouldWrite(keyID: "agent:" + id, now: now) else { return }
        do {
            try await database.write { db in
                try await db.update("agent_tokens").set("last_used_at", to: now.unixSeconds).where("id", .equal, id).run()
            }
        } catch {
            logger.warning("recording an agent token's use failed", metadata: ["error.type": "\(type(of: error))"])
        }
    }
}
