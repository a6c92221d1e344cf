public import Foundation
import Logging
import SQLKit
public import SwitchboardCore

/// Connections (a shared one, or one per end user) with their sealed tokens, the refresh lease that lets one instance refresh at a time, and the completion of an authorization that stores one.
public protocol ConnectionRepository: Sendable {
    func cachedConnection(integrationID: String, endUserID: String) async throws -> Connection?

    func connection(integrationID: String, endUserID: String) async throws -> Connection?

    func connection(id: String) async throws -> Connection?

    func connections(integrationID: String, workspaceID: String) async throws -> [Connection]

    /// How many connections an integration has (its shared one, or one per end user), whatever their status.
    func connectionCount(integrationID: String, workspaceID: String) async throws -> Int

    /// One page of an integration's connections, newest first, after the previous page's last `(created_at, id)`.
    func connections(integrationID: String, workspaceID: String, limit: Int, before cursor: (Int64, String)?) async throws -> [Connection]

    /// Stores the connection, completes the request and, for an end user's authorization, uses up its connect link:
    /// all in one transaction, so a link that was already used stores nothing (`ConnectLinkUsed`). The event `report`
    /// makes of it (given what the connection replaced) is written in the same transaction: a process killed after
    /// the commit has recorded both, one killed before neither.
    func completeAuthorization(requestID: String, connectLinkID: String?, connection: Connection, now: Date,
                               report: @escaping @Sendable (CompletedAuthorization.Previous?) -> EventRecord?) async throws -> CompletedAuthorization

    /// Takes the connection's refresh lease if nobody holds a live one. True when this caller now holds it.
    func acquireRefreshLease(connectionID: String, owner: String, now: Date, duration: TimeInterval) async throws -> Bool

    /// Extends the lease this owner still holds (not lapsed) to `duration` from now; false when it no longer holds it.
    func renewRefreshLease(connectionID: String, owner: String, now: Date, duration: TimeInterval) async throws -> Bool

    /// Stores refreshed tokens and releases the lease in one statement: a rotated refresh token
    /// is written together with the access token it came with, or not at all.
    /// False when the lease was lost (another instance took over), in which case nothing is written.
    func storeRefreshedTokens(connectionID: String, owner: String, grant: TokenGrant, keepRefreshToken: String?, now: Date) async throws -> Bool

    /// Releases the lease without touching the tokens (another instance had refreshed them already).
    func releaseRefreshLease(connectionID: String, owner: String) async throws

    /// Releases the lease after a failed refresh, recording why; a permanent failure also marks the connection dead.
    func recordRefreshFailure(connectionID: String, owner: String?, reason: String, permanent: Bool, now: Date) async throws

    /// Marks every connection made through a profile as needing a new authorization (its endpoints or client changed, so
    /// its tokens must not be sent to the new ones); returns how many were marked.
    func markConnectionsNeedReauthorization(profileID: String, workspaceID: String, reason: String, now: Date) async throws -> Int

    /// Marks a connection dead because the provider refused its token (401 / token_revoked), but only while it still
    /// holds that token (`tokenVersion`): a token replaced meanwhile says nothing about the new one. True when marked.
    @discardableResult
    func markNeedsReauthorization(connectionID: String, tokenVersion: Int64, reason: String, now: Date) async throws -> Bool

    /// Deletes a user's connection (its tokens with it); the connection as it was, or nil when there was none.
    func deleteConnection(integrationID: String, endUserID: String, workspaceID: String) async throws -> Connection?
}

extension ConnectionRepository {
    /// `completeAuthorization` with no event to report.
    public func completeAuthorization(requestID: String, connectLinkID: String?, connection: Connection, now: Date) async throws -> CompletedAuthorization {
        try await completeAuthorization(requestID: requestID, connectLinkID: connectLinkID, connection: connection, now: now, report: { _ in nil })
    }
}

