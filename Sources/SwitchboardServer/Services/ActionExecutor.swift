import Foundation
import Logging
import Providers
import SwitchboardCore
import SwitchboardStore

/// Runs catalog actions against Intercom with an integration's connection.
struct ActionExecutor: Sendable {
    let store: Store
    let settings: ServerSettings
    let authorization: AuthorizationService
    let tokens: TokenService
    let transport: any HTTPTransport
    let clock: any WallClock
    let logger: Logger
    let catalog: ActionCatalog
    /// Shared by every run of this instance: keeps calls inside each app-and-workspace rate-limit window.
    let pacer: RatePacer

    /// How long a 429 may be waited out before answering `rate_limited`.
    static let maxRateLimitWait: TimeInterval = 10

    /// Intercom's window for this app and workspace is used up for longer than the executor waits.
    static func rateLimited(retryAfter seconds: TimeInterval) -> Problem {
        let retryAfter = max(1, Int((ProviderNumbers.seconds(seconds, max: 3600) ?? 10).rounded(.up)))
        return Problem(status: 429, code: "rate_limited", title: "Rate limited",
                       detail: "Intercom's rate limit for this app and workspace is used up; retry in \(retryAfter) s.",
                       extra: ["retryAfter": .number(Double(retryAfter))])
    }

    struct Outcome: Sendable {
        /// The result as JSON text: Intercom's own bytes when the output is its whole response.
        var resultJSON: Data
        var message: String
        var requestID: String?

        var result: JSONValue { JSONValue.parse(resultJSON) ?? .null }
    }

