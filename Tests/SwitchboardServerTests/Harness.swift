import AsyncHTTPClient
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import IntercomSandbox
import Logging
import Providers
import SwitchboardCore
import SwitchboardServer
import SwitchboardStore
import SwitchboardTestSupport
import SQLKit
import Testing

/// What a browser sends with a form posted from the page it came from: our pages send no referrer, so `Origin: null`,
/// and `Sec-Fetch-Site` says the post is same-origin (the public browser POSTs refuse anything else).
let sameOriginForm: HTTPFields = [.origin: "null", HTTPField.Name("Sec-Fetch-Site")!: "same-origin"]

/// Switchboard in process on a fresh store, talking to a live sandbox over loopback.
struct Harness: Sendable {
    let test: TestStore
    let sandbox: LiveSandbox
    let settings: ServerSettings
    let clock: ManualWallClock
    let logs: LogCapture
    let systemApp: SandboxApp
    let apiKey: String
    let workspace: Workspace
    /// Delivers events; tests drive its retries with `deliverDue()` after moving the clock.
    let events: EventDispatcher
    /// The services the router's adapters share (tests reach MCP on an in-memory transport through them).
    let services: Services
    /// The cookies of the browser an admin authorizes in.
    let adminBrowser = CookieJar()
    /// What Switchboard sent to Intercom's API, each request checked against its version's description.
    let requests: DescribedRequests

    var store: Store { test.store }

    /// - Parameters:
    ///   Switchboard runs on `clock`, a manual clock that moves when the code sleeps on it (backoff, pacing, refresh
    ///   waits): waits take no real time, and tests read them from the clock or move it themselves.
    ///   - configure: changes the settings before the router is built.
    ///   - clockAdvancesWhenSleeping: false for a test that moves the clock itself to wake what sleeps on it.
    static func with(_ backend: Backend = .sqlite, systemApp configured: Bool = true, transport: (any HTTPTransport)? = nil,
                     clockAdvancesWhenSleeping: Bool = true,
                     sandboxRateLimit: Int = 10_000, providers: ProviderRegistry = .bundled, logFormat: LogFormat = .text,
                     configure: @escaping @Sendable (inout ServerSettings, LiveSandbox) -> Void = { _, _ in },
                     _ body: @escaping @Sendable (Harness, any TestClientProtocol) async throws -> Void) async throws {
        // One clock: the sandbox's rate windows, consent and code lifetimes are on the clock Switchboard runs on.
        let clock = ManualWallClock(Date(), advancesWhenSleeping: clockAdvancesWhenSleeping)
        let sandbox = try await LiveSandbox.start(rateLimitPerMinute: sandboxRateLimit, now: { clock.now() })
        do {
            try await TestStore.with(backend) { test in
                let publicURL = URL(string: "https://switchboard.test")!
                let app = await sandbox.state.registerApp(name: "Switchboard", redirectURLs: [publicURL.appendingPathComponent("oauth/callback").absoluteString])
                let base = URL(string: sandbox.url)!
                var settings = ServerSettings(
                    host: "127.0.0.1", port: 0, publicURL: publicURL, database: .sqlite(path: "/unused"),
                    masterKey: try TokenVault.key(base64: TokenVault.generateKeyBase64()),
                    systemApp: configured ? SystemAppSettings(clientID: app.clientID, clientSecret: app.clientSecret,
                                                              authorizationURL: sandbox.url + "/oauth", tokenURL: sandbox.url + "/auth/eagle/token") : nil,
                    apiBaseOverrides: ["intercom": ["US": base, "EU": base, "AU": base]], logLevel: .trace, allowPrivateNetwork: true
                )
                configure(&settings, sandbox)
                let workspace = try await test.store.makeWorkspace()
                let key = AdminAPIKey.generate()
                try await test.store.workspaces.addAPIKey(workspaceID: workspace.id, key: key)
                let logs = LogCapture(format: logFormat)
                // Every request to Intercom's API is checked against the description of the version it names.
                let described = DescribedRequests(transport ?? AHCTransport(), apiBase: base)
                let dependencies = Dependencies(transport: described, clock: clock, providers: providers)
                let events = EventDispatcher(store: test.store, transport: dependencies.transport, clock: dependencies.clock, logger: logs.logger(),
                                             allowPrivateNetwork: settings.allowPrivateNetwork, metrics: DomainMetrics(registry: dependencies.metrics))
                let services = Services(settings: settings, store: test.store, dependencies: dependencies, logger: logs.logger(), events: events)
                let harness = Harness(test: test, sandbox: sandbox, settings: settings, clock: clock, logs: logs, systemApp: app, apiKey: key,
                                      workspace: workspace, events: events, services: services, requests: described)
                let router = buildRouter(settings: settings, store: test.store, dependencies: dependencies, logger: logs.logger(), services: services)
                let application = Application(router: router, logger: logs.logger(label: "app"))
                try await application.test(.router) { client in try await body(harness, ContractClient(base: client)) }
                #expect(described.violations.isEmpty, "requests to Intercom's API its description refuses:\n\(described.violations.prefix(20).joined(separator: "\n"))")
            }
        } catch {
            await sandbox.stop()
            throw error
        }
        await sandbox.stop()
    }