/// The SQL implementation over the shared database and vault (SQLite or PostgreSQL).
struct SQLConnectionRepository: ConnectionRepository, SQLRepository {
    let shared: StoreShared

    public func cachedConnection(integrationID: String, endUserID: String) async throws -> Connection? {
        try await hot.value("connection:\(integrationID):\(endUserID)") { try await connection(integrationID: integrationID, endUserID: endUserID) }
    }

    public func connection(integrationID: String, endUserID: String) async throws -> Connection? {
        let row = try await database.read { db in
            try await db.select().columns("*").from("connections")
                .where("integration_id", .equal, integrationID).where("end_user_id", .equal, endUserID)
                .first(decoding: ConnectionRow.self)
        }
        return try row.map(model)
    }

    public func connection(id: String) async throws -> Connection? {
        let row = try await database.read { db in
            try await db.select().columns("*").from("connections").where("id", .equal, id).first(decoding: ConnectionRow.self)
        }
        return try row.map(model)
    }

    public func connections(integrationID: String, workspaceID: String) async throws -> [Connection] {
        let rows = try await database.read { db in
            try await db.select().columns("*").from("connections")
                .where("integration_id", .equal, integrationID).where("workspace_id", .equal, workspaceID)
                .orderBy("created_at").orderBy("id").all(decoding: ConnectionRow.self)
        }
        return try rows.map(model)
    }

    public func connectionCount(integrationID: String, workspaceID: String) async throws -> Int {
        try await count("connections") { $0.where("workspace_id", .equal, workspaceID).where("integration_id", .equal, integrationID) }
    }

    /// One page of an integration's connections, newest first, after the previous page's last `(created_at, id)`.
    public func connections(integrationID: String, workspaceID: String, limit: Int, before cursor: (Int64, String)?) async throws -> [Connection] {
        let rows = try await database.read { db in
            try await db.select().columns("*").from("connections").where("workspace_id", .equal, workspaceID)
                .newestFirst(by: "created_at", integrationID: integrationID, after: cursor, limit: limit).all(decoding: ConnectionRow.self)
        }
        return try rows.map(model)
    }

