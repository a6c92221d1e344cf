public import Foundation

/// Intercom's rate limit: a per-minute allowance per app, enforced in 10-second windows.
public actor RateLimiter {
    public struct Decision: Sendable {
        public let allowed: Bool
        /// The per-minute limit, as Intercom reports it.
        public let limit: Int
        /// What is left in the current 10-second window.
        public let remaining: Int
        /// Unix second at which the window resets.
        public let reset: Int
    }

    public static let window: TimeInterval = 10
    private var perMinute: Int
    private var windows: [String: (start: Int, used: Int)] = [:]
    private let now: @Sendable () -> Date

    public init(perMinute: Int = 10_000, now: @escaping @Sendable () -> Date = { Date() }) {
        self.perMinute = perMinute
        self.now = now
    }

    public func setLimit(perMinute: Int) { self.perMinute = perMinute }

    /// Counts one request for `key` (an app) and says whether it may proceed.
    public func take(_ key: String) -> Decision {
        let seconds = Int(now().timeIntervalSince1970)
        let start = seconds - seconds % Int(Self.window)
        let perWindow = max(1, perMinute * Int(Self.window) / 60)
        var entry = windows[key] ?? (start, 0)
        if entry.start != start { entry = (start, 0) }
        let allowed = entry.used < perWindow
        if allowed { entry.used += 1 }
        windows[key] = entry
        return Decision(allowed: allowed, limit: perMinute, remaining: max(0, perWindow - entry.used), reset: start + Int(Self.window))
    }
}
