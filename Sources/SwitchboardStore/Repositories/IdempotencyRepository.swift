public import Foundation
import Logging
import SQLKit
import SwitchboardCore

/// Idempotency keys: a write runs once per key, and a repeat gets the first outcome.
public protocol IdempotencyRepository: Sendable {
    /// Claims a key for a request (`requestHash` identifies the action and its input). A key claimed but left without
    /// an outcome for `Store.idempotencyLease` (its instance died) is claimed again.
    func claimIdempotencyKey(workspaceID: String, integrationID: String, key: String, requestHash: String, now: Date) async throws -> IdempotencyClaim

    /// Records the outcome of a claimed key, sealed: it may hold what the provider answered.
    func completeIdempotencyKey(workspaceID: String, integrationID: String, key: String, outcome: String) async throws

    /// Forgets a claimed key whose call never reached the provider, so that it can be used again.
    func releaseIdempotencyKey(workspaceID: String, integrationID: String, key: String) async throws

    /// How many idempotency records a workspace holds (they live a day).
    func idempotencyRecordCount(workspaceID: String, now: Date) async throws -> Int
}

/// The SQL implementation over the shared database and vault (SQLite or PostgreSQL).
struct SQLIdempotencyRepository: IdempotencyRepository, SQLRepository {
    let shared: StoreShared

    /// Claims a key for a request (`requestHash` identifies the action and its input).
    public func claimIdempotencyKey(workspaceID: String, integrationID: String, key: String, requestHash: String, now: Date) async throws -> IdempotencyClaim {
        try await database.transaction { db in
            try await db.delete(from: "idempotency_keys")
                .where("created_at", .lessThan, now.addingTimeInterval(-Store.idempotencyLifetime).unixSeconds).run()
            if let row = try await db.select().columns("id", "request_hash", "status", "outcome_sealed", "created_at", "lease_until").from("idempotency_keys")
                .where("workspace_id", .equal, workspaceID).where("integration_id", .equal, integrationID)
                .where("idempotency_key", .equal, key).first() {
                guard try row.decode(column: "request_hash", as: String.self) == requestHash else { return .mismatch }
                let id = try row.decode(column: "id", as: String.self)
                guard try row.decode(column: "status", as: String.self) == "completed",
                      let sealed = try row.decode(column: "outcome_sealed", as: String?.self) else {
                    // Still running, unless its claim's lease lapsed: the instance that claimed it died mid-call, and
                    // this caller takes the key over (rows claimed before leases count from their creation).
                    let leaseUntil = try row.decode(column: "lease_until", as: Int64?.self)
                        ?? (try row.decode(column: "created_at", as: Int64.self) + Int64(Store.idempotencyLease))
                    guard leaseUntil < now.unixSeconds else { return .inProgress }
                    // Conditional on the lease still lapsed: of two callers taking it over at once (PostgreSQL), one gets it.
                    let lapsed = now.unixSeconds, unleasedSince = now.addingTimeInterval(-Store.idempotencyLease).unixSeconds
                    let taken = try await db.update("idempotency_keys").set("lease_until", to: now.addingTimeInterval(Store.idempotencyLease).unixSeconds)
                        .where("id", .equal, id).where("status", .equal, "processing")
                        .where {
                            $0.where("lease_until", .lessThan, lapsed)
                                .orWhere { $0.where("lease_until", .is, SQLLiteral.null).where("created_at", .lessThan, unleasedSince) }
                        }
                        .returning("id").first()
                    return taken == nil ? .inProgress : .claimed
                }
                return .completed(try self.vault.open(sealed, context: Store.outcomeContext(id)))
            }
            try await db.insert(into: "idempotency_keys")
                .columns("id", "workspace_id", "integration_id", "idempotency_key", "request_hash", "status", "created_at", "lease_until")
                .values(SQLBind(Identifier.make("idem")), SQLBind(workspaceID), SQLBind(integrationID), SQLBind(key), SQLBind(requestHash),
                        SQLBind("processing"), SQLBind(now.unixSeconds), SQLBind(now.addingTimeInterval(Store.idempotencyLease).unixSeconds))
                .run()
            return .claimed
        }
    }

    /// Records the outcome of a claimed key, sealed: it may hold what the provider answered.
    public func completeIdempotencyKey(workspaceID: String, integrationID: String, key: String, outcome: String) async throws {
        try await database.write { db in
            guard let row = try await db.select().column("id").from("idempotency_keys").where("workspace_id", .equal, workspaceID)
                .where("integration_id", .equal, integrationID).where("idempotency_key", .equal, key).first() else { return }
            let id = try row.decode(column: "id", as: String.self)
            let sealed = try self.vault.seal(outcome, context: Store.outcomeContext(id))
            try await db.update("idempotency_keys").set("status", to: "completed").set("outcome_sealed", to: sealed)
                .where("id", .equal, id).run()
        }
    }

    /// Forgets a claimed key whose call never reached the provider, so that it can be used again.
    public func releaseIdempotencyKey(workspaceID: String, integrationID: String, key: String) async throws {
        try await database.write { db in
            try await db.delete(from: "idempotency_keys").where("workspace_id", .equal, workspaceID)
                .where("integration_id", .equal, integrationID).where("idempotency_key", .equal, key)
                .where("status", .equal, "processing").run()
        }
    }

    /// How many idempotency records a workspace holds (they live a day).
    public func idempotencyRecordCount(workspaceID: String, now: Date) async throws -> Int {
        try await count("idempotency_keys") { $0.where("workspace_id", .equal, workspaceID)
            .where("created_at", .greaterThanOrEqual, now.addingTimeInterval(-Store.idempotencyLifetime).unixSeconds) }
    }
}
