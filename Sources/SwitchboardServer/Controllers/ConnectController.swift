import Crypto
import Foundation
import Hummingbird
import Logging
import SwitchboardCore
import SwitchboardStore

/// `/connect/{token}`: the page an end user opens from the conversation, and its button that starts the authorization.
///
/// Opening the link (GET) changes nothing, so chat apps that preview links cannot use it up; the button (POST)
/// starts an authorization bound to the link's user and to this browser (a cookie the callback must bring back).
struct ConnectController: Sendable {
    let store: Store
    let settings: ServerSettings
    let authorization: AuthorizationService
    let clock: any WallClock
    let logger: Logger

    var routes: RouteCollection<AppRequestContext> {
        let routes = RouteCollection(context: AppRequestContext.self)
        routes.get("/connect/{token}", use: show)
        routes.post("/connect/{token}", use: start)
        routes.post("/connect/{token}/disconnect", use: disconnect)
        routes.get("/connect/{token}/verified", use: verified)
        return routes
    }

    /// How long the verify request and its confirmation are good for.
    static let verificationLifetime: TimeInterval = 300

    /// A link that can be used now, with its integration; or the page that says why not.
    private enum Usable {
        case ready(ConnectLink, Integration)
        /// Used, still within its lifetime, and the user's connection exists: the page offers to disconnect.
        case connected(ConnectLink, Integration, Connection)
        case refused(Response)
    }

    private func load(_ context: AppRequestContext) async throws -> Usable {
        let token = context.parameters.get("token") ?? ""
        guard ConnectLink.isWellFormed(token), let link = try await store.authorizations.connectLink(token: token) else {
            return .refused(Pages.html(.notFound, Pages.render(title: "Link not valid", heading: "This link is not valid",
                message: "Check that the whole link was copied, or ask the assistant for a new one. Nothing was connected.", success: false)))
        }
        if link.status == .completed {
            if link.expiresAt > clock.now(), let record = try await store.integrations.integration(id: link.integrationID, workspaceID: link.workspaceID),
               let connection = try await store.connections.connection(integrationID: link.integrationID, endUserID: link.endUserID) {
                return .connected(link, record.integration, connection)
            }
            return .refused(Pages.html(.gone, Pages.render(title: "Link already used", heading: "This link was already used",
                message: "An Intercom account was connected through it. You can return to the conversation; if you need to connect again, ask the assistant for a new link.",
                success: false)))
        }
        if link.expiresAt <= clock.now() {
            return .refused(Pages.html(.gone, Pages.render(title: "Link expired", heading: "This link has expired",
                message: "Connect links work for \(Int(settings.connectLinkLifetime / 60)) minutes. Ask the assistant for a new one. Nothing was connected.",
                success: false)))
        }
        guard let record = try await store.integrations.integration(id: link.integrationID, workspaceID: link.workspaceID),
              record.integration.authorization == .perUser, record.status == .enabled
        else {
            return .refused(Pages.html(.conflict, Pages.render(title: "Not available", heading: "This connection is not available now",
                message: "The integration this link is for is switched off or no longer exists. Nothing was connected.", success: false)))
        }
        return .ready(link, record.integration)
    }

    @Sendable func show(request: Request, context: AppRequestContext) async throws -> Response {
        switch try await load(context) {
        case .refused(let page): return page
        case .connected(_, let integration, let connection):
            return Pages.html(.ok, Pages.render(
                title: "Connected", heading: "Your Intercom account is connected to \(integration.name)",
                message: "\(integration.name) acts in \(connection.account.name) with your account. You can return to the conversation, or disconnect: Intercom's authorization is then revoked and nothing is kept.",
                success: true, form: (action: linkURL(context) + "/disconnect", button: "Disconnect")))
        case .ready(_, let integration):
            return Pages.html(.ok, Pages.render(
                title: "Connect Intercom", heading: "Connect your Intercom account to \(integration.name)",
                message: "You'll sign in to Intercom and allow access. \(integration.name) will then act in Intercom with your account, for you only.",
                success: true, form: (action: linkURL(context), button: "Connect Intercom")))
        }
    }

