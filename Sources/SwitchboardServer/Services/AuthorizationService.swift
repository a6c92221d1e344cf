public import Foundation
import Logging
import Providers
public import SwitchboardCore
import SwitchboardStore

/// The OAuth 2.0 round trip: start (state, PKCE, URL), and the callback (claim, exchange, identify, store).
public struct AuthorizationService: Sendable {
    let store: Store
    let settings: ServerSettings
    let transport: any HTTPTransport
    let clock: any WallClock
    let logger: Logger
    let events: EventDispatcher
    let providers: ProviderDirectory
    /// Reads the request a callback's state names before it is claimed: the store's (tests make it fail, to show that
    /// the browser check then fails closed).
    var readRequest: @Sendable (Store, String) async throws -> AuthorizationRequest? = { store, state in
        try await store.authorizations.authorizationRequest(state: state)
    }

    /// The OAuth client an integration authorizes with: the system app or its custom profile.
    func oauthApp(for integration: Integration) async throws -> OAuthApp {
        switch integration.app {
        case .system:
            guard let app = settings.systemApp else {
                throw Problem(status: 409, code: "system_app_not_configured", title: "System app not configured",
                              detail: "This deployment has no system Intercom app (intercom.client.id / intercom.client.secret). Use a custom authorization profile, or ask the operator to configure one.",
                              field: "app")
            }
            let definition = try providers.definition(for: integration)
            var oauth = OAuthApp(clientID: app.clientID, clientSecret: app.clientSecret, authorizationURL: app.authorizationURL,
                                 tokenURL: app.tokenURL, exchangeStyle: definition.oauth.exchangeStyle)
            oauth.tokenAnswer = definition.oauth.tokenAnswer ?? .rfc6749
            return oauth
        case .custom:
            guard let profileID = integration.authProfileID,
                  let profile = try await store.profiles.authProfile(id: profileID, workspaceID: integration.workspaceID)
            else {
                throw Problem(status: 409, code: "auth_profile_missing", title: "Authorization profile missing",
                              detail: "The integration's authorization profile no longer exists; set authProfileId to an existing profile.",
                              field: "authProfileId")
            }
            do {
                var app = try profile.oauthApp()
                app.destination = .workspaceSupplied(allowPrivateNetwork: settings.allowPrivateNetwork)
                app.tokenAnswer = providers.registry[integration.provider]?.definition.oauth.tokenAnswer ?? .rfc6749
                return app
            } catch {
                throw Problem(status: 409, code: "auth_profile_incomplete", title: "Authorization profile incomplete",
                              detail: "The profile's URLs use placeholders that its fields do not fill: \(error.names.joined(separator: ", ")).",
                              field: "fields")
            }
        }
    }

    public struct Started: Sendable {
        public let authorizationURL: URL
        public let expiresAt: Date
        public let requestID: String
        /// The request's state, for the start page of an API-started authorization (`/oauth/start/{state}`).
        let state: String
        /// Where the provider sends the browser back (the system app's, or the profile's own).
        public let callbackURL: String
    }

    /// How long a link handed out again must stay usable: one closer to its end gives way to a new one.
    static let reusedLinkMargin: TimeInterval = 120

    /// The end user's connect link for a per-user integration: their open one (however many calls ask while it lasts,
    /// so one user cannot use up the workspace's links), or a new one.
    func issueConnectLink(integration: Integration, endUserID: String, conversationID: String?, reason: ConnectLinkReason) async throws -> (url: String, link: ConnectLink) {
        let now = clock.now()
        if let (open, token) = try await store.authorizations.openConnectLink(integrationID: integration.id, endUserID: endUserID, reason: reason,
                                                                              usableUntil: now.addingTimeInterval(Self.reusedLinkMargin), now: now),
           try await store.authorizations.authorizationRequestCount(connectLinkID: open.id) < ConnectController.attemptsPerLink {
            // (A link pressed as often as a link may be gives way to a new one.)
            return (settings.connectURL(token: token), open)
        }
        if try await store.authorizations.openConnectLinkCount(workspaceID: integration.workspaceID, now: now) >= settings.limits.openConnectLinks {
            throw WorkspaceLimits.reached("open connect links", limit: settings.limits.openConnectLinks,
                                          advice: "Links expire after \(Int(settings.connectLinkLifetime / 60)) minutes; try again then.")
        }
        let token = ConnectLink.generateToken()
        let link = ConnectLink(id: Identifier.make("link"), workspaceID: integration.workspaceID, integrationID: integration.id, endUserID: endUserID,
                               conversationID: conversationID, tokenHash: Digest.sha256Hex(token), reason: reason, status: .pending,
                               createdAt: now, expiresAt: now.addingTimeInterval(settings.connectLinkLifetime), completedAt: nil)
        try await store.authorizations.insert(link, token: token)
        return (settings.connectURL(token: token), link)
    }

