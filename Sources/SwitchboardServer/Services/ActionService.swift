import Foundation
import Synchronization
import Logging
import Providers
import SwitchboardCore
import SwitchboardStore

/// The one way an action runs, whichever channel asks (the REST API, the console's "Try it", a resumed call, MCP):
/// the product's rules around a run — the integration and its status, the end user and their connection or a
/// connect link, a call kept for later, the idempotency key, the token, the audit record — with the provider's
/// mechanics left to its `ProviderClient`.
struct ActionService: Sendable {
    let store: Store
    let settings: ServerSettings
    let authorization: AuthorizationService
    let tokens: TokenService
    let providers: ProviderDirectory
    let clock: any WallClock
    let logger: Logger
    let metrics: DomainMetrics

    /// Which adapter asked; recorded with the run.
    enum Channel: String, Sendable {
        case api
        case cli
        case console
        case resume
        case mcp
    }

    struct Request: Sendable {
        var action: String
        var integrationID: String
        var workspaceID: String
        var input: JSONValue
        var userID: String?
        var conversationID: String?
        /// When the user must connect first, keep the call and run it once they have (`action.completed` event).
        var resume = false
        /// A write runs at most once per key; a repeat gets the first outcome again.
        var idempotencyKey: String?
        var channel: Channel
        /// The agent token an MCP call came with, for the run record.
        var agentTokenID: String? = nil
    }

    typealias Outcome = ProviderClient.Result

    var registry: ProviderRegistry { providers.registry }

    /// The provider's rate limit for this app and workspace is used up for longer than the client waits.
    static func rateLimited(retryAfter seconds: TimeInterval, title: String) -> Problem {
        let retryAfter = max(1, Int((ProviderNumbers.seconds(seconds, max: 3600) ?? 10).rounded(.up)))
        return Problem(status: 429, code: "rate_limited", title: "Rate limited",
                       detail: "\(title)'s rate limit for this app and workspace is used up; retry in \(retryAfter) s.",
                       extra: ["retryAfter": .number(Double(retryAfter))])
    }

    /// Runs the action (once per idempotency key, for writes) and records the run in the audit log, whatever its outcome.
    func run(_ request: Request) async throws -> Outcome {
        guard let key = request.idempotencyKey, let found = registry.action(named: request.action),
              case .object(let values) = request.input, !found.action.isReadOnly(input: values) else {
            return try await recorded(request)
        }
        return try await once(key: key, request: request)
    }

    /// Whether a run got as far as sending its call to the provider: only then may the provider have seen a write.
    final class Reach: Sendable {
        private let sent = Mutex(false)
        func markSent() { sent.withLock { $0 = true } }
        var wasSent: Bool { sent.withLock { $0 } }
    }

    private func recorded(_ request: Request, reach: Reach = Reach()) async throws -> Outcome {
        let started = clock.now()
        let timer = ContinuousClock.now
        func record(_ outcome: String, _ status: Int, _ requestID: String?) async {
            let elapsed = ContinuousClock.now - timer
            let run = RunRecord(
                id: Identifier.ordered("run"), workspaceID: request.workspaceID, integrationID: request.integrationID,
                action: Problem.clip(request.action, to: 100), endUserID: request.userID, startedAtMs: Int64(started.timeIntervalSince1970 * 1000),
                durationMs: Int(elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000),
                outcome: outcome, httpStatus: status, providerRequestID: requestID, channel: request.channel.rawValue,
                agentTokenID: request.agentTokenID)
            do { try await store.runs.insert(run) } catch {
                logger.error("recording a run failed", metadata: ["error.type": "\(type(of: error))"])
            }
            // A name no catalog has is counted as "unknown": labels stay bounded whatever a caller sends.
            let action = registry.action(named: request.action) != nil ? request.action : "unknown"
            metrics.run(action: action, outcome: outcome, channel: request.channel.rawValue)
            if outcome == "rate_limited" { metrics.rateLimitRefusal(action: action) }
        }
        do {
            let outcome = try await execute(request, reach: reach)
            await record("ok", 200, outcome.requestID)
            return outcome
        } catch let problem as Problem {
            await record(problem.code, problem.httpStatus, nil)
            throw problem
        } catch {
            await record("internal_error", 500, nil)
            throw error
        }
    }

