import Foundation
import Hummingbird
import Logging
import SwitchboardCore
import SwitchboardStore

/// `/oauth/start/{state}`: the page `POST /v1/integrations/{id}/authorize` answers with. Its button binds the
/// authorization to the browser that presses it first (an HttpOnly cookie the callback must bring back), then goes on
/// to Intercom; a copy of the URL opened anywhere else afterwards cannot finish the authorization, nor replace the
/// shared connection with another Intercom account. Opening the page (GET) changes nothing, so link previews cannot
/// use it up.
struct AuthorizeStartController: Sendable {
    let store: Store
    let settings: ServerSettings
    let authorization: AuthorizationService
    let clock: any WallClock
    let logger: Logger

    var routes: RouteCollection<AppRequestContext> {
        let routes = RouteCollection(context: AppRequestContext.self)
        routes.get("/oauth/start/{state}", use: show)
        routes.post("/oauth/start/{state}", use: start)
        return routes
    }

    private func state(_ context: AppRequestContext) -> String? {
        guard let state = context.parameters.get("state"), OAuthState.isWellFormed(state) else { return nil }
        return state
    }

    /// A state of another shape than Switchboard's is no link Switchboard made: 404, as for a connect link.
    private func notOurs() -> Response {
        Pages.html(.notFound, Pages.render(title: "Link not valid", heading: "This authorization link is not valid",
            message: "It is not a link Switchboard made; check that it was copied whole. Start the authorization again from Switchboard. Nothing was connected.",
            success: false))
    }

    private func notUsable() -> Response {
        Pages.html(.gone, Pages.render(title: "Link not usable", heading: "This authorization link cannot be used",
            message: "It was already opened in a browser, it has expired (links work for 10 minutes), or it is not one Switchboard made. Start the authorization again from Switchboard. Nothing was connected.",
            success: false))
    }

    @Sendable func show(request: Request, context: AppRequestContext) async throws -> Response {
        guard let state = state(context) else { return notOurs() }
        guard let pending = try await store.authorizations.authorizationRequest(state: state),
              pending.status == .pending, pending.expiresAt > clock.now(), pending.browserBindingHash == AuthorizationRequest.unboundMarker,
              let record = try await store.integrations.integration(id: pending.integrationID)
        else { return notUsable() }
        return Pages.html(.ok, Pages.render(
            title: "Authorize Intercom", heading: "Authorize \(record.integration.name) in Intercom",
            message: "You'll sign in to Intercom and allow access; \(record.integration.name) will then act in that Intercom workspace. Finish in this browser: the authorization is tied to it.",
            success: true, form: (action: settings.startURL(state: state), button: "Continue to Intercom")))
    }

    @Sendable func start(request: Request, context: AppRequestContext) async throws -> Response {
        guard ConsoleSession.isSameOrigin(request, publicURL: settings.publicURL) else { return Pages.crossOrigin(settings) }
        guard let state = state(context) else { return notOurs() }
        let nonce = SecureRandom.token(bytes: 32)
        guard let bound = try await store.authorizations.bindAuthorizationRequest(state: state, bindingHash: Digest.sha256Hex(nonce), now: clock.now()),
              let record = try await store.integrations.integration(id: bound.integrationID)
        else {
            logger.notice("authorization start page refused: already opened, expired or unknown")
            return notUsable()
        }
        let app: OAuthApp
        do { app = try await authorization.oauthApp(for: record.integration) } catch let problem as Problem {
            return Pages.html(.conflict, Pages.render(title: "Not available", heading: "The integration cannot be authorized now",
                                                      message: problem.detail, success: false))
        }
        guard let url = app.authorizationRequestURL(state: state, redirectURI: bound.redirectURI,
                                                    pkce: bound.pkceVerifier.map { PKCE(verifier: $0) }) else {
            return Pages.html(.conflict, Pages.render(title: "Not available", heading: "The authorization URL is invalid",
                                                      message: "Fix the authorization URL of the integration's app.", success: false))
        }
        var response = Response(status: .seeOther, headers: [.location: url.absoluteString, .cacheControl: "no-store"])
        response.setCookie(Cookie(name: AuthorizationService.bindingCookieName(requestID: bound.id), value: nonce,
                                  maxAge: Int(AuthorizationRequest.lifetime), path: settings.cookiePath("/oauth/callback"),
                                  secure: settings.publicURL.scheme == "https", httpOnly: true, sameSite: .lax))
        logger.info("admin authorization bound to a browser", metadata: ["integration": "\(record.integration.id)"])
        return response
    }
}