    /// The cookie that ties an end user's authorization to the browser that started it.
    static func bindingCookieName(requestID: String) -> String { "sb_bind_" + requestID }

    /// How a new authorization is tied to the browser that must finish it.
    enum Binding: Sendable {
        /// The browser holding this nonce in its cookie (the console's, or a connect link's).
        case nonce(String)
        /// None yet: the first browser to press the start page's button (`/oauth/start/{state}`) gets it.
        case onStartPage
    }

    /// Creates an authorization request for `endUserID` (empty for the shared connection) and the URL to send the browser to.
    /// A connect link's request is bound to it; every request is bound to one browser (`binding`).
    func start(integration: Integration, endUserID: String, connectLink: ConnectLink? = nil, binding: Binding,
               startedBy: String? = nil) async throws -> Started {
        let app = try await oauthApp(for: integration)
        let state = OAuthState.generate()
        let pkce = app.pkce ? PKCE() : nil
        let now = clock.now()
        var request = AuthorizationRequest(
            id: Identifier.make("authreq"), workspaceID: integration.workspaceID, integrationID: integration.id, endUserID: endUserID,
            stateHash: Digest.sha256Hex(state), pkceVerifier: pkce?.verifier, redirectURI: settings.callbackURL(for: integration),
            status: .pending, createdAt: now, expiresAt: now.addingTimeInterval(AuthorizationRequest.lifetime), error: nil,
            connectLinkID: connectLink?.id, startedBy: startedBy
        )
        switch binding {
        case .nonce(let nonce): request.browserBindingHash = Digest.sha256Hex(nonce)
        case .onStartPage: request.browserBindingHash = AuthorizationRequest.unboundMarker
        }
        guard let url = app.authorizationRequestURL(state: state, redirectURI: request.redirectURI, pkce: pkce) else {
            throw Problem(status: 409, code: "authorization_url_invalid", title: "Authorization URL invalid",
                          detail: "The authorization URL could not be built from the app's settings.", field: "authorizationURL")
        }
        try await store.authorizations.insert(request)
        return Started(authorizationURL: url, expiresAt: request.expiresAt, requestID: request.id, state: state, callbackURL: request.redirectURI)
    }

    /// What the callback page says.
    public enum Outcome: Sendable, Equatable {
        /// `forEndUser`: an end user connected through a connect link (their page says to return to the conversation);
        /// `resumeQueued`: calls kept for the link wait in the outbox.
        case connected(integrationID: String, integrationName: String, account: ProviderAccount, forEndUser: Bool, resumeQueued: Bool)
        case failed(status: Int, heading: String, message: String)
    }

