import Foundation
import Providers
import SwitchboardCore
import Testing

/// A seeded generator (SplitMix64), so that a failing value can be found again.
struct SeededNumbers: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// What a provider might put where a number belongs: edge cases, then generated ones.
func hostileNumbers(count: Int, seed: UInt64 = 42) -> [String] {
    var fixed = ["inf", "-inf", "infinity", "nan", "NaN", "1e300", "-1e300", "1e308", "1.8e308", "-0", "0", "9223372036854775807",
                 "9223372036854775808", "-9223372036854775808", "18446744073709551616", "99999999999999999999999999", "0x10", "1_000",
                 "", " ", "12abc", "--1", "1e", ".", "4.9e-324", "\u{0}", "１２", "Wed, 21 Oct 2015 07:28:00 GMT", "Fri, 31 Dec 9999 23:59:59 GMT",
                 String(repeating: "9", count: 400)]
    var random = SeededNumbers(state: seed)
    while fixed.count < count {
        switch Int.random(in: 0..<5, using: &random) {
        case 0: fixed.append(String(Double(bitPattern: random.next())))
        case 1: fixed.append(String(Int64(bitPattern: random.next())))
        case 2: fixed.append(String(Double.random(in: -1e12...1e12, using: &random)))
        case 3: fixed.append("\(Int.random(in: -10...10, using: &random))e\(Int.random(in: -400...400, using: &random))")
        default: fixed.append(String((0..<Int.random(in: 1...12, using: &random)).map { _ in "0123456789.-e+x".randomElement(using: &random)! }))
        }
    }
    return fixed
}

@Suite("Numbers from a provider")
struct ProviderNumbersTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)

    @Test("a few thousand hostile values: every parse is finite and within its bound, and the pacer never traps or waits past a day")
    func fuzz() {
        let values = hostileNumbers(count: 4000)
        let pacer = RatePacer(rules: ProviderDefinition.intercom.rateLimit!)
        for (index, value) in values.enumerated() {
            if let count = ProviderNumbers.count(value) { #expect((0...1_000_000_000).contains(count), "\(value)") }
            if let time = ProviderNumbers.unixTime(value, now: now) {
                #expect(time.isFinite && abs(time - now.timeIntervalSince1970) <= 86_400, "\(value)")
            }
            if let wait = ProviderNumbers.retryAfter(value, now: now) { #expect(wait.isFinite && (0...3600).contains(wait), "\(value)") }
            if let seconds = ProviderNumbers.seconds(Double(value), max: 60) { #expect((0...60).contains(seconds), "\(value)") }

            let key = "k\(index % 7)"
            let other = values[(index * 31 + 7) % values.count]
            pacer.observe(key, headers: [("X-RateLimit-Limit", other), ("X-RateLimit-Remaining", value), ("X-RateLimit-Reset", value)], now: now)
            pacer.observe(key, headers: [("X-RateLimit-Limit", value), ("X-RateLimit-Remaining", other), ("X-RateLimit-Reset", other)], now: now)
            if case .wait(let until) = pacer.reserve(key, now: now) {
                #expect(until.timeIntervalSince(now).isFinite && until.timeIntervalSince(now) <= 86_400 + pacer.window, "\(value)")
            }

            for body in [#"{"access_token":"t","expires_in":\#(value)}"#, #"{"access_token":"t","expires_in":"\#(value)"}"#] {
                let response = OutboundResponse(status: 200, headers: [("Content-Type", "application/json")], body: Data(body.utf8))
                if case .success(let grant) = TokenResponse.parse(response, now: now), let expiresAt = grant.expiresAt {
                    let lifetime = expiresAt.timeIntervalSince(now)
                    #expect(lifetime.isFinite && lifetime >= 0 && lifetime <= 10 * 365 * 86_400, "\(value)")
                    _ = expiresAt.unixSeconds
                }
            }
        }
    }

    @Test("the edge cases read as expected")
    func edges() {
        #expect(ProviderNumbers.count("inf") == nil && ProviderNumbers.count("nan") == nil && ProviderNumbers.count("1e300") == 1_000_000_000)
        #expect(ProviderNumbers.count("-5") == 0 && ProviderNumbers.count("42") == 42)
        #expect(ProviderNumbers.unixTime("1e300", now: now) == now.timeIntervalSince1970 + 86_400)
        #expect(ProviderNumbers.unixTime("-1", now: now) == now.timeIntervalSince1970 - 86_400)
        #expect(ProviderNumbers.retryAfter("120", now: now) == 120)
        #expect(ProviderNumbers.retryAfter("1e300", now: now) == 3600)
        #expect(ProviderNumbers.retryAfter("Fri, 15 Jan 2027 08:00:10 GMT", now: now) == 10)
    }
}
