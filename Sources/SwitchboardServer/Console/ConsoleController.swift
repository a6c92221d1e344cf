import Foundation
import Hummingbird
import Providers
import SwitchboardCore
import SwitchboardStore

/// `/console`: the guide's steps in a browser — sign in, create a profile, add Intercom, authorize, enable.
///
/// It is an adapter over the same services as the admin API (`IntegrationService`, `ProfileService`), so both
/// surfaces behave alike. Sign-in and sign-out are public; every other page is behind `ConsoleSessionMiddleware`,
/// whose child context carries the session (and, for a POST, the form whose CSRF token it checked).
struct ConsoleController: Sendable {
    let store: Store
    let settings: ServerSettings
    let integrations: IntegrationService
    let profiles: ProfileService
    let agentTokens: AgentTokenService
    let sessions: ConsoleSessionMiddleware
    let clock: any WallClock

    typealias SignedIn = ConsoleSignIn

    var routes: RouteCollection<AppRequestContext> {
        let routes = RouteCollection(context: AppRequestContext.self)
        routes.get("/console", use: home)
        routes.post("/console/login", use: login)
        routes.post("/console/logout", use: logout)
        let signedIn = routes.group("/console").add(middleware: sessions).group(context: ConsoleRequestContext.self)
        signedIn.get("integrations", use: listIntegrations)
        signedIn.post("integrations", use: createIntegration)
        signedIn.get("integrations/{id}", use: showIntegration)
        signedIn.post("integrations/{id}/authorize", use: authorize)
        signedIn.post("integrations/{id}/enable", use: enable)
        signedIn.post("integrations/{id}/agent-tokens", use: createAgentToken)
        signedIn.post("integrations/{id}/agent-tokens/{tokenId}/revoke", use: revokeAgentToken)
        signedIn.get("auth-profiles", use: listProfiles)
        signedIn.post("auth-profiles", use: createProfile)
        signedIn.post("auth-profiles/{id}/delete", use: deleteProfile)
        return routes
    }

    // MARK: Sign-in

    @Sendable func home(request: Request, context: AppRequestContext) async throws -> Response {
        if try await sessions.session(of: request) != nil { return ConsolePage.redirect("/console/integrations") }
        return ConsolePage.render("login", title: "Sign in", session: nil, [:], notice: Self.notice(request))
    }

