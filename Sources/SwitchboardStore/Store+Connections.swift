public import Foundation
import SQLKit
public import SwitchboardCore

struct ConnectionRow: Codable {
    var id: String
    var workspace_id: String
    var integration_id: String
    var end_user_id: String
    var status: String
    var account_id: String
    var account_name: String
    var account_region: String?
    var admin_id: String?
    var admin_email: String?
    var access_token_sealed: String
    var refresh_token_sealed: String?
    var token_type: String
    var scope: String?
    var expires_at: Int64?
    var last_error: String?
    var last_refreshed_at: Int64?
    var refresh_lease_owner: String?
    var refresh_lease_until: Int64?
    var created_at: Int64
    var updated_at: Int64
}

extension Store {
    static func tokenContext(connectionID: String, _ column: String) -> String { "connections:\(connectionID):\(column)" }

    func model(_ row: ConnectionRow) throws -> Connection {
        Connection(
            id: row.id, workspaceID: row.workspace_id, integrationID: row.integration_id, endUserID: row.end_user_id,
            status: ConnectionStatus(rawValue: row.status) ?? .needsReauthorization,
            account: ProviderAccount(id: row.account_id, name: row.account_name, region: row.account_region,
                                     adminID: row.admin_id, adminEmail: row.admin_email),
            tokens: TokenGrant(
                accessToken: try vault.open(row.access_token_sealed, context: Store.tokenContext(connectionID: row.id, "access_token")),
                refreshToken: try row.refresh_token_sealed.map {
                    try vault.open($0, context: Store.tokenContext(connectionID: row.id, "refresh_token"))
                },
                tokenType: row.token_type, expiresAt: row.expires_at.map(Date.init(unixSeconds:)), scope: row.scope
            ),
            lastError: row.last_error, lastRefreshedAt: row.last_refreshed_at.map(Date.init(unixSeconds:)),
            createdAt: Date(unixSeconds: row.created_at), updatedAt: Date(unixSeconds: row.updated_at)
        )
    }

    public func connection(integrationID: String, endUserID: String) async throws -> Connection? {
        let row = try await database.withConnection { db in
            try await db.select().columns("*").from("connections")
                .where("integration_id", .equal, integrationID).where("end_user_id", .equal, endUserID)
                .first(decoding: ConnectionRow.self)
        }
        return try row.map(model)
    }

    public func connection(id: String) async throws -> Connection? {
        let row = try await database.withConnection { db in
            try await db.select().columns("*").from("connections").where("id", .equal, id).first(decoding: ConnectionRow.self)
        }
        return try row.map(model)
    }

    public func connections(integrationID: String, workspaceID: String) async throws -> [Connection] {
        let rows = try await database.withConnection { db in
            try await db.select().columns("*").from("connections")
                .where("integration_id", .equal, integrationID).where("workspace_id", .equal, workspaceID)
                .orderBy("created_at").orderBy("id").all(decoding: ConnectionRow.self)
        }
        return try rows.map(model)
    }

    /// One page of an integration's connections, newest first, after the previous page's last `(created_at, id)`.
    public func connections(integrationID: String, workspaceID: String, limit: Int, before cursor: (Int64, String)?) async throws -> [Connection] {
        let rows = try await database.withConnection { db in
            try await db.select().columns("*").from("connections").where("workspace_id", .equal, workspaceID)
                .newestFirst(by: "created_at", integrationID: integrationID, after: cursor, limit: limit).all(decoding: ConnectionRow.self)
        }
        return try rows.map(model)
    }

    /// Stores the connection an authorization produced and completes its request, in one transaction.
    ///
    /// A reconnect replaces the (integration, user) connection in place: one connection per pair.
    /// Returns the stored connection, with the id it already had when it replaced one.
    public func completeAuthorization(requestID: String, connection: Connection, now: Date) async throws -> Connection {
        try await completeAuthorization(requestID: requestID, connectLinkID: nil, connection: connection, now: now).connection
    }

