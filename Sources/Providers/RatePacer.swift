public import Foundation
import SwitchboardCore

/// Keeps calls inside a provider's rate limit instead of waiting to be refused.
///
/// A provider such as Intercom counts calls per app and workspace in short windows (its definition's
/// `rateLimit.windowSeconds`) and reports, on every authenticated response, the limit, what is left of the current
/// window and when it resets. The pacer learns that window from the headers the definition names, counts its own
/// calls against it as they leave, and when the window is used up says when the next one opens. Each Switchboard
/// instance paces on what it has seen; the provider's headers bring several instances back in line, and a 429 is
/// still handled by the caller.
public final class RatePacer: @unchecked Sendable {
    /// The length of the provider's window, in seconds.
    public let window: TimeInterval
    let rules: ProviderDefinition.RateLimit

    public enum Decision: Equatable, Sendable {
        /// Send now; a slot of the current window is taken.
        case send
        /// Nothing is left in this window: try again at this time.
        case wait(until: Date)
    }

    struct Window {
        var end: TimeInterval
        var remaining: Int
        var perWindow: Int
    }

    private let lock = NSLock()
    private var windows: [String: Window] = [:]

    public init(rules: ProviderDefinition.RateLimit) {
        self.rules = rules
        self.window = rules.windowSeconds
    }

    /// The key the provider counts under: one app in one workspace.
    public static func key(clientID: String, workspaceID: String) -> String { clientID + "\u{1F}" + workspaceID }

    /// Takes a slot for one call, or says when one frees up.
    public func reserve(_ key: String, now: Date) -> Decision {
        lock.withLock {
            guard var window = windows[key] else { return .send }
            let time = now.timeIntervalSince1970
            if time >= window.end {
                // A new window has opened since the last response: it starts with the whole allowance.
                window.end += (((time - window.end) / self.window).rounded(.down) + 1) * self.window
                window.remaining = window.perWindow
            }
            defer { windows[key] = window }
            guard window.remaining > 0 else { return .wait(until: Date(timeIntervalSince1970: window.end)) }
            window.remaining -= 1
            return .send
        }
    }

    /// Learns the window from a response's limit (per `limitPeriodSeconds`), what remains and when it resets
    /// (Unix seconds). Within one window the smaller count wins: responses arrive out of order.
    public func observe(_ key: String, limitPerPeriod: Int?, remaining: Int, reset: TimeInterval) {
        lock.withLock {
            let known = windows[key]
            let perWindow = limitPerPeriod.map { max(1, Int(Double($0) * window / rules.limitPeriodSeconds)) } ?? known?.perWindow ?? max(1, remaining)
            if var window = known, window.end == reset {
                window.remaining = min(window.remaining, remaining)
                window.perWindow = perWindow
                windows[key] = window
            } else if known.map({ reset > $0.end }) ?? true {
                windows[key] = Window(end: reset, remaining: remaining, perWindow: perWindow)
            }
        }
    }

    /// Learns from response headers, when they carry a rate limit. Every number is clamped (`ProviderNumbers`): the
    /// reset to a day either side of `now`, the counts to a billion.
    public func observe(_ key: String, headers: [(name: String, value: String)], now: Date) {
        func header(_ name: String) -> String? { HeaderName.value(of: name, in: headers) }
        guard let remaining = ProviderNumbers.count(header(rules.remainingHeader)),
              let reset = ProviderNumbers.unixTime(header(rules.resetHeader), now: now) else { return }
        observe(key, limitPerPeriod: rules.limitHeader.flatMap { ProviderNumbers.count(header($0)) }, remaining: remaining, reset: reset)
    }
}
