public import Foundation
public import Logging
import ServiceLifecycle
public import SwitchboardCore
public import SwitchboardStore

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
    let metrics: DomainMetrics?
    /// How long a receiver has to answer.
    static let timeout: TimeInterval = 10
    let slots = DeliverySlots(global: EventDispatcher.globalLimit, perWorkspace: EventDispatcher.perWorkspaceLimit,
                              perIntegration: EventDispatcher.perIntegrationLimit, slow: EventDispatcher.slowLimit)

    public init(store: Store, transport: any HTTPTransport, clock: any WallClock, logger: Logger, allowPrivateNetwork: Bool = false,
                metrics: DomainMetrics? = nil) {
        self.metrics = metrics
        self.store = store
        self.transport = transport
        self.clock = clock
        self.logger = logger
        self.allowPrivateNetwork = allowPrivateNetwork
    }

    /// Records an event for the integration's notify URL and starts delivering it; nothing when it has none.
    func emit(_ type: EventType, integration: Integration, endUserID: String?, conversationID: String?, data: [String: JSONValue]) async {
        guard let event = event(type, integration: integration, endUserID: endUserID, conversationID: conversationID, data: data) else { return }
        do {
            try await store.events.insert(event)
        } catch {
            logger.error("recording an event failed", metadata: ["type": "\(type.rawValue)", "error.type": "\(Swift.type(of: error))"])
            return
        }
        start(event)
    }

    /// The event as it will be stored and sent, due now; nil when the integration has no notify URL. For a caller that
    /// stores it in the transaction of the change it reports, then calls `start`.
    func event(_ type: EventType, integration: Integration, endUserID: String?, conversationID: String?, data: [String: JSONValue]) -> EventRecord? {
        guard integration.notifyURL != nil else { return nil }
        let now = clock.now()
        let id = Identifier.make("evt")
        let payload: JSONValue = .object([
            "id": .string(id), "type": .string(type.rawValue), "createdAt": .time(now), "integrationId": .string(integration.id),
            "userId": .optional(endUserID), "conversationId": .optional(conversationID), "data": .object(data),
        ])
        return EventRecord(id: id, workspaceID: integration.workspaceID, integrationID: integration.id, type: type, endUserID: endUserID,
                           payload: payload, status: .pending, attempts: 0, nextAttemptAt: now, lastStatus: nil, lastError: nil,
                           createdAt: now, deliveredAt: nil)
    }

    /// The first attempt at a stored event at once, if the bounds allow; otherwise the next round picks it up (it is due now).
    func start(_ event: EventRecord) {
        _ = launch(eventID: event.id, integrationID: event.integrationID, workspaceID: event.workspaceID)
    }

    /// Starts every due delivery the bounds allow and waits for those it started (tests drive retries with it).
    public func deliverDue() async {
        for task in await startDue() { await task.value }
    }

    /// Starts every due delivery the bounds allow, without waiting for them: the background service calls this every
    /// second, so that a receiver that never answers holds only its own integration's slots, never the round.
    func startDue() async -> [Task<Void, Never>] {
        var started: [Task<Void, Never>] = []
        do {
            let due = try await store.events.dueEvents(now: clock.now(), limit: 200, perIntegration: Self.perIntegrationLimit + 8,
                                                excluding: slots.saturatedIntegrations(now: clock.now()))
            for event in due {
                if let task = launch(eventID: event.id, integrationID: event.integrationID, workspaceID: event.workspaceID) { started.append(task) }
            }
        } catch {
            logger.error("listing due events failed", metadata: ["error.type": "\(type(of: error))"])
        }
        return started
    }

    /// Waits for the deliveries in flight (graceful shutdown: each is bounded by the receiver timeout).
    public func drain() async {
        for task in slots.inFlight() { await task.value }
    }

    /// One delivery in its own task, if a global and a per-integration slot are free; nil otherwise.
    private func launch(eventID: String, integrationID: String, workspaceID: String) -> Task<Void, Never>? {
        slots.start(eventID: eventID, integrationID: integrationID, workspaceID: workspaceID, now: clock.now()) { [self] id in
            let attempt = await deliver(eventID: id)
            return (attempt, clock.now())
        }
    }

    /// How many deliveries run at once, in all, per workspace and per integration: a receiver that never answers holds
    /// at most `perIntegrationLimit` slots, and one workspace's receivers at most `perWorkspaceLimit` (a quarter of
    /// all), so every other integration's and workspace's events go on. A receiver that timed out is slow: it is left
    /// alone for `slowBackoff` (doubling up to `slowBackoffLimit` while it stays slow), then tried one delivery at a
    /// time, and slow receivers together hold at most `slowLimit` slots, so that hung receivers of many workspaces
    /// still leave half the slots to the receivers that answer.
    public static let globalLimit = 16
    public static let perWorkspaceLimit = 4
    public static let perIntegrationLimit = 2
    public static let slowLimit = 8
    public static let slowBackoff: TimeInterval = 30
    public static let slowBackoffLimit: TimeInterval = 600

    /// What one attempt told of the receiver.
    enum Attempt: Sendable {
        /// It answered (whatever the status): a receiver that was slow is slow no longer.
        case answered
        /// It did not answer within the timeout.
        case slow
        /// No answer that tells whether the receiver is slow: nothing was sent (the event was taken by another
        /// instance, the integration has no URL or secret now, the database failed), or it could not be reached.
        case notSent
    }

    /// One attempt, if the event is still due and no other instance holds it.
    @discardableResult
    func deliver(eventID: String) async -> Attempt {
        do {
            guard let event = try await store.events.claimEvent(id: eventID, now: clock.now()) else { return .notSent }
            let attempt = event.attempts + 1
            guard let record = try await store.integrations.integration(id: event.integrationID), let notify = record.integration.notifyURL, let url = URL(string: notify) else {
                try await store.events.recordAttempt(eventID: event.id, delivered: false, httpStatus: nil, error: "the integration has no notify URL now",
                                              nextAttemptAt: nil, now: clock.now())
                return .notSent
            }
            guard let secret = try await store.integrations.signingSecret(integrationID: event.integrationID) else {
                try await store.events.recordAttempt(eventID: event.id, delivered: false, httpStatus: nil,
                                              error: "the integration has no signing secret; create one with POST /v1/integrations/\(event.integrationID)/signing-secret",
                                              nextAttemptAt: nil, now: clock.now())
                return .notSent
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
            var sent = Attempt.answered
            do {
                let response = try await transport.send(request)
                status = response.status
                if !(200..<300).contains(response.status) { failure = "the receiver answered \(response.status)" }
            } catch let error as TransportError {
                switch error.kind {
                case .timeout:
                    failure = "the receiver did not answer within \(Int(Self.timeout)) s"
                    sent = .slow
                case .unreachable:
                    failure = "the receiver could not be reached"
                    sent = .notSent
                case .refused:
                    failure = "the notify URL may not be called: \(error.description)"
                    sent = .notSent
                }
            }
            let now = clock.now()
            // 410 Gone: the receiver wants no more; anything else is tried again while attempts remain.
            let next = failure == nil || status == 410 ? nil : EventRetry.nextAttempt(after: attempt, at: now)
            try await store.events.recordAttempt(eventID: event.id, delivered: failure == nil, httpStatus: status, error: failure, nextAttemptAt: next, now: now)
            metrics?.delivery(outcome: failure == nil ? "delivered" : next == nil ? "given_up" : "retrying")
            if let failure {
                logger.notice("event delivery failed", metadata: ["event": "\(event.id)", "attempt": "\(attempt)", "why": "\(failure)",
                                                                  "retry": "\(next.map { "\(Int($0.timeIntervalSince(now))) s" } ?? "no")"])
            }
            return sent
        } catch {
            logger.error("delivering an event failed", metadata: ["event": "\(eventID)", "error.type": "\(type(of: error))"])
            return .notSent
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
        await cancelWhenGracefulShutdown { for await _ in migrated { break } }
        var lastPrune: Date?
        let clock = dispatcher.clock
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            _ = await dispatcher.startDue()
            // Now and then, expired links, requests, kept calls and old settled events are deleted.
            if lastPrune.map({ clock.now().timeIntervalSince($0) > 600 }) ?? true {
                lastPrune = clock.now()
                do { try await dispatcher.store.pruneExpired(now: dispatcher.clock.now()) } catch {
                    dispatcher.logger.error("pruning expired records failed", metadata: ["error.type": "\(type(of: error))"])
                }
            }
            try? await cancelWhenGracefulShutdown { try await clock.sleep(for: interval) }
        }
        await dispatcher.drain()
    }
}

