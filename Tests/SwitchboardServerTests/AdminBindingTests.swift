import Foundation
import HTTPTypes
import HummingbirdTesting
import IntercomSandbox
import Providers
@testable import SwitchboardServer
import SwitchboardCore
import SwitchboardStore
import SwitchboardTestSupport
import Testing

@Suite("Admin authorizations are bound to a browser")
struct AdminBindingTests {
    @Test("a leaked authorizationURL is worthless once the admin's browser opened it: another browser can neither start nor finish it")
    func leakedStartURL() async throws {
        try await Harness.with { harness, client in
            let id = try await harness.createIntegration(client)
            let answer = try object(try await client.call(.post, "/v1/integrations/\(id)/authorize", harness))
            let startURL = try #require(answer["authorizationURL"] as? String)
            let start = try #require(URLComponents(string: startURL))
            let state = String(try #require(start.path.split(separator: "/").last))
            // Before any browser opened it, the callback is refused (and the state is not used up).
            let early = try await client.execute(uri: "/oauth/callback?code=x&state=\(state)", method: .get)
            #expect(early.status == .badRequest && text(early).contains("another browser"))

            let shown = try await client.execute(uri: start.path, method: .get)
            #expect(shown.status == .ok && text(shown).contains("Continue to Intercom"))
            let admin = try await client.execute(uri: start.path, method: .post, headers: sameOriginForm)
            #expect(admin.status == .seeOther)
            let setCookie = try #require(admin.headers[.setCookie])
            let cookie = String(setCookie.split(separator: ";")[0])
            let provider = try #require(admin.headers[.location])
            #expect(queryItems(provider)["state"] == state)

            // The attacker, with the same URL in another browser.
            #expect(try await client.execute(uri: start.path, method: .post, headers: sameOriginForm).status == .gone)
            #expect(try await client.execute(uri: start.path, method: .get).status == .gone)
            let location = try await SandboxBrowser.authorize(provider, email: "bea@globex.test")
            let stolen = try await client.execute(uri: try callbackURI(location), method: .get)
            #expect(stolen.status == .badRequest && text(stolen).contains("another browser"))
            #expect(try await harness.connectionCount() == 0)
            // The admin's own browser finishes it.
            let finished = try await client.execute(uri: try callbackURI(location), method: .get, headers: [.cookie: cookie])
            #expect(finished.status == .ok, "\(text(finished))")
        }
    }

    @Test("replacing the shared connection sends connection.replaced and is in the audit log with the key that started it")
    func replacementIsTold() async throws {
        let receiver = try await NotifyReceiver.start()
        do {
            try await Harness.with { harness, client in
                let created = try object(try await client.call(.post, "/v1/integrations", harness,
                    json: "{\"name\":\"Bot\",\"app\":\"system\",\"authorization\":\"preauthorized\",\"notifyURL\":\"\(receiver.url)\"}"))
                let id = try #require(created["id"] as? String)
                #expect(try await harness.preauthorize(client, integrationID: id).status == .ok)
                await harness.events.drain()  // whatever the authorization started has been delivered
                #expect(receiver.deliveries.isEmpty, "a first connection replaces nothing")
                #expect(try await harness.preauthorize(client, integrationID: id, email: "bea@globex.test").status == .ok)
                let event = try #require(try await receiver.wait(for: 1).first)
                #expect(event.type == "connection.replaced")
                let data = try #require(event.json["data"] as? [String: Any])
                #expect(data["accountChanged"] as? Bool == true)
                let keyID = try #require(try await harness.store.workspaces.apiKeys(workspaceID: harness.workspace.id).first?.id)
                let audit = try #require(try object(try await client.call(.get, "/v1/audit", harness))["data"] as? [[String: Any]])
                let replaced = try #require(audit.first { $0["action"] as? String == "connection.replaced" })
                #expect(replaced["actor"] as? String == keyID && replaced["targetId"] as? String == id)
            }
        } catch {
            await receiver.stop()
            throw error
        }
        await receiver.stop()
    }
}

@Suite("The browser check fails closed")
struct FailClosedTests {
    struct DatabaseHiccup: Error {}

    @Test("when the authorization cannot be read for the browser check, the callback goes no further and the state is not used")
    func readFailureRefuses() async throws {
        try await Harness.with { harness, client in
            let id = try await harness.createIntegration(client)
            let answer = try object(try await client.call(.post, "/v1/integrations/\(id)/authorize", harness))
            let startURL = try #require(answer["authorizationURL"] as? String)
            let state = String(try #require(startURL.split(separator: "/").last))
            var service = AuthorizationService(store: harness.store, settings: harness.settings, transport: AHCTransport(), clock: harness.clock,
                                               logger: harness.logs.logger(), events: harness.events,
                                               providers: ProviderDirectory(registry: .bundled, settings: harness.settings, transport: AHCTransport(), clock: harness.clock,
                                                                            metrics: harness.services.metrics))
            service.readRequest = { _, _ in throw DatabaseHiccup() }
            let outcome = await service.complete(state: state, code: "any", error: nil, errorDescription: nil,
                                                 arrivedAt: harness.settings.callbackURL, cookie: { _ in nil })
            guard case .failed(let status, _, _) = outcome else { Issue.record("\(outcome)"); return }
            #expect(status == 503)
            let claim = try await harness.store.authorizations.claimAuthorization(state: state, now: harness.clock.now())
            guard case .claimed = claim else { Issue.record("the state was used: \(claim)"); return }
        }
    }
}
