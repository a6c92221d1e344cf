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

extension Store {
    static func secretContext(integrationID: String) -> String { "integrations:\(integrationID):signing_secret" }
    static func payloadContext(eventID: String) -> String { "events:\(eventID):payload" }
    static func inputContext(pendingID: String) -> String { "pending_actions:\(pendingID):input" }

    // MARK: Signing secrets

    /// Replaces the integration's signing secret; false when it is not in that workspace.
    @discardableResult
    public func setSigningSecret(_ secret: String, integrationID: String, workspaceID: String) async throws -> Bool {
        let sealed = try vault.seal(secret, context: Store.secretContext(integrationID: integrationID))
        return try await database.withConnection { db in
            try await db.update("integrations").set("signing_secret_sealed", to: sealed)
                .where("id", .equal, integrationID).where("workspace_id", .equal, workspaceID)
                .returning("id").first() != nil
        }
    }

    public func signingSecret(integrationID: String) async throws -> String? {
        let sealed = try await database.withConnection { db in
            try await db.select().column("signing_secret_sealed").from("integrations").where("id", .equal, integrationID).first()
        }
        guard let value = try sealed?.decode(column: "signing_secret_sealed", as: String?.self) else { return nil }
        return try vault.open(value, context: Store.secretContext(integrationID: integrationID))
    }

    // MARK: Events

    func model(_ row: EventRow) throws -> EventRecord {
        let payload = try vault.open(row.payload_sealed, context: Store.payloadContext(eventID: row.id))
        return EventRecord(
            id: row.id, workspaceID: row.workspace_id, integrationID: row.integration_id, type: EventType(rawValue: row.type) ?? .connectionFailed,
            endUserID: row.end_user_id, payload: JSONValue.parse(Data(payload.utf8)) ?? .null, status: EventStatus(rawValue: row.status) ?? .failed,
            attempts: row.attempts, nextAttemptAt: row.next_attempt_at.map(Date.init(unixSeconds:)), lastStatus: row.last_status,
            lastError: row.last_error, createdAt: Date(unixSeconds: row.created_at), deliveredAt: row.delivered_at.map(Date.init(unixSeconds:)))
    }

    public func insert(_ event: EventRecord) async throws {
        let payload = String(decoding: try JSONEncoder().encode(event.payload), as: UTF8.self)
        let row = EventRow(
            id: event.id, workspace_id: event.workspaceID, integration_id: event.integrationID, type: event.type.rawValue, end_user_id: event.endUserID,
            payload_sealed: try vault.seal(payload, context: Store.payloadContext(eventID: event.id)), status: event.status.rawValue,
            attempts: event.attempts, next_attempt_at: event.nextAttemptAt?.unixSeconds, lease_until: nil, last_status: event.lastStatus,
            last_error: event.lastError, created_at: event.createdAt.unixSeconds, delivered_at: event.deliveredAt?.unixSeconds)
        try await database.withConnection { db in try await db.insert(into: "events").model(row, nilEncodingStrategy: .asNil).run() }
    }

    /// Takes a pending event for delivery (a lease, so one instance delivers it at a time); nil when it is not due or taken.
    public func claimEvent(id: String, now: Date, lease: TimeInterval = 30) async throws -> EventRecord? {
        let row = try await database.withConnection { db in
            try await db.update("events").set("lease_until", to: now.addingTimeInterval(lease).unixSeconds)
                .where("id", .equal, id).where("status", .equal, EventStatus.pending.rawValue)
                .where("next_attempt_at", .lessThanOrEqual, now.unixSeconds)
                .where { group in group.where("lease_until", .is, SQLLiteral.null).orWhere("lease_until", .lessThan, now.unixSeconds) }
                .returning(SQLLiteral.all).first(decoding: EventRow.self)
        }
        return try row.map(model)
    }

    /// Pending events whose next attempt is due and that no instance holds, oldest first, with their integration: at most
    /// `perIntegration` of each integration's, so that one integration's backlog cannot fill the list. `excluding`
    /// leaves out integrations that cannot take another delivery now.
    public func dueEvents(now: Date, limit: Int = 50, perIntegration: Int = 10,
                          excluding integrations: Set<String> = []) async throws -> [(id: String, integrationID: String, workspaceID: String)] {
        var query: SQLQueryString = """
            SELECT id, integration_id, workspace_id FROM (
                SELECT id, integration_id, workspace_id, next_attempt_at,
                       ROW_NUMBER() OVER (PARTITION BY integration_id ORDER BY next_attempt_at, id) AS place
                FROM events
                WHERE status = \(bind: EventStatus.pending.rawValue) AND next_attempt_at <= \(bind: now.unixSeconds)
                  AND (lease_until IS NULL OR lease_until < \(bind: now.unixSeconds))
            """
        if !integrations.isEmpty { query = query + " AND integration_id NOT IN (\(binds: integrations.sorted()))" }
        query = query + ") due WHERE place <= \(bind: perIntegration) ORDER BY next_attempt_at, id LIMIT \(bind: limit)"
        let final = query
        return try await database.withConnection { db in
            try await db.raw(final).all().map {
                (try $0.decode(column: "id", as: String.self), try $0.decode(column: "integration_id", as: String.self),
                 try $0.decode(column: "workspace_id", as: String.self))
            }
        }
    }