    var auth: HTTPFields { [.authorization: "Bearer \(apiKey)", .contentType: "application/json"] }

    /// Another workspace's key, for isolation tests.
    func otherWorkspaceKey() async throws -> String {
        let other = try await store.makeWorkspace("other")
        let key = AdminAPIKey.generate()
        try await store.workspaces.addAPIKey(workspaceID: other.id, key: key)
        return key
    }
}

extension LogCapture {
    /// A capture whose loggers write lines in `format`: `.json` through Switchboard's own JSON handler.
    convenience init(format: LogFormat) {
        switch format {
        case .text: self.init()
        case .json: self.init { label, capture in
            var handler = JSONLogHandler(label: label, output: .custom { line in capture.append(String(line.dropLast())) })
            handler.logLevel = .trace
            return handler
        }
        }
    }
}

/// A browser's cookies, `name=value` each.
final class CookieJar: @unchecked Sendable {
    private let lock = NSLock()
    private var cookies: [String: String] = [:]

    func keep(_ pair: String) {
        let parts = pair.split(separator: "=", maxSplits: 1).map(String.init)
        guard parts.count == 2 else { return }
        lock.withLock { cookies[parts[0]] = parts[1] }
    }

    var header: String { lock.withLock { cookies.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: "; ") } }
}

extension TestClientProtocol {
    func call(_ method: HTTPRequest.Method, _ uri: String, _ harness: Harness, json: String? = nil, key: String? = nil) async throws -> TestResponse {
        var headers = harness.auth
        if let key { headers[.authorization] = "Bearer \(key)" }
        return try await execute(uri: uri, method: method, headers: headers, body: json.map { ByteBuffer(string: $0) })
    }
}

func object(_ response: TestResponse) throws -> [String: Any] {
    try #require(try JSONSerialization.jsonObject(with: Data(String(buffer: response.body).utf8)) as? [String: Any], "not JSON: \(String(buffer: response.body).prefix(300))")
}

func text(_ response: TestResponse) -> String { String(buffer: response.body) }

