import AsyncHTTPClient
import Crypto
public import Foundation
import Hummingbird
import NIOCore
import NIOHTTP1

/// Intercom webhooks: `notification_event` payloads for the topics an app subscribed to, sent to every
/// subscribed app installed in the workspace, signed `X-Hub-Signature: sha1=<HMAC-SHA1(body, client secret)>`.
public actor Webhooks {
    public struct Subscription: Sendable, Codable, Equatable {
        public var url: String
        public var topics: [String]
    }

    public struct Delivery: Sendable, Codable {
        public var id: String
        public var clientID: String
        public var topic: String
        public var url: String
        public var attempts: Int
        public var status: Int?
        public var outcome: String
    }

    /// Sends one POST and answers the status; throws when no answer came (the seam tests replace).
    public typealias Sender = @Sendable (_ url: String, _ body: Data, _ headers: [(String, String)]) async throws -> Int

    /// The topics the sandbox emits.
    public static let topics: Set<String> = [
        "contact.user.created", "contact.lead.created", "contact.deleted", "contact.user.tag.created", "contact.lead.tag.created",
        "conversation.user.created", "conversation.user.replied", "conversation.admin.replied", "conversation.admin.noted",
        "conversation.admin.closed", "conversation.admin.opened", "conversation.admin.snoozed", "conversation.admin.assigned",
        "ticket.created", "ticket.state.updated", "ticket.admin.replied", "ticket.contact.replied", "ticket.note.created",
    ]

    private var subscriptions: [String: Subscription] = [:]
    private var deliveries: [Delivery] = []
    private let state: SandboxState
    private let send: Sender
    /// Waits between attempts; Intercom retries failed deliveries, the sandbox a bounded few times.
    let retryDelays: [Duration]
    private let now: @Sendable () -> Date

    public init(state: SandboxState, retryDelays: [Duration] = [.seconds(1), .seconds(4)], now: @escaping @Sendable () -> Date = { Date() },
                send: Sender? = nil) {
        self.state = state
        self.now = now
        self.retryDelays = retryDelays
        self.send = send ?? { url, body, headers in
            var request = HTTPClientRequest(url: url)
            request.method = .POST
            for (name, value) in headers { request.headers.add(name: name, value: value) }
            request.body = .bytes(ByteBuffer(bytes: body))
            // Intercom expects an answer within 5 seconds.
            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(5))
            _ = try? await response.body.collect(upTo: 1 << 16)
            return Int(response.status.code)
        }
    }

    public func subscribe(clientID: String, _ subscription: Subscription) throws {
        guard let components = URLComponents(string: subscription.url), ["http", "https"].contains(components.scheme ?? ""), components.host != nil else {
            throw IntercomError.invalid("url must be an absolute http(s) URL", field: "url")
        }
        let unknown = subscription.topics.filter { !Self.topics.contains($0) }
        guard unknown.isEmpty else { throw IntercomError.invalid("unknown topics: \(unknown.joined(separator: ", "))", field: "topics") }
        subscriptions[clientID] = subscription
    }

    public func subscription(clientID: String) -> Subscription? { subscriptions[clientID] }
    public func log() -> [Delivery] { deliveries }

    /// Emits `topic` about `item` to the subscribed apps installed in the workspace; delivery happens in the background.
    func emit(workspaceID: String, topic: String, item: SJSON) async {
        let apps = await state.installedApps(workspaceID: workspaceID)
        let now = Int(self.now().timeIntervalSince1970)
        for app in apps {
            guard let subscription = subscriptions[app.clientID], subscription.topics.contains(topic) else { continue }
            let id = "notif_" + UUID().uuidString.lowercased()
            let payload: SJSON = .object([
                "type": .string("notification_event"), "app_id": .string(workspaceID), "id": .string(id), "topic": .string(topic),
                "created_at": .int(now), "first_sent_at": .int(now), "delivery_attempts": .int(1), "delivery_status": .string("pending"),
                "self": .null, "links": .object([:]),
                "data": .object(["type": .string("notification_event_data"), "item": item]),
            ])
            deliveries.append(Delivery(id: id, clientID: app.clientID, topic: topic, url: subscription.url, attempts: 0, status: nil, outcome: "pending"))
            if deliveries.count > 500 { deliveries.removeFirst(deliveries.count - 500) }
            let body = payload.encoded()
            let signature = "sha1=" + HMAC<Insecure.SHA1>.authenticationCode(for: body, using: SymmetricKey(data: Data(app.clientSecret.utf8)))
                .map { String(format: "%02x", $0) }.joined()
            Task { await self.deliver(id: id, clientID: app.clientID, url: subscription.url, body: body, signature: signature) }
        }
    }

    private func deliver(id: String, clientID: String, url: String, body: Data, signature: String) async {
        let headers = [("Content-Type", "application/json"), ("X-Hub-Signature", signature), ("User-Agent", "intercom-sandbox-webhooks")]
        for attempt in 0...retryDelays.count {
            if attempt > 0 { try? await Task.sleep(for: retryDelays[attempt - 1]) }
            var status: Int?
            do { status = try await send(url, body, headers) } catch { status = nil }
            record(id, attempts: attempt + 1, status: status, outcome: status.map { (200..<300).contains($0) ? "delivered" : "failed" } ?? "unreachable")
            if let status, (200..<300).contains(status) { return }
            if status == 410 {
                // 410 Gone: Intercom stops sending to that endpoint.
                subscriptions[clientID] = nil
                record(id, attempts: attempt + 1, status: status, outcome: "unsubscribed (410)")
                return
            }
        }
    }

    private func record(_ id: String, attempts: Int, status: Int?, outcome: String) {
        guard let index = deliveries.lastIndex(where: { $0.id == id }) else { return }
        deliveries[index].attempts = attempts
        deliveries[index].status = status
        deliveries[index].outcome = outcome
    }
}
