public import Foundation
import SQLKit
import SwitchboardCore

/// Work that must happen after a change commits, whichever instance runs it: stored in the change's own transaction
/// (or just after it), run by the outbox service, and picked up again by any instance if the one running it died
/// (its lease lapses) or stopped before it ran.
public struct OutboxItem: Sendable, Equatable {
    public enum Kind: String, Sendable {
        /// Run the calls kept with `resume: true` for a connect link whose user has just connected (subject: the link's id).
        case resumeKeptCalls = "resume_kept_calls"
    }

    public let id: String
    public let kind: Kind
    public let subject: String
    /// How many times it has been taken, this time included.
    public let attempts: Int
}

public protocol OutboxRepository: Sendable {
    /// Stores `kind` for `subject`, due now.
    func enqueue(_ kind: OutboxItem.Kind, subject: String, now: Date) async throws

    /// Takes up to `limit` due items no live lease holds, leasing each to `owner` until `now + lease`.
    func takeDue(owner: String, now: Date, lease: TimeInterval, limit: Int) async throws -> [OutboxItem]

    /// Removes a done item.
    func complete(id: String) async throws

    /// Gives an item back, due again at `at`, with why it failed.
    func retry(id: String, at: Date, error: String) async throws

    /// How many items wait (leased or not).
    func outboxCount() async throws -> Int
}

struct SQLOutboxRepository: OutboxRepository, SQLRepository {
    let shared: StoreShared

    func enqueue(_ kind: OutboxItem.Kind, subject: String, now: Date) async throws {
        try await database.write { db in try await Self.enqueue(kind, subject: subject, now: now, on: db) }
    }

    /// Stores an item on `db`, inside the caller's transaction.
    static func enqueue(_ kind: OutboxItem.Kind, subject: String, now: Date, on db: any SQLDatabase) async throws {
        try await db.insert(into: "outbox").columns("id", "kind", "subject", "due_at", "attempts", "created_at")
            .values(SQLBind(Identifier.make("obx")), SQLBind(kind.rawValue), SQLBind(subject), SQLBind(now.unixSeconds), SQLBind(0),
                    SQLBind(now.unixSeconds))
            .run()
    }

    func takeDue(owner: String, now: Date, lease: TimeInterval, limit: Int) async throws -> [OutboxItem] {
        try await database.transaction { db in
            let rows = try await db.select().columns("id", "kind", "subject", "attempts").from("outbox")
                .where("due_at", .lessThanOrEqual, now.unixSeconds)
                .where { $0.where("lease_until", .is, SQLLiteral.null).orWhere("lease_until", .lessThan, now.unixSeconds) }
                .orderBy("due_at").orderBy("id").limit(limit).all()
            var taken: [OutboxItem] = []
            for row in rows {
                // Written by a newer release: left, unleased, for an instance that knows it.
                guard let kind = OutboxItem.Kind(rawValue: try row.decode(column: "kind", as: String.self)) else { continue }
                let id = try row.decode(column: "id", as: String.self)
                let attempts = try row.decode(column: "attempts", as: Int.self) + 1
                // Conditional, so that of two instances taking the same item on PostgreSQL only one gets it.
                let claimed = try await db.update("outbox").set("lease_owner", to: owner).set("lease_until", to: now.addingTimeInterval(lease).unixSeconds)
                    .set("attempts", to: attempts).where("id", .equal, id)
                    .where { $0.where("lease_until", .is, SQLLiteral.null).orWhere("lease_until", .lessThan, now.unixSeconds) }
                    .returning("id").first()
                guard claimed != nil else { continue }
                taken.append(OutboxItem(id: id, kind: kind, subject: try row.decode(column: "subject", as: String.self), attempts: attempts))
            }
            return taken
        }
    }

    func complete(id: String) async throws {
        try await database.write { db in try await db.delete(from: "outbox").where("id", .equal, id).run() }
    }

    func retry(id: String, at: Date, error: String) async throws {
        try await database.write { db in
            try await db.update("outbox").set("due_at", to: at.unixSeconds).set("lease_owner", to: SQLLiteral.null)
                .set("lease_until", to: SQLLiteral.null).set("last_error", to: String(error.prefix(500))).where("id", .equal, id).run()
        }
    }

    func outboxCount() async throws -> Int {
        try await count("outbox") { $0 }
    }
}
