import Foundation
import Hummingbird
import Providers
import SwitchboardCore
import SwitchboardStore

/// The console's upkeep of one integration: its settings (name, notify and verify URLs), its signing secret renewed
/// and shown once, disabling it, deleting it behind a confirmation that names what will be lost, and its connections
/// (who, which Intercom workspace, since when, status, last error; disconnect). An adapter over `IntegrationService`,
/// as the admin API is.
struct ConsoleSettingsController: Sendable {
    let store: Store
    let integrations: IntegrationService
    let sessions: ConsoleSessionMiddleware

    typealias SignedIn = ConsoleSignIn

    var routes: RouteCollection<AppRequestContext> {
        let routes = RouteCollection(context: AppRequestContext.self)
        let signedIn = routes.group("/console").add(middleware: sessions).group(context: ConsoleRequestContext.self)
        signedIn.get("integrations/{id}/settings", use: settingsPage)
        signedIn.post("integrations/{id}/settings", use: saveSettings)
        signedIn.post("integrations/{id}/signing-secret", use: renewSigningSecret)
        signedIn.post("integrations/{id}/disable", use: disable)
        signedIn.get("integrations/{id}/delete", use: confirmDelete)
        signedIn.post("integrations/{id}/delete", use: delete)
        signedIn.get("integrations/{id}/connections", use: connections)
        signedIn.post("integrations/{id}/disconnect", use: disconnect)
        return routes
    }

    // MARK: Settings

    @Sendable func settingsPage(request: Request, context: ConsoleRequestContext) async throws -> Response {
        try await settings(id: try context.parameters.require("id"), session: context.session, notice: ConsoleController.notice(request))
    }

    /// Saves what the form holds: a field left empty clears an optional URL. A problem shows the form again, each
    /// field's message beside it and what was typed kept.
    @Sendable func saveSettings(request: Request, context: ConsoleRequestContext) async throws -> Response {
        let id = try context.parameters.require("id"), session = context.session, form = context.form
        guard let record = try await store.integrations.integration(id: id, workspaceID: session.workspace.id) else { return ConsolePage.notFound(session) }
        var object: [String: JSONValue] = ["name": .string((form["name"] ?? "").trimmingCharacters(in: .whitespaces))]
        for key in ["notifyURL", "verifyURL"] where key != "verifyURL" || record.integration.authorization == .perUser {
            let value = (form[key] ?? "").trimmingCharacters(in: .whitespaces)
            object[key] = value.isEmpty ? .null : .string(value)
        }
        if let version = form["apiVersion"], version != integrations.apiVersion(of: record.integration) { object["apiVersion"] = .string(version) }
        do {
            _ = try await integrations.update(id: id, with: InputReader(object: object), by: session.principal)
            return ConsolePage.redirect("/console/integrations/\(id)/settings?notice=settings_saved")
        } catch let problem as Problem where problem.httpStatus != 404 {
            return try await settings(id: id, session: session, problem: problem, form: form)
        }
    }

    @Sendable func renewSigningSecret(request: Request, context: ConsoleRequestContext) async throws -> Response {
        let id = try context.parameters.require("id"), session = context.session
        do {
            let secret = try await integrations.rotateSigningSecret(id: id, by: session.principal)
            // Rendered, not redirected: the secret is shown once and never travels in a URL.
            return try await settings(id: id, session: session, notice: "New signing secret made. The old one no longer signs events.", signingSecret: secret)
        } catch let problem as Problem where problem.httpStatus == 404 {
            return ConsolePage.notFound(session)
        }
    }

    @Sendable func disable(request: Request, context: ConsoleRequestContext) async throws -> Response {
        let id = try context.parameters.require("id"), session = context.session
        do {
            _ = try await integrations.setEnabled(false, id: id, by: session.principal)
            return ConsolePage.redirect("/console/integrations/\(id)/settings?notice=disabled")
        } catch let problem as Problem where problem.httpStatus == 404 {
            return ConsolePage.notFound(session)
        }
    }

    private func settings(id: String, session: SignedIn, notice: String? = nil, problem: Problem? = nil, form: [String: String]? = nil,
                          signingSecret: String? = nil) async throws -> Response {
        guard let record = try await store.integrations.integration(id: id, workspaceID: session.workspace.id) else { return ConsolePage.notFound(session) }
        let integration = record.integration
        let perUser = integration.authorization == .perUser
        var values: [String: Any] = [
            "id": id, "name": integration.name, "status": record.status.rawValue, "perUser": perUser,
            "enabled": record.status == .enabled, "canEnable": perUser || record.sharedConnectionStatus == .active,
            "form": ["name": form?["name"] ?? integration.name, "notifyURL": form?["notifyURL"] ?? integration.notifyURL ?? "",
                     "verifyURL": form?["verifyURL"] ?? integration.verifyURL ?? ""],
        ]
        if let signingSecret { values["signingSecret"] = signingSecret }
        // The provider API versions it may speak, the one it speaks chosen.
        let chosen = form?["apiVersion"] ?? integrations.apiVersion(of: integration)
        let versions = integrations.providers.registry[integration.provider]?.definition.apiVersions
        if let versions, versions.allowed.count > 1 {
            values["apiVersions"] = versions.allowed.map { version -> [String: Any] in
                ["value": version, "selected": version == chosen, "default": version == versions.default]
            }
            values["hasAPIVersions"] = true
        }
        return ConsolePage.render("settings", title: "Settings — \(integration.name)", session: session, values,
                                  status: problem.map { .init(code: $0.httpStatus) } ?? .ok, notice: notice, problem: problem)
    }

