import Foundation
import Logging
import ServiceLifecycle
import SwitchboardCore
import SwitchboardStore

/// Tells assistants what happened: each event is stored, then POSTed, signed, to the integration's notify URL:
/// at once, and again on a backoff schedule (`EventRetry`) until the receiver answers 2xx, answers 410, or the
/// attempts run out. The store's lease makes one instance deliver an event at a time.
public final class EventDispatcher: Sendable {
    let store: Store
    let transport: any HTTPTransport
    let clock: any WallClock
    let logger: Logger
    /// Notify URLs may reach loopback and private addresses over plain http (the operator's `--allow-private-network`).
    let allowPrivateNetwork: Bool
    /// How long a receiver has to answer.
    static let timeout: TimeInterval = 10

    public init(store: Store, transport: any HTTPTransport, clock: any WallClock, logger: Logger, allowPrivateNetwork: Bool = false) {
        self.store = store
        self.transport = transport
        self.clock = clock
        self.logger = logger
        self.allowPrivateNetwork = allowPrivateNetwork
    }

    /// Records an event for the integration's notify URL and starts delivering it; nothing when it has none.
    func emit(_ type: EventType, integration: Integration, endUserID: String?, conversationID: String?, data: [String: JSONValue]) async {
        guard integration.notifyURL != nil else { return }
        let now = clock.now()
        let id = Identifier.make("evt")
        let payload: JSONValue = .object([
            "id": .string(id), "type": .string(type.rawValue), "createdAt": .time(now), "integrationId": .string(integration.id),
            "userId": .optional(endUserID), "conversationId": .optional(conversationID), "data": .object(data),
        ])
        let event = EventRecord(id: id, workspaceID: integration.workspaceID, integrationID: integration.id, type: type, endUserID: endUserID,
                                payload: payload, status: .pending, attempts: 0, nextAttemptAt: now, lastStatus: nil, lastError: nil,
                                createdAt: now, deliveredAt: nil)
        do {
            try await store.insert(event)
        } catch {
            logger.error("recording an event failed", metadata: ["type": "\(type.rawValue)", "error.type": "\(Swift.type(of: error))"])
            return
        }
        Task { await deliver(eventID: id) }
    }

    /// Delivers every event that is due (the background service calls this every second).
    public func deliverDue() async {
        do {
            for id in try await store.dueEventIDs(now: clock.now()) { await deliver(eventID: id) }
        } catch {
            logger.error("listing due events failed", metadata: ["error.type": "\(type(of: error))"])
        }
    }

    /// One attempt, if the event is still due and no other instance holds it.
    func deliver(eventID: String) async {
        do {
            guard let event = try await store.claimEvent(id: eventID, now: clock.now()) else { return }
            let attempt = event.attempts + 1
            guard let record = try await store.integration(id: event.integrationID), let notify = record.integration.notifyURL, let url = URL(string: notify) else {
                try await store.recordAttempt(eventID: event.id, delivered: false, httpStatus: nil, error: "the integration has no notify URL now",
                                              nextAttemptAt: nil, now: clock.now())
                return
            }
            guard let secret = try await store.signingSecret(integrationID: event.integrationID) else {
                try await store.recordAttempt(eventID: event.id, delivered: false, httpStatus: nil,
                                              error: "the integration has no signing secret; create one with POST /v1/integrations/\(event.integrationID)/signing-secret",
                                              nextAttemptAt: nil, now: clock.now())
                return
            }
            let body = try JSONEncoder().encode(event.payload)
            let timestamp = Int64(clock.now().timeIntervalSince1970)
            let request = OutboundRequest(method: "POST", url: url, headers: [
                ("Content-Type", "application/json"), ("User-Agent", "Switchboard-Events/1"),
                (EventSignature.header, EventSignature.sign(body: body, secret: secret, timestamp: timestamp)),
                ("Switchboard-Event-Id", event.id), ("Switchboard-Event-Type", event.type.rawValue),
            ], body: body, timeout: Self.timeout, destination: .workspaceSupplied(allowPrivateNetwork: allowPrivateNetwork))
            var status: Int?
            var failure: String?
            do {
                let response = try await transport.send(request)
                status = response.status
                if !(200..<300).contains(response.status) { failure = "the receiver answered \(response.status)" }
            } catch let error as TransportError {
                switch error.kind {
                case .timeout: failure = "the receiver did not answer within \(Int(Self.timeout)) s"
                case .unreachable: failure = "the receiver could not be reached"
                case .refused: failure = "the notify URL may not be called: \(error.description)"
                }
            }
            let now = clock.now()
            // 410 Gone: the receiver wants no more; anything else is tried again while attempts remain.
            let next = failure == nil || status == 410 ? nil : EventRetry.nextAttempt(after: attempt, at: now)
            try await store.recordAttempt(eventID: event.id, delivered: failure == nil, httpStatus: status, error: failure, nextAttemptAt: next, now: now)
            if let failure {
                logger.notice("event delivery failed", metadata: ["event": "\(event.id)", "attempt": "\(attempt)", "why": "\(failure)",
                                                                  "retry": "\(next.map { "\(Int($0.timeIntervalSince(now))) s" } ?? "no")"])
            }
        } catch {
            logger.error("delivering an event failed", metadata: ["event": "\(eventID)", "error.type": "\(type(of: error))"])
        }
    }
}

/// Delivers due events every second until shutdown, once the database is migrated, and prunes expired records.
struct EventDeliveryService: Service {
    let dispatcher: EventDispatcher
    let interval: Duration
    /// Yields once migrations have run (the server starts them; services start beside it).
    let migrated: AsyncStream<Void>

    func run() async throws {
        try? await cancelWhenGracefulShutdown { for await _ in migrated { break } }
        var lastPrune: ContinuousClock.Instant?
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            await dispatcher.deliverDue()
            // Now and then, expired links, requests, kept calls and old settled events are deleted.
            if lastPrune.map({ ContinuousClock.now - $0 > .seconds(600) }) ?? true {
                lastPrune = .now
                do { try await dispatcher.store.pruneExpired(now: dispatcher.clock.now()) } catch {
                    dispatcher.logger.error("pruning expired records failed", metadata: ["error.type": "\(type(of: error))"])
                }
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
        }
    }
}