    /// Stores the connection, completes the request and, for an end user's authorization, uses up its connect link:
    /// all in one transaction, so a link that was already used stores nothing (`ConnectLinkUsed`).
    public func completeAuthorization(requestID: String, connectLinkID: String?, connection: Connection, now: Date) async throws -> CompletedAuthorization {
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
            let existing = try await db.select().columns("id", "created_at", "status", "account_id").from("connections")
                .where("integration_id", .equal, connection.integrationID).where("end_user_id", .equal, connection.endUserID)
                .first()
            var stored = connection
            var previous: CompletedAuthorization.Previous?
            if let existing {
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
                created_at: stored.createdAt.unixSeconds, updated_at: now.unixSeconds
            )
            if existing != nil {
                try await db.delete(from: "connections").where("id", .equal, stored.id).run()
            }
            try await db.insert(into: "connections").model(row, nilEncodingStrategy: .asNil).run()
            try await db.update("authorization_requests")
                .set("status", to: AuthorizationRequestStatus.completed.rawValue)
                .where("id", .equal, requestID).run()
            return CompletedAuthorization(connection: stored, previous: previous)
        }
    }

    /// Takes the connection's refresh lease if nobody holds a live one. True when this caller now holds it.
    public func acquireRefreshLease(connectionID: String, owner: String, now: Date, duration: TimeInterval) async throws -> Bool {
        try await database.withConnection { db in
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
        return try await database.withConnection { db in
            try await db.update("connections")
                .set("access_token_sealed", to: access)
                .set("refresh_token_sealed", to: refresh)
                .set("token_type", to: grant.tokenType)
                .set("scope", to: grant.scope)
                .set("expires_at", to: grant.expiresAt?.unixSeconds)
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
        return try await database.withConnection { db in
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
        return try await database.withConnection { db in
            try await Store.markConnectionsNeedReauthorization(db, profileID: profileID, workspaceID: workspaceID, reason: reason, now: now)
        }
    }

    static func markConnectionsNeedReauthorization(_ db: any SQLDatabase, profileID: String, workspaceID: String, reason: String, now: Date) async throws -> Int {
        try await db.update("connections")
            .set("status", to: ConnectionStatus.needsReauthorization.rawValue).set("last_error", to: reason).set("updated_at", to: now.unixSeconds)
            .where("workspace_id", .equal, workspaceID)
            .where("status", .notEqual, ConnectionStatus.needsReauthorization.rawValue)
            .where(SQLIdentifier("integration_id"), .in, SQLGroupExpression(
                db.select().column("id").from("integrations").where("auth_profile_id", .equal, profileID).where("workspace_id", .equal, workspaceID).query))
            .returning("id").all().count
    }

    /// Marks a connection dead because the provider refused its token (401 / token_revoked).
    public func markNeedsReauthorization(connectionID: String, reason: String, now: Date) async throws {
        defer { hot.invalidate() }
        return try await recordRefreshFailure(connectionID: connectionID, owner: nil, reason: reason, permanent: true, now: now)
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

extension Store {
    static func verifierContext(requestID: String) -> String { "authorization_requests:\(requestID):pkce_verifier" }

    public func insert(_ request: AuthorizationRequest) async throws {
        let row = AuthorizationRequestRow(
            id: request.id, workspace_id: request.workspaceID, integration_id: request.integrationID, end_user_id: request.endUserID,
            state_hash: request.stateHash,
            pkce_verifier_sealed: try request.pkceVerifier.map { try vault.seal($0, context: Store.verifierContext(requestID: request.id)) },
            redirect_uri: request.redirectURI, status: request.status.rawValue, created_at: request.createdAt.unixSeconds,
            expires_at: request.expiresAt.unixSeconds, error: request.error,
            connect_link_id: request.connectLinkID, browser_binding_hash: request.browserBindingHash, started_by: request.startedBy
        )
        try await database.withConnection { db in try await db.insert(into: "authorization_requests").model(row, nilEncodingStrategy: .asNil).run() }
    }

    /// Binds a pending, unbound request (started by the API) to the browser whose nonce hashes to `bindingHash`: the
    /// first browser to open its start page, once. Returns the request with its PKCE verifier, or nil.
    public func bindAuthorizationRequest(state: String, bindingHash: String, now: Date) async throws -> AuthorizationRequest? {
        let row = try await database.withConnection { db in
            try await db.update("authorization_requests").set("browser_binding_hash", to: bindingHash)
                .where("state_hash", .equal, Digest.sha256Hex(state))
                .where("browser_binding_hash", .equal, AuthorizationRequest.unboundMarker)
                .where("status", .equal, AuthorizationRequestStatus.pending.rawValue)
                .where("expires_at", .greaterThan, now.unixSeconds)
                .returning(SQLLiteral.all).first(decoding: AuthorizationRequestRow.self)
        }
        return try row.map { row in
            row.model(pkceVerifier: try row.pkce_verifier_sealed.map { try vault.open($0, context: Store.verifierContext(requestID: row.id)) })
        }
    }

    /// Claims the request a callback's state names: the state is accepted once, and only before it expires.
    public func claimAuthorization(state: String, now: Date) async throws -> AuthorizationClaim {
        let hash = Digest.sha256Hex(state)
        let claimed = try await database.withConnection { db in
            try await db.update("authorization_requests")
                .set("status", to: AuthorizationRequestStatus.processing.rawValue)
                .where("state_hash", .equal, hash)
                .where("status", .equal, AuthorizationRequestStatus.pending.rawValue)
                .where("expires_at", .greaterThan, now.unixSeconds)
                .returning(SQLLiteral.all)
                .first(decoding: AuthorizationRequestRow.self)
        }
        if let row = claimed {
            return .claimed(row.model(pkceVerifier: try row.pkce_verifier_sealed.map { try vault.open($0, context: Store.verifierContext(requestID: row.id)) }))
        }
        let existing = try await database.withConnection { db in
            try await db.select().columns("*").from("authorization_requests").where("state_hash", .equal, hash)
                .first(decoding: AuthorizationRequestRow.self)
        }
        guard let existing else { return .unknown }
        if existing.status == AuthorizationRequestStatus.pending.rawValue {
            try await database.withConnection { db in
                try await db.update("authorization_requests").set("status", to: AuthorizationRequestStatus.expired.rawValue)
                    .where("id", .equal, existing.id).where("status", .equal, AuthorizationRequestStatus.pending.rawValue).run()
            }
            return .expired
        }
        return existing.status == AuthorizationRequestStatus.expired.rawValue ? .expired : .alreadyUsed
    }

    public func failAuthorization(requestID: String, reason: String) async throws {
        try await database.withConnection { db in
            try await db.update("authorization_requests")
                .set("status", to: AuthorizationRequestStatus.failed.rawValue)
                .set("error", to: Problem.clip(reason, to: 500))
                .where("id", .equal, requestID).run()
        }
    }

    public func authorizationRequest(id: String) async throws -> AuthorizationRequestStatus? {
        try await database.withConnection { db in
            try await db.select().column("status").from("authorization_requests").where("id", .equal, id).first()
                .flatMap { AuthorizationRequestStatus(rawValue: try $0.decode(column: "status", as: String.self)) }
        }
    }
}

// MARK: - Master key rotation

extension Store {
    /// Re-seals every secret under `newVault`'s key, in one transaction. Returns how many values were re-sealed.
    ///
    /// `self.vault` must be able to open every stored value (the current key, plus any previous ones).
    public func resealAll(with newVault: TokenVault) async throws -> Int {
        defer { hot.invalidate() }
        return try await database.transaction { db in
            var count = 0
            let columns: [(table: String, column: String, contextColumn: String)] = [
                ("auth_profiles", "client_secret_sealed", "client_secret"),
                ("connections", "access_token_sealed", "access_token"),
                ("connections", "refresh_token_sealed", "refresh_token"),
                ("authorization_requests", "pkce_verifier_sealed", "pkce_verifier"),
                ("idempotency_keys", "outcome_sealed", "outcome"),
                ("integrations", "signing_secret_sealed", "signing_secret"),
                ("events", "payload_sealed", "payload"),
                ("pending_actions", "input_sealed", "input"),
            ]
            for (table, column, contextColumn) in columns {
                let rows = try await db.select().columns("id", column).from(table).where(SQLColumn(column), .isNot, SQLLiteral.null).all()
                for row in rows {
                    let id = try row.decode(column: "id", as: String.self)
                    let sealed = try row.decode(column: column, as: String.self)
                    let context = "\(table):\(id):\(contextColumn)"
                    let plaintext = try self.vault.open(sealed, context: context)
                    // Only if no running instance changed the value meanwhile (a rotated refresh token must not be
                    // overwritten by the older one); a value written meanwhile is re-sealed by running this again.
                    try await db.update(table).set(SQLColumn(column), to: try newVault.seal(plaintext, context: context))
                        .where("id", .equal, id).where(SQLColumn(column), .equal, SQLBind(sealed)).run()
                    count += 1
                }
            }
            return count
        }
    }
}
