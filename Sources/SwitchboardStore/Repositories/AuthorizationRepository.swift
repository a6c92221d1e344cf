public import Foundation
import Logging
import SQLKit
public import SwitchboardCore

/// What waits for a person: authorization requests (state, PKCE verifier, browser binding), connect links, the confirmations a platform's verify step used, and calls kept until their user connects.
public protocol AuthorizationRepository: Sendable {
    /// How many authorizations were started through a connect link (each press of its button starts one).
    func authorizationRequestCount(connectLinkID: String) async throws -> Int

    /// Stores a connect link with its token sealed, so that it can be handed out again while it is open.
    func insert(_ link: ConnectLink, token: String) async throws

    /// The end user's newest open link of `reason` for the integration that stays usable past `usableUntil`, with its
    /// token: what a repeated call hands out again instead of issuing another.
    func openConnectLink(integrationID: String, endUserID: String, reason: ConnectLinkReason, usableUntil: Date,
                         now: Date) async throws -> (link: ConnectLink, token: String)?

    func insert(_ link: ConnectLink) async throws

    /// The link a `/connect/{token}` URL names, found by the token's hash.
    func connectLink(token: String) async throws -> ConnectLink?

    /// How many of a workspace's connect links can still be used (pending and unexpired).
    func openConnectLinkCount(workspaceID: String, now: Date) async throws -> Int

    /// How many calls a workspace keeps for users who have not connected yet.
    func keptCallCount(workspaceID: String, now: Date) async throws -> Int

    /// How many calls one integration keeps for users who have not connected yet (what deleting it would drop).
    func keptCallCount(integrationID: String, workspaceID: String, now: Date) async throws -> Int

    /// Records that a verifyURL confirmation (by its hash) was used; false when it was used already. Kept until it expires.
    func useConfirmation(hash: String, expiresAt: Date) async throws -> Bool

    func connectLink(id: String) async throws -> ConnectLink?

    /// The request a callback's state names, without claiming it (to check which browser it belongs to first).
    func authorizationRequest(state: String) async throws -> AuthorizationRequest?

    func insert(_ request: AuthorizationRequest) async throws

    /// Binds a pending, unbound request (started by the API) to the browser whose nonce hashes to `bindingHash`: the
    /// first browser to open its start page, once. Returns the request with its PKCE verifier, or nil.
    func bindAuthorizationRequest(state: String, bindingHash: String, now: Date) async throws -> AuthorizationRequest?

    /// Claims the request a callback's state names: the state is accepted once, and only before it expires.
    func claimAuthorization(state: String, now: Date) async throws -> AuthorizationClaim

    func failAuthorization(requestID: String, reason: String) async throws

    func insert(_ pending: PendingAction) async throws

    /// Takes the link's unexpired pending actions, each exactly once however often this is called: a row is only
    /// returned by the call whose update moved it from `pending` to `taken`.
    func takePendingActions(connectLinkID: String, now: Date) async throws -> [PendingAction]
}

/// The SQL implementation over the shared database and vault (SQLite or PostgreSQL).
struct SQLAuthorizationRepository: AuthorizationRepository, SQLRepository {
    let shared: StoreShared

    public func insert(_ link: ConnectLink) async throws {
        try await database.write { db in
            try await db.insert(into: "connect_links").model(ConnectLinkRow(link), nilEncodingStrategy: .asNil).run()
        }
    }

    public func authorizationRequestCount(connectLinkID: String) async throws -> Int {
        try await count("authorization_requests") { $0.where("connect_link_id", .equal, connectLinkID) }
    }

    public func insert(_ link: ConnectLink, token: String) async throws {
        let sealed = try vault.seal(token, context: Store.linkTokenContext(link.id))
        try await database.write { db in
            try await db.insert(into: "connect_links").model(ConnectLinkRow(link, tokenSealed: sealed), nilEncodingStrategy: .asNil).run()
        }
    }

    public func openConnectLink(integrationID: String, endUserID: String, reason: ConnectLinkReason, usableUntil: Date,
                                now: Date) async throws -> (link: ConnectLink, token: String)? {
        let row = try await database.read { db in
            try await db.select().columns("*").from("connect_links").where("integration_id", .equal, integrationID)
                .where("end_user_id", .equal, endUserID).where("reason", .equal, reason.rawValue)
                .where("status", .equal, ConnectLinkStatus.pending.rawValue).where("expires_at", .greaterThan, usableUntil.unixSeconds)
                .where("token_sealed", .isNot, SQLLiteral.null)
                .orderBy("created_at", .descending).orderBy("id", .descending).first(decoding: ConnectLinkRow.self)
        }
        guard let row, let sealed = row.token_sealed else { return nil }
        return (row.model, try vault.open(sealed, context: Store.linkTokenContext(row.id)))
    }

