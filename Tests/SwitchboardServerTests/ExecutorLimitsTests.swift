import AsyncHTTPClient
import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import Providers
import SwitchboardCore
import SwitchboardServer
import SwitchboardTestSupport
import Testing

/// The real transport, counting what it sends and the statuses it gets back.
final class RecordingTransport: HTTPTransport, @unchecked Sendable {
    private let inner = AHCTransport()
    private let lock = NSLock()
    private var sent: [(method: String, url: URL, status: Int?)] = []
    /// Calls to this port fail at once, as a host that refuses connections would (AsyncHTTPClient itself retries until its deadline).
    let refusedPort: Int?

    init(refusedPort: Int? = nil) { self.refusedPort = refusedPort }

    func send(_ request: OutboundRequest) async throws -> OutboundResponse {
        if let refusedPort, request.url.port == refusedPort {
            lock.withLock { sent.append((request.method, request.url, nil)) }
            throw TransportError("connection refused", kind: .unreachable)
        }
        do {
            let response = try await inner.send(request)
            lock.withLock { sent.append((request.method, request.url, response.status)) }
            return response
        } catch {
            lock.withLock { sent.append((request.method, request.url, nil)) }
            throw error
        }
    }

    var requests: [(method: String, url: URL, status: Int?)] { lock.withLock { sent } }
    func count(_ method: String, pathSuffix: String) -> Int { requests.filter { $0.method == method && $0.url.path.hasSuffix(pathSuffix) }.count }
}

@Suite("Executor limits: pacing, timeouts, regions")
struct ExecutorLimitsTests {
    @Test("calls are paced inside Intercom's 10-second window: the call past the allowance waits for the next window instead of being refused")
    func pacing() async throws {
        let transport = WindowedTransport()
        // 60 a minute is 10 a window. Authorizing takes a few calls (/me) out of the same app's allowance.
        try await Harness.with(transport: transport) { harness, client in
            transport.clock = harness.clock
            let id = try await harness.enabledIntegration(client)
            let start = harness.clock.now()
            for call in 1...14 {
                let response = try await harness.run(client, id, "intercom.who_am_i", "{}")
                #expect(response.status == .ok, "call \(call): \(text(response))")
            }
            #expect(transport.requests.filter { $0.status == 429 }.isEmpty, "Intercom never had to refuse a call")
            #expect(harness.clock.now().timeIntervalSince(start) < 25, "no more than two windows were waited for")
            #expect(harness.clock.now().timeIntervalSince(start) > 0, "a window was waited for")
        }
    }

