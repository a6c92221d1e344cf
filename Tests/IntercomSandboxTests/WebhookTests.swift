import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import SwitchboardTestSupport
import Testing
@testable import IntercomSandbox

@Suite("Sandbox webhooks")
struct WebhookTests {
    func subscribe(_ api: RestHarness, _ topics: [String], url: String = "https://bot.example/hooks") async throws -> TestResponse {
        let body = try JSONSerialization.data(withJSONObject: ["url": url, "topics": topics])
        return try await api.client.execute(uri: "/_sandbox/apps/\(api.app.clientID)/webhooks", method: .put,
                                            headers: [.contentType: "application/json"], body: ByteBuffer(bytes: body))
    }

    func signature(_ body: Data, secret: String) -> String {
        "sha1=" + HMAC<Insecure.SHA1>.authenticationCode(for: body, using: SymmetricKey(data: Data(secret.utf8))).map { String(format: "%02x", $0) }.joined()
    }

    @Test("a subscribed topic is delivered as a signed notification_event; a tampered body fails the signature")
    func signedDelivery() async throws {
        try await RestHarness.with { api in
            let subscribed = try await subscribe(api, ["contact.user.created"])
            #expect(subscribed.status == .ok)
            let id = try await api.contact(#"{"email":"hook@example.com"}"#)
            let post = try #require(try await api.sent.waitFor(1).first)
            #expect(post.url == "https://bot.example/hooks")
            #expect(post.json["type"]?.string == "notification_event")
            #expect(post.json["topic"]?.string == "contact.user.created")
            #expect(post.json["app_id"]?.string == "acme7x2k")
            #expect(post.json["data"]?["item"]?["id"]?.string == id)
            #expect(post.header("X-Hub-Signature") == signature(post.body, secret: api.app.clientSecret))
            var tampered = post.body
            tampered[tampered.count - 2] ^= 0x01
            #expect(post.header("X-Hub-Signature") != signature(tampered, secret: api.app.clientSecret))
            #expect(post.header("X-Hub-Signature") != signature(post.body, secret: "another secret"))
        }
    }

    @Test("conversation and ticket topics follow what happened; unsubscribed topics are not sent")
    func topics() async throws {
        try await RestHarness.with { api in
            _ = try await subscribe(api, ["conversation.user.created", "conversation.admin.replied", "conversation.admin.closed", "ticket.created"])
            let (_, id) = try await api.conversation()
            try await api.call(.post, "/conversations/\(id)/reply", "{\"message_type\":\"comment\",\"type\":\"admin\",\"admin_id\":\"\(ada)\",\"body\":\"On it\"}")
            try await api.call(.post, "/conversations/\(id)/reply", "{\"message_type\":\"note\",\"type\":\"admin\",\"admin_id\":\"\(ada)\",\"body\":\"Internal\"}")
            try await api.call(.post, "/conversations/\(id)/parts", "{\"message_type\":\"close\",\"admin_id\":\"\(ada)\"}")
            try await api.call(.post, "/tickets", #"{"ticket_type_id":"1","contacts":[{"email":"buyer@example.com"}],"ticket_attributes":{"_default_title_":"x"}}"#)
            let posts = try await api.sent.waitFor(4)
            #expect(posts.compactMap { $0.json["topic"]?.string }.sorted()
                    == ["conversation.admin.closed", "conversation.admin.replied", "conversation.user.created", "ticket.created"])
        }
    }

    @Test("only apps installed in the workspace hear about it")
    func installedOnly() async throws {
        try await RestHarness.with { api in
            _ = try await subscribe(api, ["contact.user.created"])
            #expect(await api.state.revoke(token: api.acme))
            let other = try #require(await api.state.issueToken(clientID: api.app.clientID, workspaceID: "glbx4eu9"))
            _ = try await api.call(.post, "/contacts", #"{"email":"eu@example.com"}"#, token: other)
            let posts = try await api.sent.waitFor(1)
            #expect(posts.count == 1)
            #expect(posts.first?.json["app_id"]?.string == "glbx4eu9")
        }
    }

    @Test("failed deliveries are retried; 410 ends the subscription")
    func retriesAndGone() async throws {
        try await RestHarness.with(webhookAnswers: [500, 200, 410]) { api in
            _ = try await subscribe(api, ["contact.user.created"])
            _ = try await api.contact(#"{"email":"r1@example.com"}"#)
            #expect(try await api.sent.waitFor(2).count == 2, "a 500 is retried")
            _ = try await api.contact(#"{"email":"r2@example.com"}"#)
            #expect(try await api.sent.waitFor(3).count == 3)
            // The 410 is acted on once the delivery records it: its log entry says so.
            try await eventually("the 410 recorded") { await api.webhooks.log().last?.outcome == "unsubscribed (410)" }
            #expect(await api.webhooks.subscription(clientID: api.app.clientID) == nil, "410 Gone unsubscribes")
            _ = try await api.contact(#"{"email":"r3@example.com"}"#)
            // Emitting is part of the request: with no subscription, nothing was logged or started.
            #expect(await api.webhooks.log().count == 2)
            #expect(await api.sent.posts.count == 3)
            let log = await api.webhooks.log()
            #expect(log.first?.attempts == 2 && log.first?.outcome == "delivered")
            #expect(log.last?.outcome == "unsubscribed (410)")
        }
    }

    @Test("subscriptions name real topics and URLs")
    func badSubscriptions() async throws {
        try await RestHarness.with { api in
            let unknownTopic = try await subscribe(api, ["contact.exploded"])
            let badURL = try await subscribe(api, ["contact.user.created"], url: "not a url")
            #expect(unknownTopic.status == .badRequest)
            #expect(badURL.status == .badRequest)
        }
    }
}
