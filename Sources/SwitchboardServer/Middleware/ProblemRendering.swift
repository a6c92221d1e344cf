import Foundation
public import HTTPTypes
public import Hummingbird
import Logging
import NIOCore
public import SwitchboardCore
import SwitchboardStore

extension Problem: HTTPResponseError {
    public var status: HTTPResponse.Status { .init(code: httpStatus) }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        var headers: HTTPFields = [.contentType: "application/problem+json"]
        if httpStatus == 401 { headers[.wwwAuthenticate] = "Bearer" }
        // A wait the body states (rate limited, the database restarting) is also said the standard way (RFC 9110 §10.2.3).
        if let seconds = extra?["retryAfter"]?.numberValue, seconds.isFinite, seconds >= 0 { headers[.retryAfter] = String(Int(seconds.rounded(.up))) }
        return Response(status: .init(code: httpStatus), headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: jsonBody())))
    }
}

/// Turns every failure into problem+json: ours pass through, Hummingbird's are translated, anything else is a 500
/// whose cause goes to the log (by type only) and never to the client.
struct ProblemMiddleware<Context: RequestContext>: RouterMiddleware {
    /// The methods each route answers: a path that exists, asked with another method, is 405 with `Allow`.
    let allowed: AllowedMethods

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let problem as Problem {
            throw problem
        } catch let error as HTTPError where error.status == .notFound && context.coreContext.endpointPath.value == "NotFound" {
            // No route answered: either the path does not exist (404) or it does with other methods (405).
            let methods = allowed.methods(for: request.uri.path)
            guard !methods.isEmpty else { throw Self.problem(for: error, request: request) }
            throw MethodNotAllowed(allow: methods.map(\.rawValue).joined(separator: ", "), problem: Problem(
                status: 405, code: "method_not_allowed", title: "Method not allowed",
                detail: "\(request.method) is not allowed on \(Problem.clip(request.uri.path, to: 200)); it answers \(methods.map(\.rawValue).joined(separator: ", ")).",
                extra: ["allow": .array(methods.map { .string($0.rawValue) })]))
        } catch let error as HTTPError {
            throw Self.problem(for: error, request: request)
        } catch is NIOTooManyBytesError {
            // A handler that collects a bounded body (/mcp, the console's forms) was sent more.
            throw Problem.bodyTooLarge
        } catch where Database.isUnavailable(error) {
            context.logger.warning("database unavailable", metadata: ["error.type": "\(type(of: error))", "path": "\(LoggedPath.of(request, context: context))"])
            throw Problem.databaseUnavailable
        } catch {
            context.logger.error("unhandled error", metadata: ["error.type": "\(type(of: error))", "error": "\(Database.summary(of: error))",
                                                           "path": "\(LoggedPath.of(request, context: context))"])
            throw Problem.internalError()
        }
    }

    static func problem(for error: HTTPError, request: Request) -> Problem {
        switch error.status {
        case .notFound:
            return Problem(status: 404, code: "route_not_found", title: "Not found", detail: "No route matches \(request.method) \(Problem.clip(request.uri.path, to: 200)).")
        case .methodNotAllowed:
            return Problem(status: 405, code: "method_not_allowed", title: "Method not allowed", detail: "\(request.method) is not allowed on \(Problem.clip(request.uri.path, to: 200)).")
        case .contentTooLarge:
            return Problem.bodyTooLarge
        default:
            return Problem(status: Int(error.status.code), code: "http_\(error.status.code)", title: error.status.reasonPhrase,
                           detail: error.body ?? error.status.reasonPhrase)
        }
    }
}

extension Problem {
    /// 413 `body_too_large`, for a body over a bound Hummingbird or a handler enforces.
    static let bodyTooLarge = Problem(status: 413, code: "body_too_large", title: "Body too large",
                                      detail: "The request body is larger than this endpoint accepts.")

    /// 503 `database_unavailable`: the database could not be reached (a restart, a failover, a lock held too long);
    /// the request may well work a couple of seconds later, which `Retry-After` says.
    static let databaseUnavailable = Problem(status: 503, code: "database_unavailable", title: "Service unavailable",
                                             detail: "Switchboard's database could not be reached (it may be restarting); try again in a few seconds.",
                                             extra: ["retryAfter": .number(2)])
}

/// 405: the problem, with the `Allow` header naming the methods the path answers.
struct MethodNotAllowed: HTTPResponseError {
    let allow: String
    let problem: Problem

    var status: HTTPResponse.Status { .methodNotAllowed }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        var response = try problem.response(from: request, context: context)
        response.headers[.allow] = allow
        return response
    }
}

/// Headers every answer carries: no MIME sniffing, no `Referer` (a connect page must not hand its token URL to
/// Intercom), and HSTS when the public URL is https; HTML pages also get a Content-Security-Policy that allows only
/// Switchboard's own resources and no framing.
/// The header names and values, built once rather than on every response.
enum SecurityHeaders {
    static let referrerPolicy = HTTPField.Name("Referrer-Policy")!
    static let xFrameOptions = HTTPField.Name("X-Frame-Options")!
    static let contentSecurityPolicy = "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
}