    @Sendable func login(request: Request, context: AppRequestContext) async throws -> Response {
        // Another site must not be able to sign a victim's browser into the attacker's workspace.
        guard ConsoleSession.isSameOrigin(request, publicURL: settings.publicURL) else { return crossOrigin() }
        let form = try await ConsoleSessionMiddleware.formFields(request)
        let key = (form["apiKey"] ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        let now = clock.now()
        guard !key.isEmpty, key.count <= 200, let found = try await store.workspaces.authenticatedKey(forAPIKey: key, now: now) else {
            return ConsolePage.render("login", title: "Sign in", session: nil, [:], status: .unauthorized, error: "That API key is unknown, revoked or expired.")
        }
        let token = try await store.workspaces.startConsoleSession(found, lifetime: ConsoleSession.lifetime, now: now)
        var response = ConsolePage.redirect("/console/integrations")
        response.setCookie(Cookie(name: ConsoleSession.cookieName, value: token, maxAge: Int(ConsoleSession.lifetime),
                                  path: settings.cookiePath("/console"), secure: settings.publicURL.scheme == "https", httpOnly: true, sameSite: .lax))
        return response
    }

    /// Ends the session where it is kept, so the cookie works nowhere afterwards, and clears it in this browser.
    @Sendable func logout(request: Request, context: AppRequestContext) async throws -> Response {
        guard ConsoleSession.isSameOrigin(request, publicURL: settings.publicURL) else { return crossOrigin() }
        if let token = request.cookies[ConsoleSession.cookieName]?.value, !token.isEmpty { try await store.workspaces.endConsoleSession(token: token) }
        var response = ConsolePage.redirect("/console?notice=signed_out")
        response.setCookie(Cookie(name: ConsoleSession.cookieName, value: "", maxAge: 0, path: settings.cookiePath("/console"),
                                  secure: settings.publicURL.scheme == "https", httpOnly: true, sameSite: .lax))
        return response
    }

    // MARK: Integrations

    @Sendable func listIntegrations(request: Request, context: ConsoleRequestContext) async throws -> Response {
        // Back from Create New: the new profile is selected, with Custom.
        var form: [String: String] = [:]
        if let profile = request.uri.queryParameters["profile"].map(String.init) { form = ["app": "custom", "authProfileId": profile] }
        return try await integrationsPage(context.session, notice: Self.notice(request), form: form)
    }

    @Sendable func createIntegration(request: Request, context: ConsoleRequestContext) async throws -> Response {
        let session = context.session, form = context.form
        var object: [String: JSONValue] = [:]
        for key in ["name", "app", "authorization", "notifyURL", "verifyURL"] {
            if let value = form[key]?.trimmingCharacters(in: .whitespaces), !value.isEmpty { object[key] = .string(value) }
        }
        if form["app"] == "custom", let profile = form["authProfileId"], !profile.isEmpty { object["authProfileId"] = .string(profile) }
        do {
            let (record, secret) = try await integrations.createIntegration(InputReader(object: object), by: session.principal)
            // Rendered, not redirected: the signing secret is shown once and never travels in a URL.
            return try await integrationPage(id: record.integration.id, session: session, notice: "Integration added.", error: nil, signingSecret: secret)
        } catch let problem as Problem {
            return try await integrationsPage(session, problem: problem, form: form)
        }
    }

    @Sendable func showIntegration(request: Request, context: ConsoleRequestContext) async throws -> Response {
        let session = context.session
        let id = try context.parameters.require("id")
        return try await integrationPage(id: id, session: session, notice: Self.notice(request), error: Self.errorNotice(request))
    }

    /// Authorize: to the provider, bound to this browser (only the callback that brings the cookie back completes it).
    @Sendable func authorize(request: Request, context: ConsoleRequestContext) async throws -> Response {
        let id = try context.parameters.require("id"), session = context.session
        do {
            let nonce = SecureRandom.token(bytes: 32)
            let started = try await integrations.startAuthorization(id: id, by: session.principal, binding: .nonce(nonce))
            var response = Response(status: .seeOther, headers: [.location: started.authorizationURL.absoluteString, .cacheControl: "no-store"])
            response.setCookie(Cookie(name: AuthorizationService.bindingCookieName(requestID: started.requestID), value: nonce,
                                      maxAge: Int(AuthorizationRequest.lifetime), path: settings.cookiePath("/oauth/callback"),
                                      secure: settings.publicURL.scheme == "https", httpOnly: true, sameSite: .lax))
            return response
        } catch let problem as Problem {
            return try await integrationProblem(problem, id: id, session: session)
        }
    }

    /// Enable: the connection is proven against the provider first; the page then says "Integration successful".
    @Sendable func enable(request: Request, context: ConsoleRequestContext) async throws -> Response {
        let id = try context.parameters.require("id"), session = context.session
        do {
            _ = try await integrations.setEnabled(true, id: id, by: session.principal)
            return ConsolePage.redirect("/console/integrations/\(id)?notice=enabled")
        } catch let problem as Problem {
            return try await integrationProblem(problem, id: id, session: session)
        }
    }

    private func integrationProblem(_ problem: Problem, id: String, session: SignedIn) async throws -> Response {
        if problem.httpStatus == 404 { return ConsolePage.notFound(session) }
        return try await integrationPage(id: id, session: session, notice: nil, error: problem.detail, status: .init(code: problem.httpStatus))
    }

    // MARK: Agent tokens

    /// Makes a token from the form (name; end user, tools and lifetime optional) and shows it this once.
    @Sendable func createAgentToken(request: Request, context: ConsoleRequestContext) async throws -> Response {
        let id = try context.parameters.require("id"), session = context.session, form = context.form
        var object: [String: JSONValue] = ["name": .string(form["name"] ?? "")]
        if let user = form["userId"]?.trimmingCharacters(in: .whitespaces), !user.isEmpty { object["userId"] = .string(user) }
        if let tools = form["tools"], !tools.trimmingCharacters(in: .whitespaces).isEmpty {
            object["tools"] = .array(tools.split(whereSeparator: { $0 == " " || $0 == "," || $0.isNewline }).map { .string(String($0)) })
        }
        if let days = form["expiresInDays"].flatMap(Double.init), days > 0 { object["expiresIn"] = .number(days * 86_400) }
        do {
            let (token, secret) = try await agentTokens.create(integrationID: id, InputReader(object: object), by: session.principal)
            return try await integrationPage(id: id, session: session, notice: "Agent token \(token.name) made.", error: nil, agentToken: secret)
        } catch let problem as Problem where problem.httpStatus != 404 {
            return try await integrationPage(id: id, session: session, notice: nil, error: nil, problem: problem, tokenForm: form,
                                             status: .init(code: problem.httpStatus))
        }
    }

    @Sendable func revokeAgentToken(request: Request, context: ConsoleRequestContext) async throws -> Response {
        let id = try context.parameters.require("id")
        do {
            _ = try await agentTokens.revoke(id: try context.parameters.require("tokenId"), integrationID: id, by: context.session.principal)
            return ConsolePage.redirect("/console/integrations/\(id)?notice=agent_token_revoked")
        } catch let problem as Problem {
            if problem.httpStatus == 404 { return ConsolePage.notFound(context.session) }
            return try await integrationPage(id: id, session: context.session, notice: nil, error: problem.detail, status: .init(code: problem.httpStatus))
        }
    }

    // MARK: Authorization profiles

    @Sendable func listProfiles(request: Request, context: ConsoleRequestContext) async throws -> Response {
        try await profilesPage(context.session, notice: Self.notice(request),
                               form: request.uri.queryParameters["then"] == "integration" ? ["then": "integration"] : [:])
    }

    @Sendable func createProfile(request: Request, context: ConsoleRequestContext) async throws -> Response {
        let session = context.session, form = context.form
        var object: [String: JSONValue] = [:]
        for key in ["name", "description", "clientId", "clientSecret", "authorizationURL", "tokenURL", "refreshTokenURL", "tokenRequestFormat"] {
            if let value = form[key], !value.trimmingCharacters(in: .whitespaces).isEmpty { object[key] = .string(value) }
        }
        if let scopes = form["scopes"], !scopes.trimmingCharacters(in: .whitespaces).isEmpty {
            object["scopes"] = .array(scopes.split(whereSeparator: { $0 == " " || $0 == "," }).map { .string(String($0)) })
        }
        object["pkce"] = .bool(form["pkce"] == "true")
        do {
            let profile = try await profiles.createProfile(InputReader(object: object), by: session.principal)
            if form["then"] == "integration" { return ConsolePage.redirect("/console/integrations?notice=profile_saved&profile=\(profile.id)#add-intercom") }
            return ConsolePage.redirect("/console/auth-profiles?notice=profile_saved")
        } catch let problem as Problem {
            return try await profilesPage(session, problem: problem, form: form)
        }
    }

    @Sendable func deleteProfile(request: Request, context: ConsoleRequestContext) async throws -> Response {
        let session = context.session
        do {
            try await profiles.deleteProfile(id: try context.parameters.require("id"), by: session.principal)
            return ConsolePage.redirect("/console/auth-profiles?notice=profile_deleted")
        } catch let problem as Problem {
            return try await profilesPage(session, problem: problem, form: [:])
        }
    }

    // MARK: Pages

    private func integrationsPage(_ session: SignedIn, notice: String? = nil, problem: Problem? = nil, form: [String: String] = [:]) async throws -> Response {
        let records = try await store.integrations.integrations(workspaceID: session.workspace.id)
        var rows: [[String: Any]] = []
        for record in records {
            let shared = record.integration.authorization == .preauthorized
                ? try await store.connections.connection(integrationID: record.integration.id, endUserID: Connection.sharedUser) : nil
            rows.append([
                "id": record.integration.id, "name": record.integration.name, "status": record.status.rawValue,
                "appLabel": Self.appLabel(record.integration.app), "modeLabel": Self.modeLabel(record.integration.authorization),
                "account": shared.map { "\($0.account.name) (\($0.account.id))" } ?? "—",
            ])
        }
        let profiles = try await store.profiles.authProfiles(workspaceID: session.workspace.id)
        let profileRows = profiles.map { ["id": $0.id, "name": $0.name, "selected": form["authProfileId"] == $0.id] as [String: Any] }
        let selected = profiles.first { $0.id == form["authProfileId"] }.map { ["name": $0.name, "callbackURL": settings.callbackURL(profileID: $0.id)] }
        return ConsolePage.render("integrations", title: "Integrations", session: session, [
            "integrations": rows, "hasIntegrations": !rows.isEmpty, "profiles": profileRows, "systemAppConfigured": settings.systemApp != nil,
            "selectedProfile": selected as Any,
            "form": ["name": form["name"] ?? "", "perUser": form["authorization"] == "per_user", "custom": form["app"] == "custom",
                     "notifyURL": form["notifyURL"] ?? "", "verifyURL": form["verifyURL"] ?? ""],
        ], status: problem.map { .init(code: $0.httpStatus) } ?? .ok, notice: notice, problem: problem)
    }

    private func integrationPage(id: String, session: SignedIn, notice: String?, error: String?, signingSecret: String? = nil,
                                 agentToken: String? = nil, problem: Problem? = nil, tokenForm: [String: String] = [:],
                                 status: HTTPResponse.Status = .ok) async throws -> Response {
        guard let record = try await store.integrations.integration(id: id, workspaceID: session.workspace.id) else { return ConsolePage.notFound(session) }
        let integration = record.integration
        var values: [String: Any] = [
            "id": integration.id, "name": integration.name, "status": record.status.rawValue,
            "appLabel": Self.appLabel(integration.app), "modeLabel": Self.modeLabel(integration.authorization),
            "callbackURL": settings.callbackURL(for: integration), "perUser": integration.authorization == .perUser,
            "canAuthorize": integration.authorization == .preauthorized,
            "authorizeLabel": record.sharedConnectionStatus == nil ? "Authorize" : "Authorize again",
            "canEnable": record.status != .enabled && (integration.authorization == .perUser || record.sharedConnectionStatus == .active),
                        "notifyURL": integration.notifyURL as Any, "verifyURL": integration.verifyURL as Any, "signingSecret": signingSecret as Any,
        ]
        if integration.authorization == .perUser {
            let count = try await store.connections.connectionCount(integrationID: id, workspaceID: session.workspace.id)
            values["usersConnected"] = count == 0 ? "No end user has connected yet." : count == 1 ? "1 end user has connected." : "\(count) end users have connected."
        }
        if let profileID = integration.authProfileID {
            values["profileName"] = try await store.profiles.authProfile(id: profileID, workspaceID: session.workspace.id)?.name
        }
        if integration.authorization == .preauthorized, let connection = try await store.connections.connection(integrationID: id, endUserID: Connection.sharedUser) {
            values["connection"] = [
                "status": connection.status.rawValue, "accountName": connection.account.name, "accountID": connection.account.id,
                "region": connection.account.region as Any, "adminEmail": connection.account.adminEmail as Any, "lastError": connection.lastError as Any,
                "since": Self.day(connection.createdAt),
            ]
        }
        let now = clock.now()
        let tokens = try await store.agentTokens.agentTokens(integrationID: id, workspaceID: session.workspace.id).map { token -> [String: Any] in
            var row: [String: Any] = [
                "id": token.id, "name": token.name, "prefix": token.displayPrefix, "userID": token.endUserID ?? "—",
                "tools": token.tools.map { $0.isEmpty ? "none" : $0.joined(separator: ", ") } ?? "all the integration allows",
                "status": token.revokedAt != nil ? "revoked" : token.works(at: now) ? "active" : "expired",
                "expires": token.expiresAt.map { Self.day($0) } ?? "never", "lastUsed": token.lastUsedAt.map { Self.day($0) } ?? "—",
                "integrationID": id, "csrf": session.csrf,
            ]
            row["canRevoke"] = token.revokedAt == nil
            return row
        }
        values["agentTokens"] = tokens
        values["hasAgentTokens"] = !tokens.isEmpty
        values["mcpURL"] = settings.publicURL.appendingPathComponent("mcp").absoluteString
        if let agentToken { values["newAgentToken"] = agentToken }
        values["tokenForm"] = ["name": tokenForm["name"] ?? "", "userId": tokenForm["userId"] ?? "", "tools": tokenForm["tools"] ?? "",
                               "never": (tokenForm["expiresInDays"] ?? "") == "", "d30": tokenForm["expiresInDays"] == "30",
                               "d90": tokenForm["expiresInDays"] == "90", "d365": tokenForm["expiresInDays"] == "365"]
        return ConsolePage.render("integration", title: integration.name, session: session, values, status: status, notice: notice, error: error, problem: problem)
    }

    private func profilesPage(_ session: SignedIn, notice: String? = nil, problem: Problem? = nil, form: [String: String] = [:]) async throws -> Response {
        let rows = try await store.profiles.authProfiles(workspaceID: session.workspace.id).map {
            ["id": $0.id, "name": $0.name, "clientID": $0.clientID, "authorizationURL": $0.authorizationURL, "tokenURL": $0.tokenURL,
             "callbackURL": settings.callbackURL(profileID: $0.id), "csrf": session.csrf]
        }
        var formValues: [String: Any] = [:]
        for key in ["name", "description", "clientId", "authorizationURL", "tokenURL", "refreshTokenURL", "scopes"] { formValues[key] = form[key] ?? "" }
        formValues["pkce"] = form["pkce"] == "true"
        formValues["json"] = form["tokenRequestFormat"] == "json"
        let then: String? = form["then"] == "integration" ? "integration" : nil
        return ConsolePage.render("profiles", title: "Authorization profiles", session: session, [
            "profiles": rows, "hasProfiles": !rows.isEmpty, "form": formValues, "then": then as Any,
            // The example URLs are the default provider's own, from its definition.
            "example": ["authorizationURL": profiles.registry.entries[0].definition.oauth.authorizationURL,
                        "tokenURL": profiles.registry.entries[0].definition.oauth.tokenURL],
        ], status: problem.map { .init(code: $0.httpStatus) } ?? .ok, notice: notice, problem: problem)
    }

    // MARK: Plumbing

    /// The notice a redirect named, from a fixed set: text from the query string is never shown.
    static func notice(_ request: Request) -> String? {
        request.uri.queryParameters["notice"].flatMap { ConsoleSession.notices[String($0)] }
    }

    static func errorNotice(_ request: Request) -> String? {
        request.uri.queryParameters["error"].flatMap { ConsoleSession.errorNotices[String($0)] }
    }

    private func crossOrigin() -> Response {
        Pages.html(.forbidden, Pages.render(title: "Not allowed", heading: "This form must be sent from the console itself",
                                            message: "Open \(settings.publicURL.absoluteString)/console and sign in there.", success: false))
    }

    /// A field as its form labels it (`tools[1]` is the Tools field).
    static func label(of field: String) -> String {
        fieldLabels[field] ?? field.split(whereSeparator: { $0 == "[" || $0 == "." }).first.flatMap { fieldLabels[String($0)] } ?? field
    }

    /// API field names as the console's forms label them.
    static let fieldLabels: [String: String] = [
        "name": "Name", "description": "Description", "clientId": "Client ID", "clientSecret": "Client secret",
        "authorizationURL": "Authorization URL", "tokenURL": "Token request URL", "refreshTokenURL": "Refresh token URL",
        "scopes": "Scopes", "tokenRequestFormat": "Token request body", "app": "OAuth app", "authorization": "Authorization type",
        "authProfileId": "Authorization profile", "notifyURL": "Notify URL", "verifyURL": "Verify URL",
        "userId": "End user", "tools": "Tools", "expiresIn": "Expires",
    ]

    /// A date as the console shows it: the day, in UTC.
    static func day(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle(timeZone: .gmt).year().month().day())
    }

    static func appLabel(_ app: AppKind) -> String { app == .system ? "System" : "Custom" }
    static func modeLabel(_ mode: AuthorizationMode) -> String { mode == .preauthorized ? "Pre-authorized" : "Users authorize" }
}
