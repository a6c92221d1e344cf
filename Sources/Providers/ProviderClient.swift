public import Foundation
public import SwitchboardCore

/// Runs one catalog action against a provider, with everything provider-specific read from its definition: it renders
/// the request, sends it with the token, the version header and the definition's headers, follows cursor pages, paces
/// calls inside the provider's rate-limit window, retries what is safe to retry, and answers the result or a typed
/// failure. It knows nothing of integrations, end users or connect links: those are the action service's.
public struct ProviderClient: Sendable {
    public let definition: ProviderDefinition
    public let catalog: ActionCatalog
    let transport: any HTTPTransport
    let clock: any WallClock
    /// Shared by every run of this instance: keeps calls inside each app-and-workspace rate-limit window.
    let pacer: RatePacer?
    /// Told of each rate-limit wait: `pacing` (this instance keeps inside the window) or `retry_after` (the provider
    /// answered 429 and the call waits it out once), with the seconds waited.
    let onRateLimitWait: @Sendable (_ reason: RateLimitWait, _ seconds: TimeInterval) -> Void

    public enum RateLimitWait: String, Sendable { case pacing, retryAfter = "retry_after" }

    /// How long a rate limit may be waited out (pacing, or one short 429) before answering `rateLimited`.
    public static let maxRateLimitWait: TimeInterval = 10

    public init(definition: ProviderDefinition, catalog: ActionCatalog, transport: any HTTPTransport, clock: any WallClock,
                onRateLimitWait: @escaping @Sendable (_ reason: RateLimitWait, _ seconds: TimeInterval) -> Void = { _, _ in }) {
        self.definition = definition
        self.catalog = catalog
        self.transport = transport
        self.clock = clock
        self.onRateLimitWait = onRateLimitWait
        self.pacer = definition.rateLimit.map(RatePacer.init(rules:))
    }

    /// One run: the action, its checked input, the token and the API base to call.
    public struct Call: Sendable {
        public var action: ActionTemplate
        public var input: [String: JSONValue]
        public var accessToken: String
        public var apiBase: URL
        /// The connected account, whose facts fill the action's `inputDefaults`.
        public var account: ProviderAccount
        /// The rate-limit window this call counts against (`RatePacer.key`).
        public var paceKey: String
        public var timeout: TimeInterval
        /// The API version the integration speaks (nil: the definition's default).
        public var apiVersion: String?

        public init(action: ActionTemplate, input: [String: JSONValue], accessToken: String, apiBase: URL, account: ProviderAccount,
                    paceKey: String, timeout: TimeInterval, apiVersion: String? = nil) {
            self.apiVersion = apiVersion
            self.action = action
            self.input = input
            self.accessToken = accessToken
            self.apiBase = apiBase
            self.account = account
            self.paceKey = paceKey
            self.timeout = timeout
        }
    }

    public struct Result: Sendable {
        /// The result as JSON text: the provider's own bytes when the output is its whole response.
        public var resultJSON: Data
        public var message: String
        public var requestID: String?

        public var result: JSONValue { JSONValue.parse(resultJSON) ?? .null }

        public init(resultJSON: Data, message: String, requestID: String?) {
            self.resultJSON = resultJSON
            self.message = message
            self.requestID = requestID
        }
    }

    /// Why a run did not produce a result. `retried` says whether the call was safe to repeat (and so was repeated).
    public enum Failure: Error, Sendable, Equatable {
        /// The input cannot make a request (the generic call's path leaves the API).
        case invalidInput([Problem.FieldError])
        /// The provider has no such object.
        case notFound(message: String?)
        /// The provider refused the request (a 4xx other than 401, 404 and 429), naming fields where it does.
        case rejected(status: Int, errors: [Problem.FieldError])
        /// The rate-limit window is used up for longer than the client waits.
        case rateLimited(retryAfter: TimeInterval)
        /// The provider refused the token.
        case unauthorized(code: String)
        case timeout(attempts: Int, retried: Bool)
        case unavailable(attempts: Int, retried: Bool)
        /// The provider answered 5xx (or another status it should not).
        case failed(status: Int, retried: Bool)
    }

    /// The key the provider's rate limit counts under.
    public static func paceKey(clientID: String, accountID: String) -> String { RatePacer.key(clientID: clientID, workspaceID: accountID) }

