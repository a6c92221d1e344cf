import Foundation
import Logging
import SQLKit
public import SwitchboardCore

/// Integrations with their status, and each one's events signing secret (sealed).
public protocol IntegrationRepository: Sendable {
    /// `integration(id:workspaceID:)` and `connection(integrationID:endUserID:)` (and `cachedKey(forAPIKey:now:)`), remembered
    /// for a second (see `HotReads`): for the action path, where the same key, integration and connection recur.
    func cachedIntegration(id: String, workspaceID: String) async throws -> IntegrationRecord?

    func insert(_ integration: Integration) async throws

    @discardableResult
    func update(_ integration: Integration) async throws -> Bool

    func integration(id: String, workspaceID: String) async throws -> IntegrationRecord?

    /// An integration by id alone, for the OAuth callback, which has no API key.
    func integration(id: String) async throws -> IntegrationRecord?

    func integrations(workspaceID: String) async throws -> [IntegrationRecord]

    /// Deletes an integration and, by cascade, every connection and authorization request under it.
    func deleteIntegration(id: String, workspaceID: String) async throws -> Bool

    @discardableResult
    func setSigningSecret(_ secret: String, integrationID: String, workspaceID: String) async throws -> Bool

    func signingSecret(integrationID: String) async throws -> String?
}

/// The SQL implementation over the shared database and vault (SQLite or PostgreSQL).
struct SQLIntegrationRepository: IntegrationRepository, SQLRepository {
    let shared: StoreShared

    /// `integration(id:workspaceID:)` and `connection(integrationID:endUserID:)` (and `cachedKey(forAPIKey:now:)`), remembered
    /// for a second (see `HotReads`): for the action path, where the same key, integration and connection recur.
    public func cachedIntegration(id: String, workspaceID: String) async throws -> IntegrationRecord? {
        try await hot.value("integration:\(workspaceID):\(id)") { try await integration(id: id, workspaceID: workspaceID) }
    }

    public func insert(_ integration: Integration) async throws {
        defer { hot.invalidate() }
        let row = IntegrationRow(integration)
        try await database.write { db in try await db.insert(into: "integrations").model(row).run() }
    }

    @discardableResult
    public func update(_ integration: Integration) async throws -> Bool {
        defer { hot.invalidate() }
        let row = IntegrationRow(integration)
        return try await database.write { db in
            try await db.update("integrations").set(model: row, nilEncodingStrategy: .asNil)
                .where("id", .equal, integration.id).where("workspace_id", .equal, integration.workspaceID)
                .returning("id").first() != nil
        }
    }

    public func integration(id: String, workspaceID: String) async throws -> IntegrationRecord? {
        try await integrations(workspaceID: workspaceID, id: id).first
    }

    /// An integration by id alone, for the OAuth callback, which has no API key.
    public func integration(id: String) async throws -> IntegrationRecord? {
        try await integrations(workspaceID: nil, id: id).first
    }

    public func integrations(workspaceID: String) async throws -> [IntegrationRecord] {
        try await integrations(workspaceID: workspaceID, id: nil)
    }

    /// Deletes an integration and, by cascade, every connection and authorization request under it.
    public func deleteIntegration(id: String, workspaceID: String) async throws -> Bool {
        defer { hot.invalidate() }
        return try await database.transaction { db in
            // Explicit deletes keep the guarantee even where a driver runs with foreign keys off.
            try await db.delete(from: "connections").where("integration_id", .equal, id).where("workspace_id", .equal, workspaceID).run()
            try await db.delete(from: "authorization_requests").where("integration_id", .equal, id).where("workspace_id", .equal, workspaceID).run()
            return try await db.delete(from: "integrations").where("id", .equal, id).where("workspace_id", .equal, workspaceID)
                .returning("id").first() != nil
        }
    }

    @discardableResult
    public func setSigningSecret(_ secret: String, integrationID: String, workspaceID: String) async throws -> Bool {
        let sealed = try vault.seal(secret, context: Store.secretContext(integrationID: integrationID))
        return try await database.write { db in
            try await db.update("integrations").set("signing_secret_sealed", to: sealed)
                .where("id", .equal, integrationID).where("workspace_id", .equal, workspaceID)
                .returning("id").first() != nil
        }
    }

    public func signingSecret(integrationID: String) async throws -> String? {
        let sealed = try await database.read { db in
            try await db.select().column("signing_secret_sealed").from("integrations").where("id", .equal, integrationID).first()
        }
        guard let value = try sealed?.decode(column: "signing_secret_sealed", as: String?.self) else { return nil }
        return try vault.open(value, context: Store.secretContext(integrationID: integrationID))
    }
}
