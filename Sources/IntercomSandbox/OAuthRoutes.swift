import Foundation
import Hummingbird

/// `app.intercom.com/oauth` and `api.intercom.io/auth/eagle/token`, `/me`, `/auth/uninstall`, as documented.
struct OAuthRoutes: Sendable {
    let state: SandboxState
    let faults: Faults

    func register(on router: Router<BasicRequestContext>) {
        router.get("/oauth", use: start)
        router.post("/oauth/login", use: login)
        router.post("/oauth/authorize", use: decide)
        router.post("/auth/eagle/token", use: token)
        router.post("/auth/uninstall", use: uninstall)
    }

    /// Validates the app and redirect URL, then shows the login form.
    @Sendable func start(request: Request, context: BasicRequestContext) async throws -> Response {
        let query = request.uri.queryParameters
        let clientID = query["client_id"].map(String.init) ?? ""
        let redirect = query["redirect_uri"].map(String.init)
        let stateValue = query["state"].map(String.init)
        switch await resolve(clientID: clientID, redirectURL: redirect) {
        case .failure(let page):
            return page.response
        case .success(let (app, redirectURL)):
            return JSONBody.html(SandboxPages.render("login", title: "Log in", [
                "appName": app.name, "clientID": app.clientID, "redirectURL": redirectURL, "state": stateValue as Any,
            ]))
        }
    }

    @Sendable func login(request: Request, context: BasicRequestContext) async throws -> Response {
        let form = try await BodyFields.read(request, context: context)
        let stateValue = form["state"].flatMap { $0.isEmpty ? nil : $0 }
        switch await resolve(clientID: form["client_id"] ?? "", redirectURL: form["redirect_uri"]) {
        case .failure(let page):
            return page.response
        case .success(let (app, redirectURL)):
            guard let (workspace, admin) = await state.authenticate(email: form["email"] ?? "", password: form["password"] ?? "") else {
                return JSONBody.html(status: .unauthorized, SandboxPages.render("login", title: "Log in", [
                    "appName": app.name, "clientID": app.clientID, "redirectURL": redirectURL, "state": stateValue as Any,
                    "email": form["email"] ?? "", "error": "That email and password don't match an Intercom account.",
                ]))
            }
            let session = await state.openConsentSession(app: app, redirectURL: redirectURL, state: stateValue, workspace: workspace, admin: admin)
            return JSONBody.html(SandboxPages.render("consent", title: "Authorize", [
                "appName": app.name, "workspaceName": workspace.name, "adminName": admin.name, "adminEmail": admin.email,
                "session": session,
            ]))
        }
    }

    /// Allow → redirect with `code` and `state`; deny → redirect with `error=access_denied` and `state`.
    @Sendable func decide(request: Request, context: BasicRequestContext) async throws -> Response {
        let form = try await BodyFields.read(request, context: context)
        guard let session = await state.takeConsentSession(form["session"] ?? "") else {
            return errorPage(.badRequest, "This authorization has expired", "Start again from the app that sent you here.")
        }
        var parameters: [(String, String)]
        if form["decision"] == "allow" {
            let code = await state.issueCode(clientID: session.app.clientID, workspaceID: session.workspace.idCode, adminID: session.admin.id)
            parameters = [("code", code)]
        } else {
            parameters = [("error", "access_denied"), ("error_description", "The user denied access")]
        }
        if let stateValue = session.state { parameters.append(("state", stateValue)) }
        return Response(status: .found, headers: [.location: Self.appending(parameters, to: session.redirectURL)])
    }

    @Sendable func token(request: Request, context: BasicRequestContext) async throws -> Response {
        let failing = await faults.settings.tokenEndpointStatus
        if failing != 0 {
            throw IntercomError(.init(code: failing), code: failing == 503 ? "service_unavailable" : "server_error", message: "The token endpoint is failing (sandbox fault)")
        }
        let fields = try await BodyFields.read(request, context: context)
        guard let code = fields["code"], let clientID = fields["client_id"], let secret = fields["client_secret"] else {
            let missing = ["code", "client_id", "client_secret"].first { fields[$0] == nil } ?? "code"
            throw IntercomError(.badRequest, code: "parameter_not_found", message: "\(missing) is required", field: missing)
        }
        do {
            let token = try await state.exchange(code: code, clientID: clientID, clientSecret: secret)
            return JSONBody.response(["token_type": "Bearer", "token": token, "access_token": token])
        } catch .badClient {
            throw IntercomError(.unauthorized, code: "unauthorized", message: "Unauthorized Client")
        } catch .badCode {
            throw IntercomError(.unauthorized, code: "unauthorized", message: "Unauthorized Code")
        }
    }

    /// `GET /me`: the admin behind the token and their workspace. Served by the REST API, which rate-limits it like any call.
    static func me(_ caller: Caller) -> SJSON {
        let (workspace, admin) = (caller.workspace, caller.admin)
        return .object([
            "type": .string("admin"),
            "id": .string(admin.id),
            "email": .string(admin.email),
            "name": .string(admin.name),
            "email_verified": .bool(admin.emailVerified),
            "app": .object([
                "type": .string("app"), "id_code": .string(workspace.idCode), "name": .string(workspace.name), "created_at": .int(workspace.createdAt),
                "secure": .bool(false), "identity_verification": .bool(false), "timezone": .string(workspace.timezone), "region": .string(workspace.region),
            ]),
            "avatar": .object(["type": .string("avatar"), "image_url": .string("https://static.intercomassets.com/assets/default-avatars/admins/128.png")]),
            "has_inbox_seat": .bool(true),
        ])
    }

    @Sendable func uninstall(request: Request, context: BasicRequestContext) async throws -> Response {
        _ = try await authorize(request)
        _ = await state.uninstall(token: request.bearerToken ?? "")
        return JSONBody.response([String: String]())
    }

    func authorize(_ request: Request) async throws -> (SandboxApp, SandboxWorkspace, SandboxAdmin) {
        let caller = try await state.caller(for: request)
        return (caller.app, caller.workspace, caller.admin)
    }

    private func resolve(clientID: String, redirectURL: String?) async -> Result<(SandboxApp, String), PageFailure> {
        guard !clientID.isEmpty, let app = await state.app(clientID: clientID) else {
            return .failure(PageFailure(response: errorPage(.badRequest, "Unknown app", "No Intercom app has the client_id '\(clientID.prefix(64))'.")))
        }
        if let redirectURL, !redirectURL.isEmpty {
            guard app.redirectURLs.contains(redirectURL) else {
                return .failure(PageFailure(response: errorPage(.badRequest, "Redirect URL not allowed",
                    "'\(redirectURL.prefix(200))' is not one of the redirect URLs registered for \(app.name).")))
            }
            return .success((app, redirectURL))
        }
        guard let first = app.redirectURLs.first else {
            return .failure(PageFailure(response: errorPage(.badRequest, "No redirect URL", "\(app.name) has no registered redirect URL.")))
        }
        return .success((app, first))
    }

    struct PageFailure: Error {
        let response: Response
    }

    private func errorPage(_ status: HTTPResponse.Status, _ heading: String, _ message: String) -> Response {
        JSONBody.html(status: status, SandboxPages.render("error", title: heading, ["heading": heading, "message": message]))
    }

    static func appending(_ parameters: [(String, String)], to url: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        let query = parameters.map { "\($0.0)=\($0.1.addingPercentEncoding(withAllowedCharacters: allowed) ?? $0.1)" }.joined(separator: "&")
        return url + (url.contains("?") ? "&" : "?") + query
    }
}
