import Foundation
import Logging
import SQLKit
import SwitchboardCore

/// Administrative changes, per workspace, newest first.
public protocol AuditRepository: Sendable {
    func record(_ entry: AuditEntry) async throws

    /// One page of a workspace's audit log, newest first, after the previous page's last `(created_at_ms, id)`.
    func auditEntries(workspaceID: String, limit: Int, before cursor: (Int64, String)?) async throws -> [AuditEntry]

    /// Every workspace's id, for changes that concern them all (a master-key rotation).
    func workspaceIDs() async throws -> [String]
}

/// The SQL implementation over the shared database and vault (SQLite or PostgreSQL).
struct SQLAuditRepository: AuditRepository, SQLRepository {
    let shared: StoreShared

    public func record(_ entry: AuditEntry) async throws {
        let detail = String(decoding: try JSONEncoder().encode(JSONValue.object(entry.detail)), as: UTF8.self)
        let row = AuditRow(id: entry.id, workspace_id: entry.workspaceID, actor: entry.actor, action: entry.action, target_type: entry.targetType,
                           target_id: entry.targetID, detail: detail, created_at_ms: Int64((entry.createdAt.timeIntervalSince1970 * 1000).rounded(.down)))
        try await database.write { db in try await db.insert(into: "audit_log").model(row, nilEncodingStrategy: .asNil).run() }
    }

    /// One page of a workspace's audit log, newest first, after the previous page's last `(created_at_ms, id)`.
    public func auditEntries(workspaceID: String, limit: Int, before cursor: (Int64, String)?) async throws -> [AuditEntry] {
        try await database.read { db in
            try await db.select().columns("*").from("audit_log").where("workspace_id", .equal, workspaceID)
                .newestFirst(by: "created_at_ms", integrationID: nil, after: cursor, limit: limit)
                .all(decoding: AuditRow.self).map(\.model)
        }
    }

    /// Every workspace's id, for changes that concern them all (a master-key rotation).
    public func workspaceIDs() async throws -> [String] {
        try await database.read { db in
            try await db.select().column("id").from("workspaces").all().map { try $0.decode(column: "id", as: String.self) }
        }
    }
}