    /// Handles `GET /oauth/callback`. Any failure stores no connection.
    /// `cookie`: the browser's cookie by name, for the check that an end user's authorization comes back to the browser that started it.
    /// `arrivedAt`: the callback URL the browser came back to; a request made for another app's callback URL is refused there.
    func complete(state: String?, code: String?, error: String?, errorDescription: String?, arrivedAt: String,
                  cookie: (String) -> String? = { _ in nil }) async -> Outcome {
        guard let state, OAuthState.isWellFormed(state) else {
            return .failed(status: 400, heading: "This authorization link is not valid",
                           message: "The callback has no state Switchboard issued. Start the authorization again from Switchboard.")
        }
        // Checked before the state is claimed, so that a callback from the wrong browser cannot use it up; and if the
        // request cannot be read, nothing goes further (the check fails closed).
        let pending: AuthorizationRequest?
        do { pending = try await readRequest(store, state) } catch {
            logger.error("reading an authorization failed", metadata: ["error.type": "\(type(of: error))"])
            return .failed(status: 503, heading: "Something went wrong", message: "Switchboard could not read the authorization. Nothing was connected; try again.")
        }
        if let pending, pending.redirectURI != arrivedAt {
            // A code for one app must not be traded at another's token endpoint (an authorization server mix-up).
            logger.warning("callback at another app's callback URL refused", metadata: ["integration": "\(pending.integrationID)"])
            return .failed(status: 400, heading: "This authorization came back to the wrong address",
                           message: "It was started for another app's callback URL. Check the Redirect URLs of the Intercom app, then start again. Nothing was connected.")
        }
        if let pending, let binding = pending.browserBindingHash {
            let nonce = cookie(Self.bindingCookieName(requestID: pending.id)) ?? ""
            guard binding != AuthorizationRequest.unboundMarker, Digest.constantTimeEqual(Digest.sha256Hex(nonce), binding) else {
                logger.warning("callback from another browser refused", metadata: ["integration": "\(pending.integrationID)"])
                let where_ = pending.connectLinkID == nil ? "where it was started in Switchboard" : "where its connect link was opened"
                return .failed(status: 400, heading: "This authorization was started in another browser",
                               message: "For your safety, an authorization must finish in the browser \(where_). Start it again there. Nothing was connected.")
            }
        }
        let claim: AuthorizationClaim
        do {
            claim = try await store.authorizations.claimAuthorization(state: state, now: clock.now())
        } catch {
            logger.error("claiming an authorization failed", metadata: ["error.type": "\(type(of: error))"])
            return .failed(status: 500, heading: "Something went wrong", message: "Switchboard could not read the authorization. Try again.")
        }
        let request: AuthorizationRequest
        switch claim {
        case .unknown:
            return .failed(status: 400, heading: "This authorization link is not valid",
                           message: "Switchboard did not start this authorization. Start it again from Switchboard.")
        case .expired:
            return .failed(status: 400, heading: "This authorization has expired",
                           message: "Authorizations must be completed within 10 minutes. Start again from Switchboard.")
        case .alreadyUsed:
            return .failed(status: 400, heading: "This authorization was already used",
                           message: "Each authorization link works once. Start again from Switchboard if you need to reconnect.")
        case .claimed(let claimed):
            request = claimed
        }
        let outcome = await exchange(request: request, code: code, error: error, errorDescription: errorDescription)
        if case .failed(_, _, let message) = outcome {
            try? await store.authorizations.failAuthorization(requestID: request.id, reason: message)
            if let linkID = request.connectLinkID, let integration = try? await store.integrations.integration(id: request.integrationID)?.integration {
                let link = try? await store.authorizations.connectLink(id: linkID)
                await events.emit(.connectionFailed, integration: integration, endUserID: request.endUserID, conversationID: link?.conversationID,
                                  data: ["reason": .string(message), "stage": .string("authorization")])
            }
        }
        return outcome
    }

