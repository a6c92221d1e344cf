import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import SwitchboardTestSupport
import Testing
@testable import IntercomSandbox

@Suite("Sandbox faults")
struct FaultTests {
    func setFaults(_ api: RestHarness, _ json: String) async throws -> TestResponse {
        try await api.client.execute(uri: "/_sandbox/faults", method: .put, headers: [.contentType: "application/json"], body: ByteBuffer(string: json))
    }

    @Test("a share of 500s and 503s, exactly and evenly spaced, with Intercom's error body")
    func errorShares() async throws {
        try await RestHarness.with { api in
            #expect(try await setFaults(api, #"{"serverErrorRate":0.25,"unavailableRate":0.25}"#).status == .ok)
            var statuses: [Int] = []
            for _ in 0..<20 {
                let response = try await api.call(.get, "/contacts", contract: "/contacts")
                statuses.append(response.status)
                if response.status >= 500 {
                    #expect(["server_error", "service_unavailable"].contains(errorCode(response.json)))
                    #expect(response.headers[HTTPField.Name("X-RateLimit-Remaining")!] != nil)
                }
            }
            #expect(statuses.filter { $0 == 500 }.count == 5)
            #expect(statuses.filter { $0 == 503 }.count == 5)
            #expect(statuses.prefix(4).filter { $0 != 200 }.count == 2, "spread out, not bunched")
            _ = try await api.client.execute(uri: "/_sandbox/faults", method: .delete)
            #expect(try await api.call(.get, "/contacts").status == 200)
        }
    }

    @Test("forced 429s for the next N calls, then normal service")
    func forced429() async throws {
        try await RestHarness.with { api in
            _ = try await setFaults(api, #"{"rateLimitNext":2}"#)
            #expect(errorCode(try await api.call(.get, "/contacts").json) == "rate_limit_exceeded")
            #expect(try await api.call(.get, "/contacts").status == 429)
            #expect(try await api.call(.get, "/contacts").status == 200)
        }
    }

    @Test("added latency delays every REST call")
    func latency() async throws {
        try await RestHarness.with { api in
            _ = try await setFaults(api, #"{"latencyMs":150}"#)
            let start = ContinuousClock.now
            _ = try await api.call(.get, "/contacts")
            #expect(ContinuousClock.now - start >= .milliseconds(150))
        }
    }

    @Test("a failing token endpoint, a revoked token, and bad fault settings")
    func tokenFaults() async throws {
        try await RestHarness.with { api in
            _ = try await setFaults(api, #"{"tokenEndpointStatus":503}"#)
            let token = try await api.client.execute(uri: "/auth/eagle/token", method: .post, headers: [.contentType: "application/x-www-form-urlencoded"],
                                                     body: ByteBuffer(string: "code=x&client_id=y&client_secret=z"))
            #expect(token.status == .serviceUnavailable)
            let revoked = try await api.client.execute(uri: "/_sandbox/tokens/revoke", method: .post, headers: [.contentType: "application/json"],
                                                       body: ByteBuffer(string: "{\"token\":\"\(api.acme)\"}"))
            #expect(revoked.status == .ok)
            #expect(errorCode(try await api.call(.get, "/me").json) == "token_revoked")
            for bad in [#"{"serverErrorRate":2}"#, #"{"serverErrorRate":0.7,"unavailableRate":0.7}"#, #"{"tokenEndpointStatus":418}"#, #"{"latencyMs":"slow"}"#] {
                #expect(try await setFaults(api, bad).status == .badRequest, "\(bad)")
            }
        }
    }
}
