import Foundation
import SQLKit
import SwitchboardCore

/// One action execution, as the audit log keeps it: never tokens, inputs or outputs.
public struct RunRecord: Sendable, Equatable, Codable {
    public var id: String
    public var workspace_id: String
    public var integration_id: String
    public var action: String
    public var end_user_id: String?
    public var started_at_ms: Int64
    public var duration_ms: Int
    /// `ok`, or the problem's code.
    public var outcome: String
    public var http_status: Int
    public var provider_request_id: String?

    public init(id: String, workspaceID: String, integrationID: String, action: String, endUserID: String?, startedAtMs: Int64,
                durationMs: Int, outcome: String, httpStatus: Int, providerRequestID: String?) {
        self.id = id
        self.workspace_id = workspaceID
        self.integration_id = integrationID
        self.action = action
        self.end_user_id = endUserID
        self.started_at_ms = startedAtMs
        self.duration_ms = durationMs
        self.outcome = outcome
        self.http_status = httpStatus
        self.provider_request_id = providerRequestID
    }
}

extension Store {
    public func insert(_ run: RunRecord) async throws {
        try await database.withConnection { db in try await db.insert(into: "runs").model(run).run() }
    }

    /// A workspace's runs, newest first, after the cursor `(startedAtMs, id)` of the previous page's last run.
    public func runs(workspaceID: String, integrationID: String?, limit: Int, before cursor: (Int64, String)?) async throws -> [RunRecord] {
        try await database.withConnection { db in
            var query = db.select().columns("*").from("runs").where("workspace_id", .equal, workspaceID)
            if let integrationID { query = query.where("integration_id", .equal, integrationID) }
            if let (startedAt, id) = cursor {
                query = query.where { group in
                    group.where("started_at_ms", .lessThan, startedAt)
                        .orWhere { inner in inner.where("started_at_ms", .equal, startedAt).where("id", .lessThan, id) }
                }
            }
            return try await query.orderBy("started_at_ms", .descending).orderBy("id", .descending).limit(limit).all(decoding: RunRecord.self)
        }
    }
}