    /// Stores the connection, completes the request and, for an end user's authorization, uses up its connect link:
    /// all in one transaction, so a link that was already used stores nothing (`ConnectLinkUsed`).
    public func completeAuthorization(requestID: String, connectLinkID: String?, connection: Connection, now: Date,
                                      report: @escaping @Sendable (CompletedAuthorization.Previous?) -> EventRecord?) async throws -> CompletedAuthorization {
        defer { hot.invalidate() }
        let access = connection.tokens.accessToken
        let refresh = connection.tokens.refreshToken
        return try await database.transaction { db in
            if let connectLinkID {
                let used = try await db.update("connect_links")
                    .set("status", to: ConnectLinkStatus.completed.rawValue).set("completed_at", to: now.unixSeconds)
                    .where("id", .equal, connectLinkID).where("status", .equal, ConnectLinkStatus.pending.rawValue)
                    .returning("id").first()
                if used == nil { throw ConnectLinkUsed() }
            }
            let existing = try await db.select().columns("id", "created_at", "status", "account_id", "token_version").from("connections")
                .where("integration_id", .equal, connection.integrationID).where("end_user_id", .equal, connection.endUserID)
                .first()
            var stored = connection
            var previous: CompletedAuthorization.Previous?
            stored.tokenVersion = 1
            if let existing {
                // New tokens: the version goes on from the replaced row's, so a call holding the old token sees it changed.
                stored.tokenVersion = try existing.decode(column: "token_version", as: Int64.self) + 1
                stored.id = try existing.decode(column: "id", as: String.self)
                stored.createdAt = Date(unixSeconds: try existing.decode(column: "created_at", as: Int64.self))
                previous = .init(accountID: try existing.decode(column: "account_id", as: String.self),
                                 status: ConnectionStatus(rawValue: try existing.decode(column: "status", as: String.self)) ?? .active)
            }
            let row = ConnectionRow(
                id: stored.id, workspace_id: stored.workspaceID, integration_id: stored.integrationID, end_user_id: stored.endUserID,
                status: stored.status.rawValue, account_id: stored.account.id, account_name: stored.account.name,
                account_region: stored.account.region, admin_id: stored.account.adminID, admin_email: stored.account.adminEmail,
                access_token_sealed: try self.vault.seal(access, context: Store.tokenContext(connectionID: stored.id, "access_token")),
                refresh_token_sealed: try refresh.map { try self.vault.seal($0, context: Store.tokenContext(connectionID: stored.id, "refresh_token")) },
                token_type: stored.tokens.tokenType, scope: stored.tokens.scope, expires_at: stored.tokens.expiresAt?.unixSeconds,
                last_error: nil, last_refreshed_at: nil, refresh_lease_owner: nil, refresh_lease_until: nil,
                created_at: stored.createdAt.unixSeconds, updated_at: now.unixSeconds,
                token_version: stored.tokenVersion, token_issued_at: stored.tokens.issuedAt?.unixSeconds
            )
            if existing != nil {
                try await db.delete(from: "connections").where("id", .equal, stored.id).run()
            }
            try await db.insert(into: "connections").model(row, nilEncodingStrategy: .asNil).run()
            try await db.update("authorization_requests")
                .set("status", to: AuthorizationRequestStatus.completed.rawValue)
                .where("id", .equal, requestID).run()
            var completed = CompletedAuthorization(connection: stored, previous: previous)
            // The calls kept for the link run after the commit, from the outbox: whichever instance takes it, even if
            // this one stops or dies before it runs them.
            if let connectLinkID, try await db.select().column("id").from("pending_actions").where("connect_link_id", .equal, connectLinkID)
                .limit(1).first() != nil {
                try await SQLOutboxRepository.enqueue(.resumeKeptCalls, subject: connectLinkID, now: now, on: db)
                completed.resumeQueued = true
            }
            if let event = report(previous) {
                try await db.insert(into: "events").model(try self.eventRow(event), nilEncodingStrategy: .asNil).run()
                completed.event = event
            }
            return completed
        }
    }

    /// Takes the connection's refresh lease if nobody holds a live one. True when this caller now holds it.
    public func renewRefreshLease(connectionID: String, owner: String, now: Date, duration: TimeInterval) async throws -> Bool {
        try await database.write { db in
            try await db.update("connections")
                .set("refresh_lease_until", to: now.addingTimeInterval(duration).unixSeconds)
                .where("id", .equal, connectionID)
                .where("refresh_lease_owner", .equal, owner)
                .where("refresh_lease_until", .greaterThanOrEqual, now.unixSeconds)
                .returning("id").first() != nil
        }
    }

    public func acquireRefreshLease(connectionID: String, owner: String, now: Date, duration: TimeInterval) async throws -> Bool {
        try await database.write { db in
            try await db.update("connections")
                .set("refresh_lease_owner", to: owner)
                .set("refresh_lease_until", to: now.addingTimeInterval(duration).unixSeconds)
                .where("id", .equal, connectionID)
                .where { group in
                    group.where("refresh_lease_until", .is, SQLLiteral.null).orWhere("refresh_lease_until", .lessThan, now.unixSeconds)
                }
                .returning("id").first() != nil
        }
    }

