import Foundation
import HTTPTypes
import Hummingbird
import Providers
import SwitchboardCore
import SwitchboardStore

/// `/v1/actions` (the catalog), `POST /v1/integrations/{id}/actions/{name}` (run one) and `/v1/runs` (the audit log):
/// a thin adapter over the action service.
struct ActionsController: Sendable {
    let actions: ActionService

    var routes: RouteCollection<WorkspaceRequestContext> {
        let routes = RouteCollection(context: WorkspaceRequestContext.self)
        routes.get("actions", use: list)
        routes.get("actions/{name}", use: show)
        routes.post("integrations/{id}/actions/{name}", use: run)
        routes.get("runs", use: runs)
        return routes
    }

    /// `GET /v1/actions?group=&q=&limit=&starting_after=`: the catalog in its order (curated actions first), a page of
    /// at most `limit` (default 100, at most 300) after the action named by `starting_after`; each without its output
    /// schema, which `GET /v1/actions/{name}` gives.
    @Sendable func list(request: Request, context: WorkspaceRequestContext) async throws -> Response {
        let query = request.uri.queryParameters
        var limit = 100
        if let raw = query["limit"] {
            guard raw.first != "+", let value = Int(raw), (1...300).contains(value) else {
                throw Problem.validation([.init(field: "limit", detail: "must be an integer from 1 to 300")])
            }
            limit = value
        }
        let group = try Paging.filter(query, "group")
        let words = try Paging.filter(query, "q").map(ActionSearch.words) ?? []
        var catalog = actions.registry.actions
        if let after = try Paging.filter(query, "starting_after") {
            // After that action in the catalog's order, whether or not the filters keep it.
            guard let index = catalog.firstIndex(where: { $0.name == after }) else {
                throw Problem.validation([.init(field: "starting_after", detail: "is not an action of the catalog")])
            }
            catalog.removeFirst(index + 1)
        }
        let matching = catalog.filter { action in
            (group == nil || action.group?.caseInsensitiveCompare(group!) == .orderedSame) && ActionSearch.matches(action, words: words)
        }
        let page = matching.prefix(limit)
        var body: [String: JSONValue] = [
            "data": .array(page.map { action in
                guard case .object(var members) = action.json else { return action.json }
                members["output"] = nil
                return .object(members)
            }),
            "count": .number(Double(page.count)),
        ]
        if matching.count > limit, let last = page.last { body["next"] = .string(last.name) }
        return JSONResponse.make(.object(body))
    }

    @Sendable func show(request: Request, context: WorkspaceRequestContext) async throws -> Response {
        let name = try context.parameters.require("name")
        guard let action = actions.registry.action(named: name)?.action else {
            throw Problem(status: 404, code: "action_not_found", title: "Not found", detail: "No action is named '\(Problem.clip(name))'.")
        }
        return JSONResponse.make(action.json)
    }

    /// `GET /v1/runs?integration=&action=&outcome=&userId=&limit=&starting_after=`: the audit log, newest first.
    @Sendable func runs(request: Request, context: WorkspaceRequestContext) async throws -> Response {
        let query = request.uri.queryParameters
        let (limit, cursor) = try Paging.read(limit: query["limit"], startingAfter: query["starting_after"])
        let filter = RunFilter(action: try Paging.filter(query, "action"), outcome: try Paging.filter(query, "outcome"),
                               endUserID: try Paging.filter(query, "userId"))
        let runs = try await actions.store.runs.runs(workspaceID: context.workspace.id, integrationID: try Paging.filter(query, "integration"),
                                                filter: filter, limit: limit, before: cursor)
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
            "channel": .optional(run.channel), "agentTokenId": .optional(run.agent_token_id),
        ])
    }

    /// `{"input": {…}, "user": {"id", "conversationId"}, "idempotencyKey", "resume"}` → `{"result", "message"}`.
    /// `switchboard actions run` says it is the CLI (`Switchboard-Client: cli`), for the audit log; anything else is the API.
    static func channel(of request: Request) -> ActionService.Channel {
        request.headers[clientHeader]?.lowercased() == "cli" ? .cli : .api
    }

    static let clientHeader = HTTPField.Name("Switchboard-Client")!

    @Sendable func run(request: Request, context: WorkspaceRequestContext) async throws -> Response {
        let reader = try await request.inputReader(context: context)
        var input: JSONValue = .object([:])
        if reader.has("input") {
            if let value = reader.raw("input") { input = value }
        }
        let user = reader.has("user") ? reader.nested("user") : nil
        let userID = user?.string("id", maxLength: 200)
        let conversationID = user?.string("conversationId", maxLength: 200)
        let idempotencyKey = reader.string("idempotencyKey", maxLength: 200)
        let resume = reader.bool("resume") ?? false
        if let user { try user.finish() }
        try reader.finish()
        let outcome = try await actions.run(ActionService.Request(
            action: try context.parameters.require("name"), integrationID: try context.parameters.require("id"), workspaceID: context.workspace.id,
            input: input, userID: userID, conversationID: conversationID, resume: resume, idempotencyKey: idempotencyKey,
            channel: Self.channel(of: request)))
        return JSONResponse.make(json: Self.body(of: outcome))
    }

    /// `{"intercomRequestId", "message", "result"}`, keys sorted as in every response; the result goes in as the
    /// JSON text it already is.
    static func body(of outcome: ActionService.Outcome) -> Data {
        var head: [String: JSONValue] = ["message": .string(outcome.message)]
        if let requestID = outcome.requestID { head["intercomRequestId"] = .string(requestID) }
        var body = JSONValue.object(head).jsonData()
        body.removeLast()  // the head's closing brace
        body.append(contentsOf: #","result":"#.utf8)
        body.append(outcome.resultJSON)
        body.append(UInt8(ascii: "}"))
        return body
    }
}