/// Checks a problem+json answer and returns its body.
@discardableResult
func expectProblem(_ response: TestResponse, _ status: Int, code: String, field: String? = nil, sourceLocation: SourceLocation = #_sourceLocation) throws -> [String: Any] {
    #expect(Int(response.status.code) == status, "status", sourceLocation: sourceLocation)
    #expect(response.headers[.contentType] == "application/problem+json", sourceLocation: sourceLocation)
    let body = try object(response)
    #expect(body["code"] as? String == code, "code in \(body)", sourceLocation: sourceLocation)
    #expect((body["detail"] as? String)?.isEmpty == false, sourceLocation: sourceLocation)
    if let field { #expect(body["field"] as? String == field, "field in \(body)", sourceLocation: sourceLocation) }
    return body
}

func queryItems(_ url: String) -> [String: String] {
    var result: [String: String] = [:]
    for item in URLComponents(string: url)?.queryItems ?? [] { result[item.name] = item.value }
    return result
}

/// The path and query of the callback URL the provider redirected to, to replay it against the in-process app.
func callbackURI(_ location: String) throws -> String {
    let components = try #require(URLComponents(string: location))
    return components.path + "?" + (components.percentEncodedQuery ?? "")
}

extension Harness {
    func createIntegration(_ client: any TestClientProtocol, app: String = "system", profileID: String? = nil,
                           authorization: String = "preauthorized") async throws -> String {
        var fields = "\"name\":\"Support bot\",\"app\":\"\(app)\",\"authorization\":\"\(authorization)\""
        if let profileID { fields += ",\"authProfileId\":\"\(profileID)\"" }
        let response = try await client.call(.post, "/v1/integrations", self, json: "{\(fields)}")
        #expect(response.status == .created, "\(text(response))")
        return try #require(try object(response)["id"] as? String)
    }

    /// Starts the authorization as an admin would: the API's start page, then its button in "the admin's browser"
    /// (whose binding cookie the harness keeps for `callback`); returns the provider URL.
    func startAuthorization(_ client: any TestClientProtocol, integrationID: String) async throws -> String {
        let response = try await client.call(.post, "/v1/integrations/\(integrationID)/authorize", self)
        #expect(response.status == .ok, "\(text(response))")
        let startURL = try #require(try object(response)["authorizationURL"] as? String)
        let start = try #require(URLComponents(string: startURL))
        #expect(start.path.hasPrefix("/oauth/start/"), "the API answers Switchboard's start page, not Intercom's URL")
        let pressed = try await client.execute(uri: start.path, method: .post, headers: sameOriginForm)
        #expect(pressed.status == .seeOther, "\(text(pressed))")
        let setCookie = try #require(pressed.headers[.setCookie])
        adminBrowser.keep(String(setCookie.split(separator: ";")[0]))
        return try #require(pressed.headers[.location])
    }

    /// Delivers the provider's redirect to the callback from the admin's browser (with the cookies it holds).
    func callback(_ client: any TestClientProtocol, _ location: String) async throws -> TestResponse {
        try await client.execute(uri: try callbackURI(location), method: .get, headers: [.cookie: adminBrowser.header])
    }

    /// Authorize, walk the sandbox as Ada, and deliver the callback; returns the callback response.
    func preauthorize(_ client: any TestClientProtocol, integrationID: String, email: String = "ada@acme.test") async throws -> TestResponse {
        let url = try await startAuthorization(client, integrationID: integrationID)
        let location = try await SandboxBrowser.authorize(url, email: email)
        return try await callback(client, location)
    }

    /// A custom profile on an app of the sandbox's own (its Redirect URLs set to the profile's callback URL, as the guide
    /// says to paste it); returns the profile's id and the app.
    func sandboxProfile(_ client: any TestClientProtocol, authorizationURL: String? = nil) async throws -> (profileID: String, app: SandboxApp) {
        let app = await sandbox.state.registerApp(name: "Acme's own app", redirectURLs: ["https://switchboard.test/elsewhere"])
        let created = try await client.call(.post, "/v1/auth-profiles", self, json: """
            {"name":"Intercom (Acme)","clientId":"\(app.clientID)","clientSecret":"\(app.clientSecret)",
             "authorizationURL":"\(authorizationURL ?? sandbox.url + "/oauth")","tokenURL":"\(sandbox.url)/auth/eagle/token"}
            """)
        #expect(created.status == .created, "\(text(created))")
        let profile = try object(created)
        let profileID = try #require(profile["id"] as? String)
        await sandbox.state.setRedirectURLs(clientID: app.clientID, [try #require(profile["callbackURL"] as? String)])
        return (profileID, app)
    }

    func connectionCount() async throws -> Int {
        try await store.database.read { db in try await db.select().column("id").from("connections").all().count }
    }
}
