public import Foundation
import SQLKit
import SwitchboardCore

/// What an idempotency key already stands for.
public enum IdempotencyClaim: Sendable, Equatable {
    /// New: this caller runs the action and then records its outcome.
    case claimed
    /// Done before: the stored outcome (JSON), to answer again without calling the provider.
    case completed(String)
    /// Another call with this key is running now.
    case inProgress
    /// The key was used for a different action or input.
    case mismatch
}

extension Store {
    /// Idempotency records live a day; afterwards the key may be used again.
    public static let idempotencyLifetime: TimeInterval = 86_400

    static func outcomeContext(_ id: String) -> String { "idempotency_keys:\(id):outcome" }

    /// Claims a key for a request (`requestHash` identifies the action and its input).
    public func claimIdempotencyKey(workspaceID: String, integrationID: String, key: String, requestHash: String, now: Date) async throws -> IdempotencyClaim {
        try await database.transaction { db in
            try await db.delete(from: "idempotency_keys")
                .where("created_at", .lessThan, now.addingTimeInterval(-Store.idempotencyLifetime).unixSeconds).run()
            if let row = try await db.select().columns("id", "request_hash", "status", "outcome_sealed").from("idempotency_keys")
                .where("workspace_id", .equal, workspaceID).where("integration_id", .equal, integrationID)
                .where("idempotency_key", .equal, key).first() {
                guard try row.decode(column: "request_hash", as: String.self) == requestHash else { return .mismatch }
                guard try row.decode(column: "status", as: String.self) == "completed",
                      let sealed = try row.decode(column: "outcome_sealed", as: String?.self) else { return .inProgress }
                return .completed(try self.vault.open(sealed, context: Store.outcomeContext(try row.decode(column: "id", as: String.self))))
            }
            try await db.insert(into: "idempotency_keys")
                .columns("id", "workspace_id", "integration_id", "idempotency_key", "request_hash", "status", "created_at")
                .values(SQLBind(Identifier.make("idem")), SQLBind(workspaceID), SQLBind(integrationID), SQLBind(key), SQLBind(requestHash),
                        SQLBind("processing"), SQLBind(now.unixSeconds))
                .run()
            return .claimed
        }
    }

    /// Records the outcome of a claimed key, sealed: it may hold what the provider answered.
    public func completeIdempotencyKey(workspaceID: String, integrationID: String, key: String, outcome: String) async throws {
        try await database.withConnection { db in
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
        try await database.withConnection { db in
            try await db.delete(from: "idempotency_keys").where("workspace_id", .equal, workspaceID)
                .where("integration_id", .equal, integrationID).where("idempotency_key", .equal, key)
                .where("status", .equal, "processing").run()
        }
    }
}
