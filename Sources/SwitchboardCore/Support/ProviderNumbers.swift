public import Foundation

/// Numbers read from a provider's answers (headers, token responses), made safe to compute with: never NaN or
/// infinite, never beyond a bound that makes sense, so that no value a provider sends can trap an integer
/// conversion or push a date out of range.
public enum ProviderNumbers {
    /// A count (what a rate-limit header says remains, or the limit): a finite number, clamped to `0...max`, rounded down.
    public static func count(_ text: String?, max: Int = 1_000_000_000) -> Int? {
        guard let value = finite(text) else { return nil }
        return Int(Swift.min(Swift.max(value, 0), Double(max)).rounded(.down))
    }

    /// A Unix time (a rate-limit reset header), clamped to a day either side of `now`.
    public static func unixTime(_ text: String?, now: Date, within: TimeInterval = 86_400) -> TimeInterval? {
        guard let value = finite(text) else { return nil }
        let time = now.timeIntervalSince1970
        return Swift.min(Swift.max(value, time - within), time + within)
    }

    /// A duration in seconds, clamped to `0...max`; nil when it is not a finite number.
    public static func seconds(_ value: Double?, max: TimeInterval) -> TimeInterval? {
        guard let value, value.isFinite else { return nil }
        return Swift.min(Swift.max(value, 0), max)
    }

    /// `Retry-After` (RFC 9110 §10.2.3): seconds, or an HTTP date; the wait from `now`, clamped to `0...max`.
    public static func retryAfter(_ text: String?, now: Date, max: TimeInterval = 3600) -> TimeInterval? {
        guard let text = text?.trimmingCharacters(in: .whitespaces), !text.isEmpty, text.utf8.count <= 64 else { return nil }
        if let seconds = finite(text) { return self.seconds(seconds, max: max) }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        guard let date = formatter.date(from: text) else { return nil }
        return self.seconds(date.timeIntervalSince(now), max: max)
    }

    static func finite(_ text: String?) -> Double? {
        guard let text = text?.trimmingCharacters(in: .whitespaces), !text.isEmpty, text.utf8.count <= 64,
              let value = Double(text), value.isFinite else { return nil }
        return value
    }
}
