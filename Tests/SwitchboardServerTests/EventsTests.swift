import AsyncHTTPClient
import Crypto
import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import NIOHTTP1
import IntercomSandbox
import SwitchboardCore
import SwitchboardServer
import SwitchboardStore
import SwitchboardTestSupport
import SQLKit
import Testing

/// Checks a delivery's signature the way an assistant's platform would, without Switchboard's code.
func signatureVerifies(_ delivery: NotifyReceiver.Delivery, secret: String) -> Bool {
    guard let header = delivery.headers["switchboard-signature"] else { return false }
    let parts = Dictionary(header.split(separator: ",").compactMap { part -> (String, String)? in
        let pair = part.split(separator: "=", maxSplits: 1)
        return pair.count == 2 ? (String(pair[0]), String(pair[1])) : nil
    }, uniquingKeysWith: { first, _ in first })
    guard let timestamp = parts["t"], let signature = parts["v1"] else { return false }
    let code = HMAC<SHA256>.authenticationCode(for: Data((timestamp + ".").utf8) + delivery.body, using: SymmetricKey(data: Data(secret.utf8)))
    return code.map { String(format: "%02x", $0) }.joined() == signature
}

extension Harness {
    /// A per-user integration that notifies `receiver`; returns its id and signing secret.
    func notifyingIntegration(_ client: any TestClientProtocol, _ receiver: NotifyReceiver) async throws -> (id: String, secret: String) {
        let created = try object(try await client.call(.post, "/v1/integrations", self,
            json: "{\"name\":\"Support bot\",\"app\":\"system\",\"authorization\":\"per_user\",\"notifyURL\":\"\(receiver.url)\"}"))
        let id = try #require(created["id"] as? String)
        let secret = try #require(created["signingSecret"] as? String)
        #expect(try await client.call(.post, "/v1/integrations/\(id)/enable", self).status == .ok)
        return (id, secret)
    }

    /// A notify receiver and a per-user integration that notifies it, with its signing secret; the receiver stops after `body`.
    static func withNotifyingIntegration(
        _ body: @escaping @Sendable (Harness, any TestClientProtocol, NotifyReceiver, _ integrationID: String, _ secret: String) async throws -> Void
    ) async throws {
        let receiver = try await NotifyReceiver.start()
        do {
            try await Harness.with { harness, client in
                let (id, secret) = try await harness.notifyingIntegration(client, receiver)
                try await body(harness, client, receiver, id, secret)
            }
        } catch {
            await receiver.stop()
            throw error
        }
        await receiver.stop()
    }
}

@Suite("Events for assistants")
struct EventsTests {
    @Test("connecting sends a signed connection.created naming the integration, user and conversation; a tampered body fails the signature")
    func connectionCreated() async throws {
        try await Harness.withNotifyingIntegration { harness, client, receiver, id, secret in
            #expect(secret.hasPrefix("whsec_"))
            let shown = try await client.call(.get, "/v1/integrations/\(id)", harness)
            #expect(!text(shown).contains(secret), "the secret is shown once, at creation")

            let url = try await harness.connectLink(client, id, user: "user-a")
            #expect(try await EndUserBrowser(harness: harness, client: client).connect(url).status == .ok)
            let delivery = try #require(try await receiver.wait(for: 1).first)
            #expect(delivery.type == "connection.created")
            #expect(delivery.json["integrationId"] as? String == id)
            #expect(delivery.json["userId"] as? String == "user-a")
            #expect(delivery.json["conversationId"] as? String == "conv-1")
            let data = try #require(delivery.json["data"] as? [String: Any])
            #expect((data["account"] as? [String: Any])?["name"] as? String == "Acme Support")
            #expect(data["replaced"] as? Bool == false)
            #expect(delivery.headers["switchboard-event-type"] == "connection.created")
            #expect(delivery.headers["switchboard-event-id"] == delivery.json["id"] as? String)

            #expect(signatureVerifies(delivery, secret: secret))
            #expect(EventSignature.verify(header: delivery.headers["switchboard-signature"] ?? "", body: delivery.body, secret: secret, now: harness.clock.now()))
            var tampered = delivery.body
            tampered[tampered.index(before: tampered.endIndex - 1)] ^= 0x01
            let forged = NotifyReceiver.Delivery(headers: delivery.headers, body: tampered)
            #expect(!signatureVerifies(forged, secret: secret))
            #expect(!EventSignature.verify(header: delivery.headers["switchboard-signature"] ?? "", body: tampered, secret: secret, now: harness.clock.now()))
            #expect(!signatureVerifies(delivery, secret: "whsec_other"))

            // The delivery log says the same, without the payload (once the attempt is recorded).
            await harness.events.drain()
            let log = try object(try await client.call(.get, "/v1/events?integration=\(id)", harness))
            let entry = try #require((log["data"] as? [[String: Any]])?.first)
            #expect(entry["type"] as? String == "connection.created" && entry["status"] as? String == "delivered")
            #expect(entry["attempts"] as? Int == 1 && entry["lastStatus"] as? Int == 200)
            let whole = text(try await client.call(.get, "/v1/events", harness))
            #expect(entry["data"] == nil && !whole.contains("Acme Support"))
        }
    }