    private func execute(_ request: Request, reach: Reach) async throws -> Outcome {
        guard registry.action(named: request.action) != nil else { throw Self.noSuchAction(request.action) }
        guard let record = try await store.integrations.cachedIntegration(id: request.integrationID, workspaceID: request.workspaceID) else {
            throw Problem.notFound("integration", id: request.integrationID)
        }
        let integration = record.integration
        let entry = try providers.entry(for: integration)
        let title = entry.definition.title
        guard let action = entry.catalog.action(named: request.action) else { throw Self.noSuchAction(request.action) }
        let apiVersion = integration.apiVersion ?? entry.definition.apiVersions?.default
        if let apiVersion, !action.isAvailable(inVersion: apiVersion) {
            throw Problem(status: 422, code: "action_not_in_version", title: "Action not in this API version",
                          detail: "\(action.name) is an operation of \(title)'s API \((action.versions ?? []).joined(separator: ", ")), and the integration speaks \(apiVersion); set its apiVersion to one that has it.",
                          field: "apiVersion")
        }
        switch record.status {
        case .enabled: break
        case .error:
            throw Problem.conflict("reauthorization_required", "\(title) refused the integration's stored authorization; authorize it again, then enable it.")
        default:
            throw Problem.conflict("integration_not_enabled", "The integration is \(record.status.rawValue); enable it first (POST /v1/integrations/\(integration.id)/enable).")
        }

        let endUser: String
        switch integration.authorization {
        case .preauthorized: endUser = Connection.sharedUser
        case .perUser:
            guard let userID = request.userID, !userID.isEmpty else {
                throw Problem.conflict("user_required", "user.id is required: this integration acts with each end user's own \(title) account.", field: "user.id")
            }
            endUser = userID
        }
        if request.resume {
            guard integration.authorization == .perUser else {
                throw IntegrationService.perUserOnly("resume", "a pre-authorized integration has no end user to wait for")
            }
            guard integration.notifyURL != nil else {
                throw Problem.conflict("notify_url_required", "resume needs the integration's notifyURL: the result is delivered there as an action.completed event.", field: "resume")
            }
        }
        let found = try await store.connections.cachedConnection(integrationID: integration.id, endUserID: endUser)
        if integration.authorization == .perUser, found?.status != .active {
            // Checked now, so that a call kept for later is one that can run.
            let violations = Self.violations(of: request.input, for: action)
            if !violations.isEmpty { throw Problem.validation(violations) }
            throw try await authorizationRequired(integration, userID: endUser, conversationID: request.conversationID,
                                                  reason: found?.status == .needsReauthorization ? .reauthorize : .connect,
                                                  resume: request.resume ? (action.name, request.input) : nil)
        }
        guard let connection = found, connection.status != .revoked else {
            throw Problem(status: 409, code: "authorization_required", title: "Authorization required",
                          detail: "The integration has no connection; an admin must authorize it (POST /v1/integrations/\(integration.id)/authorize).")
        }

        guard case .object(let values) = request.input else {
            throw Problem.validation([.init(field: "input", detail: "must be an object, not \(request.input.kindDescription)")])
        }
        let violations = Self.violations(of: request.input, for: action)
        if !violations.isEmpty { throw Problem.validation(violations) }

        let app = try await authorization.oauthApp(for: integration)
        let token: String
        do {
            token = try await tokens.accessTokenOrProblem(for: connection, app: app, providerTitle: title)
        } catch let problem as Problem where problem.code == "reauthorization_required" && integration.authorization == .perUser {
            await authorization.events.emit(.connectionFailed, integration: integration, endUserID: endUser, conversationID: request.conversationID,
                                            data: ["reason": .string(problem.detail), "stage": .string("refresh")])
            throw try await authorizationRequired(integration, userID: endUser, conversationID: request.conversationID, reason: .reauthorize)
        }

        let client = try providers.client(for: integration)
        var call = ProviderClient.Call(
            action: action, input: values, accessToken: token,
            apiBase: try providers.apiBase(for: integration, accountRegion: connection.account.region),
            account: connection.account, paceKey: ProviderClient.paceKey(clientID: app.clientID, accountID: connection.account.id),
            timeout: settings.intercomTimeout, apiVersion: apiVersion)
        var retried = false
        while true {
            do {
                reach.markSent()
                return try await client.run(call)
            } catch let failure as ProviderClient.Failure {
                guard case .unauthorized(let code) = failure else { throw Self.problem(for: failure, action: action, title: title, timeout: call.timeout) }
                // A refused token is not yet a dead grant: it may have been replaced (and revoked) by another call's refresh.
                // A 401 was not acted on, so the call is repeated once, whatever its method.
                if !retried, let fresh = try await retryToken(after: call.accessToken, connection: connection, app: app, title: title,
                                                              integration: integration, endUser: endUser, conversationID: request.conversationID) {
                    retried = true
                    call.accessToken = fresh
                    continue
                }
                let reason = "\(title) answered 401 \(code)"
                guard try await tokens.markRefused(call.accessToken, connectionID: connection.id, reason: reason) else {
                    throw Problem(status: 503, code: "provider_unavailable", title: "Provider unavailable",
                                  detail: "\(title) refused a token that was replaced during the call; try again.")
                }
                throw try await grantDied(integration, endUser: endUser, conversationID: request.conversationID, title: title,
                                          why: "\(title) refused the stored authorization (\(code)).", stage: "action")
            }
        }
    }

