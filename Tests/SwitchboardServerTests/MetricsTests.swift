import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Prometheus
@testable import SwitchboardServer
import SwitchboardCore
import SwitchboardStore
import SwitchboardTestSupport
import Testing

/// The value of one sample line of a Prometheus exposition (`name{labels} value`), or nil when it is absent.
func sample(_ exposition: String, _ series: String) -> Double? {
    exposition.split(separator: "\n").first { $0.hasPrefix(series + " ") }.flatMap { Double($0.split(separator: " ").last ?? "") }
}

@Suite("Domain metrics on /metrics")
struct MetricsTests {
    @Test("an action's runs, the provider's answers (a 429 waited out apart), a delivered event, connections by status and the run log show on /metrics, with bounded labels")
    func actionsEventsConnections() async throws {
        try await Harness.withNotifyingIntegration { harness, client, receiver, perUser, _ in
            let id = try await harness.createIntegration(client)
            #expect(try await harness.preauthorize(client, integrationID: id).status == .ok)
            #expect(try await client.call(.post, "/v1/integrations/\(id)/enable", harness).status == .ok)
            #expect(try await client.call(.post, "/v1/integrations/\(id)/actions/intercom.who_am_i", harness, json: #"{"input":{}}"#).status == .ok)
            try await harness.sandbox.setFaults(#"{"rateLimitNext":1}"#)
            let limited = try await client.call(.post, "/v1/integrations/\(id)/actions/intercom.who_am_i", harness, json: #"{"input":{}}"#)
            #expect(limited.status == .ok, "a short 429 is waited out: \(text(limited))")
            _ = try await client.call(.post, "/v1/integrations/\(id)/actions/intercom.not_an_action", harness, json: #"{"input":{}}"#)
            let url = try await harness.connectLink(client, perUser, user: "user-m")
            #expect(try await EndUserBrowser(harness: harness, client: client).connect(url).status == .ok)
            _ = try await receiver.wait(for: 1)
            // The delivery is counted once its attempt is recorded: the dispatcher drained says so.
            await harness.events.drain()

            let text = try await metrics(client)
            #expect(sample(text, #"switchboard_action_runs_total{action="intercom.who_am_i",outcome="ok",channel="api"}"#) == 2, "\(text)")
            #expect(sample(text, #"switchboard_action_runs_total{action="unknown",outcome="action_not_found",channel="api"}"#) == 1,
                    "a name no catalog has is counted as unknown")
            #expect(sample(text, #"switchboard_provider_responses_total{provider="intercom",class="429"}"#) == 1)
            #expect(sample(text, #"switchboard_rate_limit_waits_total{provider="intercom",reason="retry_after"}"#) == 1, "the 429 was waited out once")
            // Its seconds are counted too: the sandbox's window is on the same clock, so the reset is (0, 10] s away.
            let waited = sample(text, #"switchboard_rate_limit_wait_seconds_total{provider="intercom"}"#) ?? 0
            #expect(waited > 0 && waited <= 10, "waited \(waited) s")
            #expect((sample(text, #"switchboard_provider_responses_total{provider="intercom",class="2xx"}"#) ?? 0) >= 3, "identity, enable and two runs")
            #expect(text.contains(#"switchboard_provider_request_duration_seconds_bucket{provider="intercom","#))
            #expect(sample(text, #"switchboard_authorizations_total{outcome="connected"}"#) == 2)
            #expect(sample(text, #"switchboard_connections{status="active"}"#) == 2)
            #expect(sample(text, #"switchboard_connections{status="needs_reauthorization"}"#) == 0)
            #expect(sample(text, #"switchboard_event_deliveries_total{outcome="delivered"}"#) == 1)
            #expect(sample(text, "switchboard_events_oldest_undelivered_age_seconds") == 0)
            #expect(sample(text, "switchboard_run_log_buffered") != nil && sample(text, "switchboard_run_log_dropped") == 0)
            #expect(!text.contains("user-m") && !text.contains(id) && !text.contains(harness.workspace.id), "no user, integration or workspace in a label")
        }
    }

    @Test("the figures read from the database serve scrapes for ten seconds: a scrape storm costs one query")
    func figuresCached() async throws {
        try await Harness.with { harness, client in
            let series = #"switchboard_connections{status="active"}"#
            let first = try #require(sample(try await metrics(client), series))
            let id = try await harness.createIntegration(client)
            #expect(try await harness.preauthorize(client, integrationID: id).status == .ok)
            #expect(sample(try await metrics(client), series) == first, "read within ten seconds: the cached figure")
            harness.clock.advance(by: DomainMetrics.figuresLifetime)
            #expect(sample(try await metrics(client), series) == first + 1, "read again after ten seconds")
        }
    }

    @Test("refreshes are counted by outcome: ok, transient, invalid_grant")
    func refreshes() async throws {
        let clock = ManualWallClock(Date(timeIntervalSince1970: 1_800_000_000), advancesWhenSleeping: true)
        try await TestStore.with(.sqlite) { test in
            let registry = PrometheusCollectorRegistry()
            let endpoint = FakeTokenEndpoint(delay: .zero, clock: clock)
            let tokens = TokenService(store: test.store, transport: endpoint.transport, clock: clock, logger: TestStore.logger,
                                      metrics: DomainMetrics(registry: registry))
            var seen: [String] = []
            for answer in [FakeTokenEndpoint.Answer.grant, .unavailable, .invalidGrant] {
                endpoint.answer(answer)
                let (_, connection) = try await refreshFixture(test.store, expiresIn: 10, now: clock.now())
                do { seen.append("\(answer): \(try await tokens.accessToken(for: connection, app: standardApp))") } catch { seen.append("\(answer): \(error)") }
            }
            let text = String(decoding: registry.emitToBuffer(), as: UTF8.self)
            for outcome in ["ok", "transient", "invalid_grant"] {
                #expect(sample(text, #"switchboard_token_refreshes_total{outcome="\#(outcome)"}"#) == 1, "\(outcome): \(seen) \(text)")
            }
        }
    }

    func metrics(_ client: any TestClientProtocol) async throws -> String {
        text(try await client.execute(uri: "/metrics", method: .get))
    }

}
