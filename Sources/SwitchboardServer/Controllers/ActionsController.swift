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
        let (limit, cursor) = try Paging.read(limit: query["limit"], startingAfter: query["starting_after"])
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
        let conversationID = user?.string("conversationId", maxLength: 200)
        let idempotencyKey = reader.string("idempotencyKey", maxLength: 200)
        let resume = reader.bool("resume") ?? false
        if let user { try user.finish() }
        try reader.finish()
        let name = try context.parameters.require("name"), integrationID = try context.parameters.require("id")
        let checkedInput = input, workspace = context.workspace
        let runIt: @Sendable () async throws -> Data = {
            Self.body(of: try await executor.run(action: name, integrationID: integrationID, workspaceID: workspace.id, input: checkedInput,
                                                 userID: userID, conversationID: conversationID, resume: resume))
        }
        guard let idempotencyKey, let action = executor.catalog.action(named: name),
              case .object(let values) = input, !action.isRead(input: values) else {
            return JSONResponse.make(json: try await runIt())
        }
        return JSONResponse.make(try await once(key: idempotencyKey, workspace: context.workspace, integrationID: integrationID,
                                                request: .object(["action": .string(name), "input": input, "user": .optional(userID)])) {
            JSONValue.parse(try await runIt()) ?? .null
        })
    }

    /// `{"intercomRequestId", "message", "result"}`, keys sorted as in every response; the result goes in as the
    /// JSON text it already is.
    static func body(of outcome: ActionExecutor.Outcome) -> Data {
        var head: [String: JSONValue] = ["message": .string(outcome.message)]
        if let requestID = outcome.requestID { head["intercomRequestId"] = .string(requestID) }
        var body = JSONValue.object(head).jsonData()
        body.removeLast()  // the head's closing brace
        body.append(contentsOf: #","result":"#.utf8)
        body.append(outcome.resultJSON)
        body.append(UInt8(ascii: "}"))
        return body
    }

    /// Problems after which Intercom saw, or may have seen, the write: their outcome stands for the key.
    static let outcomesThatStand: Set<String> = ["provider_rejected", "provider_error", "provider_unavailable", "not_found", "rate_limited"]

    /// Runs a write at most once per idempotency key; a repeat gets the first outcome again.
    private func once(key: String, workspace: Workspace, integrationID: String, request: JSONValue,
                      _ body: @Sendable () async throws -> JSONValue) async throws -> JSONValue {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let hash = Digest.sha256Hex(String(decoding: try encoder.encode(request), as: UTF8.self))
        let store = executor.store
        let limit = executor.settings.limits.idempotencyRecords
        if try await store.idempotencyRecordCount(workspaceID: workspace.id, now: executor.clock.now()) >= limit {
            throw WorkspaceLimits.reached("idempotency records", limit: limit,
                                          advice: "Records are kept a day; reuse keys for retries only, or call without idempotencyKey.")
        }
        switch try await store.claimIdempotencyKey(workspaceID: workspace.id, integrationID: integrationID, key: key, requestHash: hash, now: executor.clock.now()) {
        case .mismatch:
            throw Problem.conflict("idempotency_key_reused", "This idempotencyKey was used for another action or input; use a new key.", field: "idempotencyKey")
        case .inProgress:
            throw Problem.conflict("idempotency_in_progress", "A call with this idempotencyKey is still running; retry shortly.", field: "idempotencyKey")
        case .completed(let stored):
            guard let outcome = JSONValue.parse(Data(stored.utf8)) else { throw Problem.internalError() }
            if let problem = outcome["problem"], let data = try? JSONEncoder().encode(problem), let decoded = try? JSONDecoder().decode(Problem.self, from: data) {
                throw decoded
            }
            return outcome["response"] ?? .null
        case .claimed:
            do {
                let response = try await body()
                try await store.completeIdempotencyKey(workspaceID: workspace.id, integrationID: integrationID, key: key,
                                                       outcome: String(decoding: try encoder.encode(JSONValue.object(["response": response])), as: UTF8.self))
                return response
            } catch let problem as Problem {
                if Self.outcomesThatStand.contains(problem.code) {
                    let data = try JSONEncoder().encode(problem)
                    let stored = JSONValue.object(["problem": JSONValue.parse(data) ?? .null])
                    try await store.completeIdempotencyKey(workspaceID: workspace.id, integrationID: integrationID, key: key,
                                                           outcome: String(decoding: try encoder.encode(stored), as: UTF8.self))
                } else {
                    try await store.releaseIdempotencyKey(workspaceID: workspace.id, integrationID: integrationID, key: key)
                }
                throw problem
            } catch {
                try? await store.releaseIdempotencyKey(workspaceID: workspace.id, integrationID: integrationID, key: key)
                throw error
            }
        }
    }
}
