import Foundation
import Hummingbird
import IntercomSandbox
import HummingbirdTesting
import Logging
import NIOCore
@testable import Providers
import ServiceLifecycle
import SwitchboardCore
import SwitchboardServer
import SwitchboardStore
import SwitchboardTestSupport
import SQLKit
import Testing

/// Server-side request forgery: workspace-supplied URLs reach only public https addresses unless the operator allows
/// private networks, checked on the address connected to; no outbound call follows a redirect.
@Suite("Outbound requests to workspace-supplied URLs")
struct OutboundGuardTests {
    func post(_ url: String, _ destination: OutboundDestination) -> OutboundRequest {
        OutboundRequest(method: "POST", url: URL(string: url)!, headers: [("Content-Type", "application/json")],
                        body: Data(#"{"secret":"client-secret"}"#.utf8), timeout: 5, destination: destination)
    }

    func expectRefused(_ send: () async throws -> OutboundResponse, sourceLocation: SourceLocation = #_sourceLocation) async {
        do {
            let response = try await send()
            Issue.record("answered \(response.status) instead of being refused", sourceLocation: sourceLocation)
        } catch let error as TransportError {
            #expect(error.kind == .refused, "\(error)", sourceLocation: sourceLocation)
            #expect(error.description.contains("--allow-private-network"), "\(error)", sourceLocation: sourceLocation)
        } catch {
            Issue.record("\(error)", sourceLocation: sourceLocation)
        }
    }

    @Test("loopback, by IP, by name and in numeric disguise, is refused before a byte is sent; the operator's setting allows it")
    func loopbackRefused() async throws {
        let receiver = try await NotifyReceiver.start()
        let transport = AHCTransport()
        let port = try #require(URL(string: receiver.url)?.port)
        let guarded = OutboundDestination.workspaceSupplied(allowPrivateNetwork: false)
        await expectRefused { try await transport.send(post(receiver.url, guarded)) }
        await expectRefused { try await transport.send(post("https://127.0.0.1:\(port)/hook", guarded)) }
        await expectRefused { try await transport.send(post("https://localhost:\(port)/hook", guarded)) }
        // Past the checks made before connecting, the connected address alone refuses: a name, and 127.0.0.1 written as
        // one decimal number (which getaddrinfo accepts and an IP-literal check does not see).
        await expectRefused { try await transport.send(post("http://localhost:\(port)/hook", guarded), preflight: false) }
        await expectRefused { try await transport.send(post("http://2130706433:\(port)/hook", guarded), preflight: false) }
        #expect(receiver.deliveries.isEmpty, "nothing reached the receiver")

        #expect(try await transport.send(post(receiver.url, .workspaceSupplied(allowPrivateNetwork: true))).status == 200)
        #expect(try await transport.send(post(receiver.url, .operatorSet)).status == 200)
        #expect(receiver.deliveries.count == 2)
        await receiver.stop()
    }

    @Test("no outbound call follows a redirect: a 307 comes back as it is, and its target is never called")
    func noRedirects() async throws {
        let receiver = try await NotifyReceiver.start()
        let redirector = try await Redirector.start(to: receiver.url)
        let transport = AHCTransport()
        for destination in [OutboundDestination.operatorSet, .workspaceSupplied(allowPrivateNetwork: true)] {
            let response = try await transport.send(post(redirector.url, destination))
            #expect(response.status == 307)
        }
        #expect(receiver.deliveries.isEmpty)
        await redirector.stop()
        await receiver.stop()
    }

    @Test("a notify URL on loopback is not called without --allow-private-network; the delivery log says why")
    func notifyURLRefused() async throws {
        let receiver = try await NotifyReceiver.start()
        try await Harness.with(configure: { settings, _ in settings.allowPrivateNetwork = false }) { harness, client in
            // Saving a loopback notify URL is refused at once, naming the field.
            try expectProblem(try await client.call(.post, "/v1/integrations", harness,
                json: "{\"name\":\"Bot\",\"app\":\"system\",\"authorization\":\"per_user\",\"notifyURL\":\"\(receiver.url)\"}"),
                422, code: "validation_failed", field: "notifyURL")
            // One saved as a public name that now points inward (as a name's DNS answer can change) is refused when called.
            let created = try object(try await client.call(.post, "/v1/integrations", harness,
                json: #"{"name":"Bot","app":"system","authorization":"per_user","notifyURL":"https://assistant.example/events"}"#))
            let id = try #require(created["id"] as? String)
            #expect(try await client.call(.post, "/v1/integrations/\(id)/enable", harness).status == .ok)
            var record = try #require(try await harness.store.integrations.integration(id: id, workspaceID: harness.workspace.id))
            record.integration.notifyURL = receiver.url
            #expect(try await harness.store.integrations.update(record.integration))
            let url = try await harness.connectLink(client, id, user: "user-a")
            // The system app's token URL is the operator's, and trusted: connecting works.
            #expect(try await EndUserBrowser(harness: harness, client: client).connect(url).status == .ok)
            // The first attempt runs at once, in the background; wait for it to be recorded.
            await harness.events.drain()
            let log = try object(try await client.call(.get, "/v1/events?integration=\(id)", harness))
            let lastError = (log["data"] as? [[String: Any]])?.first?["lastError"] as? String
            let why = try #require(lastError)
            #expect(why.contains("may not be called") && why.contains("--allow-private-network"), "\(why)")
        }
        #expect(receiver.deliveries.isEmpty)
        await receiver.stop()
    }

    @Test("a profile whose token URL is on loopback never gets the code or the client secret without --allow-private-network")
    func tokenURLRefused() async throws {
        try await Harness.with(systemApp: false, configure: { settings, _ in settings.allowPrivateNetwork = false }) { harness, client in
            let app = await harness.sandbox.state.registerApp(name: "Acme's own app", redirectURLs: ["https://switchboard.test/elsewhere"])
            // Saving loopback or plain-http token URLs is refused at once, naming the field.
            let refused = try expectProblem(try await client.call(.post, "/v1/auth-profiles", harness, json: """
                {"name":"Intercom (Acme)","clientId":"\(app.clientID)","clientSecret":"\(app.clientSecret)","authorizationURL":"\(harness.sandbox.url)/oauth",
                 "tokenURL":"\(harness.sandbox.url)/auth/eagle/token","refreshTokenURL":"https://127.0.0.1/refresh"}
                """), 422, code: "validation_failed")
            #expect((refused["errors"] as? [[String: Any]])?.compactMap { $0["field"] as? String } == ["tokenURL", "refreshTokenURL"])
            // A profile saved with a public name that now points inward is refused when called, before the code or secret leave.
            let created = try object(try await client.call(.post, "/v1/auth-profiles", harness, json: """
                {"name":"Intercom (Acme)","clientId":"\(app.clientID)","clientSecret":"\(app.clientSecret)",
                 "authorizationURL":"\(harness.sandbox.url)/oauth","tokenURL":"https://idp.example/token"}
                """))
            let profileID = try #require(created["id"] as? String)
            var profile = try #require(try await harness.store.profiles.authProfile(id: profileID, workspaceID: harness.workspace.id))
            profile.tokenURL = harness.sandbox.url + "/auth/eagle/token"
            #expect(try await harness.store.profiles.update(profile))
            await harness.sandbox.state.setRedirectURLs(clientID: app.clientID, [try #require(created["callbackURL"] as? String)])
            let id = try await harness.createIntegration(client, app: "custom", profileID: profileID)
            let page = try await harness.preauthorize(client, integrationID: id)
            #expect(page.status == .badGateway)
            #expect(text(page).contains("may not be called"), "\(text(page))")
            #expect(!text(page).contains(app.clientSecret))
            #expect(try await harness.connectionCount() == 0)
            #expect(await harness.sandbox.state.issuedTokenCount() == 0, "the sandbox's token endpoint was never called")
        }
    }
}

/// Answers every POST with 307 to `target`.
struct Redirector {
    let server: LoopbackServer
    var url: String { server.url("/moved") }

    static func start(to target: String) async throws -> Redirector {
        let router = Router()
        router.post("/moved") { _, _ in Response(status: .temporaryRedirect, headers: [.location: target]) }
        return Redirector(server: try await LoopbackServer.start(router, label: "redirector"))
    }

    func stop() async { await server.stop() }
}
