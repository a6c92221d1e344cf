public import Foundation
import Logging
import SQLKit
public import SwitchboardCore

/// A workspace's authorization profiles (its own OAuth apps), their client secrets sealed by the vault.
public protocol ProfileRepository: Sendable {
    func insert(_ profile: AuthProfile) async throws

    @discardableResult
    func update(_ profile: AuthProfile) async throws -> Bool

    /// Updates a profile and, in the same transaction, marks every connection made through it as needing a new
    /// authorization when `reason` is given: no refresh can read the new endpoints with a connection still active.
    func update(_ profile: AuthProfile, markingConnections reason: String?, now: Date) async throws -> (updated: Bool, marked: Int)

    func authProfile(id: String, workspaceID: String) async throws -> AuthProfile?

    func authProfiles(workspaceID: String) async throws -> [AuthProfile]

    /// Deletes a profile unless an integration still uses it.
    func deleteAuthProfile(id: String, workspaceID: String) async throws -> DeleteOutcome
}

/// The SQL implementation over the shared database and vault (SQLite or PostgreSQL).
struct SQLProfileRepository: ProfileRepository, SQLRepository {
    let shared: StoreShared

    public func insert(_ profile: AuthProfile) async throws {
        defer { hot.invalidate() }
        let row = try row(for: profile)
        try await database.write { db in try await db.insert(into: "auth_profiles").model(row).run() }
    }

    @discardableResult
    public func update(_ profile: AuthProfile) async throws -> Bool {
        try await update(profile, markingConnections: nil, now: Date()).updated
    }

    /// Updates a profile and, in the same transaction, marks every connection made through it as needing a new
    /// authorization when `reason` is given: no refresh can read the new endpoints with a connection still active.
    public func update(_ profile: AuthProfile, markingConnections reason: String?, now: Date) async throws -> (updated: Bool, marked: Int) {
        defer { hot.invalidate() }
        let row = try row(for: profile)
        return try await database.transaction { db in
            let updated = try await db.update("auth_profiles")
                .set(model: row, nilEncodingStrategy: .asNil)
                .where("id", .equal, profile.id).where("workspace_id", .equal, profile.workspaceID)
                .returning("id").first() != nil
            guard updated, let reason else { return (updated, 0) }
            return (true, try await Store.markConnectionsNeedReauthorization(db, profileID: profile.id, workspaceID: profile.workspaceID,
                                                                             reason: reason, now: now))
        }
    }

    public func authProfile(id: String, workspaceID: String) async throws -> AuthProfile? {
        let row = try await database.read { db in
            try await db.select().columns("*").from("auth_profiles")
                .where("id", .equal, id).where("workspace_id", .equal, workspaceID)
                .first(decoding: AuthProfileRow.self)
        }
        return try row.map(model)
    }

    public func authProfiles(workspaceID: String) async throws -> [AuthProfile] {
        let rows = try await database.read { db in
            try await db.select().columns("*").from("auth_profiles").where("workspace_id", .equal, workspaceID)
                .orderBy("created_at").orderBy("id").all(decoding: AuthProfileRow.self)
        }
        return try rows.map(model)
    }

    /// Deletes a profile unless an integration still uses it.
    public func deleteAuthProfile(id: String, workspaceID: String) async throws -> DeleteOutcome {
        defer { hot.invalidate() }
        return try await database.transaction { db in
            let users = try await db.select().column("id").from("integrations")
                .where("auth_profile_id", .equal, id).where("workspace_id", .equal, workspaceID)
                .all().map { try $0.decode(column: "id", as: String.self) }
            if !users.isEmpty { return .inUse(integrationIDs: users) }
            let deleted = try await db.delete(from: "auth_profiles")
                .where("id", .equal, id).where("workspace_id", .equal, workspaceID)
                .returning("id").first()
            return deleted == nil ? .notFound : .deleted
        }
    }
}
