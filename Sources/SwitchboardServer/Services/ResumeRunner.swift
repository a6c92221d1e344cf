import Foundation
import Logging
import Providers
import SwitchboardCore
import SwitchboardStore

/// Runs the calls kept with `resume: true` once their user has connected through the link, and tells the
/// assistant the outcome (`action.completed` or `action.failed`). Each kept call is taken by one caller only,
/// so it runs once however often the callback is hit.
struct ResumeRunner: Sendable {
    let store: Store
    let actions: ActionService
    let events: EventDispatcher
    let logger: Logger

    /// Runs the link's kept calls; throws only when they could not be taken (the outbox tries again).
    func resume(connectLinkID: String) async throws {
        let pending = try await store.authorizations.takePendingActions(connectLinkID: connectLinkID, now: actions.clock.now())
        for call in pending {
            guard let integration = try? await store.integrations.integration(id: call.integrationID)?.integration else { continue }
            var data: [String: JSONValue] = ["pendingActionId": .string(call.id), "action": .string(call.action)]
            let type: EventType
            do {
                let outcome = try await actions.run(ActionService.Request(
                    action: call.action, integrationID: call.integrationID, workspaceID: call.workspaceID, input: call.input,
                    userID: call.endUserID, conversationID: call.conversationID, channel: .resume))
                data["result"] = outcome.result
                data["message"] = .string(outcome.message)
                data["intercomRequestId"] = .optional(outcome.requestID)
                type = .actionCompleted
            } catch let problem as Problem {
                data["problem"] = .object(["code": .string(problem.code), "detail": .string(problem.detail), "status": .number(Double(problem.httpStatus))])
                type = .actionFailed
            } catch {
                data["problem"] = .object(["code": .string("internal_error"), "detail": .string("The kept action could not be run."), "status": .number(500)])
                type = .actionFailed
            }
            await events.emit(type, integration: integration, endUserID: call.endUserID, conversationID: call.conversationID, data: data)
        }
    }
}