    // MARK: Delete

    /// The confirmation: what deleting takes with it, counted, and the name to type.
    @Sendable func confirmDelete(request: Request, context: ConsoleRequestContext) async throws -> Response {
        try await deletePage(id: try context.parameters.require("id"), session: context.session)
    }

    @Sendable func delete(request: Request, context: ConsoleRequestContext) async throws -> Response {
        let id = try context.parameters.require("id"), session = context.session
        guard let record = try await store.integrations.integration(id: id, workspaceID: session.workspace.id) else { return ConsolePage.notFound(session) }
        guard (context.form["confirmName"] ?? "").trimmingCharacters(in: .whitespaces) == record.integration.name else {
            let problem = Problem.validation([.init(field: "confirmName", detail: "must be the integration's name, exactly as shown")])
            return try await deletePage(id: id, session: session, problem: problem)
        }
        do {
            try await integrations.deleteIntegration(id: id, by: session.principal)
            return ConsolePage.redirect("/console/integrations?notice=integration_deleted")
        } catch let problem as Problem where problem.httpStatus == 404 {
            return ConsolePage.notFound(session)
        }
    }

    private func deletePage(id: String, session: SignedIn, problem: Problem? = nil) async throws -> Response {
        guard let record = try await store.integrations.integration(id: id, workspaceID: session.workspace.id) else { return ConsolePage.notFound(session) }
        let impact = try await integrations.deletionImpact(id: id, by: session.principal)
        let perUser = record.integration.authorization == .perUser
        return ConsolePage.render("delete", title: "Delete \(record.integration.name)", session: session, [
            "id": id, "name": record.integration.name, "perUser": perUser,
            "connections": Self.count(impact.connections, perUser ? "end-user connection" : "connection", perUser ? "end-user connections" : "connections"),
            "agentTokens": Self.count(impact.agentTokens, "agent token", "agent tokens"),
            "keptCalls": Self.count(impact.keptCalls, "kept call", "kept calls"),
        ], status: problem.map { .init(code: $0.httpStatus) } ?? .ok, problem: problem)
    }

    /// "No agent token", "1 agent token", "3 agent tokens".
    static func count(_ n: Int, _ one: String, _ many: String) -> String {
        n == 0 ? "No \(one)" : n == 1 ? "1 \(one)" : "\(n) \(many)"
    }

    // MARK: Connections

    static let connectionsPerPage = 50

    /// The integration's connections, newest first, a page at a time; or one end user's.
    @Sendable func connections(request: Request, context: ConsoleRequestContext) async throws -> Response {
        let id = try context.parameters.require("id"), session = context.session
        guard let record = try await store.integrations.integration(id: id, workspaceID: session.workspace.id) else { return ConsolePage.notFound(session) }
        let integration = record.integration
        let user = ConsoleActionsController.formValue(request, "user").trimmingCharacters(in: .whitespaces)
        let connections: [Connection]
        if !user.isEmpty {
            connections = try await store.connections.connection(integrationID: id, endUserID: user).map { [$0] } ?? []
        } else {
            let cursor = ConsoleActionsController.formValue(request, "before").split(separator: ":", maxSplits: 1)
            let before = cursor.count == 2 ? Int64(cursor[0]).map { ($0, String(cursor[1])) } : nil
            connections = try await store.connections.connections(integrationID: id, workspaceID: session.workspace.id,
                                                                  limit: Self.connectionsPerPage, before: before)
        }
        let rows: [[String: Any]] = connections.map { connection in
            ["userID": connection.endUserID, "accountName": connection.account.name, "accountID": connection.account.id,
             "region": connection.account.region as Any, "adminEmail": connection.account.adminEmail ?? "—",
             "since": ConsoleActionsController.time(connection.createdAt),
             "refreshed": connection.lastRefreshedAt.map { ConsoleActionsController.time($0) } ?? "—",
             "status": connection.status.rawValue, "lastError": connection.lastError ?? "—", "integrationID": id, "csrf": session.csrf]
        }
        var values: [String: Any] = ["id": id, "name": integration.name, "perUser": integration.authorization == .perUser, "user": (user.isEmpty ? nil : user) as Any,
                                     "connections": rows, "hasConnections": !rows.isEmpty]
        if user.isEmpty, connections.count == Self.connectionsPerPage, let last = connections.last {
            values["older"] = "/console/integrations/\(id)/connections?before=\(last.createdAt.unixSeconds):\(last.id)"
        }
        return ConsolePage.render("connections", title: "Connections — \(integration.name)", session: session, values,
                                  notice: ConsoleController.notice(request), error: ConsoleController.errorNotice(request))
    }

    @Sendable func disconnect(request: Request, context: ConsoleRequestContext) async throws -> Response {
        let id = try context.parameters.require("id"), session = context.session
        guard let record = try await store.integrations.integration(id: id, workspaceID: session.workspace.id) else { return ConsolePage.notFound(session) }
        let back = "/console/integrations/\(id)/connections"
        let user = (context.form["userId"] ?? "").trimmingCharacters(in: .whitespaces)
        // The shared connection of a pre-authorized integration is replaced by authorizing again, not disconnected here.
        guard !user.isEmpty, let revoked = try await integrations.disconnect(record.integration, endUserID: user, by: session.principal) else {
            return ConsolePage.redirect(back + "?error=no_connection")
        }
        return ConsolePage.redirect(back + "?notice=" + (revoked ? "disconnected" : "disconnected_unconfirmed"))
    }
}
