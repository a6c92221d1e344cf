public import Foundation
import Logging
import SQLKit
public import SwitchboardCore

/// MCP sessions opened over HTTP and the URL elicitations they wait on, in the database so that any instance answers
/// any request of a session. A session idle for `Store.agentSessionIdleLifetime` is pruned.
public protocol AgentSessionRepository: Sendable {
    /// Stores a new session; a token keeps at most `Store.sessionsPerAgentToken`, the longest idle ended first.
    func insert(_ session: AgentSession) async throws

    /// The session with this id, if the token that opened it presents it; its last use is noted (at most once a minute).
    func session(id: String, agentTokenID: String, now: Date) async throws -> AgentSession?

    /// Ends a session and what it waits on; false when the token has no such session.
    func deleteSession(id: String, agentTokenID: String) async throws -> Bool

    /// The one elicitation a session waits on for an end user of an integration: the open one (its expiry moved to
    /// `expiresAt`), or `candidate` stored as new. Returns its id. However many calls ask, a session holds one.
    func elicitation(_ candidate: PendingElicitation, expiresAt: Date, now: Date) async throws -> String

    /// The elicitations a session waits on, oldest first.
    func pendingElicitations(sessionID: String) async throws -> [PendingElicitation]

    /// One read for an open stream: nil when the session, or the agent token that opened it, no longer works (the
    /// stream ends); otherwise the ids of its unexpired elicitations whose user has connected since.
    func answeredElicitations(sessionID: String, agentTokenID: String, now: Date) async throws -> [String]?

    /// Takes the session's one stream for `owner` until `now + lease` (renewed by calling again with the same owner).
    func claimStream(sessionID: String, agentTokenID: String, owner: String, now: Date, lease: TimeInterval, perToken: Int) async throws -> StreamClaim

    /// Lets the session's stream go, if `owner` holds it.
    func releaseStream(sessionID: String, owner: String) async throws

    /// Forgets an elicitation once its completion was sent; false when another request sent it first.
    func removeElicitation(id: String) async throws -> Bool
}

/// Whether a stream may open on a session.
public enum StreamClaim: Sendable, Equatable {
    case claimed
    /// The session has a stream open already (on this instance or another).
    case busy
    /// The agent token has `perToken` streams open on its other sessions.
    case tokenLimit
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
        try await database.transaction { db in
            // The token's oldest-used sessions beyond the bound end (with what they wait on).
            let kept = try await db.select().column("id").from("mcp_sessions").where("agent_token_id", .equal, session.agentTokenID)
                .orderBy("last_seen_at", .descending).orderBy("id", .descending).limit(Store.sessionsPerAgentToken - 1).all()
                .map { try $0.decode(column: "id", as: String.self) }
            if kept.count == Store.sessionsPerAgentToken - 1 {
                try await db.delete(from: "mcp_sessions").where("agent_token_id", .equal, session.agentTokenID)
                    .where("id", .notIn, kept).run()
            }
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

    public func elicitation(_ candidate: PendingElicitation, expiresAt: Date, now: Date) async throws -> String {
        try await database.transaction { db in
            func same(_ query: SQLDeleteBuilder) -> SQLDeleteBuilder {
                query.where("session_id", .equal, candidate.sessionID).where("integration_id", .equal, candidate.integrationID)
                    .where("end_user_id", .equal, candidate.endUserID)
            }
            // One that lapsed with its link gives way to the new one.
            try await same(db.delete(from: "mcp_elicitations")).where("expires_at", .lessThan, now.unixSeconds).run()
            // One statement, so that two calls at once (PostgreSQL) agree on the one row: the open one's id, or this.
            let row = try await db.insert(into: "mcp_elicitations")
                .columns("id", "session_id", "integration_id", "end_user_id", "created_at", "expires_at")
                .values(SQLBind(candidate.id), SQLBind(candidate.sessionID), SQLBind(candidate.integrationID),
                        SQLBind(candidate.endUserID), SQLBind(candidate.createdAt.unixSeconds), SQLBind(expiresAt.unixSeconds))
                .onConflict(with: ["session_id", "integration_id", "end_user_id"]) { $0.set(excludedValueOf: "expires_at") }
                .returning("id").first()
            return try row?.decode(column: "id", as: String.self) ?? candidate.id
        }
    }

    public func pendingElicitations(sessionID: String) async throws -> [PendingElicitation] {
        try await database.read { db in
            try await db.select().columns("*").from("mcp_elicitations").where("session_id", .equal, sessionID)
                .orderBy("created_at").orderBy("id")
                .all(decoding: PendingElicitationRow.self)
        }.map(\.model)
    }

    public func answeredElicitations(sessionID: String, agentTokenID: String, now: Date) async throws -> [String]? {
        let seconds = now.unixSeconds
        let rows = try await database.read { db in
            // The session and its token (working: not revoked, not expired), and each unexpired elicitation whose user
            // has a working connection made or renewed since it was sent (`PendingElicitation.isAnswered`, in SQL).
            try await db.raw("""
                SELECT e.id AS answered FROM mcp_sessions s
                JOIN agent_tokens t ON t.id = s.agent_token_id AND t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > \(bind: seconds))
                LEFT JOIN mcp_elicitations e ON e.session_id = s.id AND (e.expires_at IS NULL OR e.expires_at >= \(bind: seconds))
                    AND EXISTS (SELECT 1 FROM connections c WHERE c.integration_id = e.integration_id AND c.end_user_id = e.end_user_id
                                AND c.status = 'active' AND c.updated_at >= e.created_at)
                WHERE s.id = \(bind: sessionID) AND s.agent_token_id = \(bind: agentTokenID)
                """).all()
        }
        guard !rows.isEmpty else { return nil }
        return try rows.compactMap { try $0.decode(column: "answered", as: String?.self) }
    }

    public func claimStream(sessionID: String, agentTokenID: String, owner: String, now: Date, lease: TimeInterval, perToken: Int) async throws -> StreamClaim {
        try await database.transaction { db in
            // Serialises claims for one token on PostgreSQL (a row lock held to COMMIT); SQLite's writer is one already.
            try await db.update("agent_tokens").set("id", to: SQLIdentifier("id")).where("id", .equal, agentTokenID).run()
            let open = try await db.select().column("id").from("mcp_sessions").where("agent_token_id", .equal, agentTokenID)
                .where("id", .notEqual, sessionID).where("stream_until", .greaterThanOrEqual, now.unixSeconds).all().count
            guard open < perToken else { return .tokenLimit }
            let taken = try await db.update("mcp_sessions").set("stream_owner", to: owner)
                .set("stream_until", to: now.addingTimeInterval(lease).unixSeconds)
                .where("id", .equal, sessionID).where("agent_token_id", .equal, agentTokenID)
                .where { $0.where("stream_until", .is, SQLLiteral.null).orWhere("stream_until", .lessThan, now.unixSeconds).orWhere("stream_owner", .equal, owner) }
                .returning("id").first()
            return taken == nil ? .busy : .claimed
        }
    }

    public func releaseStream(sessionID: String, owner: String) async throws {
        try await database.write { db in
            try await db.update("mcp_sessions").set("stream_owner", to: SQLLiteral.null).set("stream_until", to: SQLLiteral.null)
                .where("id", .equal, sessionID).where("stream_owner", .equal, owner).run()
        }
    }

    public func removeElicitation(id: String) async throws -> Bool {
        try await database.write { db in
            try await db.delete(from: "mcp_elicitations").where("id", .equal, id).returning("id").all().count > 0
        }
    }
}