    /// Runs the action and records the run in the audit log, whatever its outcome.
    /// - Parameter resume: when the user must connect first, keep the call and run it once they have (`action.completed` event).
    func run(action name: String, integrationID: String, workspaceID: String, input: JSONValue, userID: String?,
             conversationID: String? = nil, resume: Bool = false) async throws -> Outcome {
        let started = clock.now()
        let timer = ContinuousClock.now
        func record(_ outcome: String, _ status: Int, _ requestID: String?) async {
            let elapsed = ContinuousClock.now - timer
            let run = RunRecord(
                id: Identifier.make("run"), workspaceID: workspaceID, integrationID: integrationID, action: Problem.clip(name, to: 100),
                endUserID: userID, startedAtMs: Int64(started.timeIntervalSince1970 * 1000),
                durationMs: Int(elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000),
                outcome: outcome, httpStatus: status, providerRequestID: requestID)
            do { try await store.insert(run) } catch {
                logger.error("recording a run failed", metadata: ["error.type": "\(type(of: error))"])
            }
        }
        do {
            let outcome = try await execute(action: name, integrationID: integrationID, workspaceID: workspaceID, input: input, userID: userID,
                                            conversationID: conversationID, resume: resume)
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

    private func execute(action name: String, integrationID: String, workspaceID: String, input: JSONValue, userID: String?,
                         conversationID: String?, resume: Bool) async throws -> Outcome {
        guard let action = catalog.action(named: name) else {
            throw Problem(status: 404, code: "action_not_found", title: "Not found", detail: "No action is named '\(Problem.clip(name))'; GET /v1/actions lists them.")
        }
        guard let record = try await store.cachedIntegration(id: integrationID, workspaceID: workspaceID) else { throw Problem.notFound("integration", id: integrationID) }
        let integration = record.integration
        switch record.status {
        case .enabled: break
        case .error:
            throw Problem.conflict("reauthorization_required", "Intercom refused the integration's stored authorization; authorize it again, then enable it.")
        default:
            throw Problem.conflict("integration_not_enabled", "The integration is \(record.status.rawValue); enable it first (POST /v1/integrations/\(integration.id)/enable).")
        }

        let endUser: String
        switch integration.authorization {
        case .preauthorized: endUser = Connection.sharedUser
        case .perUser:
            guard let userID, !userID.isEmpty else {
                throw Problem.validation([.init(field: "user.id", detail: "is required: this integration acts with each end user's own Intercom account")])
            }
            endUser = userID
        }
        if resume {
            guard integration.authorization == .perUser else {
                throw Problem.validation([.init(field: "resume", detail: "applies to per_user integrations only")])
            }
            guard integration.notifyURL != nil else {
                throw Problem.validation([.init(field: "resume", detail: "needs the integration's notifyURL: the result is delivered there as an action.completed event")])
            }
        }
        let found = try await store.cachedConnection(integrationID: integration.id, endUserID: endUser)
        if integration.authorization == .perUser, found?.status != .active {
            // Checked now, so that a call kept for later is one that can run.
            let violations = Self.violations(of: input, for: action)
            if !violations.isEmpty { throw Problem.validation(violations) }
            throw try await authorizationRequired(integration, userID: endUser, conversationID: conversationID,
                                                  reason: found?.status == .needsReauthorization ? .reauthorize : .connect,
                                                  resume: resume ? (action.name, input) : nil)
        }
        guard let connection = found, connection.status != .revoked else {
            throw Problem(status: 409, code: "authorization_required", title: "Authorization required",
                          detail: "The integration has no connection; an admin must authorize it (POST /v1/integrations/\(integration.id)/authorize).")
        }

        guard case .object(var values) = input else {
            throw Problem.validation([.init(field: "input", detail: "must be an object, not \(input.kindDescription)")])
        }
        let violations = Self.violations(of: input, for: action)
        if !violations.isEmpty { throw Problem.validation(violations) }
        if values["admin_id"] == nil, let adminID = connection.account.adminID { values["admin_id"] = .string(adminID) }

        let app = try await authorization.oauthApp(for: integration)
        let token: String
        do {
            token = try await tokens.accessTokenOrProblem(for: connection, app: app)
        } catch let problem as Problem where problem.code == "reauthorization_required" && integration.authorization == .perUser {
            await authorization.events.emit(.connectionFailed, integration: integration, endUserID: endUser, conversationID: conversationID,
                                            data: ["reason": .string(problem.detail), "stage": .string("refresh")])
            throw try await authorizationRequired(integration, userID: endUser, conversationID: conversationID, reason: .reauthorize)
        }

        var rendered = RequestRendering.render(action.request, input: values)
        let base = settings.intercomAPIBase(for: integration, accountRegion: connection.account.region)
        if action.name == Self.genericAction {
            // The generic call's method and path come from the input; the path is checked so no other host is ever reached with the token.
            rendered.method = values["method"]?.stringValue ?? "GET"
            rendered.pathAndQuery = try Self.checkedAPIPath(values["path"]?.stringValue ?? "")
        }
        guard let url = URL(string: base.absoluteString + rendered.pathAndQuery), url.host == base.host, url.scheme == base.scheme else {
            throw Problem.validation([.init(field: "input.path", detail: "must be a path of the integration's Intercom API")])
        }
        var request = OutboundRequest(method: rendered.method, url: url, headers: [
            ("Authorization", "Bearer \(token)"), ("Accept", "application/json"), ("Intercom-Version", ProviderDefinition.intercom.api.version),
        ], timeout: settings.intercomTimeout)
        if let body = rendered.body {
            request.body = try JSONEncoder().encode(body)
            request.headers.append(("Content-Type", "application/json"))
        }

        // List actions take `limit` and follow `starting_after` cursors, a page of at most 150 at a time, until it is reached.
        let pages = action.input["properties"]?["limit"]?["maximum"]?.numberValue ?? 0 > 150 && action.output.pick != nil
        let limit = Int(values["limit"]?.numberValue ?? 50)
        var collected: [JSONValue] = []
        var response: OutboundResponse
        var json: JSONValue
        while true {
            if pages {
                values["limit"] = .number(Double(min(150, limit - collected.count)))
                let page = RequestRendering.render(action.request, input: values)
                request.url = URL(string: base.absoluteString + page.pathAndQuery) ?? request.url
                if let body = page.body { request.body = try JSONEncoder().encode(body) }
            }
            response = try await send(request, retryable: action.isRead(input: values),
                                      paceKey: RatePacer.key(clientID: app.clientID, workspaceID: connection.account.id))
            if !pages, let passed = passedThrough(response, action: action) { return passed }
            json = JSONValue.parse(response.body) ?? .null
            guard pages, (200..<300).contains(response.status) else { break }
            collected += json.value(at: action.output.pick ?? "")?.arrayValue ?? []
            guard collected.count < limit, let next = json["pages"]?["next"]?["starting_after"]?.stringValue else { break }
            values["starting_after"] = .string(next)
        }
        let requestID = json["request_id"]?.stringValue ?? response.header("X-Request-Id")
        switch response.status {
        case 200..<300:
            let output = pages ? .array(Array(collected.prefix(limit)))
                : action.output.pick.map { path in path.isEmpty ? json : (json.value(at: path) ?? .null) } ?? json
            return Outcome(resultJSON: output.jsonData(), message: catalog.message(for: action.name, output: output), requestID: requestID)
        case 401:
            let code = json["errors"]?.arrayValue?.first?["code"]?.stringValue ?? "unauthorized"
            try await store.markNeedsReauthorization(connectionID: connection.id, reason: "Intercom answered 401 \(code)", now: clock.now())
            if integration.authorization == .perUser {
                await authorization.events.emit(.connectionFailed, integration: integration, endUserID: endUser, conversationID: conversationID,
                                                data: ["reason": .string("Intercom refused the stored authorization (\(code))."), "stage": .string("action")])
                throw try await authorizationRequired(integration, userID: endUser, conversationID: conversationID, reason: .reauthorize)
            }
            throw Problem.conflict("reauthorization_required", "Intercom refused the stored authorization (\(code)). Authorize again.")
        case 404:
            let what = action.object ?? "object"
            throw Problem(status: 404, code: "not_found", title: "Not found",
                          detail: "Intercom has no such \(what): \(json["errors"]?.arrayValue?.first?["message"]?.stringValue ?? "not found").")
        case 429:
            throw Self.rateLimited(retryAfter: Self.rateLimitWait(response, now: clock.now()) ?? 10)
        case 400..<500:
            let errors = (json["errors"]?.arrayValue ?? []).map { error in
                Problem.FieldError(field: error["field"]?.stringValue ?? "input", detail: error["message"]?.stringValue ?? "was refused")
            }
            throw Problem(status: 422, code: "provider_rejected", title: "Intercom refused the request",
                          detail: "Intercom answered \(response.status): " + (errors.map { "\($0.field): \($0.detail)" }.joined(separator: "; ")),
                          field: errors.first?.field, errors: errors.isEmpty ? nil : errors)
        default:
            throw Problem(status: 502, code: "provider_error", title: "Intercom failed",
                          detail: "Intercom answered \(response.status)\(action.isRead(input: values) ? " after retries" : "; the write was not repeated").")
        }
    }

    static let genericAction = "intercom.api_request"

    /// A success whose output is the whole response object goes on as Intercom's own JSON text; only the members
    /// the message needs are read (a 2 KB contact: 20 µs rather than 130 µs to read, and nothing to write again).
    /// Nil when the response must be read whole: another status, a picked part, or not a JSON object.
    private func passedThrough(_ response: OutboundResponse, action: ActionTemplate) -> Outcome? {
        guard (200..<300).contains(response.status), (action.output.pick ?? "").isEmpty,
              response.body.first(where: { !Self.jsonWhitespace.contains($0) }) == UInt8(ascii: "{"),
              let members = catalog.membersReadByMessage(of: action.name),
              let read = JSONValue.parseMembers(response.body, keys: members.union(["request_id"]))
        else { return nil }
        return Outcome(resultJSON: response.body, message: catalog.message(for: action.name, output: .object(read)),
                       requestID: read["request_id"]?.stringValue ?? response.header("X-Request-Id"))
    }

    private static let jsonWhitespace: Set<UInt8> = [0x20, 0x09, 0x0A, 0x0D]

    /// `authorization_required` with a fresh connect link for this user, and a message the assistant can send as is.
    /// `resume`: the call to keep (sealed, expiring with the link) and run once this link connects the user.
    func authorizationRequired(_ integration: Integration, userID: String, conversationID: String?, reason: ConnectLinkReason,
                               resume: (action: String, input: JSONValue)? = nil) async throws -> Problem {
        if resume != nil, try await store.keptCallCount(workspaceID: integration.workspaceID, now: clock.now()) >= settings.limits.keptCalls {
            throw WorkspaceLimits.reached("kept calls", limit: settings.limits.keptCalls,
                                          advice: "Kept calls run when their users connect, or expire with their links; call without resume, or try again later.")
        }
        let (url, link) = try await authorization.issueConnectLink(integration: integration, endUserID: userID, conversationID: conversationID, reason: reason)
        var pendingID: String?
        if let resume {
            let pending = PendingAction(id: Identifier.make("pend"), workspaceID: integration.workspaceID, integrationID: integration.id, connectLinkID: link.id,
                                        endUserID: userID, conversationID: conversationID, action: resume.action, input: resume.input,
                                        createdAt: link.createdAt, expiresAt: link.expiresAt)
            try await store.insert(pending)
            pendingID = pending.id
        }
        let message = switch reason {
        case .connect: "To do that I need access to your Intercom account. Please connect it here: \(url)"
        case .reauthorize: "Intercom refused the stored authorization; please connect again: \(url)"
        }
        var extra: [String: JSONValue] = ["authorizationURL": .string(url), "expiresAt": .time(link.expiresAt), "message": .string(message),
                                          "userId": .string(userID), "reason": .string(reason.rawValue)]
        if let pendingID { extra["pendingActionId"] = .string(pendingID) }
        return Problem(status: 409, code: "authorization_required", title: "Authorization required",
                       detail: reason == .connect ? "This user has not connected their Intercom account yet; send them the connect link."
                           : "Intercom refused this user's stored authorization; send them the connect link to connect again.",
                       extra: extra)
    }

    /// A relative API path: no scheme, no host, no `..`, no `//`, no backslash or `@`.
    static func checkedAPIPath(_ path: String) throws -> String {
        let pathPart = path.split(separator: "?", maxSplits: 1).first.map(String.init) ?? ""
        let refused = !path.hasPrefix("/") || path.hasPrefix("//") || path.contains("://") || path.contains("\\") || path.contains("@")
            || pathPart.split(separator: "/").contains("..") || pathPart.contains("//") || path.contains("#")
            || path.unicodeScalars.contains { $0.value < 0x21 || $0.value == 0x7F }
        if refused {
            throw Problem.validation([.init(field: "input.path", detail: "must be a path of Intercom's API such as /contacts/123 (no host, '..', '//', '@' or spaces)")])
        }
        return path
    }

    /// Sends, retrying reads (never writes) after 5xx or network failures, and waiting out a short 429 once.
    /// Each attempt first takes a slot of the rate-limit window, waiting for the next window when this one is used up.
    private func send(_ request: OutboundRequest, retryable: Bool, paceKey: String) async throws -> OutboundResponse {
        var attempt = 0
        var waitedForRateLimit = false
        var paced: TimeInterval = 0
        while true {
            while case .wait(let until) = pacer.reserve(paceKey, now: clock.now()) {
                let wait = ProviderNumbers.seconds(until.timeIntervalSince(clock.now()), max: 3600).map { max(0.01, $0) } ?? Self.maxRateLimitWait + 1
                if paced + wait > Self.maxRateLimitWait { throw Self.rateLimited(retryAfter: wait) }
                paced += wait
                try await Task.sleep(for: .milliseconds(Int(wait * 1000)))
            }
            attempt += 1
            let response: OutboundResponse
            do {
                response = try await transport.send(request)
            } catch let error as TransportError {
                if retryable && attempt < 3 {
                    try await Task.sleep(for: Self.backoff(attempt))
                    continue
                }
                throw Self.unreachable(error, retryable: retryable, attempts: attempt, timeout: request.timeout)
            }
            pacer.observe(paceKey, headers: response.headers, now: clock.now())
            if response.status == 429, !waitedForRateLimit, let wait = Self.rateLimitWait(response, now: clock.now()) {
                if wait <= Self.maxRateLimitWait {
                    waitedForRateLimit = true
                    try await Task.sleep(for: .milliseconds(Int(wait * 1000) + 50))
                    continue
                }
            }
            if response.status >= 500 && retryable && attempt < 3 {
                try await Task.sleep(for: Self.backoff(attempt))
                continue
            }
            return response
        }
    }

    /// How long a 429 asks to wait, from `X-RateLimit-Reset` (Intercom's) or else `Retry-After`, clamped to `0...3600` s.
    static func rateLimitWait(_ response: OutboundResponse, now: Date) -> TimeInterval? {
        if let reset = ProviderNumbers.unixTime(response.header("X-RateLimit-Reset"), now: now) {
            return ProviderNumbers.seconds(reset - now.timeIntervalSince1970, max: 3600)
        }
        return ProviderNumbers.retryAfter(response.header("Retry-After"), now: now)
    }

    /// What is wrong with an action's input: its schema, then the values that fill path segments.
    static func violations(of input: JSONValue, for action: ActionTemplate) -> [Problem.FieldError] {
        let schema = InputSchema.violations(of: input, against: action.input, at: "input")
        return schema.isEmpty ? RequestRendering.pathViolations(action.request, input: input, at: "input") : schema
    }

    /// No answer: a timeout on a write may still have been applied, and says so.
    static func unreachable(_ error: TransportError, retryable: Bool, attempts: Int, timeout: TimeInterval) -> Problem {
        let seconds = timeout.truncatingRemainder(dividingBy: 1) == 0 ? "\(Int(timeout))" : "\(timeout)"
        switch (error.kind, retryable) {
        case (.timeout, true):
            return Problem(status: 504, code: "provider_timeout", title: "Provider timed out",
                           detail: "Intercom did not answer within \(seconds) s, \(attempts) times.")
        case (.timeout, false):
            return Problem(status: 504, code: "provider_timeout", title: "Provider timed out",
                           detail: "Intercom did not answer within \(seconds) s. The write may or may not have been applied, and it was not repeated: check before retrying, or retry with the same idempotencyKey.")
        case (_, true):
            return Problem(status: 503, code: "provider_unavailable", title: "Provider unavailable",
                           detail: "Intercom could not be reached after \(attempts) attempts.")
        case (_, false):
            return Problem(status: 503, code: "provider_unavailable", title: "Provider unavailable",
                           detail: "Intercom could not be reached; the write was not repeated.")
        }
    }

    /// 100–200 ms, then 200–400 ms: jittered so that retries from many callers spread out.
    static func backoff(_ attempt: Int) -> Duration {
        let base = 100 * (1 << (attempt - 1))
        return .milliseconds(base + Int.random(in: 0...base))
    }
}