    public func run(_ call: Call) async throws -> Result {
        let action = call.action
        var values = call.input
        for (name, source) in action.inputDefaults where values[name] == nil {
            if let value = Self.accountDefault(source, of: call.account) { values[name] = value }
        }
        let base = call.apiBase
        func url(_ pathAndQuery: String) throws -> URL {
            guard let url = URL(string: base.absoluteString + pathAndQuery), url.host == base.host, url.scheme == base.scheme else {
                throw Failure.invalidInput([.init(field: "input.path", detail: "must be a path of the integration's \(definition.title) API")])
            }
            return url
        }
        var rendered = RequestRendering.render(action.request, input: values)
        if action.generic {
            // The generic call's method and path come from the input; the path is checked so no other host is ever reached with the token.
            rendered.method = values["method"]?.stringValue ?? "GET"
            rendered.pathAndQuery = try checkedAPIPath(values["path"]?.stringValue ?? "")
        }
        var request = OutboundRequest(method: rendered.method, url: try url(rendered.pathAndQuery),
                                      headers: [("Authorization", "Bearer \(call.accessToken)")] + definition.apiHeaders(version: call.apiVersion), timeout: call.timeout)
        for (name, value) in action.request.headers ?? [:] {
            request.headers.removeAll { $0.name.lowercased() == name.lowercased() }
            request.headers.append((name, value))
        }
        if let body = rendered.body {
            request.body = try JSONEncoder().encode(body)
            request.headers.append(("Content-Type", "application/json"))
        }
        let retrySafe = action.isRetrySafe(input: values)

        // A paged action takes the caller's total in the paging limit input and follows cursors, a page of at most
        // `maxPageSize` at a time, until it is reached.
        let items = action.output.list ?? action.output.pick
        let paging = action.paged && items != nil ? definition.paging : nil
        let limit = paging.map { paging in Int(values[paging.limitParameter]?.numberValue ?? Double(paging.defaultLimit)) } ?? 0
        var collected: [JSONValue] = []
        var response: OutboundResponse
        var json: JSONValue
        while true {
            if let paging {
                values[paging.limitParameter] = .number(Double(min(paging.maxPageSize, limit - collected.count)))
                let page = RequestRendering.render(action.request, input: values)
                request.url = try url(page.pathAndQuery)
                if let body = page.body { request.body = try JSONEncoder().encode(body) }
            }
            response = try await send(request, retrySafe: retrySafe, paceKey: call.paceKey)
            if paging == nil, let passed = passedThrough(response, action: action) { return passed }
            json = JSONValue.parse(response.body) ?? .null
            guard let paging, (200..<300).contains(response.status) else { break }
            collected += json.value(at: items ?? "")?.arrayValue ?? []
            // A cursor the provider gave before would page forever: the list ends there.
            guard collected.count < limit, let next = json.value(at: paging.nextCursor)?.stringValue, !next.isEmpty,
                  values[paging.cursorParameter]?.stringValue != next else { break }
            values[paging.cursorParameter] = .string(next)
        }
        let requestID = definition.requestID(of: response, body: json)
        switch response.status {
        case 200..<300 where !response.body.isEmpty && JSONValue.parse(response.body) == nil:
            // Not JSON (a transcript's text, a file): the text, or base64 when it is not UTF-8.
            let output: JSONValue = .string(String(validating: response.body, as: UTF8.self) ?? response.body.base64EncodedString())
            return Result(resultJSON: output.jsonData(), message: catalog.message(for: action.name, output: output), requestID: requestID)
        case 300..<400 where response.headers.contains { $0.name.lowercased() == "location" }:
            // A redirect to what was asked for (a call's recording): where it is.
            let location = response.headers.first { $0.name.lowercased() == "location" }!.value
            let output: JSONValue = .object(["location": .string(location)])
            return Result(resultJSON: output.jsonData(), message: catalog.message(for: action.name, output: output), requestID: requestID)
        case 200..<300:
            let output: JSONValue
            if paging != nil, let list = action.output.list, case .object(var answer) = json {
                // The description's list shape, holding every page's items: the last page's answer, so its `pages`
                // still says where a caller could go on.
                answer[list] = .array(Array(collected.prefix(limit)))
                output = .object(answer)
            } else if paging != nil {
                output = .array(Array(collected.prefix(limit)))
            } else {
                output = action.output.pick.map { path in path.isEmpty ? json : (json.value(at: path) ?? .null) } ?? json
            }
            return Result(resultJSON: output.jsonData(), message: catalog.message(for: action.name, output: output), requestID: requestID)
        case 401:
            throw Failure.unauthorized(code: definition.firstError(in: json).code ?? "unauthorized")
        case 404:
            throw Failure.notFound(message: definition.firstError(in: json).message)
        case 429:
            throw Failure.rateLimited(retryAfter: rateLimitWait(response, now: clock.now()) ?? 10)
        case 400..<500:
            let errors = definition.errorList(in: json).map { error in
                Problem.FieldError(field: error.field ?? "input", detail: error.message ?? error.code ?? "was refused")
            }
            throw Failure.rejected(status: response.status, errors: errors)
        default:
            throw Failure.failed(status: response.status, retried: retrySafe)
        }
    }

    /// A fact of the connected account, as an action's `inputDefaults` names it.
    /// An input's default from the account: a fact as text, or as a number when the source says `:integer` (an API
    /// that wants an admin's numeric id as a JSON number, as Intercom's ticket update does).
    static func accountDefault(_ source: String, of account: ProviderAccount) -> JSONValue? {
        if source.hasSuffix(":integer") {
            guard let fact = accountFact(String(source.dropLast(":integer".count)), of: account) else { return nil }
            return Double(fact).map(JSONValue.number) ?? .string(fact)
        }
        return accountFact(source, of: account).map(JSONValue.string)
    }

