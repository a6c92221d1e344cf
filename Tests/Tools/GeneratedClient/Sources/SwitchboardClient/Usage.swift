import Foundation
import OpenAPIRuntime

/// What an assistant's developer writes with the generated client: typed bodies, typed answers, typed problems.
public func connectAndRun(_ client: Client) async throws -> String {
    let created = try await client.createIntegration(body: .json(.system(.init(app: .system, name: "Support bot", authorization: .preauthorized))))
    let integration: Components.Schemas.CreatedIntegration
    switch created {
    case .created(let answer): integration = try answer.body.json
    case .unprocessableContent(let answer):
        let problem = try answer.body.applicationProblemJson.value1
        return "refused: \(problem.code) \(problem.field ?? "")"
    default: return "unexpected"
    }
    let id = integration.value1.id
    let secret: String = integration.value2.signingSecret
    _ = secret
    let status: Components.Schemas.Integration.StatusPayload = integration.value1.status
    _ = status
    if let shared = integration.value1.connection { _ = shared.account.name }

    let run = try await client.runAction(
        path: .init(id: id, name: .intercom_whoAmI),
        body: .json(.init(input: .init(), user: .init(id: "user-42", conversationId: "conv-7"), idempotencyKey: "conv-7-who"))
    )
    switch run {
    case .ok(let answer): return try answer.body.json.message
    case .conflict(let answer):
        let problem = try answer.body.applicationProblemJson.value1
        if problem.code == "authorization_required", let link = problem.authorizationURL, let message = problem.message {
            return "connect first (\(problem.reason?.rawValue ?? "connect")): \(link) — \(message)"
        }
        return problem.detail
    case .tooManyRequests(let answer):
        return "wait \(answer.headers.retryAfter ?? 0) s"
    default: return "unexpected"
    }
}

/// A page of runs, then the next one: the cursor comes back as `next`.
public func twoPagesOfRuns(_ client: Client) async throws -> Int {
    guard case .ok(let first) = try await client.listRuns(query: .init(limit: 50)) else { return 0 }
    let page = try first.body.json
    guard let next = page.next else { return page.count }
    guard case .ok(let second) = try await client.listRuns(query: .init(limit: 50, startingAfter: next)) else { return page.count }
    return page.count + (try second.body.json.count)
}