struct SecurityHeadersMiddleware<Context: RequestContext>: RouterMiddleware {
    let https: Bool


    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var response: Response
        do {
            response = try await next(request, context)
        } catch let error as any HTTPResponseError {
            response = try error.response(from: request, context: context)
        }
        response.headers[.xContentTypeOptions] = "nosniff"
        response.headers[SecurityHeaders.referrerPolicy] = "no-referrer"
        if https { response.headers[.strictTransportSecurity] = "max-age=31536000; includeSubDomains" }
        if response.headers[.contentType]?.hasPrefix("text/html") == true {
            response.headers[.contentSecurityPolicy] = SecurityHeaders.contentSecurityPolicy
            response.headers[SecurityHeaders.xFrameOptions] = "DENY"
        }
        return response
    }
}

/// Logs method, path (never the query: the OAuth callback carries `code` and `state` there), status and duration.
struct RequestLogMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = ContinuousClock.now
        do {
            let response = try await next(request, context)
            log(request, context: context, status: Int(response.status.code), start: start)
            return response
        } catch {
            let status = (error as? any HTTPResponseError).map { Int($0.status.code) } ?? 500
            log(request, context: context, status: status, start: start)
            throw error
        }
    }

    /// One line a request: its method, route (the template, e.g. `/v1/integrations/{id}`), path (secret parameters
    /// cut, never the query string), status, duration, and the workspace and integration it was for when known. The
    /// request id is on every line the request logs (`hb.request.id`, `request_id` in JSON).
    private func log(_ request: Request, context: Context, status: Int, start: ContinuousClock.Instant) {
        let elapsed = ContinuousClock.now - start
        // Tenths of a millisecond, without String(format:), which costs microseconds on Linux.
        let tenths = elapsed.components.seconds * 10_000 + elapsed.components.attoseconds / 100_000_000_000_000
        let route = context.endpointPath.flatMap { $0 == "NotFound" ? nil : $0 }
        var metadata: Logger.Metadata = [
            "method": "\(request.method)", "route": "\(route ?? "none")", "path": "\(LoggedPath.of(request, context: context))",
            "status": .stringConvertible(status), "duration_ms": .stringConvertible(Double(tenths) / 10),
        ]
        if let workspaceID = context.facts.workspaceID { metadata["workspace_id"] = "\(workspaceID)" }
        if let integrationID = context.facts.integrationID ?? Self.integrationID(route: route, context: context) {
            metadata["integration_id"] = "\(integrationID)"
        }
        context.logger.info("request", metadata: metadata)
    }

    /// The `{id}` of a route under an integration (`/v1/integrations/{id}/…`, `/console/integrations/{id}/…`).
    static func integrationID(route: String?, context: Context) -> String? {
        guard let route, route.contains("integrations/{id}") else { return nil }
        return context.parameters.get("id").map { String($0.prefix(64)) }
    }
}

/// The path as logs may show it. Redacted by route, not by prefix: a route's secret parameters (a connect link's
/// `{token}`, a start page's `{state}`) keep only their first characters however the path was spelled (`//connect/…` routes there too), and a
/// path no route matched keeps only short segments, since it may be a secret with a typo around it.
enum LoggedPath {
    static let secretParameters: Set<String> = ["token", "state"]

    static func of(_ request: Request, context: some RequestContext) -> String {
        guard let route = context.endpointPath, route != "NotFound" else { return unmatched(request.uri.path) }
        var path = route
        for name in secretParameters where route.contains("{\(name)}") {
            let value = context.parameters.get(name) ?? ""
            path = path.replacingOccurrences(of: "{\(name)}", with: String(value.prefix(6)) + "…")
        }
        for (name, value) in context.parameters where !secretParameters.contains(String(name)) {
            path = path.replacingOccurrences(of: "{\(name)}", with: String(value))
        }
        return path
    }

    static func unmatched(_ path: String) -> String {
        Problem.clip(path.split(separator: "/", omittingEmptySubsequences: false)
            .map { $0.count > 16 ? String($0.prefix(6)) + "…" : String($0) }.joined(separator: "/"), to: 200)
    }
}

/// Looks up the workspace of a bearer API key on `/v1` routes.
struct APIKeyMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext
    let store: Store
    let clock: any WallClock

    func handle(_ request: Request, context: AppRequestContext, next: (Request, AppRequestContext) async throws -> Response) async throws -> Response {
        guard let header = request.headers[.authorization] else { throw Problem.unauthenticated }
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer", !parts[1].isEmpty, parts[1].count <= 200 else {
            throw Problem.unauthenticated
        }
        let now = clock.now()
        guard let key = try await store.workspaces.cachedKey(forAPIKey: String(parts[1]).trimmingCharacters(in: .whitespaces), now: now) else {
            throw Problem.invalidAPIKey
        }
        await store.workspaces.noteKeyUsed(keyID: key.keyID, now: now)
        var context = context
        context.workspace = key.workspace
        context.keyID = key.keyID
        context.facts.note(workspaceID: key.workspace.id)
        return try await next(request, context)
    }
}
