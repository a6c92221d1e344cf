import Foundation
import Hummingbird
import Providers
import SwitchboardCore

/// `/v1/actions` (the catalog) and `POST /v1/integrations/{id}/actions/{name}` (run one).
struct ActionsController: Sendable {
    let executor: ActionExecutor

    var catalogEndpoints: RouteCollection<WorkspaceRequestContext> {
        let routes = RouteCollection(context: WorkspaceRequestContext.self)
        routes.get(use: list)
        routes.get("{name}", use: show)
        return routes
    }

    @Sendable func list(request: Request, context: WorkspaceRequestContext) async throws -> Response {
        JSONResponse.list(executor.catalog.actions.map(\.json))
    }

    @Sendable func show(request: Request, context: WorkspaceRequestContext) async throws -> Response {
        let name = try context.parameters.require("name")
        guard let action = executor.catalog.action(named: name) else {
            throw Problem(status: 404, code: "action_not_found", title: "Not found", detail: "No action is named '\(Problem.clip(name))'.")
        }
        return JSONResponse.make(action.json)
    }

    /// `{"input": {…}, "user": {"id", "conversationId"}}` → `{"result", "message"}`.
    @Sendable func run(request: Request, context: WorkspaceRequestContext) async throws -> Response {
        let reader = try await request.inputReader(context: context)
        var input: JSONValue = .object([:])
        if reader.has("input") {
            if let value = reader.raw("input") { input = value }
        }
        let user = reader.has("user") ? reader.nested("user") : nil
        let userID = user?.string("id", maxLength: 200)
        _ = user?.string("conversationId", maxLength: 200)
        if let user { try user.finish() }
        try reader.finish()
        let outcome = try await executor.run(action: try context.parameters.require("name"), integrationID: try context.parameters.require("id"),
                                             workspace: context.workspace, input: input, userID: userID)
        var body: [String: JSONValue] = ["result": outcome.result, "message": .string(outcome.message)]
        if let requestID = outcome.requestID { body["intercomRequestId"] = .string(requestID) }
        return JSONResponse.make(.object(body))
    }
}