    /// The token to repeat a refused call with (`TokenService.retryToken`), nil when there is none; a refresh the
    /// provider refuses (`invalid_grant`) ends the grant here.
    private func retryToken(after sent: String, connection: Connection, app: OAuthApp, title: String, integration: Integration,
                            endUser: String, conversationID: String?) async throws -> String? {
        do {
            return try await tokens.retryToken(after: sent, connectionID: connection.id, app: app)
        } catch .needsReauthorization(let why) {
            throw try await grantDied(integration, endUser: endUser, conversationID: conversationID, title: title, why: why, stage: "refresh")
        } catch .unavailable(let why) {
            throw Problem(status: 503, code: "provider_unavailable", title: "Provider unavailable",
                          detail: "\(title) could not be reached (\(why)). Try again shortly.")
        } catch .databaseUnavailable {
            throw Problem.databaseUnavailable
        }
    }

    /// The problem for a grant the provider no longer honours: per user, `connection.failed` and a fresh connect link;
    /// shared, reauthorization by an admin.
    private func grantDied(_ integration: Integration, endUser: String, conversationID: String?, title: String, why: String,
                           stage: String) async throws -> Problem {
        guard integration.authorization == .perUser else {
            return Problem.conflict("reauthorization_required", "\(why) Authorize again.")
        }
        await authorization.events.emit(.connectionFailed, integration: integration, endUserID: endUser, conversationID: conversationID,
                                        data: ["reason": .string(why), "stage": .string(stage)])
        return try await authorizationRequired(integration, userID: endUser, conversationID: conversationID, reason: .reauthorize)
    }

    static func noSuchAction(_ name: String) -> Problem {
        Problem(status: 404, code: "action_not_found", title: "Not found", detail: "No action is named '\(Problem.clip(name))'; GET /v1/actions lists them.")
    }