    private func exchange(request: AuthorizationRequest, code: String?, error: String?, errorDescription: String?) async -> Outcome {
        if let error {
            let denied = error == "access_denied"
            return .failed(status: denied ? 403 : 400, heading: denied ? "Access was not granted" : "The provider reported an error",
                           message: denied ? "You declined the authorization, so nothing was connected."
                               : "The provider answered '\(Problem.clip(error, to: 64))'\(errorDescription.map { ": " + Problem.clip($0, to: 200) } ?? ""). Nothing was connected.")
        }
        guard let code, !code.isEmpty, code.unicodeScalars.count <= 1024 else {
            return .failed(status: 400, heading: "No authorization code", message: "The provider sent no code back. Nothing was connected.")
        }
        let integrationRecord: IntegrationRecord?
        do { integrationRecord = try await store.integrations.integration(id: request.integrationID) } catch { integrationRecord = nil }
        guard let integration = integrationRecord?.integration else {
            return .failed(status: 404, heading: "Integration not found", message: "The integration this authorization was for no longer exists.")
        }
        let title = providers.title(of: integration)
        let app: OAuthApp
        do { app = try await oauthApp(for: integration) } catch let problem as Problem {
            return .failed(status: 409, heading: "The integration cannot be authorized", message: problem.detail)
        } catch {
            return .failed(status: 500, heading: "Something went wrong", message: "The integration's app could not be loaded.")
        }
        guard let tokenRequest = app.codeExchangeRequest(code: code, redirectURI: request.redirectURI, codeVerifier: request.pkceVerifier) else {
            return .failed(status: 409, heading: "The token URL is invalid", message: "Fix the token URL of the authorization profile.")
        }
        let grant: TokenGrant
        do {
            let response = try await transport.send(tokenRequest)
            switch TokenResponse.parse(response, now: clock.now(), shape: app.tokenAnswer) {
            case .success(let granted): grant = granted
            case .failure(let failure):
                logger.warning("code exchange refused", metadata: ["integration": "\(integration.id)", "reason": "\(failure.summary)"])
                return .failed(status: 502, heading: "\(title) did not accept the authorization",
                               message: "The token endpoint refused the code (\(failure.summary)). Nothing was connected; try again.")
            }
        } catch let error as TransportError where error.kind == .refused {
            logger.warning("code exchange refused by the outbound address rules", metadata: ["integration": "\(integration.id)", "error": "\(error)"])
            return .failed(status: 502, heading: "The token URL may not be called",
                           message: "The profile's token URL is not a public https address (\(error.description)). Nothing was connected; fix the token URL.")
        } catch {
            logger.warning("code exchange failed", metadata: ["integration": "\(integration.id)", "error": "\(error)"])
            return .failed(status: 502, heading: "\(title) could not be reached",
                           message: "The token endpoint did not answer. Nothing was connected; try again.")
        }
        // The workspace's region is unknown until /me answers; the integration's region (or US) is asked first.
        let account: ProviderAccount
        do {
            let identifier = try providers.identifier(for: integration)
            account = try await identifier.identify(accessToken: grant.accessToken, apiBase: try providers.apiBase(for: integration))
        } catch let error as AccountIdentifier.Failure {
            let message: String
            switch error {
            case .unauthorized(let code, let text): message = "\(title) refused the new token (\(code): \(text))."
            case .refused(let why): message = "The account cannot be connected: \(why)."
            case .unavailable(let why): message = why
            }
            return .failed(status: 502, heading: "The \(title) account could not be identified", message: message + " Nothing was connected.")
        } catch {
            return .failed(status: 409, heading: "The integration cannot be authorized", message: "\((error as? Problem)?.detail ?? "Its provider is not defined.")")
        }
        let now = clock.now()
        let connection = Connection(
            id: Identifier.make("conn"), workspaceID: integration.workspaceID, integrationID: integration.id, endUserID: request.endUserID,
            status: .active, account: account, tokens: grant, lastError: nil, lastRefreshedAt: nil, createdAt: now, updatedAt: now
        )
        // The event this authorization reports is stored with the connection, in one transaction: an instance killed
        // right after the commit leaves both for another to deliver, never a connection whose event is lost.
        var conversationID: String?
        if let linkID = request.connectLinkID { conversationID = (try? await store.authorizations.connectLink(id: linkID))?.conversationID }
        let linkConversationID = conversationID, events = self.events
        let report: @Sendable (CompletedAuthorization.Previous?) -> EventRecord? = { previous in
            guard request.connectLinkID != nil else {
                // The shared connection replaced: said to the assistant (and below, in the audit log).
                guard let previous else { return nil }
                return events.event(.connectionReplaced, integration: integration, endUserID: nil, conversationID: nil, data: [
                    "accountId": .string(account.id), "previousAccountId": .string(previous.accountID),
                    "accountChanged": .bool(previous.accountID != account.id)])
            }
            // A connection that had failed and works again is `recovered`; a reconnect to another Intercom workspace says so.
            let type: EventType = previous?.status == .needsReauthorization && previous?.accountID == account.id ? .connectionRecovered : .connectionCreated
            var data: [String: JSONValue] = [
                "account": .object(["id": .string(account.id), "name": .string(account.name), "region": .optional(account.region)]),
                "replaced": .bool(previous != nil),
            ]
            if let previous {
                data["accountChanged"] = .bool(previous.accountID != account.id)
                data["previousAccountId"] = .string(previous.accountID)
            }
            return events.event(type, integration: integration, endUserID: request.endUserID, conversationID: linkConversationID, data: data)
        }
        let completed: CompletedAuthorization
        do {
            completed = try await store.connections.completeAuthorization(requestID: request.id, connectLinkID: request.connectLinkID,
                                                                          connection: connection, now: now, report: report)
        } catch is ConnectLinkUsed {
            return .failed(status: 410, heading: "This link was already used",
                           message: "Another authorization already completed through this connect link. Nothing more was connected.")
        } catch {
            logger.error("storing a connection failed", metadata: ["error.type": "\(type(of: error))"])
            return .failed(status: 500, heading: "Something went wrong", message: "The connection could not be stored. Nothing was connected; try again.")
        }
        logger.info("connection stored", metadata: ["integration": "\(integration.id)", "account": "\(account.id)"])
        if let event = completed.event { events.start(event) }
        if request.connectLinkID == nil, let previous = completed.previous {
            // The shared connection was replaced: say so to the assistant and in the audit log.
            let detail: [String: JSONValue] = ["accountId": .string(account.id), "previousAccountId": .string(previous.accountID),
                                               "accountChanged": .bool(previous.accountID != account.id)]
            do {
                try await store.audit.record(AuditEntry(workspaceID: integration.workspaceID, actor: request.startedBy ?? "unknown", action: "connection.replaced",
                                                  targetType: "integration", targetID: integration.id, detail: detail, at: clock.now()))
            } catch {
                logger.error("recording an audit entry failed", metadata: ["action": "connection.replaced", "error.type": "\(type(of: error))"])
            }
        }
        return .connected(integrationID: integration.id, integrationName: integration.name, account: account, forEndUser: request.connectLinkID != nil,
                          resumeQueued: completed.resumeQueued)
    }

