import Foundation

/// A one-second memory of the reads every action call repeats (its API key, integration and connection),
/// so that a busy assistant does not ask the database the same three questions thousands of times a second.
///
/// Every write this store makes forgets everything at once (a generation counter), so this instance always
/// sees its own changes; another instance's change is seen within `lifetime`. Misses are never kept.
final class HotReads: @unchecked Sendable {
    static let lifetime: Duration = .seconds(1)
    static let capacity = 10_000

    private struct Entry {
        var value: any Sendable
        var until: ContinuousClock.Instant
    }

    private let lock = NSLock()
    private var generation: UInt64 = 0
    private var entries: [String: Entry] = [:]

    func value<T: Sendable>(_ key: String, load: () async throws -> T?) async throws -> T? {
        let now = ContinuousClock.now
        let (entry, generation) = lock.withLock { (entries[key], self.generation) }
        if let entry, entry.until > now, let value = entry.value as? T { return value }
        guard let value = try await load() else { return nil }
        lock.withLock {
            // A write that happened while loading may have made the value stale: keep it only if none did.
            guard self.generation == generation else { return }
            if entries.count >= Self.capacity { entries.removeAll(keepingCapacity: true) }
            entries[key] = Entry(value: value, until: now + Self.lifetime)
        }
        return value
    }

    func invalidate() {
        lock.withLock {
            generation &+= 1
            entries.removeAll(keepingCapacity: true)
        }
    }
}
