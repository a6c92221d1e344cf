import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import SwitchboardCore
import SwitchboardStore

/// The console's sign-in: a random session token in an HttpOnly cookie, kept server-side (only its hash) with the
/// API key that opened it, so that signing out, or revoking or expiring the key, ends it everywhere at once.
enum ConsoleSession {
    static let cookieName = "sb_console"
    static let lifetime: TimeInterval = 12 * 3600

    /// Derives the CSRF key from the master key: forms keep working across restarts.
    struct Signer: Sendable {
        let key: SymmetricKey

        init(masterKey: SymmetricKey) {
            key = HKDF<SHA256>.deriveKey(inputKeyMaterial: masterKey, info: Data("switchboard console session v1".utf8), outputByteCount: 32)
        }

        /// A per-session token every console form carries, so another site cannot post on the admin's behalf.
        func csrfToken(forCookie value: String) -> String {
            Base64URL.encode(HMAC<SHA256>.authenticationCode(for: Data("csrf.\(value)".utf8), using: key).prefix(18))
        }

        func isValidCSRF(_ token: String?, cookie value: String) -> Bool {
            guard let token else { return false }
            return Digest.constantTimeEqual(csrfToken(forCookie: value), token)
        }
    }

    /// Whether a form post comes from the console's own pages. Sign-in and sign-out have no session to carry a CSRF
    /// token, so this is their check: an `Origin` equal to the public URL's; or, since pages are served with
    /// `Referrer-Policy: no-referrer` (which makes browsers send `Origin: null` on form posts), `Sec-Fetch-Site:
    /// same-origin`, a header pages cannot set; or, from a browser that sends neither, a `Referer` from the console.
    static func isSameOrigin(_ request: Request, publicURL: URL) -> Bool {
        guard let expected = origin(of: publicURL) else { return false }
        let origin = request.headers[.origin]
        if let origin, origin != "null" { return origin == expected }
        if let site = request.headers[secFetchSite] { return site == "same-origin" }
        if origin == nil, let referer = request.headers[.referer], let url = URL(string: referer) { return self.origin(of: url) == expected }
        return false
    }

    static let secFetchSite = HTTPField.Name("Sec-Fetch-Site")!

    static func origin(of url: URL) -> String? {
        guard let scheme = url.scheme?.lowercased(), let host = url.host?.lowercased() else { return nil }
        let defaultPort = scheme == "https" ? 443 : 80
        return "\(scheme)://\(host)" + (url.port.map { $0 == defaultPort ? "" : ":\($0)" } ?? "")
    }

    /// What a redirect may ask a page to say: by code, never text from the URL.
    static let notices: [String: String] = [
        "signed_out": "Signed out.",
        "enabled": "Integration successful. Assistants can now use this integration: see its actions below.",
        "disabled": "Disabled: assistants' calls are refused until it is enabled again.",
        "settings_saved": "Settings saved.",
        "disconnected": "Disconnected; Intercom revoked the authorization.",
        "disconnected_unconfirmed": "Disconnected; Intercom did not confirm the revocation, but the tokens are deleted.",
        "integration_deleted": "Integration deleted, with every credential under it.",
        "profile_saved": "Profile saved. Paste its callback URL into the Intercom app's Redirect URLs, then select it when adding Intercom.",
        "profile_deleted": "Profile deleted.",
        "agent_token_revoked": "Agent token revoked; /mcp refuses it now.",
    ]

    static let errorNotices: [String: String] = [
        "no_connection": "That user has no connection.",
    ]
}

/// Signs the console in, as `APIKeyMiddleware` does `/v1`: it finds the session the cookie names (not ended, not
/// expired, its API key neither revoked nor expired) and puts it in the context; a POST must also carry the session's
/// CSRF token in its form, which is read here once and handed on. Without a session a page redirects to sign-in; a
/// POST is refused.
struct ConsoleSessionMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext
    let store: Store
    let signer: ConsoleSession.Signer
    let clock: any WallClock

    func handle(_ request: Request, context: AppRequestContext, next: (Request, AppRequestContext) async throws -> Response) async throws -> Response {
        guard var session = try await session(of: request) else {
            return request.method == .get || request.method == .head
                ? Response(status: .seeOther, headers: [.location: "/console", .cacheControl: "no-store"]) : Self.expired()
        }
        if request.method == .post {
            let form = try await Self.formFields(request)
            guard signer.isValidCSRF(form["csrf"], cookie: session.cookie) else { return Self.expired() }
            session.form = form
        }
        var context = context
        context.console = session
        context.facts.note(workspaceID: session.workspace.id)
        return try await next(request, context)
    }

    /// The signed-in admin, if the request carries a live session.
    func session(of request: Request) async throws -> ConsoleSignIn? {
        guard let cookie = request.cookies[ConsoleSession.cookieName]?.value, !cookie.isEmpty,
              let key = try await store.workspaces.consoleSession(token: cookie, now: clock.now())
        else { return nil }
        return ConsoleSignIn(workspace: key.workspace, keyID: key.keyID, csrf: signer.csrfToken(forCookie: cookie), cookie: cookie)
    }

    static func formFields(_ request: Request) async throws -> [String: String] {
        let buffer = try await request.body.collect(upTo: 64 * 1024)
        var fields: [String: String] = [:]
        for (name, value) in FormEncoding.decode(String(buffer: buffer)) where fields[name] == nil { fields[name] = value }
        return fields
    }

    static func expired() -> Response {
        Pages.html(.forbidden, Pages.render(title: "Not allowed", heading: "Your console session has expired",
                                            message: "Sign in to the console again and repeat the action.", success: false))
    }
}
