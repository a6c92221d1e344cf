import Foundation
import Hummingbird

/// Failures the sandbox injects on request, for tests and benchmarks of what calls Intercom.
public struct FaultSettings: Sendable, Codable, Equatable {
    /// Added to every REST call, in milliseconds.
    public var latencyMs: Int = 0
    /// The share (0…1) of REST calls that answer 500 `server_error`; evenly spaced, so exact.
    public var serverErrorRate: Double = 0
    /// The share (0…1) of REST calls that answer 503 `service_unavailable`.
    public var unavailableRate: Double = 0
    /// The next N REST calls answer 429 `rate_limit_exceeded`.
    public var rateLimitNext: Int = 0
    /// The token endpoint answers this status (500 or 503) instead of a token; 0 for normal.
    public var tokenEndpointStatus: Int = 0

    public init() {}

    enum CodingKeys: String, CodingKey { case latencyMs, serverErrorRate, unavailableRate, rateLimitNext, tokenEndpointStatus }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        latencyMs = try container.decodeIfPresent(Int.self, forKey: .latencyMs) ?? 0
        serverErrorRate = try container.decodeIfPresent(Double.self, forKey: .serverErrorRate) ?? 0
        unavailableRate = try container.decodeIfPresent(Double.self, forKey: .unavailableRate) ?? 0
        rateLimitNext = try container.decodeIfPresent(Int.self, forKey: .rateLimitNext) ?? 0
        tokenEndpointStatus = try container.decodeIfPresent(Int.self, forKey: .tokenEndpointStatus) ?? 0
    }

    /// Checks the settings; the error says which is out of range.
    public func validate() throws { try check() }

    func check() throws {
        guard (0...60_000).contains(latencyMs) else { throw IntercomError.invalid("latencyMs must be 0…60000", field: "latencyMs") }
        guard (0...1).contains(serverErrorRate) else { throw IntercomError.invalid("serverErrorRate must be 0…1", field: "serverErrorRate") }
        guard (0...1).contains(unavailableRate) else { throw IntercomError.invalid("unavailableRate must be 0…1", field: "unavailableRate") }
        guard serverErrorRate + unavailableRate <= 1 else { throw IntercomError.invalid("the error rates add up to more than 1", field: "unavailableRate") }
        guard rateLimitNext >= 0 else { throw IntercomError.invalid("rateLimitNext must be 0 or more", field: "rateLimitNext") }
        guard [0, 500, 502, 503].contains(tokenEndpointStatus) else { throw IntercomError.invalid("tokenEndpointStatus is 0, 500, 502 or 503", field: "tokenEndpointStatus") }
    }
}

public actor Faults {
    public private(set) var settings: FaultSettings
    private var calls = 0
    /// A 503 due on a call that already got a 500, delivered on the next call so both shares stay exact.
    private var pendingUnavailable = 0

    public init(_ settings: FaultSettings = FaultSettings()) { self.settings = settings }

    public func set(_ settings: FaultSettings) {
        self.settings = settings
        calls = 0
        pendingUnavailable = 0
    }

    /// The failure this REST call gets, if any (latency is returned for the caller to wait).
    func next() -> (latency: Int, failure: IntercomError?) {
        calls += 1
        if settings.rateLimitNext > 0 {
            settings.rateLimitNext -= 1
            return (settings.latencyMs, IntercomError(.tooManyRequests, code: "rate_limit_exceeded", message: "Rate Limit Exceeded"))
        }
        // Call n fails when the running share crosses a whole number: exactly `rate` of calls, evenly spaced.
        // 503s are shifted by half a period so that they fall between the 500s.
        func hits(_ rate: Double, phase: Double) -> Bool {
            rate > 0 && Int(Double(calls) * rate + phase) != Int(Double(calls - 1) * rate + phase)
        }
        if hits(settings.unavailableRate, phase: 0.5) { pendingUnavailable += 1 }
        if hits(settings.serverErrorRate, phase: 0) {
            return (settings.latencyMs, IntercomError(.internalServerError, code: "server_error", message: "Server Error"))
        }
        if pendingUnavailable > 0 {
            pendingUnavailable -= 1
            return (settings.latencyMs, IntercomError(.serviceUnavailable, code: "service_unavailable", message: "Service Unavailable"))
        }
        return (settings.latencyMs, nil)
    }
}