/// The deliveries in flight in this instance, bounded in all and per integration.
///
/// Each running task is a worker for one integration: it delivers its event, then the next one queued for the same
/// integration, so a receiver's burst drains without waiting for another round, and a receiver that never answers
/// holds `perIntegration` of the `global` slots and nothing else.
final class DeliverySlots: @unchecked Sendable {
    let global: Int
    let perWorkspace: Int
    let perIntegration: Int
    /// Slots that slow receivers' integrations may hold together.
    let slow: Int
    /// Events waiting for one of their integration's workers, per integration (beyond it, the next round picks them up).
    static let queueLimit = 100
    private let lock = NSLock()
    private var workers: [Int: Task<Void, Never>] = [:]
    private var nextWorker = 0
    private var perIntegrationCount: [String: Int] = [:]
    private var perWorkspaceCount: [String: Int] = [:]
    private var queued: [String: [String]] = [:]
    private var known: Set<String> = []
    /// Integrations whose receiver was slow: left alone until `until`, then tried one delivery at a time.
    private var slowReceivers: [String: (until: Date, backoff: TimeInterval)] = [:]
    private var slowCount = 0

    init(global: Int, perWorkspace: Int, perIntegration: Int, slow: Int) {
        self.global = global
        self.perWorkspace = perWorkspace
        self.perIntegration = perIntegration
        self.slow = slow
    }