    /// The problem a caller gets for a provider failure other than a refused token.
    static func problem(for failure: ProviderClient.Failure, action: ActionTemplate, title: String, timeout: TimeInterval) -> Problem {
        let seconds = timeout.truncatingRemainder(dividingBy: 1) == 0 ? "\(Int(timeout))" : "\(timeout)"
        switch failure {
        case .invalidInput(let errors):
            return Problem.validation(errors)
        case .notFound(let message):
            return Problem(status: 404, code: "not_found", title: "Not found",
                           detail: "\(title) has no such \(action.object ?? "object"): \(message ?? "not found").")
        case .rateLimited(let retryAfter):
            return rateLimited(retryAfter: retryAfter, title: title)
        case .rejected(let status, let errors):
            return Problem(status: 422, code: "provider_rejected", title: "\(title) refused the request",
                           detail: "\(title) answered \(status): " + (errors.map { "\($0.field): \($0.detail)" }.joined(separator: "; ")),
                           field: errors.first?.field, errors: errors.isEmpty ? nil : errors)
        case .failed(let status, let retried):
            return Problem(status: 502, code: "provider_error", title: "\(title) failed",
                           detail: "\(title) answered \(status)\(retried ? " after retries" : "; the write was not repeated").")
        case .timeout(let attempts, true):
            return Problem(status: 504, code: "provider_timeout", title: "Provider timed out",
                           detail: "\(title) did not answer within \(seconds) s, \(attempts) times.")
        case .timeout(_, false):
            return Problem(status: 504, code: "provider_timeout", title: "Provider timed out",
                           detail: "\(title) did not answer within \(seconds) s. The write may or may not have been applied, and it was not repeated: check in \(title) before trying again (a retry runs it again, with this idempotencyKey or another).")
        case .unavailable(let attempts, true):
            return Problem(status: 503, code: "provider_unavailable", title: "Provider unavailable",
                           detail: "\(title) could not be reached after \(attempts) attempts.")
        case .unavailable(_, false):
            return Problem(status: 503, code: "provider_unavailable", title: "Provider unavailable",
                           detail: "\(title) could not be reached; the write was not repeated.")
        case .unauthorized(let code):
            return Problem.conflict("reauthorization_required", "\(title) refused the stored authorization (\(code)). Authorize again.")
        }
    }

    /// `authorization_required` with a fresh connect link for this user, and a message the assistant can send as is.
    /// `resume`: the call to keep (sealed, expiring with the link) and run once this link connects the user.
    func authorizationRequired(_ integration: Integration, userID: String, conversationID: String?, reason: ConnectLinkReason,
                               resume: (action: String, input: JSONValue)? = nil) async throws -> Problem {
        if resume != nil, try await store.authorizations.keptCallCount(workspaceID: integration.workspaceID, now: clock.now()) >= settings.limits.keptCalls {
            throw WorkspaceLimits.reached("kept calls", limit: settings.limits.keptCalls,
                                          advice: "Kept calls run when their users connect, or expire with their links; call without resume, or try again later.")
        }
        let title = providers.title(of: integration)
        let (url, link) = try await authorization.issueConnectLink(integration: integration, endUserID: userID, conversationID: conversationID, reason: reason)
        var pendingID: String?
        if let resume {
            let pending = PendingAction(id: Identifier.make("pend"), workspaceID: integration.workspaceID, integrationID: integration.id, connectLinkID: link.id,
                                        endUserID: userID, conversationID: conversationID, action: resume.action, input: resume.input,
                                        createdAt: link.createdAt, expiresAt: link.expiresAt)
            try await store.authorizations.insert(pending)
            pendingID = pending.id
        }
        let message = switch reason {
        case .connect: "To do that I need access to your \(title) account. Please connect it here: \(url)"
        case .reauthorize: "\(title) refused the stored authorization; please connect again: \(url)"
        }
        var extra: [String: JSONValue] = ["authorizationURL": .string(url), "expiresAt": .time(link.expiresAt), "message": .string(message),
                                          "userId": .string(userID), "reason": .string(reason.rawValue)]
        if let pendingID { extra["pendingActionId"] = .string(pendingID) }
        return Problem(status: 409, code: "authorization_required", title: "Authorization required",
                       detail: reason == .connect ? "This user has not connected their \(title) account yet; send them the connect link."
                           : "\(title) refused this user's stored authorization; send them the connect link to connect again.",
                       extra: extra)
    }

