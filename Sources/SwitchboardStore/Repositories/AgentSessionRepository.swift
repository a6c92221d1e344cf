public import Foundation
import Logging
import SQLKit
public import SwitchboardCore

/// MCP sessions opened over HTTP and the URL elicitations they wait on, in the database so that any instance answers
/// any request of a session. A session idle for `Store.agentSessionIdleLifetime` is pruned.
public protocol AgentSessionRepository: Sendable {
    func insert(_ session: AgentSession) async throws

    /// The session with this id, if the token that opened it presents it; its last use is noted (at most once a minute).
    func session(id: String, agentTokenID: String, now: Date) async throws -> AgentSession?

    /// Ends a session and what it waits on; false when the token has no such session.
    func deleteSession(id: String, agentTokenID: String) async throws -> Bool

    /// Records that a session sent an end user a connect link as a URL elicitation.
    func insert(_ elicitation: PendingElicitation) async throws

    /// The elicitations a session waits on, oldest first.
    func pendingElicitations(sessionID: String) async throws -> [PendingElicitation]

    /// Forgets an elicitation once its completion was sent; false when another request sent it first.
    func removeElicitation(id: String) async throws -> Bool
}

struct AgentSessionRow: Codable {
    var id: String
    var agent_token_id: String
    var workspace_id: String
    var protocol_version: String
    var elicits_url: Int
    var elicits_form: Int
    var created_at: Int64
    var last_seen_at: Int64

    var model: AgentSession {
        AgentSession(id: id, agentTokenID: agent_token_id, workspaceID: workspace_id, protocolVersion: protocol_version,
                     elicitsURL: elicits_url != 0, elicitsForm: elicits_form != 0,
                     createdAt: Date(unixSeconds: created_at), lastSeenAt: Date(unixSeconds: last_seen_at))
    }
}

struct PendingElicitationRow: Codable {
    var id: String
    var session_id: String
    var integration_id: String
    var end_user_id: String
    var created_at: Int64

    var model: PendingElicitation {
        PendingElicitation(id: id, sessionID: session_id, integrationID: integration_id, endUserID: end_user_id,
                           createdAt: Date(unixSeconds: created_at))
    }
}

/// The SQL implementation over the shared database.
struct SQLAgentSessionRepository: AgentSessionRepository, SQLRepository {
    let shared: StoreShared

    public func insert(_ session: AgentSession) async throws {
        try await database.write { db in
            try await db.insert(into: "mcp_sessions")
                .columns("id", "agent_token_id", "workspace_id", "protocol_version", "elicits_url", "elicits_form", "created_at", "last_seen_at")
                .values(SQLBind(session.id), SQLBind(session.agentTokenID), SQLBind(session.workspaceID), SQLBind(session.protocolVersion),
                        SQLBind(session.elicitsURL ? 1 : 0), SQLBind(session.elicitsForm ? 1 : 0),
                        SQLBind(session.createdAt.unixSeconds), SQLBind(session.lastSeenAt.unixSeconds))
                .run()
        }
    }

    public func session(id: String, agentTokenID: String, now: Date) async throws -> AgentSession? {
        guard id.hasPrefix(AgentSession.idPrefix), id.count <= 100 else { return nil }
        let found = try await database.read { db in
            try await db.select().columns("*").from("mcp_sessions")
                .where("id", .equal, id).where("agent_token_id", .equal, agentTokenID)
                .first(decoding: AgentSessionRow.self)
        }?.model
        if found != nil, keyUseThrottle.shouldWrite(keyID: "session:" + id, now: now) {
            try await database.write { db in
                try await db.update("mcp_sessions").set("last_seen_at", to: now.unixSeconds).where("id", .equal, id).run()
            }
        }
        return found
    }

    public func deleteSession(id: String, agentTokenID: String) async throws -> Bool {
        try await database.write { db in
            try await db.delete(from: "mcp_sessions").where("id", .equal, id).where("agent_token_id", .equal, agentTokenID)
                .returning("id").all().count > 0
        }
    }

    public func insert(_ elicitation: PendingElicitation) async throws {
        try await database.write { db in
            try await db.insert(into: "mcp_elicitations")
                .columns("id", "session_id", "integration_id", "end_user_id", "created_at")
                .values(SQLBind(elicitation.id), SQLBind(elicitation.sessionID), SQLBind(elicitation.integrationID),
                        SQLBind(elicitation.endUserID), SQLBind(elicitation.createdAt.unixSeconds))
                .run()
        }
    }

    public func pendingElicitations(sessionID: String) async throws -> [PendingElicitation] {
        try await database.read { db in
            try await db.select().columns("*").from("mcp_elicitations").where("session_id", .equal, sessionID)
                .orderBy("created_at").orderBy("id")
                .all(decoding: PendingElicitationRow.self)
        }.map(\.model)
    }

    public func removeElicitation(id: String) async throws -> Bool {
        try await database.write { db in
            try await db.delete(from: "mcp_elicitations").where("id", .equal, id).returning("id").all().count > 0
        }
    }
}