    /// Who asked for a disconnect, as the `connection.revoked` event says.
    enum Disconnector: String {
        case admin
        case endUser = "end_user"
    }

    /// Revokes a user's authorization at the provider (its definition's `revoke` call), deletes the connection and its tokens, and emits
    /// `connection.revoked`. Nil when the user had no connection; otherwise whether Intercom confirmed the revocation
    /// (the tokens are deleted either way).
    func disconnect(integration: Integration, endUserID: String, by who: Disconnector) async throws -> Bool? {
        guard let connection = try await store.connections.deleteConnection(integrationID: integration.id, endUserID: endUserID, workspaceID: integration.workspaceID) else {
            return nil
        }
        var revoked = false
        if let identifier = try? providers.identifier(for: integration), let base = try? providers.apiBase(for: integration, accountRegion: connection.account.region) {
            revoked = await identifier.revoke(accessToken: connection.tokens.accessToken, apiBase: base)
        }
        logger.info("connection disconnected", metadata: ["integration": "\(integration.id)", "by": "\(who.rawValue)", "revokedAtProvider": "\(revoked)"])
        await events.emit(.connectionRevoked, integration: integration, endUserID: endUserID == Connection.sharedUser ? nil : endUserID, conversationID: nil,
                          data: ["by": .string(who.rawValue), "revokedAtProvider": .bool(revoked),
                                 "account": .object(["id": .string(connection.account.id), "name": .string(connection.account.name)])])
        return revoked
    }

    /// Revokes every connection of an integration at the provider (best effort, before the integration is deleted):
    /// how many the provider confirmed, and how many it did not.
    func revokeAll(integration: Integration) async throws -> (revoked: Int, unconfirmed: Int) {
        var revoked = 0, unconfirmed = 0
        for connection in try await store.connections.connections(integrationID: integration.id, workspaceID: integration.workspaceID)
        where connection.status != .revoked {
            if let identifier = try? providers.identifier(for: integration),
               let base = try? providers.apiBase(for: integration, accountRegion: connection.account.region),
               await identifier.revoke(accessToken: connection.tokens.accessToken, apiBase: base) {
                revoked += 1
            } else {
                unconfirmed += 1
            }
        }
        return (revoked, unconfirmed)
    }
}
