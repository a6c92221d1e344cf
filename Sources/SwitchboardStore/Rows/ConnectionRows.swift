import Foundation
import SQLKit
import SwitchboardCore

struct ConnectionRow: Codable {
    var id: String
    var workspace_id: String
    var integration_id: String
    var end_user_id: String
    var status: String
    var account_id: String
    var account_name: String
    var account_region: String?
    var admin_id: String?
    var admin_email: String?
    var access_token_sealed: String
    var refresh_token_sealed: String?
    var token_type: String
    var scope: String?
    var expires_at: Int64?
    var last_error: String?
    var last_refreshed_at: Int64?
    var refresh_lease_owner: String?
    var refresh_lease_until: Int64?
    var created_at: Int64
    var updated_at: Int64
    /// Optional in the row, as columns added by later migrations are: a statement prepared before migration 12
    /// (SQLite, under load) reads the row without it; it then counts as the first version.
    var token_version: Int64?
    var token_issued_at: Int64?
}

extension SQLRepository {
    /// An event as its row, the payload sealed: for `EventRepository.insert`, and for an event written in the same
    /// transaction as the change it reports (`ConnectionRepository.completeAuthorization`).
    func eventRow(_ event: EventRecord) throws -> EventRow {
        let payload = String(decoding: try JSONEncoder().encode(event.payload), as: UTF8.self)
        return EventRow(
            id: event.id, workspace_id: event.workspaceID, integration_id: event.integrationID, type: event.type.rawValue, end_user_id: event.endUserID,
            payload_sealed: try vault.seal(payload, context: Store.payloadContext(eventID: event.id)), status: event.status.rawValue,
            attempts: event.attempts, next_attempt_at: event.nextAttemptAt?.unixSeconds, lease_until: nil, last_status: event.lastStatus,
            last_error: event.lastError, created_at: event.createdAt.unixSeconds, delivered_at: event.deliveredAt?.unixSeconds)
    }

    static func tokenContext(connectionID: String, _ column: String) -> String { "connections:\(connectionID):\(column)" }

    func model(_ row: ConnectionRow) throws -> Connection {
        Connection(
            id: row.id, workspaceID: row.workspace_id, integrationID: row.integration_id, endUserID: row.end_user_id,
            status: ConnectionStatus(rawValue: row.status) ?? .needsReauthorization,
            account: ProviderAccount(id: row.account_id, name: row.account_name, region: row.account_region,
                                     adminID: row.admin_id, adminEmail: row.admin_email),
            tokens: TokenGrant(
                accessToken: try vault.open(row.access_token_sealed, context: Store.tokenContext(connectionID: row.id, "access_token")),
                refreshToken: try row.refresh_token_sealed.map {
                    try vault.open($0, context: Store.tokenContext(connectionID: row.id, "refresh_token"))
                },
                tokenType: row.token_type, expiresAt: row.expires_at.map(Date.init(unixSeconds:)), scope: row.scope,
                issuedAt: row.token_issued_at.map(Date.init(unixSeconds:))
            ),
            lastError: row.last_error, lastRefreshedAt: row.last_refreshed_at.map(Date.init(unixSeconds:)),
            createdAt: Date(unixSeconds: row.created_at), updatedAt: Date(unixSeconds: row.updated_at), tokenVersion: row.token_version ?? 1
        )
    }

    static func markConnectionsNeedReauthorization(_ db: any SQLDatabase, profileID: String, workspaceID: String, reason: String, now: Date) async throws -> Int {
        try await db.update("connections")
            .set("status", to: ConnectionStatus.needsReauthorization.rawValue).set("last_error", to: reason).set("updated_at", to: now.unixSeconds)
            .where("workspace_id", .equal, workspaceID)
            .where("status", .notEqual, ConnectionStatus.needsReauthorization.rawValue)
            .where(SQLIdentifier("integration_id"), .in, SQLGroupExpression(
                db.select().column("id").from("integrations").where("auth_profile_id", .equal, profileID).where("workspace_id", .equal, workspaceID).query))
            .returning("id").all().count
    }
}