    static func accountFact(_ source: String, of account: ProviderAccount) -> String? {
        switch source {
        case "account.id": account.id
        case "account.adminID": account.adminID
        case "account.adminEmail": account.adminEmail
        default: nil
        }
    }

    /// A success whose output is the whole response object goes on as the provider's own JSON text; only the members
    /// the message needs are read (a 2 KB contact: 20 µs rather than 130 µs to read, and nothing to write again).
    /// Nil when the response must be read whole: another status, a picked part, or not a JSON object.
    private func passedThrough(_ response: OutboundResponse, action: ActionTemplate) -> Result? {
        guard (200..<300).contains(response.status), (action.output.pick ?? "").isEmpty,
              response.body.first(where: { !Self.jsonWhitespace.contains($0) }) == UInt8(ascii: "{"),
              var members = catalog.membersReadByMessage(of: action.name)
        else { return nil }
        let requestIDField = definition.requestID?.bodyField
        if let requestIDField { members.insert(String(requestIDField.split(separator: ".").first ?? "")) }
        guard let read = JSONValue.parseMembers(response.body, keys: members) else { return nil }
        return Result(resultJSON: response.body, message: catalog.message(for: action.name, output: .object(read)),
                      requestID: definition.requestID(of: response, body: .object(read)))
    }

    private static let jsonWhitespace: Set<UInt8> = [0x20, 0x09, 0x0A, 0x0D]

    /// A relative API path: no scheme, no host, no `..`, no `//`, no backslash or `@`.
    func checkedAPIPath(_ path: String) throws -> String {
        let pathPart = path.split(separator: "?", maxSplits: 1).first.map(String.init) ?? ""
        let refused = !path.hasPrefix("/") || path.hasPrefix("//") || path.contains("://") || path.contains("\\") || path.contains("@")
            || pathPart.split(separator: "/").contains("..") || pathPart.contains("//") || path.contains("#")
            || path.unicodeScalars.contains { $0.value < 0x21 || $0.value == 0x7F }
        if refused {
            throw Failure.invalidInput([.init(field: "input.path",
                                              detail: "must be a path of \(definition.title)'s API such as /contacts/123 (no host, '..', '//', '@' or spaces)")])
        }
        return path
    }

    /// Sends, retrying what is safe to retry after 5xx or network failures, and waiting out a short 429 once.
    /// Each attempt first takes a slot of the rate-limit window, waiting for the next window when this one is used up.
    private func send(_ request: OutboundRequest, retrySafe: Bool, paceKey: String) async throws -> OutboundResponse {
        var attempt = 0
        var waitedForRateLimit = false
        var paced: TimeInterval = 0
        while true {
            while let pacer, case .wait(let until) = pacer.reserve(paceKey, now: clock.now()) {
                let wait = ProviderNumbers.seconds(until.timeIntervalSince(clock.now()), max: 3600).map { max(0.01, $0) } ?? Self.maxRateLimitWait + 1
                if paced + wait > Self.maxRateLimitWait { throw Failure.rateLimited(retryAfter: wait) }
                paced += wait
                onRateLimitWait(.pacing, wait)
                try await clock.sleep(for: .milliseconds(Int(wait * 1000)))
            }
            attempt += 1
            let response: OutboundResponse
            do {
                response = try await transport.send(request)
            } catch let error as TransportError {
                if retrySafe && attempt < 3 {
                    try await clock.sleep(for: Self.backoff(attempt))
                    continue
                }
                switch error.kind {
                case .timeout: throw Failure.timeout(attempts: attempt, retried: retrySafe)
                default: throw Failure.unavailable(attempts: attempt, retried: retrySafe)
                }
            }
            pacer?.observe(paceKey, headers: response.headers, now: clock.now())
            if response.status == 429, !waitedForRateLimit, let wait = rateLimitWait(response, now: clock.now()) {
                if wait <= Self.maxRateLimitWait {
                    waitedForRateLimit = true
                    onRateLimitWait(.retryAfter, wait)
                    try await clock.sleep(for: .milliseconds(Int(wait * 1000) + 50))
                    continue
                }
            }
            if response.status >= 500 && retrySafe && attempt < 3 {
                try await clock.sleep(for: Self.backoff(attempt))
                continue
            }
            return response
        }
    }

    /// How long a 429 asks to wait, from the definition's reset header (Unix seconds) or else `Retry-After`, clamped
    /// to `0...3600` s.
    public func rateLimitWait(_ response: OutboundResponse, now: Date) -> TimeInterval? {
        if let header = definition.rateLimit?.resetHeader, let reset = ProviderNumbers.unixTime(response.header(header), now: now) {
            return ProviderNumbers.seconds(reset - now.timeIntervalSince1970, max: 3600)
        }
        return ProviderNumbers.retryAfter(response.header("Retry-After"), now: now)
    }

    /// 100–200 ms, then 200–400 ms: jittered so that retries from many callers spread out.
    static func backoff(_ attempt: Int) -> Duration {
        let base = 100 * (1 << (attempt - 1))
        return .milliseconds(base + Int.random(in: 0...base))
    }
}
