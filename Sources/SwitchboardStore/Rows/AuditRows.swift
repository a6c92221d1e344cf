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

