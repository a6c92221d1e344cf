public import Foundation
import Synchronization
import SQLKit
public import SwitchboardCore

/// One administrative change: who (an admin key's id, or `operator` for the command line), what, to which object,
/// when. `detail` names what changed (field names, counts), never a secret or a value that could be one.
public struct AuditEntry: Sendable, Equatable {
    public var id: String
    public var workspaceID: String
    public var actor: String
    public var action: String
    public var targetType: String
    public var targetID: String?
    public var detail: [String: JSONValue]
    public var createdAt: Date

    public init(workspaceID: String, actor: String, action: String, targetType: String, targetID: String?,
                detail: [String: JSONValue] = [:], at createdAt: Date) {
        self.id = AuditEntry.nextID(at: createdAt)
        self.workspaceID = workspaceID
        self.actor = actor
        self.action = action
        self.targetType = targetType
        self.targetID = targetID
        self.detail = detail
        self.createdAt = createdAt
    }
}

extension AuditEntry {
    private static let sequence = Mutex<UInt64>(0)

    /// Ids that sort as the entries were made within an instance, even in one millisecond: the time, a per-process
    /// sequence, and random bits.
    static func nextID(at date: Date) -> String {
        let number = sequence.withLock { value -> UInt64 in value &+= 1; return value }
        func padded(_ value: UInt64, _ width: Int) -> String {
            let digits = String(value)
            return String(repeating: "0", count: max(0, width - digits.count)) + digits
        }
        let ms = UInt64(max(0, (date.timeIntervalSince1970 * 1000).rounded(.down)))
        return "aud_" + padded(ms, 14) + padded(number % 1_000_000_000, 9) + SecureRandom.hexIdentifier(bytes: 4)
    }
}

struct AuditRow: Codable {
    var id: String
    var workspace_id: String
    var actor: String
    var action: String
    var target_type: String
    var target_id: String?
    var detail: String
    var created_at_ms: Int64

    var model: AuditEntry {
        var entry = AuditEntry(workspaceID: workspace_id, actor: actor, action: action, targetType: target_type, targetID: target_id,
                               detail: JSONValue.parse(Data(detail.utf8))?.objectValue ?? [:],
                               at: Date(timeIntervalSince1970: Double(created_at_ms) / 1000))
        entry.id = id
        return entry
    }
}

extension Store {
    /// The actor recorded for changes made from the command line (`keys`, `rotate-master`).
    public static let operatorActor = "operator"

    public func record(_ entry: AuditEntry) async throws {
        let detail = String(decoding: try JSONEncoder().encode(JSONValue.object(entry.detail)), as: UTF8.self)
        let row = AuditRow(id: entry.id, workspace_id: entry.workspaceID, actor: entry.actor, action: entry.action, target_type: entry.targetType,
                           target_id: entry.targetID, detail: detail, created_at_ms: Int64((entry.createdAt.timeIntervalSince1970 * 1000).rounded(.down)))
        try await database.withConnection { db in try await db.insert(into: "audit_log").model(row, nilEncodingStrategy: .asNil).run() }
    }

    /// One page of a workspace's audit log, newest first, after the previous page's last `(created_at_ms, id)`.
    public func auditEntries(workspaceID: String, limit: Int, before cursor: (Int64, String)?) async throws -> [AuditEntry] {
        try await database.withConnection { db in
            try await db.select().columns("*").from("audit_log").where("workspace_id", .equal, workspaceID)
                .newestFirst(by: "created_at_ms", integrationID: nil, after: cursor, limit: limit)
                .all(decoding: AuditRow.self).map(\.model)
        }
    }

    /// Every workspace's id, for changes that concern them all (a master-key rotation).
    public func workspaceIDs() async throws -> [String] {
        try await database.withConnection { db in
            try await db.select().column("id").from("workspaces").all().map { try $0.decode(column: "id", as: String.self) }
        }
    }
}
