import AsyncHTTPClient
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Providers
import SwitchboardCore
@testable import SwitchboardServer
import SwitchboardStore
import SwitchboardTestSupport
import Testing

/// The real transport, with a hook the test sets once the store exists: it may answer a request itself.
final class InterceptingTransport: HTTPTransport, @unchecked Sendable {
    private let lock = NSLock()
    private var hook: (@Sendable (OutboundRequest) async throws -> OutboundResponse?)?
    private let real = AHCTransport()

    func intercept(_ hook: @escaping @Sendable (OutboundRequest) async throws -> OutboundResponse?) { lock.withLock { self.hook = hook } }

    func send(_ request: OutboundRequest) async throws -> OutboundResponse {
        if let hook = lock.withLock({ hook }), let answer = try await hook(request) { return answer }
        return try await real.send(request)
    }
}

@Suite("A refused token is not yet a dead grant")
struct RefusedTokenTests {
    let clock = ManualWallClock(Date(timeIntervalSince1970: 1_800_000_000), advancesWhenSleeping: true)

    func service(_ store: Store, _ endpoint: FakeTokenEndpoint) -> TokenService { tokenService(store, endpoint, clock: clock) }

    @Test("a token refused after another instance replaced it: retried with the stored one, no refresh, nothing marked", arguments: Backend.available)
    func replacedMeanwhile(backend: Backend) async throws {
        try await TestStore.with(backend) { test in
            let endpoint = FakeTokenEndpoint(delay: .zero, clock: clock)
            let (_, connection) = try await refreshFixture(test.store, expiresIn: 3600, now: clock.now())
            // Another instance refreshed: the stored token is now "access-other".
            #expect(try await test.store.connections.acquireRefreshLease(connectionID: connection.id, owner: "other", now: clock.now(), duration: 30))
            #expect(try await test.store.connections.storeRefreshedTokens(
                connectionID: connection.id, owner: "other", grant: TokenGrant(accessToken: "access-other", refreshToken: "refresh-other"),
                keepRefreshToken: nil, now: clock.now()))
            let tokens = service(test.store, endpoint)
            #expect(try await tokens.retryToken(after: "access-0", connectionID: connection.id, app: standardApp) == "access-other")
            #expect(endpoint.refreshTokensSeen.isEmpty, "no refresh: the token had been replaced")
            #expect(try await tokens.markRefused("access-0", connectionID: connection.id, reason: "401") == false, "the old token's refusal marks nothing")
            #expect(try await test.store.connections.connection(id: connection.id)?.status == .active)
        }
    }

    @Test("forty calls refused with the same token on two instances: one refresh, the refresh token spent once, all retried with the new token",
          arguments: Backend.available)
    func refusedTogether(backend: Backend) async throws {
        try await TestStore.with(backend) { test in
            let endpoint = FakeTokenEndpoint(delay: .milliseconds(200), clock: clock)
            // Not due: the provider revoked it early (a rotating provider revokes the old pair on refresh).
            let (_, connection) = try await refreshFixture(test.store, expiresIn: 3600, now: clock.now())
            let first = service(test.store, endpoint), second = service(test.store, endpoint)
            let results = try await withThrowingTaskGroup(of: String?.self) { group in
                for index in 0..<40 {
                    let tokens = index.isMultiple(of: 2) ? first : second
                    group.addTask { try await tokens.retryToken(after: "access-0", connectionID: connection.id, app: standardApp) }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(Set(results) == ["access-1"])
            #expect(endpoint.refreshTokensSeen == ["refresh-0"], "the refresh token was spent once")
            #expect(try await test.store.connections.connection(id: connection.id)?.tokenVersion == 2)
        }
    }

    @Test("a refused token with no refresh token marks the connection, only while it still holds that token")
    func noRefreshToken() async throws {
        try await TestStore.with(.sqlite) { test in
            let endpoint = FakeTokenEndpoint(delay: .zero, clock: clock)
            let (_, connection) = try await refreshFixture(test.store, expiresIn: 3600, refreshToken: nil, now: clock.now())
            let tokens = service(test.store, endpoint)
            #expect(try await tokens.retryToken(after: "access-0", connectionID: connection.id, app: standardApp) == nil)
            #expect(try await tokens.markRefused("access-0", connectionID: connection.id, reason: "Intercom answered 401 token_revoked"))
            let marked = try #require(try await test.store.connections.connection(id: connection.id))
            #expect(marked.status == .needsReauthorization && marked.lastError == "Intercom answered 401 token_revoked")
            #expect(endpoint.refreshTokensSeen.isEmpty)
        }
    }

    @Test("invalid_grant on the refresh after a refusal marks the connection")
    func refreshRefused() async throws {
        try await TestStore.with(.sqlite) { test in
            let endpoint = FakeTokenEndpoint(delay: .zero, clock: clock)
            endpoint.answer(.invalidGrant)
            let (_, connection) = try await refreshFixture(test.store, expiresIn: 3600, now: clock.now())
            await #expect(throws: TokenService.Failure.self) {
                try await service(test.store, endpoint).retryToken(after: "access-0", connectionID: connection.id, app: standardApp)
            }
            #expect(try await test.store.connections.connection(id: connection.id)?.status == .needsReauthorization)
        }
    }

    @Test("an action whose token was replaced and revoked by another instance mid-call is repeated with the new token and succeeds; the connection stays active")
    func actionRetried() async throws {
        let transport = InterceptingTransport()
        try await Harness.with(transport: transport) { harness, client in
            let id = try await harness.createIntegration(client)
            #expect(try await harness.preauthorize(client, integrationID: id).status == .ok)
            let old = try #require(try await harness.store.connections.connection(integrationID: id, endUserID: Connection.sharedUser))
            // A second authorization gives a second working token, as another instance's refresh would.
            #expect(try await harness.preauthorize(client, integrationID: id).status == .ok)
            let replacement = try #require(try await harness.store.connections.connection(integrationID: id, endUserID: Connection.sharedUser)).tokens.accessToken
            // Back to the old token in the store, as this instance last saw it.
            #expect(try await harness.store.connections.acquireRefreshLease(connectionID: old.id, owner: "this", now: harness.clock.now(), duration: 30))
            #expect(try await harness.store.connections.storeRefreshedTokens(connectionID: old.id, owner: "this", grant: old.tokens, keepRefreshToken: nil,
                                                                              now: harness.clock.now()))
            _ = try await client.call(.post, "/v1/integrations/\(id)/enable", harness)

            let store = harness.store, now = harness.clock.now()
            let replaced = Counter()
            transport.intercept { request in
                guard request.header("Authorization") == "Bearer \(old.tokens.accessToken)", !request.url.path.contains("token") else { return nil }
                // Mid-call, another instance stores the replacement and the provider revokes the old token.
                if replaced.next() == 1 {
                    _ = try await store.connections.acquireRefreshLease(connectionID: old.id, owner: "other", now: now, duration: 30)
                    _ = try await store.connections.storeRefreshedTokens(connectionID: old.id, owner: "other",
                                                                         grant: TokenGrant(accessToken: replacement), keepRefreshToken: nil, now: now)
                }
                return OutboundResponse(status: 401, body: Data(#"{"type":"error.list","errors":[{"code":"token_revoked","message":"Token revoked"}]}"#.utf8))
            }
            let response = try await client.call(.post, "/v1/integrations/\(id)/actions/intercom.who_am_i", harness, json: #"{"input":{}}"#)
            #expect(response.status == .ok, "\(text(response))")
            #expect(replaced.value == 1, "the old token was sent once")
            let after = try #require(try await harness.store.connections.connection(id: old.id))
            #expect(after.status == .active && after.tokens.accessToken == replacement)

            // Refused again with the token nobody replaced: now the grant is dead.
            transport.intercept { request in
                guard request.header("Authorization") == "Bearer \(replacement)" else { return nil }
                return OutboundResponse(status: 401, body: Data(#"{"type":"error.list","errors":[{"code":"token_revoked","message":"Token revoked"}]}"#.utf8))
            }
            let refused = try await client.call(.post, "/v1/integrations/\(id)/actions/intercom.who_am_i", harness, json: #"{"input":{}}"#)
            _ = try expectProblem(refused, 409, code: "reauthorization_required")
            #expect(try await harness.store.connections.connection(id: old.id)?.status == .needsReauthorization)
        }
    }
}
