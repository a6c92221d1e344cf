public import Foundation
import Logging
import SQLKit
public import SwitchboardCore

/// An admin API key as it can be shown: never the key, nor its hash.
public struct APIKeyInfo: Sendable, Equatable {
    public var id: String
    public var workspaceID: String
    public var name: String
    public var createdAt: Date
    public var lastUsedAt: Date?
    public var expiresAt: Date?
    public var revokedAt: Date?

    public enum Status: String, Sendable { case active, expired, revoked }

    public func status(at now: Date) -> Status {
        if revokedAt != nil { return .revoked }
        if let expiresAt, expiresAt <= now { return .expired }
        return .active
    }
}

/// A presented key that works: its workspace, id and expiry.
public struct AuthenticatedKey: Sendable, Equatable {
    public var workspace: Workspace
    public var keyID: String
    public var expiresAt: Date?

    public func isExpired(at now: Date) -> Bool { expiresAt.map { $0 <= now } ?? false }
}

struct APIKeyRow: Codable {
    var id: String
    var workspace_id: String
    var name: String?
    var created_at: Int64
    var last_used_at: Int64?
    var expires_at: Int64?
    var revoked_at: Int64?

    static let columns = ["id", "workspace_id", "name", "created_at", "last_used_at", "expires_at", "revoked_at"]

    var model: APIKeyInfo {
        APIKeyInfo(id: id, workspaceID: workspace_id, name: name ?? "", createdAt: Date(unixSeconds: created_at),
                   lastUsedAt: last_used_at.map(Date.init(unixSeconds:)), expiresAt: expires_at.map(Date.init(unixSeconds:)),
                   revokedAt: revoked_at.map(Date.init(unixSeconds:)))
    }
}

/// A key with its workspace, as the key and console-session lookups read it.
struct KeyRow: Codable {
    var key_id: String
    var key_expires_at: Int64?
    var id: String
    var name: String
    var created_at: Int64

    static func select(_ db: any SQLDatabase) -> SQLSelectBuilder {
        db.select()
            .column(SQLColumn("id", table: "api_keys"), as: "key_id").column(SQLColumn("expires_at", table: "api_keys"), as: "key_expires_at")
            .columns(SQLColumn("id", table: "workspaces"), SQLColumn("name", table: "workspaces"), SQLColumn("created_at", table: "workspaces"))
    }

    /// The key, unless it has expired at `now`.
    func working(at now: Date) -> AuthenticatedKey? {
        let key = AuthenticatedKey(workspace: Workspace(id: id, name: name, createdAt: Date(unixSeconds: created_at)),
                                   keyID: key_id, expiresAt: key_expires_at.map(Date.init(unixSeconds:)))
        return key.isExpired(at: now) ? nil : key
    }
}

/// Remembers, per instance, when each key's last use was written, so that use is recorded at most once a minute per key.
final class KeyUseThrottle: @unchecked Sendable {
    static let interval: TimeInterval = 60
    private let lock = NSLock()
    private var written: [String: Date] = [:]

    /// True when the use at `now` should be written (and notes that it is).
    func shouldWrite(keyID: String, now: Date) -> Bool {
        lock.withLock {
            if let last = written[keyID], now.timeIntervalSince(last) < Self.interval, now >= last { return false }
            if written.count >= 10_000 { written.removeAll(keepingCapacity: true) }
            written[keyID] = now
            return true
        }
    }
}

extension Store {
    /// How long an instance may go on accepting a key revoked by another process (its one-second read cache).
    public static let keyCacheLifetime: Duration = HotReads.lifetime

    /// Stores a new admin key's hash; the key itself is never stored. Returns the key's id.
    @discardableResult
    public func addAPIKey(workspaceID: String, key: String, name: String? = nil, expiresAt: Date? = nil, now: Date = Date()) async throws -> String {
        defer { hot.invalidate() }
        let id = Identifier.make("key")
        try await database.withConnection { db in
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
        try await database.withConnection { db in
            try await db.select().columns(APIKeyRow.columns.map { SQLColumn($0) }).from("api_keys").where("workspace_id", .equal, workspaceID)
                .orderBy("created_at", .descending).orderBy("id", .descending)
                .all(decoding: APIKeyRow.self).map(\.model)
        }
    }

    public func apiKey(id: String) async throws -> APIKeyInfo? {
        try await database.withConnection { db in
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
        let row = try await database.withConnection { db in
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
            try await database.withConnection { db in
                try await db.update("api_keys").set("last_used_at", to: SQLBind(now.unixSeconds)).where("id", .equal, keyID).run()
            }
        } catch {
            logger.warning("recording a key's last use failed", metadata: ["key": "\(keyID)", "error.type": "\(type(of: error))"])
        }
    }

    // MARK: Console sessions

    /// Starts a console session for a key that works now; returns the cookie value (only its hash is stored).
    public func startConsoleSession(_ key: AuthenticatedKey, lifetime: TimeInterval, now: Date) async throws -> String {
        let token = SecureRandom.token(bytes: 32)
        try await database.withConnection { db in
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
        let row = try await database.withConnection { db in
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
        try await database.withConnection { db in
            try await db.delete(from: "console_sessions").where("id", .equal, Digest.sha256Hex(token)).run()
        }
    }
}
