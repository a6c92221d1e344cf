import Foundation
import Synchronization
public import Prometheus
import SwitchboardCore
import SwitchboardStore

/// What `/metrics` says about Switchboard's own work, beside the HTTP counters: runs, the provider's answers, rate
/// limits, refreshes, authorizations, event deliveries; and, read from the database when scraped, connections by
/// status, the age of the oldest undelivered event and the run log's buffer. Every label is bounded: a catalog action's
/// name, a problem's code, a channel, a status class — never a user, a workspace, an integration or a token.
public final class DomainMetrics: Sendable {
    let registry: PrometheusCollectorRegistry

    public init(registry: PrometheusCollectorRegistry) {
        self.registry = registry
    }

    /// An action run, as the audit log records it: `outcome` is `ok` or the problem's code.
    func run(action: String, outcome: String, channel: String) {
        registry.makeCounter(name: "switchboard_action_runs_total", labels: [("action", action), ("outcome", outcome), ("channel", channel)],
                             help: "Action runs by action, outcome (ok or the problem's code) and channel.").increment()
    }

    /// One HTTP exchange with a provider's API: its status class (`2xx`, `4xx`, `429`, `5xx`…, or `network` when no
    /// answer came) and how long it took.
    func providerAnswer(provider: String, status: Int?, duration: Duration) {
        let statusClass = status.map { $0 == 429 ? "429" : "\($0 / 100)xx" } ?? "network"
        registry.makeCounter(name: "switchboard_provider_responses_total", labels: [("provider", provider), ("class", statusClass)],
                             help: "Answers from providers' APIs by status class; 429 apart (each one is waited out or refused).").increment()
        registry.makeDurationHistogram(name: "switchboard_provider_request_duration_seconds", labels: [("provider", provider)],
                                       buckets: Self.buckets, help: "How long one call to a provider's API took.").record(duration)
    }

    /// A wait for a provider's rate limit: `pacing` (keeping inside the window) or `retry_after` (a 429 waited out).
    func rateLimitWait(provider: String, reason: String, seconds: TimeInterval) {
        registry.makeCounter(name: "switchboard_rate_limit_waits_total", labels: [("provider", provider), ("reason", reason)],
                             help: "Waits for a provider's rate limit: pacing (inside the window) or retry_after (a 429 waited out).").increment()
        registry.makeCounter(name: "switchboard_rate_limit_wait_seconds_total", labels: [("provider", provider)],
                             help: "Seconds spent waiting for providers' rate limits.").increment(by: seconds)
    }

    /// A call answered `rate_limited`: the provider's window was full for longer than Switchboard waits.
    func rateLimitRefusal(action: String) {
        registry.makeCounter(name: "switchboard_rate_limit_refusals_total", labels: [("action", action)],
                             help: "Calls refused as rate_limited (the provider's window was full for longer than a short wait).").increment()
    }

    /// A token refresh: `ok`, `transient` (the provider or network failed; the connection stays) or `invalid_grant`.
    func refresh(outcome: String) {
        registry.makeCounter(name: "switchboard_token_refreshes_total", labels: [("outcome", outcome)],
                             help: "Token refreshes by outcome: ok, transient, invalid_grant.").increment()
    }

    /// An OAuth round trip that came back to the callback: `connected`, or why not.
    func authorization(outcome: String) {
        registry.makeCounter(name: "switchboard_authorizations_total", labels: [("outcome", outcome)],
                             help: "Authorizations that reached the callback, by outcome.").increment()
    }

    /// One delivery attempt of an event: `delivered`, `retrying` or `given_up`.
    func delivery(outcome: String) {
        registry.makeCounter(name: "switchboard_event_deliveries_total", labels: [("outcome", outcome)],
                             help: "Event delivery attempts by outcome: delivered, retrying, given_up.").increment()
    }

    /// The figures read when `/metrics` is scraped.
    func refreshGauges(store: Store, now: Date) async {
        let buffer = store.runs.buffer
        registry.makeGauge(name: "switchboard_run_log_buffered", help: "Runs acknowledged and not yet written to the audit log (this instance).")
            .set(Double(buffer.buffered))
        registry.makeGauge(name: "switchboard_run_log_dropped", help: "Runs let go since start because the database refused them for too long (this instance).")
            .set(Double(buffer.dropped))
        guard let figures = await figures(store: store, now: now) else { return }
        for status in ConnectionStatus.allCases {
            registry.makeGauge(name: "switchboard_connections", labels: [("status", status.rawValue)], help: "Connections by status (all instances).")
                .set(Double(figures.connections[status.rawValue] ?? 0))
        }
        registry.makeGauge(name: "switchboard_events_oldest_undelivered_age_seconds",
                           help: "Age of the oldest event still waiting to be delivered; 0 when none waits (all instances).")
            .set(figures.oldestUndeliveredEvent.map { max(0, now.timeIntervalSince($0)) } ?? 0)
    }

    /// How long the figures read from the database serve scrapes (any caller may scrape `/metrics`: a scrape storm
    /// costs one query every ten seconds, shared by the scrapes waiting for it).
    static let figuresLifetime: TimeInterval = 10
    private let cachedFigures = Mutex<(readAt: Date, read: Task<Figures?, Never>)?>(nil)
    typealias Figures = (connections: [String: Int], oldestUndeliveredEvent: Date?)

    private func figures(store: Store, now: Date) async -> Figures? {
        let read = cachedFigures.withLock { cached -> Task<Figures?, Never> in
            if let cached, now.timeIntervalSince(cached.readAt) < Self.figuresLifetime, now >= cached.readAt { return cached.read }
            let read = Task<Figures?, Never> { try? await store.operatorFigures() }
            cached = (now, read)
            return read
        }
        return await read.value
    }

    static let buckets: [Duration] = [.milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500),
                                      .seconds(1), .milliseconds(2500), .seconds(5), .seconds(10), .seconds(20)]
}

/// A provider's transport, counting each exchange in `DomainMetrics`.
struct ObservedTransport: HTTPTransport {
    let base: any HTTPTransport
    let metrics: DomainMetrics
    let provider: String

    func send(_ request: OutboundRequest) async throws -> OutboundResponse {
        let start = ContinuousClock.now
        do {
            let response = try await base.send(request)
            metrics.providerAnswer(provider: provider, status: response.status, duration: ContinuousClock.now - start)
            return response
        } catch {
            metrics.providerAnswer(provider: provider, status: nil, duration: ContinuousClock.now - start)
            throw error
        }
    }
}