    /// The link a `/connect/{token}` URL names, found by the token's hash.
    public func connectLink(token: String) async throws -> ConnectLink? {
        let hash = Digest.sha256Hex(token)
        return try await database.read { db in
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

    public func keptCallCount(integrationID: String, workspaceID: String, now: Date) async throws -> Int {
        try await count("pending_actions") { $0.where("workspace_id", .equal, workspaceID).where("integration_id", .equal, integrationID)
            .where("status", .equal, "pending").where("expires_at", .greaterThan, now.unixSeconds) }
    }

    /// Records that a verifyURL confirmation (by its hash) was used; false when it was used already. Kept until it expires.
    public func useConfirmation(hash: String, expiresAt: Date) async throws -> Bool {
        try await database.write { db in
            try await db.insert(into: "used_confirmations").columns("id", "expires_at").values(SQLBind(hash), SQLBind(expiresAt.unixSeconds))
                .ignoringConflicts(with: ["id"]).returning("id").all().count == 1
        }
    }

    public func connectLink(id: String) async throws -> ConnectLink? {
        try await database.read { db in
            try await db.select().columns("*").from("connect_links").where("id", .equal, id).first(decoding: ConnectLinkRow.self)?.model
        }
    }

    /// The request a callback's state names, without claiming it (to check which browser it belongs to first).
    public func authorizationRequest(state: String) async throws -> AuthorizationRequest? {
        let hash = Digest.sha256Hex(state)
        let row = try await database.read { db in
            try await db.select().columns("*").from("authorization_requests").where("state_hash", .equal, hash).first(decoding: AuthorizationRequestRow.self)
        }
        return row?.model(pkceVerifier: nil)
    }

    public func insert(_ request: AuthorizationRequest) async throws {
        let row = AuthorizationRequestRow(
            id: request.id, workspace_id: request.workspaceID, integration_id: request.integrationID, end_user_id: request.endUserID,
            state_hash: request.stateHash,
            pkce_verifier_sealed: try request.pkceVerifier.map { try vault.seal($0, context: Store.verifierContext(requestID: request.id)) },
            redirect_uri: request.redirectURI, status: request.status.rawValue, created_at: request.createdAt.unixSeconds,
            expires_at: request.expiresAt.unixSeconds, error: request.error,
            connect_link_id: request.connectLinkID, browser_binding_hash: request.browserBindingHash, started_by: request.startedBy
        )
        try await database.write { db in try await db.insert(into: "authorization_requests").model(row, nilEncodingStrategy: .asNil).run() }
    }

    /// Binds a pending, unbound request (started by the API) to the browser whose nonce hashes to `bindingHash`: the
    /// first browser to open its start page, once. Returns the request with its PKCE verifier, or nil.
    public func bindAuthorizationRequest(state: String, bindingHash: String, now: Date) async throws -> AuthorizationRequest? {
        let row = try await database.write { db in
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
        let claimed = try await database.write { db in
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
        let existing = try await database.read { db in
            try await db.select().columns("*").from("authorization_requests").where("state_hash", .equal, hash)
                .first(decoding: AuthorizationRequestRow.self)
        }
        guard let existing else { return .unknown }
        if existing.status == AuthorizationRequestStatus.pending.rawValue {
            try await database.write { db in
                try await db.update("authorization_requests").set("status", to: AuthorizationRequestStatus.expired.rawValue)
                    .where("id", .equal, existing.id).where("status", .equal, AuthorizationRequestStatus.pending.rawValue).run()
            }
            return .expired
        }
        return existing.status == AuthorizationRequestStatus.expired.rawValue ? .expired : .alreadyUsed
    }

    public func failAuthorization(requestID: String, reason: String) async throws {
        try await database.write { db in
            try await db.update("authorization_requests")
                .set("status", to: AuthorizationRequestStatus.failed.rawValue)
                .set("error", to: Problem.clip(reason, to: 500))
                .where("id", .equal, requestID).run()
        }
    }

    public func insert(_ pending: PendingAction) async throws {
        let input = String(decoding: try JSONEncoder().encode(pending.input), as: UTF8.self)
        let row = PendingActionRow(
            id: pending.id, workspace_id: pending.workspaceID, integration_id: pending.integrationID, connect_link_id: pending.connectLinkID,
            end_user_id: pending.endUserID, conversation_id: pending.conversationID, action: pending.action,
            input_sealed: try vault.seal(input, context: Store.inputContext(pendingID: pending.id)), status: "pending",
            created_at: pending.createdAt.unixSeconds, expires_at: pending.expiresAt.unixSeconds)
        try await database.write { db in try await db.insert(into: "pending_actions").model(row, nilEncodingStrategy: .asNil).run() }
    }

    /// Takes the link's unexpired pending actions, each exactly once however often this is called: a row is only
    /// returned by the call whose update moved it from `pending` to `taken`.
    public func takePendingActions(connectLinkID: String, now: Date) async throws -> [PendingAction] {
        let rows = try await database.write { db in
            try await db.update("pending_actions").set("status", to: "taken")
                .where("connect_link_id", .equal, connectLinkID).where("status", .equal, "pending")
                .where("expires_at", .greaterThan, now.unixSeconds)
                .returning(SQLLiteral.all).all(decoding: PendingActionRow.self)
        }
        return try rows.map { row in
            let input = try vault.open(row.input_sealed, context: Store.inputContext(pendingID: row.id))
            return PendingAction(id: row.id, workspaceID: row.workspace_id, integrationID: row.integration_id, connectLinkID: row.connect_link_id,
                                 endUserID: row.end_user_id, conversationID: row.conversation_id, action: row.action,
                                 input: JSONValue.parse(Data(input.utf8)) ?? .object([:]), createdAt: Date(unixSeconds: row.created_at),
                                 expiresAt: Date(unixSeconds: row.expires_at))
        }.sorted { ($0.createdAt, $0.id) < ($1.createdAt, $1.id) }
    }
}
