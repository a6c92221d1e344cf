import Foundation
import Logging
import Providers
import SwitchboardCore
@testable import SwitchboardServer
import SwitchboardStore
import SwitchboardTestSupport
import Testing

/// A standard OAuth token endpoint (RFC 6749) whose answers the test scripts; it counts refreshes.
final class FakeTokenEndpoint: @unchecked Sendable {
    enum Answer { case grant, invalidGrant, unavailable, networkDown }
    private let lock = NSLock()
    private var refreshes: [String] = []
    private var answer: Answer = .grant
    private var counter = 0
    let delay: Duration
    /// What the endpoint's answer time passes on: the test's clock, so that a slow answer takes no real time.
    let clock: any WallClock

    init(delay: Duration = .milliseconds(50), clock: any WallClock) {
        self.delay = delay
        self.clock = clock
    }

    func answer(_ answer: Answer) { lock.withLock { self.answer = answer } }
    var refreshTokensSeen: [String] { lock.withLock { refreshes } }

    var transport: ClosureTransport {
        ClosureTransport { request in
            let fields = Dictionary(uniqueKeysWithValues: FormEncoding.decode(String(decoding: request.body ?? Data(), as: UTF8.self)))
            try await self.clock.sleep(for: self.delay)
            let (answer, n): (Answer, Int) = self.lock.withLock {
                self.refreshes.append(fields["refresh_token"] ?? "?")
                self.counter += 1
                return (self.answer, self.counter)
            }
            switch answer {
            case .grant:
                let body = #"{"access_token":"access-\#(n)","token_type":"bearer","expires_in":3600,"refresh_token":"refresh-\#(n)"}"#
                return OutboundResponse(status: 200, body: Data(body.utf8))
            case .invalidGrant:
                return OutboundResponse(status: 400, body: Data(#"{"error":"invalid_grant","error_description":"revoked"}"#.utf8))
            case .unavailable:
                return OutboundResponse(status: 503, body: Data("down".utf8))
            case .networkDown:
                throw TransportError("connection refused")
            }
        }
    }
}

let standardApp = OAuthApp(clientID: "cid", clientSecret: "sec", authorizationURL: "https://idp.example/authorize", tokenURL: "https://idp.example/token")

/// An integration with a shared connection whose token expires in `expiresIn` seconds.
func refreshFixture(_ store: Store, expiresIn: TimeInterval, enabled: Bool = true, refreshToken: String? = "refresh-0",
                    now: Date) async throws -> (Integration, Connection) {
    let workspace = try await store.makeWorkspace()
    let integration = Integration(
        id: Identifier.make("int"), workspaceID: workspace.id, name: "Bot", provider: .intercom, app: .system, authProfileID: nil,
        authorization: .preauthorized, region: nil, notifyURL: nil, enablement: enabled ? .enabled : .never, createdAt: now, updatedAt: now
    )
    try await store.integrations.insert(integration)
    let request = AuthorizationRequest(
        id: Identifier.make("authreq"), workspaceID: workspace.id, integrationID: integration.id, endUserID: "", stateHash: "h-\(UUID())",
        pkceVerifier: nil, redirectURI: "https://sb/cb", status: .processing, createdAt: now, expiresAt: now.addingTimeInterval(600), error: nil
    )
    try await store.authorizations.insert(request)
    let connection = try await store.connections.completeAuthorization(requestID: request.id, connectLinkID: nil, connection: Connection(
        id: Identifier.make("conn"), workspaceID: workspace.id, integrationID: integration.id, endUserID: "", status: .active,
        account: ProviderAccount(id: "acct", name: "Acct"),
        tokens: TokenGrant(accessToken: "access-0", refreshToken: refreshToken, expiresAt: now.addingTimeInterval(expiresIn)),
        lastError: nil, lastRefreshedAt: nil, createdAt: now, updatedAt: now
    ), now: now).connection
    return (integration, connection)
}

/// A token service on `clock` against the scripted endpoint, waiting at most 10 s for another instance's refresh.
func tokenService(_ store: Store, _ endpoint: FakeTokenEndpoint, clock: any WallClock) -> TokenService {
    TokenService(store: store, transport: endpoint.transport, clock: clock, logger: TestStore.logger,
                 waitLimit: .seconds(10), pollInterval: .milliseconds(20))
}

@Suite("Token refresh")
struct RefreshTests {
    /// Sleeps (a slow token endpoint, a wait for another instance's refresh) move it at once.
    let clock = ManualWallClock(Date(timeIntervalSince1970: 1_800_000_000), advancesWhenSleeping: true)

    func service(_ store: Store, _ endpoint: FakeTokenEndpoint) -> TokenService { tokenService(store, endpoint, clock: clock) }

    @Test("a token far from expiry is used as is")
    func notDue() async throws {
        try await TestStore.with(.sqlite) { test in
            let endpoint = FakeTokenEndpoint(clock: clock)
            let (_, connection) = try await refreshFixture(test.store, expiresIn: 3600, now: clock.now())
            #expect(try await service(test.store, endpoint).accessToken(for: connection, app: standardApp) == "access-0")
            #expect(endpoint.refreshTokensSeen.isEmpty)
        }
    }

    @Test("thirty concurrent callers in one instance cause one refresh and all get its token; the rotated refresh token is stored",
          arguments: Backend.available)
    func singleFlight(backend: Backend) async throws {
        try await TestStore.with(backend) { test in
            // The answer takes no time on the test's clock, so the stored expiry is exactly an hour from now.
            let endpoint = FakeTokenEndpoint(delay: .zero, clock: clock)
            let (_, connection) = try await refreshFixture(test.store, expiresIn: 60, now: clock.now())
            let tokens = service(test.store, endpoint)
            let results = try await withThrowingTaskGroup(of: String.self) { group in
                for _ in 0..<30 { group.addTask { try await tokens.accessToken(for: connection, app: standardApp) } }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(Set(results) == ["access-1"])
            #expect(endpoint.refreshTokensSeen == ["refresh-0"])
            let stored = try #require(try await test.store.connections.connection(id: connection.id))
            #expect(stored.tokens.refreshToken == "refresh-1")
            #expect(stored.tokens.expiresAt == clock.now().addingTimeInterval(3600))
            #expect(stored.lastRefreshedAt != nil)
        }
    }

    @Test("an instance that died holding the refresh lease holds the others up only until it lapses: they take it over and refresh, no 503",
          arguments: Backend.available)
    func deadLeaseHolder(backend: Backend) async throws {
        try await TestStore.with(backend) { test in
            let endpoint = FakeTokenEndpoint(delay: .zero, clock: clock)
            let (_, connection) = try await refreshFixture(test.store, expiresIn: 0, now: clock.now())
            // "dead" took the lease and will never renew or release it (killed mid-refresh).
            #expect(try await test.store.connections.acquireRefreshLease(connectionID: connection.id, owner: "dead", now: clock.now(),
                                                                          duration: RefreshPolicy.leaseDuration))
            let started = clock.now()
            // The production bounds: callers wait up to 15 s, polling every 100 ms (each poll moves the test's clock).
            let tokens = TokenService(store: test.store, transport: endpoint.transport, clock: clock, logger: TestStore.logger)
            #expect(try await tokens.accessToken(for: connection, app: standardApp) == "access-1")
            #expect(clock.now().timeIntervalSince(started) >= RefreshPolicy.leaseDuration, "the lease was waited out, not broken")
            #expect(endpoint.refreshTokensSeen == ["refresh-0"])
        }
    }

    @Test("two instances sharing a database: one refresh, both get the new token", arguments: Backend.available)
    func acrossInstances(backend: Backend) async throws {
        try await TestStore.with(backend) { test in
            let endpoint = FakeTokenEndpoint(delay: .milliseconds(200), clock: clock)
            let (_, connection) = try await refreshFixture(test.store, expiresIn: 30, now: clock.now())
            let first = service(test.store, endpoint), second = service(test.store, endpoint)
            #expect(first.instanceID != second.instanceID)
            async let a = first.accessToken(for: connection, app: standardApp)
            async let b = second.accessToken(for: connection, app: standardApp)
            let (tokenA, tokenB) = try await (a, b)
            #expect(tokenA == "access-1")
            #expect(tokenB == "access-1")
            #expect(endpoint.refreshTokensSeen == ["refresh-0"], "the refresh token was spent once")
        }
    }

    @Test("invalid_grant marks the connection needs_reauthorization and the integration error")
    func permanentRefusal() async throws {
        try await TestStore.with(.sqlite) { test in
            let endpoint = FakeTokenEndpoint(clock: clock)
            endpoint.answer(.invalidGrant)
            let (integration, connection) = try await refreshFixture(test.store, expiresIn: 10, now: clock.now())
            await #expect(throws: TokenService.Failure.self) { try await service(test.store, endpoint).accessToken(for: connection, app: standardApp) }
            let stored = try #require(try await test.store.connections.connection(id: connection.id))
            #expect(stored.status == .needsReauthorization)
            let lastError = try #require(stored.lastError)
            #expect(lastError.contains("invalid_grant"))
            #expect(try await test.store.integrations.integration(id: integration.id)?.status == .error)
            // A dead connection is not retried.
            await #expect(throws: TokenService.Failure.needsReauthorization(lastError)) {
                try await service(test.store, endpoint).accessToken(for: stored, app: standardApp)
            }
            #expect(endpoint.refreshTokensSeen.count == 1)
        }
    }