    /// Records one delivery attempt: delivered, or failed with the next attempt (nil: given up).
    public func recordAttempt(eventID: String, delivered: Bool, httpStatus: Int?, error: String?, nextAttemptAt: Date?, now: Date) async throws {
        let status: EventStatus = delivered ? .delivered : (nextAttemptAt == nil ? .failed : .pending)
        try await database.withConnection { db in
            try await db.update("events")
                .set("status", to: status.rawValue)
                .set("attempts", to: SQLBinaryExpression(SQLColumn("attempts"), .add, SQLLiteral.numeric("1")))
                .set("next_attempt_at", to: nextAttemptAt?.unixSeconds)
                .set("lease_until", to: Int64?.none)
                .set("last_status", to: httpStatus)
                .set("last_error", to: error.map { Problem.clip($0, to: 300) })
                .set("delivered_at", to: delivered ? now.unixSeconds : nil)
                .where("id", .equal, eventID).run()
        }
    }

    /// A workspace's events, newest first, after the cursor `(createdAt, id)` of the previous page's last event.
    public func events(workspaceID: String, integrationID: String?, limit: Int, before cursor: (Int64, String)?) async throws -> [EventRecord] {
        let rows = try await database.withConnection { db in
            try await db.select().columns("*").from("events").where("workspace_id", .equal, workspaceID)
                .newestFirst(by: "created_at", integrationID: integrationID, after: cursor, limit: limit).all(decoding: EventRow.self)
        }
        return try rows.map(model)
    }

    // MARK: Pending actions

    public func insert(_ pending: PendingAction) async throws {
        let input = String(decoding: try JSONEncoder().encode(pending.input), as: UTF8.self)
        let row = PendingActionRow(
            id: pending.id, workspace_id: pending.workspaceID, integration_id: pending.integrationID, connect_link_id: pending.connectLinkID,
            end_user_id: pending.endUserID, conversation_id: pending.conversationID, action: pending.action,
            input_sealed: try vault.seal(input, context: Store.inputContext(pendingID: pending.id)), status: "pending",
            created_at: pending.createdAt.unixSeconds, expires_at: pending.expiresAt.unixSeconds)
        try await database.withConnection { db in try await db.insert(into: "pending_actions").model(row, nilEncodingStrategy: .asNil).run() }
    }

    /// Takes the link's unexpired pending actions, each exactly once however often this is called: a row is only
    /// returned by the call whose update moved it from `pending` to `taken`.
    public func takePendingActions(connectLinkID: String, now: Date) async throws -> [PendingAction] {
        let rows = try await database.withConnection { db in
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

    /// Deletes a user's connection (its tokens with it); the connection as it was, or nil when there was none.
    public func deleteConnection(integrationID: String, endUserID: String, workspaceID: String) async throws -> Connection? {
        defer { hot.invalidate() }
        guard let existing = try await connection(integrationID: integrationID, endUserID: endUserID), existing.workspaceID == workspaceID else { return nil }
        try await database.withConnection { db in
            try await db.delete(from: "connections").where("id", .equal, existing.id).run()
        }
        return existing
    }
}

extension Store {
    /// How long finished records are kept: expired links and authorization requests a day (so a late visitor is told
    /// "expired" rather than "not valid"), settled events thirty days (the delivery log).
    public static let expiredRetention: TimeInterval = 86_400
    public static let eventRetention: TimeInterval = 30 * 86_400

    /// Deletes what can no longer be used or shown; returns how many rows went.
    @discardableResult
    public func pruneExpired(now: Date) async throws -> Int {
        let expired = now.addingTimeInterval(-Store.expiredRetention).unixSeconds
        return try await database.withConnection { db in
            var removed = 0
            let deletions: [(table: String, build: (SQLDeleteBuilder) -> SQLDeleteBuilder)] = [
                ("pending_actions", { $0.where("expires_at", .lessThan, now.unixSeconds) }),
                ("authorization_requests", { $0.where("expires_at", .lessThan, expired) }),
                ("connect_links", { $0.where("expires_at", .lessThan, expired) }),
                ("used_confirmations", { $0.where("expires_at", .lessThan, now.unixSeconds) }),
                ("console_sessions", { $0.where("expires_at", .lessThan, now.unixSeconds) }),
                ("events", { $0.where("status", .notEqual, EventStatus.pending.rawValue)
                    .where("created_at", .lessThan, now.addingTimeInterval(-Store.eventRetention).unixSeconds) }),
            ]
            for deletion in deletions {
                removed += try await deletion.build(db.delete(from: deletion.table)).returning("id").all().count
            }
            return removed
        }
    }
}
