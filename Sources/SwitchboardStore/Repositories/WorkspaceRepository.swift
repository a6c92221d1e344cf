public import Foundation
import Logging
import SQLKit
public import SwitchboardCore

/// Workspaces and their admin API keys, and the console sessions those keys open. Keys are kept as hashes; a working key is remembered for `Store.keyCacheLifetime`.
public protocol WorkspaceRepository: Sendable {
    /// The workspace named `name`, created if it does not exist yet.
    func workspace(named name: String, createIfMissing: Bool, now: Date) async throws -> Workspace?

    @discardableResult
    func addAPIKey(workspaceID: String, key: String, name: String?, expiresAt: Date?, now: Date) async throws -> String

    /// A workspace's keys, newest first, revoked and expired ones included.
    func apiKeys(workspaceID: String) async throws -> [APIKeyInfo]

    func apiKey(id: String) async throws -> APIKeyInfo?

    /// Revokes a key and ends its console sessions; nil when there is no such key. A key revoked already stays as it was.
    func revokeAPIKey(id: String, now: Date) async throws -> APIKeyInfo?

    /// The key a presented value names, if it is neither revoked nor expired at `now`.
    func authenticatedKey(forAPIKey key: String, now: Date) async throws -> AuthenticatedKey?

    /// As `authenticatedKey(forAPIKey:now:)`, remembered for a second (see `HotReads`); expiry is checked on every use.
    /// A key revoked in this instance is refused at once; one revoked elsewhere (the `keys revoke` command) within a second,
    /// which that command waits out before it reports the key revoked.
    func cachedKey(forAPIKey key: String, now: Date) async throws -> AuthenticatedKey?

    /// The workspace a presented key belongs to, or nil for an unknown, revoked or expired key.
    func workspace(forAPIKey key: String, now: Date) async throws -> Workspace?

    /// Records that a key was used, at most once a minute per key and instance: no write per request.
    func noteKeyUsed(keyID: String, now: Date) async

    /// Starts a console session for a key that works now; returns the cookie value (only its hash is stored).
    func startConsoleSession(_ key: AuthenticatedKey, lifetime: TimeInterval, now: Date) async throws -> String

    /// The key behind a console session cookie, while the session lasts and its key is neither revoked nor expired.
    func consoleSession(token: String, now: Date) async throws -> AuthenticatedKey?

    /// Ends a console session (sign-out): its cookie works nowhere after this.
    func endConsoleSession(token: String) async throws
}

extension WorkspaceRepository {
    public func workspace(named name: String, createIfMissing: Bool, now: Date = Date()) async throws -> Workspace? {
        try await workspace(named: name, createIfMissing: createIfMissing, now: now)
    }

    @discardableResult
    public func addAPIKey(workspaceID: String, key: String, name: String? = nil, expiresAt: Date? = nil, now: Date = Date()) async throws -> String {
        try await addAPIKey(workspaceID: workspaceID, key: key, name: name, expiresAt: expiresAt, now: now)
    }

    public func revokeAPIKey(id: String, now: Date = Date()) async throws -> APIKeyInfo? {
        try await revokeAPIKey(id: id, now: now)
    }

    public func workspace(forAPIKey key: String, now: Date = Date()) async throws -> Workspace? {
        try await workspace(forAPIKey: key, now: now)
    }
}

/// The SQL implementation over the shared database and vault (SQLite or PostgreSQL).
struct SQLWorkspaceRepository: WorkspaceRepository, SQLRepository {
    let shared: StoreShared

    /// The workspace named `name`, created if it does not exist yet.
    public func workspace(named name: String, createIfMissing: Bool, now: Date = Date()) async throws -> Workspace? {
        defer { hot.invalidate() }
        return try await database.transaction { db in
            if let row = try await db.select().columns("*").from("workspaces").where("name", .equal, name).first(decoding: WorkspaceRow.self) {
                return row.model
            }
            guard createIfMissing else { return nil }
            let row = WorkspaceRow(id: Identifier.make("ws"), name: name, created_at: now.unixSeconds)
            try await db.insert(into: "workspaces").model(row).run()
            return row.model
        }
    }

    public func addAPIKey(workspaceID: String, key: String, name: String? = nil, expiresAt: Date? = nil, now: Date = Date()) async throws -> String {
        defer { hot.invalidate() }
        let id = Identifier.make("key")
        try await database.write { db in
            try await db.insert(into: "api_keys")
                .columns("id", "workspace_id", "key_hash", "display_prefix", "created_at", "name", "expires_at")
                .values(SQLBind(id), SQLBind(workspaceID), SQLBind(AdminAPIKey.hash(key)), SQLBind(String(key.prefix(10))),
                        SQLBind(now.unixSeconds), SQLBind(name), SQLBind(expiresAt?.unixSeconds))
                .run()
        }
        return id
    }

    /// A workspace's keys, newest first, revoked and expired ones included.
    public func apiKeys(workspaceID: String) async throws -> [APIKeyInfo] {
        try await database.read { db in
            try await db.select().columns(APIKeyRow.columns.map { SQLColumn($0) }).from("api_keys").where("workspace_id", .equal, workspaceID)
                .orderBy("created_at", .descending).orderBy("id", .descending)
                .all(decoding: APIKeyRow.self).map(\.model)
        }
    }