    @Test("a failed delivery is tried again on the backoff schedule until it is accepted; 410 stops it; nothing else retries early")
    func retries() async throws {
        try await Harness.withNotifyingIntegration { harness, client, receiver, id, _ in
            receiver.answer(500, 503)
            let url = try await harness.connectLink(client, id, user: "user-a")
            #expect(try await EndUserBrowser(harness: harness, client: client).connect(url).status == .ok)
            _ = try await receiver.wait(for: 1)
            await harness.events.drain()
            func entry() async throws -> [String: Any] {
                try #require((try object(try await client.call(.get, "/v1/events", harness))["data"] as? [[String: Any]])?.first)
            }
            var logged = try await entry()
            #expect(logged["status"] as? String == "pending" && logged["attempts"] as? Int == 1 && logged["lastStatus"] as? Int == 500)
            #expect(logged["lastError"] as? String == "the receiver answered 500")

            await harness.events.deliverDue()
            #expect(receiver.deliveries.count == 1, "not due before 5 s")
            harness.clock.advance(by: 5)
            await harness.events.deliverDue()
            #expect(receiver.deliveries.count == 2)
            logged = try await entry()
            #expect(logged["attempts"] as? Int == 2 && logged["lastStatus"] as? Int == 503)
            harness.clock.advance(by: 30)
            await harness.events.deliverDue()
            logged = try await entry()
            #expect(receiver.deliveries.count == 3 && logged["status"] as? String == "delivered" && logged["attempts"] as? Int == 3)
            let ids = Set(receiver.deliveries.map { $0.json["id"] as? String })
            #expect(ids.count == 1, "the same event, by id, each time")

            // 410 Gone ends it at once.
            receiver.answer(410)
            _ = try await harness.connectLink(client, id, user: "user-b")
            #expect(try await EndUserBrowser(harness: harness, client: client).connect(try await harness.connectLink(client, id, user: "user-b")).status == .ok)
            _ = try await receiver.wait(for: 4)
            await harness.events.drain()
            logged = try await entry()
            #expect(logged["status"] as? String == "failed" && logged["lastStatus"] as? Int == 410)
            harness.clock.advance(by: 4000)
            await harness.events.deliverDue()
            #expect(receiver.deliveries.count == 4)
        }
    }

    @Test("Intercom refusing a user's token sends connection.failed; connecting again sends connection.recovered; another workspace is flagged")
    func failedRecoveredChanged() async throws {
        try await Harness.withNotifyingIntegration { harness, client, receiver, id, _ in
            let browser = EndUserBrowser(harness: harness, client: client)
            #expect(try await browser.connect(try await harness.connectLink(client, id, user: "user-a")).status == .ok)
            let first = try #require(try await harness.store.connections.connection(integrationID: id, endUserID: "user-a"))
            #expect(await harness.sandbox.state.revoke(token: first.tokens.accessToken))
            let refused = try await harness.run(client, id, "intercom.who_am_i", "{}", user: "user-a")
            let url = try #require(try expectProblem(refused, 409, code: "authorization_required")["authorizationURL"] as? String)
            #expect(try await browser.connect(url).status == .ok)
            // Refused again, and this time connected as an admin of another Intercom workspace.
            let second = try #require(try await harness.store.connections.connection(integrationID: id, endUserID: "user-a"))
            #expect(await harness.sandbox.state.revoke(token: second.tokens.accessToken))
            let again = try await harness.run(client, id, "intercom.who_am_i", "{}", user: "user-a")
            let link = try #require(try expectProblem(again, 409, code: "authorization_required")["authorizationURL"] as? String)
            #expect(try await browser.connect(link, as: "bea@globex.test").status == .ok)

            let types = try await receiver.wait(for: 5).map(\.type)
            #expect(types == ["connection.created", "connection.failed", "connection.recovered", "connection.failed", "connection.created"])
            let last = try #require(receiver.deliveries.last?.json["data"] as? [String: Any])
            #expect(last["replaced"] as? Bool == true && last["accountChanged"] as? Bool == true)
            #expect(last["previousAccountId"] as? String == "acme7x2k")
        }
    }