    @Sendable func start(request: Request, context: AppRequestContext) async throws -> Response {
        guard ConsoleSession.isSameOrigin(request, publicURL: settings.publicURL) else { return Pages.crossOrigin(settings) }
        switch try await load(context) {
        case .refused(let page): return page
        case .connected:
            return Pages.html(.gone, Pages.render(title: "Link already used", heading: "This link was already used",
                message: "Your Intercom account is already connected through it. To connect again, ask the assistant for a new link.", success: false))
        case .ready(let link, let integration):
            guard let verifyURL = integration.verifyURL else { return try await authorize(link, integration) }
            // First the assistant's platform confirms who is signed in there; it sends the browser back to `verified`.
            guard let secret = try await store.integrations.signingSecret(integrationID: integration.id), var target = URLComponents(string: verifyURL) else {
                return Pages.html(.conflict, Pages.render(title: "Not available", heading: "This connection is not available now",
                    message: "The integration cannot confirm who opened this link (it has no signing secret). Nothing was connected.", success: false))
            }
            // This browser gets a nonce only it holds; the platform must echo its hash, so a confirmation sent to someone
            // else's browser is worthless there.
            let nonce = SecureRandom.token(bytes: 32)
            let payload: JSONValue = .object([
                "purpose": .string("verify"), "linkId": .string(link.id), "integrationId": .string(integration.id), "userId": .string(link.endUserID),
                "conversationId": .optional(link.conversationID), "exp": .number((clock.now().timeIntervalSince1970 + Self.verificationLifetime).rounded(.down)),
                "nonceHash": .string(Self.nonceHash(nonce)),
                "return": .string(linkURL(context) + "/verified"),
            ])
            target.queryItems = (target.queryItems ?? []) + [URLQueryItem(name: "switchboard_verification", value: SignedToken.make(payload, secret: secret))]
            var response = Response(status: .seeOther, headers: [.location: target.string ?? verifyURL, .cacheControl: "no-store"])
            response.setCookie(Cookie(name: Self.verifyCookieName(linkID: link.id), value: nonce, maxAge: Int(Self.verificationLifetime),
                                      path: settings.cookiePath("/connect"), secure: settings.publicURL.scheme == "https", httpOnly: true, sameSite: .lax))
            return response
        }
    }

    /// `GET /connect/{token}/verified?confirmation=…`: the platform's signed word that the person signed in there is the
    /// link's user (`{"purpose":"confirm","linkId","userId","exp"}`, signed with the integration's signing secret).
    /// Without it, nothing goes further and nothing is stored.
    @Sendable func verified(request: Request, context: AppRequestContext) async throws -> Response {
        switch try await load(context) {
        case .refused(let page): return page
        case .connected:
            return Pages.html(.gone, Pages.render(title: "Link already used", heading: "This link was already used",
                message: "Your Intercom account is already connected through it.", success: false))
        case .ready(let link, let integration):
            let confirmation = request.uri.queryParameters["confirmation"].map(String.init) ?? ""
            let nonce = request.cookies[Self.verifyCookieName(linkID: link.id)]?.value ?? ""
            let now = clock.now()
            guard integration.verifyURL != nil, !nonce.isEmpty, let secret = try await store.integrations.signingSecret(integrationID: integration.id),
                  let payload = SignedToken.open(confirmation, secret: secret, now: now),
                  payload["purpose"]?.stringValue == "confirm", payload["linkId"]?.stringValue == link.id, payload["userId"]?.stringValue == link.endUserID,
                  let echoed = payload["nonceHash"]?.stringValue, Digest.constantTimeEqual(echoed, Self.nonceHash(nonce)),
                  let expiry = payload["exp"]?.numberValue, expiry <= now.timeIntervalSince1970 + Self.verificationLifetime + Self.clockSkew,
                  let signature = Self.signatureBytes(of: confirmation),
                  try await store.authorizations.useConfirmation(hash: Hex.encode(SHA256.hash(data: signature)), expiresAt: Date(timeIntervalSince1970: expiry.rounded(.up)))
            else {
                logger.warning("connect link confirmation refused", metadata: ["integration": "\(integration.id)", "link": "\(link.id)"])
                return Pages.html(.forbidden, Pages.render(title: "Not confirmed", heading: "We could not confirm this link is yours",
                    message: "Connect links work only for the person they were made for, in the browser that opened them. Open the link from your own conversation with the assistant and press the button again. Nothing was connected.",
                    success: false))
            }
            var response = try await authorize(link, integration)
            response.setCookie(Cookie(name: Self.verifyCookieName(linkID: link.id), value: "", maxAge: 0, path: settings.cookiePath("/connect"),
                                      secure: settings.publicURL.scheme == "https", httpOnly: true, sameSite: .lax))
            return response
        }
    }

