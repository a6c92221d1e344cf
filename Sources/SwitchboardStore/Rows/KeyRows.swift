public import Foundation
import Logging
import SQLKit
public import SwitchboardCore

struct WorkspaceRow: Codable {
    var id: String
    var name: String
    var created_at: Int64
    var model: Workspace { Workspace(id: id, name: name, createdAt: Date(unixSeconds: created_at)) }
}

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

extension SQLRepository {
    // MARK: Console sessions
}