    @Test("a refused consent sends connection.failed; rotating the signing secret signs with the new one only")
    func deniedAndRotated() async throws {
        try await Harness.withNotifyingIntegration { harness, client, receiver, id, old in
            let rotated = try object(try await client.call(.post, "/v1/integrations/\(id)/signing-secret", harness))
            let secret = try #require(rotated["signingSecret"] as? String)
            #expect(secret != old)
            let browser = EndUserBrowser(harness: harness, client: client)
            let url = try await harness.connectLink(client, id, user: "user-a")
            let (location, cookie) = try await browser.press(url)
            let back = try await SandboxBrowser.authorize(location, decision: "deny")
            #expect(try await browser.callback(back, cookie: cookie).status == .forbidden)
            let delivery = try #require(try await receiver.wait(for: 1).first)
            #expect(delivery.type == "connection.failed")
            #expect(signatureVerifies(delivery, secret: secret) && !signatureVerifies(delivery, secret: old))
            #expect(try await harness.store.connections.connection(integrationID: id, endUserID: "user-a") == nil)
        }
    }
}

@Suite("Resume: a kept call runs once the user connects")
struct ResumeTests {
    @Test("resume:true keeps the call; after the user connects it runs once, even if the callback is hit twice, and action.completed carries the result")
    func resumeRunsOnce() async throws {
        try await Harness.withNotifyingIntegration { harness, client, receiver, id, secret in
            let call = #"{"input":{"email":"kept@example.com","name":"Kept"},"user":{"id":"user-a","conversationId":"conv-9"},"resume":true}"#
            let response = try await client.call(.post, "/v1/integrations/\(id)/actions/intercom.create_contact", harness, json: call)
            let problem = try expectProblem(response, 409, code: "authorization_required")
            let pendingID = try #require(problem["pendingActionId"] as? String)
            let url = try #require(problem["authorizationURL"] as? String)
            // The kept input is sealed at rest.
            let stored = try await harness.store.database.read { db in
                try await db.select().column("input_sealed").from("pending_actions").first()?.decode(column: "input_sealed", as: String.self)
            }
            #expect(stored?.contains("kept@example.com") == false)

            let browser = EndUserBrowser(harness: harness, client: client)
            let (location, cookie) = try await browser.press(url)
            let back = try await SandboxBrowser.authorize(location)
            #expect(try await browser.callback(back, cookie: cookie).status == .ok)
            #expect(try await browser.callback(back, cookie: cookie).status == .badRequest, "the replay is refused")

            // The kept call waits in the outbox (one item, however often the callback was hit); draining it runs the
            // call, and the dispatcher drained has delivered what it sent: nothing else can still arrive.
            #expect(try await harness.store.outbox.outboxCount() == 1)
            await harness.services.outbox.drain()
            #expect(try await harness.store.outbox.outboxCount() == 0)
            await harness.events.drain()
            let deliveries = receiver.deliveries
            let completed = receiver.deliveries.filter { $0.type == "action.completed" }
            #expect(completed.count == 1, "\(receiver.deliveries.map(\.type))")
            let event = try #require(completed.first)
            #expect(signatureVerifies(event, secret: secret))
            #expect(event.json["conversationId"] as? String == "conv-9" && event.json["userId"] as? String == "user-a")
            let data = try #require(event.json["data"] as? [String: Any])
            #expect(data["pendingActionId"] as? String == pendingID && data["action"] as? String == "intercom.create_contact")
            #expect((data["result"] as? [String: Any])?["email"] as? String == "kept@example.com")
            #expect((data["message"] as? String)?.isEmpty == false)
            #expect(deliveries.first?.type == "connection.created")

            // Intercom has the contact once.
            let found = try object(try await harness.run(client, id, "intercom.find_contact_by_email", #"{"email":"kept@example.com"}"#, user: "user-a"))
            #expect((found["result"] as? [Any])?.count == 1)
        }
    }

    @Test("kept calls stored with the connection run on another instance when the one that took the callback stops before running them, and once")
    func resumeOnAnotherInstance() async throws {
        try await Harness.withNotifyingIntegration { harness, client, receiver, id, _ in
            let call = #"{"input":{"email":"later@example.com","name":"Later"},"user":{"id":"user-b"},"resume":true}"#
            let problem = try expectProblem(try await client.call(.post, "/v1/integrations/\(id)/actions/intercom.create_contact", harness, json: call),
                                            409, code: "authorization_required")
            let url = try #require(problem["authorizationURL"] as? String)
            #expect(try await EndUserBrowser(harness: harness, client: client).connect(url).status == .ok)
            // This instance never drains (as if SIGTERM came first); an instance that died holding the item leaves a lease.
            let dead = try await harness.store.outbox.takeDue(owner: "inst_dead", now: harness.clock.now(), lease: Outbox.lease, limit: 10)
            #expect(dead.count == 1 && dead.first?.kind == .resumeKeptCalls)
            let other = Services(settings: harness.settings, store: harness.store, dependencies: Dependencies(clock: harness.clock),
                                 logger: harness.logs.logger(), events: harness.events)
            await other.outbox.drain()
            #expect(try await harness.store.outbox.outboxCount() == 1, "the dead instance's lease still holds it")
            harness.clock.advance(by: Outbox.lease + 1)
            await other.outbox.drain()
            #expect(try await harness.store.outbox.outboxCount() == 0)
            await harness.events.drain()
            #expect(receiver.deliveries.filter { $0.type == "action.completed" }.count == 1, "\(receiver.deliveries.map(\.type))")
            await other.outbox.drain()
            await harness.events.drain()
            #expect(receiver.deliveries.filter { $0.type?.hasPrefix("action.") == true }.count == 1, "run once")
        }
    }

    @Test("resume is refused, by field, without a notify URL, on a pre-authorized integration, and with bad input; nothing is kept")
    func resumeRefused() async throws {
        try await Harness.with { harness, client in
            let quiet = try await harness.perUserIntegration(client)
            let body = #"{"input":{"email":"kept@example.com"},"user":{"id":"user-a"},"resume":true}"#
            try expectProblem(try await client.call(.post, "/v1/integrations/\(quiet)/actions/intercom.create_contact", harness, json: body),
                              409, code: "notify_url_required", field: "resume")
            let shared = try await harness.enabledIntegration(client)
            try expectProblem(try await client.call(.post, "/v1/integrations/\(shared)/actions/intercom.create_contact", harness, json: body),
                              409, code: "preauthorized_integration", field: "resume")
            try expectProblem(try await client.call(.post, "/v1/integrations/\(quiet)/actions/intercom.create_contact", harness,
                                                    json: #"{"input":{"email":"not-an-email"},"user":{"id":"user-a"}}"#),
                              422, code: "validation_failed", field: "input.email")
            try expectProblem(try await client.call(.post, "/v1/integrations/\(quiet)/actions/intercom.create_contact", harness,
                                                    json: #"{"input":{},"user":{"id":"user-a"},"resume":"yes"}"#),
                              422, code: "validation_failed", field: "resume")
            let kept = try await harness.store.database.read { db in try await db.select().column("id").from("pending_actions").all().count }
            #expect(kept == 0)
        }
    }
}

@Suite("Disconnect")
struct DisconnectTests {
    @Test("the admin API disconnects a user: revoked at Intercom, tokens deleted, connection.revoked sent, the next action asks to connect")
    func adminDisconnect() async throws {
        try await Harness.withNotifyingIntegration { harness, client, receiver, id, _ in
            #expect(try await EndUserBrowser(harness: harness, client: client).connect(try await harness.connectLink(client, id, user: "user-a")).status == .ok)
            let token = try #require(try await harness.store.connections.connection(integrationID: id, endUserID: "user-a")).tokens.accessToken
            try expectProblem(try await client.call(.delete, "/v1/integrations/\(id)/connections/nobody", harness), 404, code: "not_found")

            let answer = try object(try await client.call(.delete, "/v1/integrations/\(id)/connections/user-a", harness))
            #expect(answer["revokedAtProvider"] as? Bool == true && answer["disconnected"] as? Bool == true)
            #expect(try await harness.store.connections.connection(integrationID: id, endUserID: "user-a") == nil)
            try expectProblem(try await client.call(.get, "/v1/integrations/\(id)/connections/user-a", harness), 404, code: "not_found")
            // Intercom no longer accepts the token.
            #expect(try await harness.sandbox.me(token: token) == 401)

            let types = try await receiver.wait(for: 2).map(\.type)
            #expect(types == ["connection.created", "connection.revoked"])
            let data = try #require(receiver.deliveries.last?.json["data"] as? [String: Any])
            #expect(data["by"] as? String == "admin" && data["revokedAtProvider"] as? Bool == true)
            _ = try await harness.connectLink(client, id, user: "user-a")
        }
    }

    @Test("an end user disconnects from the page of the link that connected them")
    func endUserDisconnect() async throws {
        try await Harness.withNotifyingIntegration { harness, client, receiver, id, _ in
            let browser = EndUserBrowser(harness: harness, client: client)
            let url = try await harness.connectLink(client, id, user: "user-a")
            #expect(try await browser.connect(url).status == .ok)
            let page = try await client.execute(uri: try browser.path(url) + "/disconnect", method: .post, headers: sameOriginForm)
            #expect(page.status == .ok && text(page).contains("Your Intercom account is disconnected"))
            #expect(try await harness.store.connections.connection(integrationID: id, endUserID: "user-a") == nil)
            let types = try await receiver.wait(for: 2).map(\.type)
            #expect(types == ["connection.created", "connection.revoked"])
            #expect((receiver.deliveries.last?.json["data"] as? [String: Any])?["by"] as? String == "end_user")
            // The link is spent: nothing more to do with it.
            #expect(try await browser.open(url).status == .gone)
            #expect(try await client.execute(uri: try browser.path(url) + "/disconnect", method: .post, headers: sameOriginForm).status == .gone)
        }
    }
}

@Suite("Forwarded links: verifyURL")
struct VerifyURLTests {
    /// A confirmation as the assistant's platform would make it, by the documented format, without Switchboard's code.
    func confirmation(_ payload: [String: Any], secret: String) throws -> String {
        func b64(_ data: Data) -> String {
            data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
        }
        let body = b64(try JSONSerialization.data(withJSONObject: payload))
        let mac = HMAC<SHA256>.authenticationCode(for: Data(body.utf8), using: SymmetricKey(data: Data(secret.utf8)))
        return body + "." + b64(Data(mac))
    }

    /// A browser pressing a link's button with a verifyURL: what the platform is asked, where to send the browser back,
    /// and the nonce cookie this browser now holds (`name=value`).
    struct Asked {
        let request: String
        let payload: JSONValue
        let back: URLComponents
        let cookie: String
        var linkID: String { payload["linkId"]?.stringValue ?? "" }
        var nonceHash: String { payload["nonceHash"]?.stringValue ?? "" }
    }

    func press(_ client: any TestClientProtocol, _ browser: EndUserBrowser, _ url: String, secret: String, now: Date) async throws -> Asked {
        let pressed = try await client.execute(uri: try browser.path(url), method: .post, headers: sameOriginForm)
        #expect(pressed.status == .seeOther)
        let setCookie = try #require(pressed.headers[.setCookie], "the button sets the nonce cookie")
        #expect(setCookie.contains("HttpOnly") && setCookie.contains("SameSite=Lax") && setCookie.contains("Path=/connect"))
        #expect(setCookie.hasPrefix("sb_verify_"), "only the verify nonce: no authorization starts yet")
        let location = try #require(pressed.headers[.location])
        let verify = try #require(URLComponents(string: location))
        #expect(verify.host == "assistant.example" && verify.queryItems?.first { $0.name == "src" }?.value == "sb")
        let request = try #require(verify.queryItems?.first { $0.name == "switchboard_verification" }?.value)
        let payload = try #require(SignedToken.open(request, secret: secret, now: now))
        let returnURL = try #require(payload["return"]?.stringValue)
        let back = try #require(URLComponents(string: returnURL))
        return Asked(request: request, payload: payload, back: back, cookie: String(setCookie.split(separator: ";")[0]))
    }

    func openVerified(_ client: any TestClientProtocol, _ asked: Asked, _ confirmation: String?, cookie: String?) async throws -> TestResponse {
        var headers: HTTPFields = [:]
        if let cookie { headers[.cookie] = cookie }
        return try await client.execute(uri: asked.back.path + (confirmation.map { "?confirmation=\($0)" } ?? ""), method: .get, headers: headers)
    }

    func perUserVerifying(_ harness: Harness, _ client: any TestClientProtocol) async throws -> (id: String, secret: String) {
        let created = try object(try await client.call(.post, "/v1/integrations", harness, json:
            #"{"name":"Support bot","app":"system","authorization":"per_user","verifyURL":"https://assistant.example/verify?src=sb"}"#))
        let id = try #require(created["id"] as? String)
        #expect(created["verifyURL"] as? String == "https://assistant.example/verify?src=sb")
        #expect(try await client.call(.post, "/v1/integrations/\(id)/enable", harness).status == .ok)
        return (id, try #require(created["signingSecret"] as? String))
    }

    @Test("with a verifyURL the browser goes there first; only a signed confirmation for the link's own user, echoing this browser's nonce, continues to Intercom")
    func verifyFirst() async throws {
        try await Harness.with { harness, client in
            let (id, secret) = try await perUserVerifying(harness, client)
            let browser = EndUserBrowser(harness: harness, client: client)
            let url = try await harness.connectLink(client, id, user: "user-a")
            let asked = try await press(client, browser, url, secret: secret, now: harness.clock.now())
            #expect(asked.payload["userId"]?.stringValue == "user-a" && asked.payload["purpose"]?.stringValue == "verify")
            #expect(!asked.nonceHash.isEmpty && !asked.cookie.contains(asked.nonceHash), "the request carries a hash of the nonce, not the nonce")
            #expect(SignedToken.open(asked.request, secret: "whsec_other", now: harness.clock.now()) == nil)

            let exp = Int(harness.clock.now().timeIntervalSince1970) + 120
            let linkID = asked.linkID, echo = asked.nonceHash
            let refusals: [String?] = [
                nil,
                try confirmation(["purpose": "confirm", "linkId": linkID, "userId": "user-b", "exp": exp, "nonceHash": echo], secret: secret),
                try confirmation(["purpose": "confirm", "linkId": linkID, "userId": "user-a", "exp": exp, "nonceHash": echo], secret: "whsec_wrong"),
                try confirmation(["purpose": "confirm", "linkId": linkID, "userId": "user-a", "exp": exp - 600, "nonceHash": echo], secret: secret),
                try confirmation(["purpose": "verify", "linkId": linkID, "userId": "user-a", "exp": exp, "nonceHash": echo], secret: secret),
                try confirmation(["purpose": "confirm", "linkId": "link_other", "userId": "user-a", "exp": exp, "nonceHash": echo], secret: secret),
                // No echo, or an echo of another browser's nonce.
                try confirmation(["purpose": "confirm", "linkId": linkID, "userId": "user-a", "exp": exp], secret: secret),
                try confirmation(["purpose": "confirm", "linkId": linkID, "userId": "user-a", "exp": exp, "nonceHash": (echo.hasPrefix("x") ? "y" : "x") + echo.dropFirst()], secret: secret),
                // Longer than five minutes.
                try confirmation(["purpose": "confirm", "linkId": linkID, "userId": "user-a", "exp": exp + 600, "nonceHash": echo], secret: secret),
            ]
            for refused in refusals {
                let page = try await openVerified(client, asked, refused, cookie: asked.cookie)
                #expect(page.status == .forbidden && text(page).contains("could not confirm"), "\(refused ?? "none")")
            }
            #expect(try await harness.store.connections.connection(integrationID: id, endUserID: "user-a") == nil)

            let good = try confirmation(["purpose": "confirm", "linkId": linkID, "userId": "user-a", "exp": exp, "nonceHash": echo], secret: secret)
            let onward = try await openVerified(client, asked, good, cookie: asked.cookie)
            #expect(onward.status == .seeOther)
            let setCookies = onward.headers[values: .setCookie]
            let binding = try #require(setCookies.first { $0.hasPrefix("sb_bind_") })
            #expect(setCookies.contains { $0.hasPrefix(asked.cookie.split(separator: "=")[0] + "=;") || $0.hasPrefix(asked.cookie.split(separator: "=")[0] + "=\"\";") },
                    "the nonce cookie is cleared: \(setCookies)")
            // A confirmation works once, even in the browser it was made for, and even re-encoded (padding on its signature).
            let replay = try await openVerified(client, asked, good, cookie: asked.cookie)
            #expect(replay.status == .forbidden)
            let padded = good + "="
            #expect(SignedToken.open(padded, secret: secret, now: harness.clock.now()) != nil, "the padded form verifies too")
            #expect(try await openVerified(client, asked, good + "%3D", cookie: asked.cookie).status == .forbidden)

            let provider = try #require(onward.headers[.location])
            let callback = try await SandboxBrowser.authorize(provider)
            #expect(try await browser.callback(callback, cookie: String(binding.split(separator: ";")[0])).status == .ok)
            #expect(try await harness.store.connections.connection(integrationID: id, endUserID: "user-a") != nil)
        }
    }

    @Test("a confirmation forwarded to another browser is refused there and stores nothing (the attack of issue 10, two cookie jars)")
    func forwardedConfirmation() async throws {
        try await Harness.with { harness, client in
            let (id, secret) = try await perUserVerifying(harness, client)
            let browser = EndUserBrowser(harness: harness, client: client)
            let url = try await harness.connectLink(client, id, user: "user-x")
            // X opens X's own link in X's browser and passes the platform's check.
            let xJar = try await press(client, browser, url, secret: secret, now: harness.clock.now())
            let exp = Int(harness.clock.now().timeIntervalSince1970) + 240
            let confirmed = try confirmation(["purpose": "confirm", "linkId": xJar.linkID, "userId": "user-x", "exp": exp, "nonceHash": xJar.nonceHash],
                                             secret: secret)
            let requestsBefore = try await harness.store.database.read { db in
                try await db.select().column("id").from("authorization_requests").all().count
            }
            // X stops there and sends the /verified URL to V. V's browser has no nonce, or its own nonce for the same link.
            let vJar = try await press(client, browser, url, secret: secret, now: harness.clock.now())
            #expect(vJar.cookie != xJar.cookie)
            for victimCookie in [nil, vJar.cookie] {
                let page = try await openVerified(client, xJar, confirmed, cookie: victimCookie)
                #expect(page.status == .forbidden && text(page).contains("could not confirm"))
                #expect(page.headers[.location] == nil && !page.headers[values: .setCookie].contains { $0.hasPrefix("sb_bind_") })
            }
            let requestsAfter = try await harness.store.database.read { db in
                try await db.select().column("id").from("authorization_requests").all().count
            }
            #expect(requestsAfter == requestsBefore, "no authorization was started for V")
            #expect(try await harness.store.connections.connection(integrationID: id, endUserID: "user-x") == nil)
            // The refusals did not use the confirmation up: X's own browser still goes on (the honest path).
            let own = try await openVerified(client, xJar, confirmed, cookie: xJar.cookie)
            #expect(own.status == .seeOther && own.headers[.location]?.contains("/oauth") == true)
        }
    }

    @Test("verifyURL is for per-user integrations only")
    func verifyURLNeedsPerUser() async throws {
        try await Harness.with { harness, client in
            try expectProblem(try await client.call(.post, "/v1/integrations", harness, json:
                #"{"name":"x","app":"system","authorization":"preauthorized","verifyURL":"https://assistant.example/verify"}"#), 422, code: "validation_failed", field: "verifyURL")
            try expectProblem(try await client.call(.post, "/v1/integrations", harness, json:
                #"{"name":"x","app":"system","authorization":"per_user","verifyURL":"ftp://assistant.example/verify"}"#), 422, code: "validation_failed", field: "verifyURL")
            // Set later on a pre-authorized integration: well formed, but in conflict with what the integration is.
            let shared = try await harness.createIntegration(client)
            try expectProblem(try await client.call(.patch, "/v1/integrations/\(shared)", harness, json: #"{"verifyURL":"https://assistant.example/verify"}"#),
                              409, code: "preauthorized_integration", field: "verifyURL")
            #expect(try object(try await client.call(.get, "/v1/integrations/\(shared)", harness))["verifyURL"] is NSNull, "nothing stored")
            #expect(try await client.call(.patch, "/v1/integrations/\(shared)", harness, json: #"{"verifyURL":null}"#).status == .ok, "clearing is fine")
        }
    }
}