    public func apiKey(id: String) async throws -> APIKeyInfo? {
        try await database.read { db in
            try await db.select().columns(APIKeyRow.columns.map { SQLColumn($0) }).from("api_keys").where("id", .equal, id)
                .first(decoding: APIKeyRow.self)?.model
        }
    }

    /// Revokes a key and ends its console sessions; nil when there is no such key. A key revoked already stays as it was.
    public func revokeAPIKey(id: String, now: Date = Date()) async throws -> APIKeyInfo? {
        defer { hot.invalidate() }
        return try await database.transaction { db in
            try await db.update("api_keys").set("revoked_at", to: SQLBind(now.unixSeconds))
                .where("id", .equal, id).where("revoked_at", .is, SQLLiteral.null).run()
            try await db.delete(from: "console_sessions").where("key_id", .equal, id).run()
            return try await db.select().columns(APIKeyRow.columns.map { SQLColumn($0) }).from("api_keys").where("id", .equal, id)
                .first(decoding: APIKeyRow.self)?.model
        }
    }

    /// The key a presented value names, if it is neither revoked nor expired at `now`.
    public func authenticatedKey(forAPIKey key: String, now: Date) async throws -> AuthenticatedKey? {
        try await authenticatedKey(hash: AdminAPIKey.hash(key), now: now)
    }

    /// As `authenticatedKey(forAPIKey:now:)`, remembered for a second (see `HotReads`); expiry is checked on every use.
    /// A key revoked in this instance is refused at once; one revoked elsewhere (the `keys revoke` command) within a second,
    /// which that command waits out before it reports the key revoked.
    public func cachedKey(forAPIKey key: String, now: Date) async throws -> AuthenticatedKey? {
        let hash = AdminAPIKey.hash(key)
        guard let found = try await hot.value("key:" + hash, load: { try await authenticatedKey(hash: hash, now: now) }) else { return nil }
        return found.isExpired(at: now) ? nil : found
    }

    func authenticatedKey(hash: String, now: Date) async throws -> AuthenticatedKey? {
        let row = try await database.read { db in
            try await KeyRow.select(db)
                .from("api_keys")
                .join(SQLIdentifier("workspaces"), on: SQLColumn("workspace_id", table: "api_keys"), .equal, SQLColumn("id", table: "workspaces"))
                .where(SQLColumn("key_hash", table: "api_keys"), .equal, SQLBind(hash))
                .where(SQLColumn("revoked_at", table: "api_keys"), .is, SQLLiteral.null)
                .first(decoding: KeyRow.self)
        }
        return row?.working(at: now)
    }

    /// The workspace a presented key belongs to, or nil for an unknown, revoked or expired key.
    public func workspace(forAPIKey key: String, now: Date = Date()) async throws -> Workspace? {
        try await authenticatedKey(forAPIKey: key, now: now)?.workspace
    }

    /// Records that a key was used, at most once a minute per key and instance: no write per request.
    public func noteKeyUsed(keyID: String, now: Date) async {
        guard keyUseThrottle.shouldWrite(keyID: keyID, now: now) else { return }
        do {
            try await database.write { db in
                try await db.update("api_keys").set("last_used_at", to: SQLBind(now.unixSeconds)).where("id", .equal, keyID).run()
            }
        } catch {
            logger.warning("recording a key's last use failed", metadata: ["key": "\(keyID)", "error.type": "\(type(of: error))"])
        }
    }

    /// Starts a console session for a key that works now; returns the cookie value (only its hash is stored).
    public func startConsoleSession(_ key: AuthenticatedKey, lifetime: TimeInterval, now: Date) async throws -> String {
        let token = SecureRandom.token(bytes: 32)
        try await database.write { db in
            try await db.insert(into: "console_sessions").columns("id", "key_id", "workspace_id", "created_at", "expires_at")
                .values(SQLBind(Digest.sha256Hex(token)), SQLBind(key.keyID), SQLBind(key.workspace.id), SQLBind(now.unixSeconds),
                        SQLBind(now.addingTimeInterval(lifetime).unixSeconds))
                .run()
        }
        return token
    }

    /// The key behind a console session cookie, while the session lasts and its key is neither revoked nor expired.
    public func consoleSession(token: String, now: Date) async throws -> AuthenticatedKey? {
        guard !token.isEmpty, token.count <= 100 else { return nil }
        let row = try await database.read { db in
            try await KeyRow.select(db)
                .from("console_sessions")
                .join(SQLIdentifier("api_keys"), on: SQLColumn("key_id", table: "console_sessions"), .equal, SQLColumn("id", table: "api_keys"))
                .join(SQLIdentifier("workspaces"), on: SQLColumn("workspace_id", table: "api_keys"), .equal, SQLColumn("id", table: "workspaces"))
                .where(SQLColumn("id", table: "console_sessions"), .equal, SQLBind(Digest.sha256Hex(token)))
                .where(SQLColumn("expires_at", table: "console_sessions"), .greaterThan, SQLBind(now.unixSeconds))
                .where(SQLColumn("revoked_at", table: "api_keys"), .is, SQLLiteral.null)
                .first(decoding: KeyRow.self)
        }
        return row?.working(at: now)
    }

    /// Ends a console session (sign-out): its cookie works nowhere after this.
    public func endConsoleSession(token: String) async throws {
        try await database.write { db in
            try await db.delete(from: "console_sessions").where("id", .equal, Digest.sha256Hex(token)).run()
        }
    }
}