    @Test("a read that times out is retried and then answered as provider_timeout; a write that times out is not repeated and says it may have landed")
    func timeouts() async throws {
        let transport = RecordingTransport()
        try await Harness.with(transport: transport, configure: { settings, _ in settings.intercomTimeout = 0.4 }) { harness, client in
            let id = try await harness.enabledIntegration(client)
            let contact = try #require((try object(try await harness.run(client, id, "intercom.create_contact", #"{"email":"slow@example.com"}"#))["result"] as? [String: Any])?["id"] as? String)
            try await harness.sandbox.setFaults(#"{"latencyMs":1000}"#)

            let read = try await harness.run(client, id, "intercom.get_contact", "{\"contact_id\":\"\(contact)\"}")
            try expectProblem(read, 504, code: "provider_timeout")
            #expect(transport.count("GET", pathSuffix: "/contacts/\(contact)") == 3, "the read was tried three times")

            let write = try await harness.run(client, id, "intercom.add_note", "{\"contact_id\":\"\(contact)\",\"body\":\"slow\"}")
            let problem = try expectProblem(write, 504, code: "provider_timeout")
            #expect((problem["detail"] as? String)?.contains("may or may not have been applied") == true)
            #expect(transport.count("POST", pathSuffix: "/contacts/\(contact)/notes") == 1, "the write was sent once")

            let runs = try object(try await client.call(.get, "/v1/runs?limit=10", harness))
            let noted = (runs["data"] as? [[String: Any]])?.first { $0["action"] as? String == "intercom.add_note" }
            #expect(noted?["outcome"] as? String == "provider_timeout")
        }
    }

    @Test("an integration's region overrides the workspace's: EU calls go to the EU host only")
    func regionOverride() async throws {
        let transport = RecordingTransport(refusedPort: 9)
        try await Harness.with(transport: transport, configure: { settings, sandbox in
            // Only the EU host is the sandbox; the US and AU hosts refuse connections.
            settings.apiBaseOverrides = ["intercom": ["US": URL(string: "http://127.0.0.1:9")!, "EU": URL(string: sandbox.url)!, "AU": URL(string: "http://127.0.0.1:9")!]]
        }) { harness, client in
            let created = try object(try await client.call(.post, "/v1/integrations", harness,
                                                           json: #"{"name":"Acme EU","app":"system","authorization":"preauthorized","region":"EU"}"#))
            let id = try #require(created["id"] as? String)
            #expect(try await harness.preauthorize(client, integrationID: id).status == .ok)
            #expect(try await client.call(.post, "/v1/integrations/\(id)/enable", harness).status == .ok)

            let me = try await harness.run(client, id, "intercom.who_am_i", "{}")
            #expect(me.status == .ok, "\(text(me))")
            let generic = try await harness.run(client, id, "intercom.api_request", #"{"method":"GET","path":"/admins"}"#)
            #expect(generic.status == .ok, "\(text(generic))")
            let hosts = Set(transport.requests.filter { $0.url.path == "/me" || $0.url.path == "/admins" }.map { "\($0.url.host ?? ""):\($0.url.port ?? 0)" })
            #expect(hosts == ["127.0.0.1:\(URL(string: harness.sandbox.url)!.port!)"], "only the EU host was called: \(hosts)")

            // Clearing the override falls back to the workspace's own region (the sandbox's workspace is in the US: refused here).
            #expect(try await client.call(.patch, "/v1/integrations/\(id)", harness, json: #"{"region":null}"#).status == .ok)
            let us = try await harness.run(client, id, "intercom.who_am_i", "{}")
            try expectProblem(us, 503, code: "provider_unavailable")
            #expect(transport.requests.last?.url.port == 9)
        }
    }
}

/// Intercom's rate limiter on the test's clock: 60 calls a minute counted in 10-second windows, reported on every
/// answer as `X-RateLimit-*` and enforced with 429, in front of the sandbox. Until `clock` is set it only forwards.
final class WindowedTransport: HTTPTransport, @unchecked Sendable {
    private let inner = AHCTransport()
    private let lock = NSLock()
    private var counts: [TimeInterval: Int] = [:]
    private var sent: [(url: URL, status: Int)] = []
    var clock: ManualWallClock? {
        get { lock.withLock { _clock } }
        set { lock.withLock { _clock = newValue } }
    }
    private var _clock: ManualWallClock?

    func send(_ request: OutboundRequest) async throws -> OutboundResponse {
        guard let clock, !request.url.path.hasPrefix("/_sandbox"), !request.url.path.hasPrefix("/auth/") else { return try await inner.send(request) }
        let now = clock.now().timeIntervalSince1970
        let end = ((now / 10).rounded(.down) + 1) * 10
        let used: Int = lock.withLock {
            counts[end, default: 0] += 1
            return counts[end]!
        }
        let headers = [("X-RateLimit-Limit", "60"), ("X-RateLimit-Remaining", "\(max(0, 10 - used))"), ("X-RateLimit-Reset", "\(Int(end))")]
        if used > 10 {
            lock.withLock { sent.append((request.url, 429)) }
            return OutboundResponse(status: 429, headers: headers, body: Data(#"{"type":"error.list","errors":[{"code":"rate_limit_exceeded","message":"slow down"}]}"#.utf8))
        }
        var response = try await inner.send(request)
        response.headers = response.headers.filter { !$0.name.lowercased().hasPrefix("x-ratelimit") } + headers
        lock.withLock { sent.append((request.url, response.status)) }
        return response
    }

    var requests: [(url: URL, status: Int)] { lock.withLock { sent } }
}

/// The real transport, until `hostile` is set: then every call answers with those headers and status.
final class HostileHeadersTransport: HTTPTransport, @unchecked Sendable {
    private let inner = AHCTransport()
    private let lock = NSLock()
    private var answer: (status: Int, headers: [(name: String, value: String)])?

    func answerWith(status: Int, headers: [(name: String, value: String)]) { lock.withLock { answer = (status, headers) } }

    func send(_ request: OutboundRequest) async throws -> OutboundResponse {
        if let answer = lock.withLock({ answer }) {
            return OutboundResponse(status: answer.status, headers: answer.headers + [("Content-Type", "application/json")],
                                    body: Data(#"{"type":"error.list","errors":[{"code":"rate_limit_exceeded","message":"slow down"}]}"#.utf8))
        }
        return try await inner.send(request)
    }
}

@Suite("Numbers Intercom sends, through the executor")
struct HostileNumbersTests {
    @Test("rate-limit headers of any size answer a clean 429 with a bounded retryAfter, and the next call still works")
    func hostileRateLimitHeaders() async throws {
        let transport = HostileHeadersTransport()
        try await Harness.with(transport: transport) { harness, client in
            let id = try await harness.enabledIntegration(client)
            let values = ["1e300", "inf", "-inf", "-1e300", "nan", "9223372036854775807", "-9223372036854775808", "1.8e308",
                          "99999999999999999999999999", String(repeating: "9", count: 400), "0x7fffffff"]
            for value in values {
                transport.answerWith(status: 429, headers: [("X-RateLimit-Limit", value), ("X-RateLimit-Reset", value), ("Retry-After", value)])
                let response = try await harness.run(client, id, "intercom.who_am_i", "{}")
                let body = try expectProblem(response, 429, code: "rate_limited")
                let retryAfter = try #require(body["retryAfter"] as? Int, "\(value)")
                #expect((1...3600).contains(retryAfter), "\(value): \(retryAfter)")
            }
            // With a count, the pacer learns the window too: a reset a lifetime away is held to a day, and answered at once.
            transport.answerWith(status: 200, headers: [("X-RateLimit-Limit", "1e300"), ("X-RateLimit-Remaining", "0"), ("X-RateLimit-Reset", "1e300")])
            _ = try await harness.run(client, id, "intercom.who_am_i", "{}")
            let paced = try expectProblem(try await harness.run(client, id, "intercom.who_am_i", "{}"), 429, code: "rate_limited")
            #expect(paced["retryAfter"] as? Int == 3600)
        }
    }
}
