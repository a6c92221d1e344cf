public import Foundation
import Logging
import SQLKit
public import SwitchboardCore

/// Events for an assistant's notify URL, with a lease per delivery so that one instance delivers each.
public protocol EventRepository: Sendable {
    func insert(_ event: EventRecord) async throws

    /// Takes a pending event for delivery (a lease, so one instance delivers it at a time); nil when it is not due or taken.
    func claimEvent(id: String, now: Date, lease: TimeInterval) async throws -> EventRecord?

    /// Pending events whose next attempt is due and that no instance holds, workspaces in turn and each one's oldest
    /// first, with their integration: at most
    /// `perIntegration` of each integration's, so that one integration's backlog cannot fill the list. `excluding`
    /// leaves out integrations that cannot take another delivery now.
    func dueEvents(now: Date, limit: Int, perIntegration: Int, excluding integrations: Set<String>) async throws -> [(id: String, integrationID: String, workspaceID: String)]

    /// Records one delivery attempt: delivered, or failed with the next attempt (nil: given up).
    func recordAttempt(eventID: String, delivered: Bool, httpStatus: Int?, error: String?, nextAttemptAt: Date?, now: Date) async throws

    /// A workspace's events, newest first, after the cursor `(createdAt, id)` of the previous page's last event.
    func events(workspaceID: String, integrationID: String?, limit: Int, before cursor: (Int64, String)?) async throws -> [EventRecord]
}

extension EventRepository {
    public func claimEvent(id: String, now: Date, lease: TimeInterval = 30) async throws -> EventRecord? {
        try await claimEvent(id: id, now: now, lease: lease)
    }

    public func dueEvents(now: Date, limit: Int = 50, perIntegration: Int = 10, excluding integrations: Set<String> = []) async throws -> [(id: String, integrationID: String, workspaceID: String)] {
        try await dueEvents(now: now, limit: limit, perIntegration: perIntegration, excluding: integrations)
    }
}

/// The SQL implementation over the shared database and vault (SQLite or PostgreSQL).
struct SQLEventRepository: EventRepository, SQLRepository {
    let shared: StoreShared

    public func insert(_ event: EventRecord) async throws {
        let row = try eventRow(event)
        try await database.write { db in try await db.insert(into: "events").model(row, nilEncodingStrategy: .asNil).run() }
    }

    /// Takes a pending event for delivery (a lease, so one instance delivers it at a time); nil when it is not due or taken.
    public func claimEvent(id: String, now: Date, lease: TimeInterval = 30) async throws -> EventRecord? {
        let row = try await database.write { db in
            try await db.update("events").set("lease_until", to: now.addingTimeInterval(lease).unixSeconds)
                .where("id", .equal, id).where("status", .equal, EventStatus.pending.rawValue)
                .where("next_attempt_at", .lessThanOrEqual, now.unixSeconds)
                .where { group in group.where("lease_until", .is, SQLLiteral.null).orWhere("lease_until", .lessThan, now.unixSeconds) }
                .returning(SQLLiteral.all).first(decoding: EventRow.self)
        }
        return try row.map(model)
    }

    /// Pending events whose next attempt is due and that no instance holds, workspaces in turn and each one's oldest
    /// first, with their integration: at most
    /// `perIntegration` of each integration's, so that one integration's backlog cannot fill the list. `excluding`
    /// leaves out integrations that cannot take another delivery now.
    public func dueEvents(now: Date, limit: Int = 50, perIntegration: Int = 10,
                          excluding integrations: Set<String> = []) async throws -> [(id: String, integrationID: String, workspaceID: String)] {
        var query: SQLQueryString = """
            SELECT id, integration_id, workspace_id FROM (
                SELECT id, integration_id, workspace_id, next_attempt_at,
                       ROW_NUMBER() OVER (PARTITION BY workspace_id ORDER BY next_attempt_at, id) AS turn
                FROM (
                    SELECT id, integration_id, workspace_id, next_attempt_at,
                           ROW_NUMBER() OVER (PARTITION BY integration_id ORDER BY next_attempt_at, id) AS place
                    FROM events
                    WHERE status = \(bind: EventStatus.pending.rawValue) AND next_attempt_at <= \(bind: now.unixSeconds)
                      AND (lease_until IS NULL OR lease_until < \(bind: now.unixSeconds))
            """
        if !integrations.isEmpty { query = query + " AND integration_id NOT IN (\(binds: integrations.sorted()))" }
        // Workspaces take turns over what is left after each integration's cut: each one's oldest event first, then each
        // one's second, so one workspace's backlog cannot fill the list ahead of the others.
        query = query + ") ranked WHERE place <= \(bind: perIntegration)) due ORDER BY turn, next_attempt_at, id LIMIT \(bind: limit)"
        let final = query
        return try await database.read { db in
            try await db.raw(final).all().map {
                (try $0.decode(column: "id", as: String.self), try $0.decode(column: "integration_id", as: String.self),
                 try $0.decode(column: "workspace_id", as: String.self))
            }
        }
    }

    /// Records one delivery attempt: delivered, or failed with the next attempt (nil: given up).
    public func recordAttempt(eventID: String, delivered: Bool, httpStatus: Int?, error: String?, nextAttemptAt: Date?, now: Date) async throws {
        let status: EventStatus = delivered ? .delivered : (nextAttemptAt == nil ? .failed : .pending)
        try await database.write { db in
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
        let rows = try await database.read { db in
            try await db.select().columns("*").from("events").where("workspace_id", .equal, workspaceID)
                .newestFirst(by: "created_at", integrationID: integrationID, after: cursor, limit: limit).all(decoding: EventRow.self)
        }
        return try rows.map(model)
    }
}