    /// Delivers the event with `work` (which says whether the receiver was slow, and when it ended): in a new worker
    /// when the bounds allow (returned), else after the integration's running workers (nil); nothing when the event is
    /// in flight or queued here already, no slot is free, or its receiver is backed off.
    func start(eventID: String, integrationID: String, workspaceID: String, now: Date,
               _ work: @escaping @Sendable (String) async -> (attempt: EventDispatcher.Attempt, at: Date)) -> Task<Void, Never>? {
        lock.withLock {
            guard !known.contains(eventID) else { return nil }
            let isSlow = slowReceivers[integrationID] != nil
            if let backedOff = slowReceivers[integrationID], backedOff.until > now { return nil }
            let count = perIntegrationCount[integrationID, default: 0]
            let limit = isSlow ? 1 : perIntegration
            let full = workers.count >= global || perWorkspaceCount[workspaceID, default: 0] >= perWorkspace || (isSlow && slowCount >= slow)
            if count >= limit || (count > 0 && full) {
                guard count > 0, !isSlow, queued[integrationID, default: []].count < Self.queueLimit else { return nil }
                queued[integrationID, default: []].append(eventID)
                known.insert(eventID)
                return nil
            }
            guard !full else { return nil }
            perIntegrationCount[integrationID] = count + 1
            perWorkspaceCount[workspaceID, default: 0] += 1
            if isSlow { slowCount += 1 }
            known.insert(eventID)
            let number = nextWorker
            nextWorker += 1
            // `next` takes the lock, so the worker goes on only after it is registered here.
            let task = Task {
                var current: String? = eventID
                while let id = current {
                    let outcome = await work(id)
                    current = self.next(after: id, integrationID: integrationID, workspaceID: workspaceID, worker: number, counted: isSlow,
                                        attempt: outcome.attempt, at: outcome.at)
                }
            }
            workers[number] = task
            return task
        }
    }

    /// The integration's next queued event for this worker, or nil (and the worker's slot freed). A slow answer backs
    /// the integration off: its queue here is let go (the events stay due in the database) and the worker ends.
    private func next(after eventID: String, integrationID: String, workspaceID: String, worker: Int, counted: Bool,
                      attempt: EventDispatcher.Attempt, at now: Date) -> String? {
        lock.withLock {
            known.remove(eventID)
            if case .slow = attempt {
                // A probe that is slow again doubles the back-off; a worker started before the receiver was known to be
                // slow starts it, or leaves the one a sibling worker started.
                let backoff = counted ? min((slowReceivers[integrationID]?.backoff ?? EventDispatcher.slowBackoff) * 2, EventDispatcher.slowBackoffLimit)
                                      : EventDispatcher.slowBackoff
                if counted || slowReceivers[integrationID] == nil { slowReceivers[integrationID] = (now.addingTimeInterval(backoff), backoff) }
                for dropped in queued.removeValue(forKey: integrationID) ?? [] { known.remove(dropped) }
            } else {
                if case .answered = attempt { slowReceivers[integrationID] = nil }
                if var waiting = queued[integrationID], !waiting.isEmpty {
                    let next = waiting.removeFirst()
                    queued[integrationID] = waiting.isEmpty ? nil : waiting
                    return next
                }
            }
            workers[worker] = nil
            if counted { slowCount -= 1 }
            let left = perIntegrationCount[integrationID, default: 1] - 1
            perIntegrationCount[integrationID] = left > 0 ? left : nil
            let workspaceLeft = perWorkspaceCount[workspaceID, default: 1] - 1
            perWorkspaceCount[workspaceID] = workspaceLeft > 0 ? workspaceLeft : nil
            return nil
        }
    }

    /// Integrations that cannot take another delivery now (their workers all busy, or their receiver backed off): left
    /// out of the due list, so that their backlog cannot crowd other integrations out of it.
    func saturatedIntegrations(now: Date) -> Set<String> {
        lock.withLock {
            var saturated = Set(perIntegrationCount.filter { $0.value >= (slowReceivers[$0.key] != nil ? 1 : perIntegration) }.keys)
            for (integration, backedOff) in slowReceivers where backedOff.until > now { saturated.insert(integration) }
            return saturated
        }
    }

    func inFlight() -> [Task<Void, Never>] { lock.withLock { Array(workers.values) } }
}
