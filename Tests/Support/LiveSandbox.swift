public import AsyncHTTPClient
public import Foundation
import Hummingbird
public import IntercomSandbox
import Logging
import NIOCore
import NIOHTTP1
import ServiceLifecycle

/// The Intercom sandbox on a real loopback port, for tests where Switchboard must reach it over HTTP.
public final class LiveSandbox: Sendable {
    public let url: String
    public let state: SandboxState
    private let task: Task<Void, any Error>
    private let group: ServiceGroup

    private init(url: String, state: SandboxState, task: Task<Void, any Error>, group: ServiceGroup) {
        self.url = url
        self.state = state
        self.task = task
        self.group = group
    }

    /// - Parameter now: the sandbox's time; tests give the clock Switchboard runs on, so the two agree.
    public static func start(seed: SandboxSeed = .standard, rateLimitPerMinute: Int = 10_000,
                             now: @escaping @Sendable () -> Date = { Date() }) async throws -> LiveSandbox {
        let state = SandboxState(seed: seed, now: now)
        let (stream, continuation) = AsyncStream.makeStream(of: Int.self)
        var logger = Logger(label: "sandbox-test")
        logger.logLevel = .warning
        var configuration = SandboxConfiguration(host: "127.0.0.1", port: 0, rateLimitPerMinute: rateLimitPerMinute)
        configuration.now = now
        let app = try await buildSandboxApplication(configuration: configuration, state: state, logger: logger) { channel in
            continuation.yield(channel.localAddress?.port ?? 0)
            continuation.finish()
        }
        let group = ServiceGroup(configuration: .init(services: [.init(service: app)], logger: logger))
        // A server that cannot start ends the group: the port stream ends with it, and the start fails below.
        let task = Task {
            defer { continuation.finish() }
            try await group.run()
        }
        var port = 0
        for await value in stream { port = value }
        guard port != 0 else { throw TestSupportError("the sandbox did not start") }
        return LiveSandbox(url: "http://127.0.0.1:\(port)", state: state, task: task, group: group)
    }

    public func stop() async {
        await group.triggerGracefulShutdown()
        _ = try? await task.value
    }
}

/// A person in a browser: opens the provider's authorization URL, logs in, answers consent.
public enum SandboxBrowser {
    /// An HTTP client that does not follow redirects, so the test sees each Location.
    public static var client: HTTPClient { LoopbackHTTP.client }

    public struct Page: Sendable {
        public let status: Int
        public let location: String?
        public let body: String
        /// The `name=value` of the first cookie the response set.
        public var cookie: String? = nil
    }

    public static func get(_ url: String, cookie: String? = nil) async throws -> Page {
        page(try await LoopbackHTTP.send(.GET, url, headers: cookie.map { [("Cookie", $0)] } ?? [], timeout: 10))
    }

    /// Posts a form as a browser does from the page it came from: Switchboard's pages send no referrer, so `Origin`
    /// is null and `Sec-Fetch-Site` says same-origin (Switchboard's public form posts refuse any other).
    public static func postForm(_ url: String, _ fields: [(String, String)]) async throws -> Page {
        page(try await LoopbackHTTP.send(.POST, url, headers: [("Origin", "null"), ("Sec-Fetch-Site", "same-origin")], form: fields, timeout: 10))
    }

    static func page(_ answer: LoopbackHTTP.Answer) -> Page {
        Page(status: answer.status, location: answer.location, body: answer.body, cookie: answer.cookie)
    }

    /// Walks login and consent from an authorization URL, filling the forms as a person would; returns where the provider redirects.
    public static func authorize(_ authorizationURL: String, email: String = "ada@acme.test", password: String = "sandbox-password",
                                 decision: String = "allow") async throws -> String {
        let login = try await get(authorizationURL)
        guard login.status == 200 else { throw TestSupportError("the login page answered \(login.status): \(login.body.prefix(300))") }
        guard let base = URL(string: authorizationURL), let origin = URL(string: "/", relativeTo: base)?.absoluteURL.absoluteString.dropLast() else {
            throw TestSupportError("bad authorization URL")
        }
        var fields = hiddenFields(login.body)
        fields.append(("email", email))
        fields.append(("password", password))
        let consent = try await postForm(origin + "/oauth/login", fields)
        guard consent.status == 200 else { throw TestSupportError("login answered \(consent.status)") }
        var answer = hiddenFields(consent.body)
        answer.append(("decision", decision))
        let redirect = try await postForm(origin + "/oauth/authorize", answer)
        guard redirect.status == 302, let location = redirect.location else { throw TestSupportError("consent answered \(redirect.status)") }
        return location
    }

    /// An admin's authorization from Switchboard's start page (the API's `authorizationURL`): opens it, presses its
    /// button (which binds the authorization to this "browser"), and walks the provider. Returns the provider URL,
    /// the callback URL the provider redirected to, and the binding cookie to bring back.
    public static func authorizeFromStart(_ startURL: String, email: String = "ada@acme.test") async throws
        -> (providerURL: String, callback: String, cookie: String) {
        let page = try await get(startURL)
        guard page.status == 200 else { throw TestSupportError("the start page answered \(page.status): \(page.body.prefix(300))") }
        let pressed = try await postForm(startURL, [])
        guard pressed.status == 303, let provider = pressed.location, let cookie = pressed.cookie else {
            throw TestSupportError("the start page's button answered \(pressed.status)")
        }
        return (provider, try await authorize(provider, email: email), cookie)
    }

    /// The hidden inputs of a form, as the browser would submit them (HTML entities decoded).
    static func hiddenFields(_ html: String) -> [(String, String)] {
        html.matches(of: /<input type="hidden" name="([^"]+)" value="([^"]*)">/).map { match in
            (String(match.1), decodeEntities(String(match.2)))
        }
    }

    static func decodeEntities(_ text: String) -> String {
        text.replacingOccurrences(of: "&quot;", with: "\"").replacingOccurrences(of: "&#39;", with: "'")
            .replacingOccurrences(of: "&lt;", with: "<").replacingOccurrences(of: "&gt;", with: ">")
            .replacingOccurrences(of: "&#x2F;", with: "/").replacingOccurrences(of: "&#x3D;", with: "=")
            .replacingOccurrences(of: "&amp;", with: "&")
    }
}