    /// A confirmation's signature, decoded: what makes it single use (its text could be re-encoded, with padding or
    /// `+`/`/`, into another string that opens the same).
    static func signatureBytes(of token: String) -> Data? {
        token.split(separator: ".", omittingEmptySubsequences: false).last.flatMap { Base64URL.decode(String($0)) }
    }

    /// The cookie that holds the browser's verify nonce, one per link.
    static func verifyCookieName(linkID: String) -> String { "sb_verify_" + linkID }

    /// What the verify request carries and the confirmation echoes: base64url(SHA-256(nonce)), never the nonce itself.
    static func nonceHash(_ nonce: String) -> String { Base64URL.encode(SHA256.hash(data: Data(nonce.utf8))) }

    /// How far a confirmation's `exp` may run past the 5-minute lifetime, for clocks that differ a little.
    static let clockSkew: TimeInterval = 5

    /// The link's own public URL, built from its token (never from the request path, which may be `//connect/…`).
    private func linkURL(_ context: AppRequestContext) -> String {
        settings.connectURL(token: context.parameters.get("token") ?? "")
    }

    /// How many authorizations one link may start (each press of its button starts one, valid for 10 minutes).
    static let attemptsPerLink = 10

    /// Starts the authorization, bound to the link and to this browser by a cookie, and sends the browser to Intercom.
    private func authorize(_ link: ConnectLink, _ integration: Integration) async throws -> Response {
        guard try await store.authorizations.authorizationRequestCount(connectLinkID: link.id) < Self.attemptsPerLink else {
            return Pages.html(.tooManyRequests, Pages.render(title: "Too many attempts", heading: "This link was tried too many times",
                message: "Ask the assistant for a new link. Nothing was connected.", success: false))
        }
        let nonce = SecureRandom.token(bytes: 32)
        let started: AuthorizationService.Started
        do {
            started = try await authorization.start(integration: integration, endUserID: link.endUserID, connectLink: link, binding: .nonce(nonce))
        } catch let problem as Problem {
            return Pages.html(.conflict, Pages.render(title: "Not available", heading: "Intercom cannot be reached from here now",
                                                      message: problem.detail, success: false))
        }
        var response = Response(status: .seeOther, headers: [.location: started.authorizationURL.absoluteString, .cacheControl: "no-store"])
        let cookie = Cookie(name: AuthorizationService.bindingCookieName(requestID: started.requestID), value: nonce,
                            maxAge: Int(AuthorizationRequest.lifetime), path: settings.cookiePath("/oauth/callback"),
                            secure: settings.publicURL.scheme == "https", httpOnly: true, sameSite: .lax)
        response.setCookie(cookie)
        logger.info("end user authorization started", metadata: ["integration": "\(integration.id)", "link": "\(link.id)"])
        return response
    }

    /// The end user disconnects from the page of the link that connected them (while it lasts).
    @Sendable func disconnect(request: Request, context: AppRequestContext) async throws -> Response {
        guard ConsoleSession.isSameOrigin(request, publicURL: settings.publicURL) else { return Pages.crossOrigin(settings) }
        switch try await load(context) {
        case .refused(let page): return page
        case .ready:
            return Pages.html(.conflict, Pages.render(title: "Not connected", heading: "Nothing to disconnect",
                message: "No Intercom account was connected through this link.", success: false))
        case .connected(let link, let integration, _):
            _ = try await authorization.disconnect(integration: integration, endUserID: link.endUserID, by: .endUser)
            return Pages.html(.ok, Pages.render(title: "Disconnected", heading: "Your Intercom account is disconnected",
                message: "\(integration.name) can no longer act with your Intercom account, and its authorization was revoked. You can return to the conversation.",
                success: true))
        }
    }
}