    @Test("a 503 or a network failure never kills the connection: still-valid tokens are used, expired ones report unavailable",
          arguments: [FakeTokenEndpoint.Answer.unavailable, .networkDown])
    func transientFailure(answer: FakeTokenEndpoint.Answer) async throws {
        try await TestStore.with(.sqlite) { test in
            let endpoint = FakeTokenEndpoint(clock: clock)
            endpoint.answer(answer)
            let (integration, connection) = try await refreshFixture(test.store, expiresIn: 60, now: clock.now())
            #expect(try await service(test.store, endpoint).accessToken(for: connection, app: standardApp) == "access-0")
            var stored = try #require(try await test.store.connections.connection(id: connection.id))
            #expect(stored.status == .active)
            #expect(stored.lastError?.hasPrefix("refresh failed") == true)
            #expect(try await test.store.integrations.integration(id: integration.id)?.status == .enabled)

            clock.advance(by: 120)
            stored = try #require(try await test.store.connections.connection(id: connection.id))
            do {
                _ = try await service(test.store, endpoint).accessToken(for: stored, app: standardApp)
                Issue.record("an expired token with a failing refresh must not be handed out")
            } catch {
                guard case TokenService.Failure.unavailable = error else { Issue.record("expected unavailable, got \(error)"); return }
            }
            #expect(try await test.store.connections.connection(id: connection.id)?.status == .active)

            endpoint.answer(.grant)
            #expect(try await service(test.store, endpoint).accessToken(for: stored, app: standardApp).hasPrefix("access-"), "a later try recovers")
            #expect(try await test.store.connections.connection(id: connection.id)?.lastError == nil)
        }
    }

    @Test("a database that cannot be reached during a refresh is the database's failure, not the provider's; the connection is not marked")
    func databaseGoneDuringRefresh() async throws {
        try await TestStore.with(.sqlite) { test in
            let endpoint = FakeTokenEndpoint(clock: clock)
            let (_, connection) = try await refreshFixture(test.store, expiresIn: 60, now: clock.now())
            clock.advance(by: 120)
            await test.store.shutdown()
            do {
                _ = try await service(test.store, endpoint).accessToken(for: connection, app: standardApp)
                Issue.record("a refresh without a database cannot hand out a token")
            } catch {
                guard case TokenService.Failure.databaseUnavailable = error else { Issue.record("expected databaseUnavailable, got \(error)"); return }
            }
            do {
                _ = try await service(test.store, endpoint).retryToken(after: "access-0", connectionID: connection.id, app: standardApp)
                Issue.record("nothing can be reread without a database")
            } catch {
                guard case TokenService.Failure.databaseUnavailable = error else { Issue.record("expected databaseUnavailable, got \(error)"); return }
            }
            #expect(endpoint.refreshTokensSeen.isEmpty, "the provider was not asked")
        }
    }
}