    /// What is wrong with an action's input: its schema, then the values that fill path segments.
    static func violations(of input: JSONValue, for action: ActionTemplate) -> [Problem.FieldError] {
        let schema = InputSchema.violations(of: input, against: action.input, at: "input")
        return schema.isEmpty ? RequestRendering.pathViolations(action.request, input: input, at: "input") : schema
    }

    /// Problems after which the provider saw, or may have seen, the write: their outcome stands for the key, when the
    /// call was sent. Not `rate_limited`: a 429 (or a full window here) means the write was not run, so the key is
    /// freed and the retry `Retry-After` invites runs it. A problem met before the call was sent (a refresh that could
    /// not reach the provider's token endpoint, say) frees the key too.
    static let outcomesThatStand: Set<String> = ["provider_rejected", "provider_error", "provider_unavailable", "not_found"]

    /// Runs a write at most once per idempotency key; a repeat gets the first outcome again.
    private func once(key: String, request: Request) async throws -> Outcome {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let fingerprint = JSONValue.object(["action": .string(request.action), "input": request.input, "user": .optional(request.userID)])
        let hash = Digest.sha256Hex(String(decoding: try encoder.encode(fingerprint), as: UTF8.self))
        let workspaceID = request.workspaceID, integrationID = request.integrationID
        let limit = settings.limits.idempotencyRecords
        if try await store.idempotency.idempotencyRecordCount(workspaceID: workspaceID, now: clock.now()) >= limit {
            throw WorkspaceLimits.reached("idempotency records", limit: limit,
                                          advice: "Records are kept a day; reuse keys for retries only, or call without idempotencyKey.")
        }
        switch try await store.idempotency.claimIdempotencyKey(workspaceID: workspaceID, integrationID: integrationID, key: key, requestHash: hash, now: clock.now()) {
        case .mismatch:
            throw Problem.conflict("idempotency_key_reused", "This idempotencyKey was used for another action or input; use a new key.", field: "idempotencyKey")
        case .inProgress:
            throw Problem.conflict("idempotency_in_progress", "A call with this idempotencyKey is still running; retry shortly.", field: "idempotencyKey")
        case .completed(let stored):
            guard let outcome = JSONValue.parse(Data(stored.utf8)) else { throw Problem.internalError() }
            if let problem = outcome["problem"], let data = try? JSONEncoder().encode(problem), let decoded = try? JSONDecoder().decode(Problem.self, from: data) {
                throw decoded
            }
            let response = outcome["response"] ?? .null
            return Outcome(resultJSON: (response["result"] ?? .null).jsonData(), message: response["message"]?.stringValue ?? "",
                           requestID: response["intercomRequestId"]?.stringValue)
        case .claimed:
            let reach = Reach()
            do {
                let outcome = try await recorded(request, reach: reach)
                // Stored as the REST answer's shape, which records written before this service still have.
                var response: [String: JSONValue] = ["message": .string(outcome.message), "result": outcome.result]
                if let requestID = outcome.requestID { response["intercomRequestId"] = .string(requestID) }
                try await store.idempotency.completeIdempotencyKey(workspaceID: workspaceID, integrationID: integrationID, key: key,
                                                       outcome: String(decoding: try encoder.encode(JSONValue.object(["response": .object(response)])), as: UTF8.self))
                return outcome
            } catch let problem as Problem {
                if reach.wasSent && Self.outcomesThatStand.contains(problem.code) {
                    let data = try JSONEncoder().encode(problem)
                    let stored = JSONValue.object(["problem": JSONValue.parse(data) ?? .null])
                    try await store.idempotency.completeIdempotencyKey(workspaceID: workspaceID, integrationID: integrationID, key: key,
                                                           outcome: String(decoding: try encoder.encode(stored), as: UTF8.self))
                } else {
                    try await store.idempotency.releaseIdempotencyKey(workspaceID: workspaceID, integrationID: integrationID, key: key)
                }
                throw problem
            } catch {
                try? await store.idempotency.releaseIdempotencyKey(workspaceID: workspaceID, integrationID: integrationID, key: key)
                throw error
            }
        }
    }
}
