import Foundation

/// Keeps calls inside Intercom's rate limit instead of waiting to be refused.
///
/// Intercom counts calls per app and workspace in 10-second windows and reports, on every authenticated
/// response, the per-minute limit, what is left of the current window and when it resets. The pacer learns
/// that window from the headers, counts its own calls against it as they leave, and when the window is used
/// up says when the next one opens. Each Switchboard instance paces on what it has seen; Intercom's headers
/// bring several instances back in line, and a 429 is still handled by the caller.
public final class RatePacer: @unchecked Sendable {
    public static let window: TimeInterval = 10

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

    public init() {}

    /// The key Intercom counts under: one app in one workspace.
    public static func key(clientID: String, workspaceID: String) -> String { clientID + "\u{1F}" + workspaceID }

    /// Takes a slot for one call, or says when one frees up.
    public func reserve(_ key: String, now: Date) -> Decision {
        lock.withLock {
            guard var window = windows[key] else { return .send }
            let time = now.timeIntervalSince1970
            if time >= window.end {
                // A new window has opened since the last response: it starts with the whole allowance.
                window.end += (((time - window.end) / Self.window).rounded(.down) + 1) * Self.window
                window.remaining = window.perWindow
            }
            defer { windows[key] = window }
            guard window.remaining > 0 else { return .wait(until: Date(timeIntervalSince1970: window.end)) }
            window.remaining -= 1
            return .send
        }
    }

    /// Learns the window from a response's `X-RateLimit-Limit` (per minute), `X-RateLimit-Remaining` and
    /// `X-RateLimit-Reset` (Unix seconds). Within one window the smaller count wins: responses arrive out of order.
    public func observe(_ key: String, limitPerMinute: Int?, remaining: Int, reset: TimeInterval) {
        lock.withLock {
            let known = windows[key]
            let perWindow = limitPerMinute.map { max(1, $0 * Int(Self.window) / 60) } ?? known?.perWindow ?? max(1, remaining)
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
        guard let remaining = ProviderNumbers.count(header("X-RateLimit-Remaining")),
              let reset = ProviderNumbers.unixTime(header("X-RateLimit-Reset"), now: now) else { return }
        observe(key, limitPerMinute: ProviderNumbers.count(header("X-RateLimit-Limit")), remaining: remaining, reset: reset)
    }
}
