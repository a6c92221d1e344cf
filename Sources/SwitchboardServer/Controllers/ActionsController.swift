import Foundation
import Hummingbird
import Providers
import SwitchboardCore
import SwitchboardStore

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

    /// `GET /v1/runs?integration=&limit=&starting_after=`: the audit log, newest first.
    @Sendable func runs(request: Request, context: WorkspaceRequestContext) async throws -> Response {
        let query = request.uri.queryParameters
        var limit = 50
        if let raw = query["limit"] {
            guard let value = Int(raw), (1...200).contains(value) else {
                throw Problem.validation([.init(field: "limit", detail: "must be an integer from 1 to 200")])
            }
            limit = value
        }
        var cursor: (Int64, String)?
        if let raw = query["starting_after"] {
            let parts = raw.split(separator: ":", maxSplits: 1)
            guard parts.count == 2, let millis = Int64(parts[0]) else {
                throw Problem.validation([.init(field: "starting_after", detail: "is not a cursor this API returned")])
            }
            cursor = (millis, String(parts[1]))
        }
        let runs = try await executor.store.runs(workspaceID: context.workspace.id, integrationID: query["integration"].map(String.init),
                                                 limit: limit, before: cursor)
        var body: [String: JSONValue] = ["data": .array(runs.map(Self.represent)), "count": .number(Double(runs.count))]
        if runs.count == limit, let last = runs.last { body["next"] = .string("\(last.started_at_ms):\(last.id)") }
        return JSONResponse.make(.object(body))
    }

    static func represent(_ run: RunRecord) -> JSONValue {
        .object([
            "id": .string(run.id), "integrationId": .string(run.integration_id), "action": .string(run.action),
            "userId": .optional(run.end_user_id), "startedAt": .time(Date(timeIntervalSince1970: Double(run.started_at_ms) / 1000)),
            "durationMs": .number(Double(run.duration_ms)), "outcome": .string(run.outcome), "status": .number(Double(run.http_status)),
            "intercomRequestId": .optional(run.provider_request_id),
        ])
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
