import Foundation
import SQLKit
import SwitchboardCore

struct EventRow: Codable {
    var id: String
    var workspace_id: String
    var integration_id: String
    var type: String
    var end_user_id: String?
    var payload_sealed: String
    var status: String
    var attempts: Int
    var next_attempt_at: Int64?
    var lease_until: Int64?
    var last_status: Int?
    var last_error: String?
    var created_at: Int64
    var delivered_at: Int64?
}

extension SQLRepository {
    static func payloadContext(eventID: String) -> String { "events:\(eventID):payload" }

    // MARK: Events

    func model(_ row: EventRow) throws -> EventRecord {
        let payload = try vault.open(row.payload_sealed, context: Store.payloadContext(eventID: row.id))
        return EventRecord(
            id: row.id, workspaceID: row.workspace_id, integrationID: row.integration_id, type: EventType(rawValue: row.type) ?? .connectionFailed,
            endUserID: row.end_user_id, payload: JSONValue.parse(Data(payload.utf8)) ?? .null, status: EventStatus(rawValue: row.status) ?? .failed,
            attempts: row.attempts, nextAttemptAt: row.next_attempt_at.map(Date.init(unixSeconds:)), lastStatus: row.last_status,
            lastError: row.last_error, createdAt: Date(unixSeconds: row.created_at), deliveredAt: row.delivered_at.map(Date.init(unixSeconds:)))
    }

}

