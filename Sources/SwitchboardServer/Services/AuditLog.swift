import Foundation
import Logging
public import SwitchboardCore
import SwitchboardStore

/// Who is acting: the workspace and the admin API key that proved it (the API's bearer, or the console session's key).
public struct Principal: Sendable {
    public let workspace: Workspace
    public let keyID: String
}

extension WorkspaceRequestContext {
    var principal: Principal { Principal(workspace: workspace, keyID: keyID) }
}

/// Records administrative changes in the workspace's audit log (`GET /v1/audit`). A change that happened is never
/// undone because its record could not be written; the failure is logged (by type) instead.
struct AuditLog: Sendable {
    let store: Store
    let clock: any WallClock
    let logger: Logger

    func record(_ principal: Principal, _ action: String, _ targetType: String, _ targetID: String?, _ detail: [String: JSONValue] = [:]) async {
        await record(workspaceID: principal.workspace.id, actor: principal.keyID, action, targetType, targetID, detail)
    }

    func record(workspaceID: String, actor: String, _ action: String, _ targetType: String, _ targetID: String?,
                _ detail: [String: JSONValue] = [:]) async {
        do {
            try await store.audit.record(AuditEntry(workspaceID: workspaceID, actor: actor, action: action, targetType: targetType, targetID: targetID,
                                              detail: detail, at: clock.now()))
        } catch {
            logger.error("recording an audit entry failed", metadata: ["action": "\(action)", "error.type": "\(type(of: error))"])
        }
    }
}
