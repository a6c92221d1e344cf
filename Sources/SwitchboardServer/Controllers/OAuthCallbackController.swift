import Foundation
import Hummingbird
import SwitchboardCore

/// `GET /oauth/callback` (the system app's) and `GET /oauth/callback/{profile}` (each custom profile's): where the
/// provider sends the browser back.
struct OAuthCallbackController: Sendable {
    let authorization: AuthorizationService
    let outbox: Outbox
    let settings: ServerSettings
    let metrics: DomainMetrics

    var routes: RouteCollection<AppRequestContext> {
        let routes = RouteCollection(context: AppRequestContext.self)
        routes.get("/oauth/callback", use: callback)
        routes.get("/oauth/callback/{profile}", use: callback)
        return routes
    }

    @Sendable func callback(request: Request, context: AppRequestContext) async throws -> Response {
        let arrivedAt = context.parameters.get("profile").map { settings.callbackURL(profileID: $0) } ?? settings.callbackURL
        let query = request.uri.queryParameters
        // Hummingbird's query parser already percent-decodes; a code ending in "=" arrives intact.
        func value(_ name: String) -> String? {
            guard let raw = query[name[...]] else { return nil }
            return String(raw)
        }
        let jar = request.cookies
        let outcome = await authorization.complete(
            state: value("state"), code: value("code"), error: value("error"), errorDescription: value("error_description"), arrivedAt: arrivedAt,
            cookie: { jar[$0]?.value }
        )
        if case .connected(_, _, _, _, true) = outcome {
            // Calls kept with `resume: true` were put in the outbox with the connection: they run now, beside the page.
            outbox.kick()
        }
        switch outcome {
        case .connected: metrics.authorization(outcome: "connected")
        case .failed(let status, _, _): metrics.authorization(outcome: "failed_\(status)")
        }
        switch outcome {
        case .connected(_, let integrationName, let account, true, _):
            return Pages.html(.ok, Pages.render(title: "Connected", heading: "You're connected",
                message: "Your Intercom account (\(account.name)) is connected to \(integrationName). You can return to the conversation.", success: true))
        case .connected(let integrationID, let integrationName, let account, false, _):
            return Pages.html(.ok, Pages.render(title: "Connected", heading: "Intercom workspace \(account.name) connected",
                message: "\(integrationName) can now act in \(account.name)\(account.adminEmail.map { " as \($0)" } ?? ""). You can close this window and return to Switchboard.",
                success: true, link: (href: "/console/integrations/\(integrationID)", text: "Back to the integration")))
        case .failed(let status, let heading, let message):
            return Pages.html(.init(code: status), Pages.render(title: heading, heading: heading, message: message, success: false))
        }
    }
}
