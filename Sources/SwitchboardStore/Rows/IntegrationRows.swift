import Foundation
import SQLKit
public import SwitchboardCore

// MARK: - Integrations: rows, records and the helpers that read them

struct IntegrationRow: Codable {
    var id: String
    var workspace_id: String
    var name: String
    var provider: String
    var app: String
    var auth_profile_id: String?
    var authorization_mode: String
    var region: String?
    var notify_url: String?
    var verify_url: String?
    var enablement: String
    var created_at: Int64
    var updated_at: Int64
    var tool_allow_list: String?
    var api_version: String?

    init(_ integration: Integration) {
        id = integration.id
        workspace_id = integration.workspaceID
        name = integration.name
        provider = integration.provider.rawValue
        app = integration.app.rawValue
        auth_profile_id = integration.authProfileID
        authorization_mode = integration.authorization.rawValue
        region = integration.region
        notify_url = integration.notifyURL
        verify_url = integration.verifyURL
        enablement = integration.enablement.rawValue
        created_at = integration.createdAt.unixSeconds
        updated_at = integration.updatedAt.unixSeconds
        tool_allow_list = integration.toolAllowList.map { SQLIntegrationRepository.json($0) }
        api_version = integration.apiVersion
    }

    var model: Integration {
        Integration(
            id: id, workspaceID: workspace_id, name: name, provider: Provider(rawValue: provider),
            app: AppKind(rawValue: app) ?? .system, authProfileID: auth_profile_id,
            authorization: AuthorizationMode(rawValue: authorization_mode) ?? .preauthorized,
            region: region, notifyURL: notify_url,
            enablement: Enablement(rawValue: enablement) ?? .never,
            createdAt: Date(unixSeconds: created_at), updatedAt: Date(unixSeconds: updated_at), verifyURL: verify_url,
            toolAllowList: tool_allow_list.map { SQLIntegrationRepository.decodeJSON($0, as: [String].self, default: []) },
            apiVersion: api_version
        )
    }
}

/// An integration with the state of its shared connection, which its status derives from.
public struct IntegrationRecord: Sendable, Equatable {
    public var integration: Integration
    public var sharedConnectionStatus: ConnectionStatus?
    public var status: IntegrationStatus { integration.status(sharedConnection: sharedConnectionStatus) }

    public init(integration: Integration, sharedConnectionStatus: ConnectionStatus?) {
        self.integration = integration
        self.sharedConnectionStatus = sharedConnectionStatus
    }
}

extension SQLRepository {
    func integrations(workspaceID: String?, id: String?) async throws -> [IntegrationRecord] {
        try await database.read { db in
            var query = db.select().columns("*").from("integrations")
            if let workspaceID { query = query.where("workspace_id", .equal, workspaceID) }
            if let id { query = query.where("id", .equal, id) }
            let rows = try await query.orderBy("created_at").orderBy("id").all(decoding: IntegrationRow.self)
            guard !rows.isEmpty else { return [] }
            let statuses = try await db.select().columns("integration_id", "status").from("connections")
                .where("integration_id", .in, rows.map(\.id))
                .where("end_user_id", .equal, Connection.sharedUser)
                .all()
            var byIntegration: [String: ConnectionStatus] = [:]
            for row in statuses {
                byIntegration[try row.decode(column: "integration_id", as: String.self)] =
                    ConnectionStatus(rawValue: try row.decode(column: "status", as: String.self))
            }
            return rows.map { IntegrationRecord(integration: $0.model, sharedConnectionStatus: byIntegration[$0.id]) }
        }
    }
}

extension SQLRepository {
    static func secretContext(integrationID: String) -> String { "integrations:\(integrationID):signing_secret" }
}
