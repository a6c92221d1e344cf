import Foundation
import Providers
import SwitchboardCore
import Testing

@Suite("Rate pacer")
struct RatePacerTests {
    let key = RatePacer.key(clientID: "app", workspaceID: "ws")
    let reset: TimeInterval = 1_800_000_010
    func at(_ seconds: TimeInterval) -> Date { Date(timeIntervalSince1970: seconds) }

    @Test("before any response it sends; then it spends what the window has left and waits for the next window")
    func spendsTheWindow() {
        let pacer = RatePacer(rules: ProviderDefinition.intercom.rateLimit!)
        #expect(pacer.reserve(key, now: at(reset - 9)) == .send)
        pacer.observe(key, limitPerPeriod: 60, remaining: 2, reset: reset)
        #expect(pacer.reserve(key, now: at(reset - 8)) == .send)
        #expect(pacer.reserve(key, now: at(reset - 8)) == .send)
        #expect(pacer.reserve(key, now: at(reset - 8)) == .wait(until: at(reset)))
        // The next window opens with the whole allowance: 60 a minute is 10 a window.
        for _ in 1...10 { #expect(pacer.reserve(key, now: at(reset)) == .send) }
        #expect(pacer.reserve(key, now: at(reset + 3)) == .wait(until: at(reset + 10)))
        // Several windows later, it starts afresh.
        #expect(pacer.reserve(key, now: at(reset + 45)) == .send)
    }

    @Test("responses arriving out of order never raise what is left in a window; an older window's headers are ignored")
    func outOfOrder() {
        let pacer = RatePacer(rules: ProviderDefinition.intercom.rateLimit!)
        pacer.observe(key, limitPerPeriod: 60, remaining: 1, reset: reset)
        pacer.observe(key, limitPerPeriod: 60, remaining: 5, reset: reset)
        #expect(pacer.reserve(key, now: at(reset - 1)) == .send)
        #expect(pacer.reserve(key, now: at(reset - 1)) == .wait(until: at(reset)))
        pacer.observe(key, limitPerPeriod: 60, remaining: 9, reset: reset - 10)
        #expect(pacer.reserve(key, now: at(reset - 1)) == .wait(until: at(reset)))
    }

    @Test("each app and workspace has its own window; headers without a rate limit teach nothing")
    func keys() {
        let pacer = RatePacer(rules: ProviderDefinition.intercom.rateLimit!)
        pacer.observe(key, headers: [("X-RateLimit-Limit", "60"), ("X-RateLimit-Remaining", "0"), ("x-ratelimit-reset", "\(Int(reset))")], now: at(reset - 5))
        #expect(pacer.reserve(key, now: at(reset - 1)) == .wait(until: at(reset)))
        let other = RatePacer.key(clientID: "app", workspaceID: "other")
        #expect(pacer.reserve(other, now: at(reset - 1)) == .send)
        pacer.observe(other, headers: [("Content-Type", "application/json")], now: at(reset - 5))
        #expect(pacer.reserve(other, now: at(reset - 1)) == .send)
    }
}

@Suite("Hex")
struct HexTests {
    @Test("every byte encodes as two lowercase hex digits, as String(format:) would")
    func everyByte() {
        let all = (0...255).map { UInt8($0) }
        #expect(Hex.encode(all) == all.map { String(format: "%02x", $0) }.joined())
        #expect(Hex.encode([UInt8]()) == "")
        #expect(Digest.sha256Hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }
}

@Suite("Header names and random bytes")
struct HeaderNameAndRandomTests {
    @Test("header names match whatever their ASCII case, and nothing else matches")
    func headerNames() {
        #expect(HeaderName.equal("x-ratelimit-reset", "X-RateLimit-Reset"))
        #expect(HeaderName.equal("", ""))
        #expect(!HeaderName.equal("X-RateLimit-Reset", "X-RateLimit-Remaining"))
        #expect(!HeaderName.equal("X-Request-Id", "X-Request-I"))
        // Pairs 0x20 apart that are not letters are different characters.
        #expect(!HeaderName.equal("[", "{"))
        #expect(!HeaderName.equal("@", "`"))
        #expect(!HeaderName.equal("0", "\u{10}"))
        let headers = [(name: "content-type", value: "application/json"), (name: "X-RateLimit-Remaining", value: "7")]
        #expect(OutboundResponse(status: 200, headers: headers).header("Content-Type") == "application/json")
        #expect(OutboundResponse(status: 200, headers: headers).header("x-ratelimit-remaining") == "7")
        #expect(OutboundResponse(status: 200, headers: headers).header("X-RateLimit-Reset") == nil)
    }

    @Test("random bytes: exactly as many as asked, and not the same twice")
    func randomBytes() {
        for count in [0, 1, 7, 8, 9, 12, 16, 31, 32, 33] {
            #expect(SecureRandom.bytes(count).count == count)
        }
        #expect(SecureRandom.bytes(32) != SecureRandom.bytes(32))
        #expect(Set((0..<64).map { _ in SecureRandom.bytes(1)[0] }).count > 1)
    }
}