    /// Stores refreshed tokens and releases the lease in one statement: a rotated refresh token
    /// is written together with the access token it came with, or not at all.
    /// False when the lease was lost (another instance took over), in which case nothing is written.
    public func storeRefreshedTokens(connectionID: String, owner: String, grant: TokenGrant, keepRefreshToken: String?, now: Date) async throws -> Bool {
        defer { hot.invalidate() }
        let access = try vault.seal(grant.accessToken, context: Store.tokenContext(connectionID: connectionID, "access_token"))
        let refresh = try (grant.refreshToken ?? keepRefreshToken).map {
            try vault.seal($0, context: Store.tokenContext(connectionID: connectionID, "refresh_token"))
        }
        return try await database.write { db in
            try await db.update("connections")
                .set("access_token_sealed", to: access)
                .set("refresh_token_sealed", to: refresh)
                .set("token_type", to: grant.tokenType)
                .set("scope", to: grant.scope)
                .set("expires_at", to: grant.expiresAt?.unixSeconds)
                .set("token_issued_at", to: grant.issuedAt?.unixSeconds)
                .set(SQLIdentifier("token_version"), to: SQLBinaryExpression(SQLIdentifier("token_version"), .add, SQLLiteral.numeric("1")))
                .set("status", to: ConnectionStatus.active.rawValue)
                .set("last_error", to: SQLLiteral.null)
                .set("last_refreshed_at", to: now.unixSeconds)
                .set("refresh_lease_owner", to: SQLLiteral.null)
                .set("refresh_lease_until", to: SQLLiteral.null)
                .set("updated_at", to: now.unixSeconds)
                .where("id", .equal, connectionID).where("refresh_lease_owner", .equal, owner)
                .returning("id").first() != nil
        }
    }

    /// Releases the lease after a failed refresh, recording why; a permanent failure also marks the connection dead.
    public func recordRefreshFailure(connectionID: String, owner: String?, reason: String, permanent: Bool, now: Date) async throws {
        defer { hot.invalidate() }
        return try await database.write { db in
            var update = db.update("connections")
                .set("last_error", to: Problem.clip(reason, to: 500))
                .set("updated_at", to: now.unixSeconds)
            if permanent { update = update.set("status", to: ConnectionStatus.needsReauthorization.rawValue) }
            if let owner {
                update = update.set("refresh_lease_owner", to: SQLLiteral.null).set("refresh_lease_until", to: SQLLiteral.null)
                    .where("refresh_lease_owner", .equal, owner)
            }
            try await update.where("id", .equal, connectionID).run()
        }
    }

    /// Marks every connection made through a profile as needing a new authorization (its endpoints or client changed, so
    /// its tokens must not be sent to the new ones); returns how many were marked.
    public func markConnectionsNeedReauthorization(profileID: String, workspaceID: String, reason: String, now: Date) async throws -> Int {
        defer { hot.invalidate() }
        return try await database.write { db in
            try await Store.markConnectionsNeedReauthorization(db, profileID: profileID, workspaceID: workspaceID, reason: reason, now: now)
        }
    }

    @discardableResult
    public func markNeedsReauthorization(connectionID: String, tokenVersion: Int64, reason: String, now: Date) async throws -> Bool {
        defer { hot.invalidate() }
        return try await database.write { db in
            try await db.update("connections")
                .set("status", to: ConnectionStatus.needsReauthorization.rawValue)
                .set("last_error", to: Problem.clip(reason, to: 500))
                .set("updated_at", to: now.unixSeconds)
                .where("id", .equal, connectionID).where("token_version", .equal, tokenVersion)
                .returning("id").first() != nil
        }
    }

    public func releaseRefreshLease(connectionID: String, owner: String) async throws {
        try await database.write { db in
            try await db.update("connections").set("refresh_lease_owner", to: SQLLiteral.null).set("refresh_lease_until", to: SQLLiteral.null)
                .where("id", .equal, connectionID).where("refresh_lease_owner", .equal, owner).run()
        }
    }

    /// Deletes a user's connection (its tokens with it); the connection as it was, or nil when there was none.
    public func deleteConnection(integrationID: String, endUserID: String, workspaceID: String) async throws -> Connection? {
        defer { hot.invalidate() }
        guard let existing = try await connection(integrationID: integrationID, endUserID: endUserID), existing.workspaceID == workspaceID else { return nil }
        try await database.write { db in
            try await db.delete(from: "connections").where("id", .equal, existing.id).run()
        }
        return existing
    }
}
