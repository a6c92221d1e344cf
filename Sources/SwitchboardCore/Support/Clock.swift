public import Foundation

/// The time seam: production reads the system clock and sleeps on it; tests move a manual one, and whatever
/// sleeps on it wakes when the test has moved it far enough.
public protocol WallClock: Sendable {
    func now() -> Date
    /// Waits `duration` of this clock's time; throws `CancellationError` when the task is cancelled.
    func sleep(for duration: Duration) async throws
}

public struct SystemWallClock: WallClock {
    public init() {}
    public func now() -> Date { Date() }
    public func sleep(for duration: Duration) async throws { try await Task.sleep(for: duration) }
}

extension Duration {
    /// Whole and fractional seconds.
    public var seconds: TimeInterval {
        TimeInterval(components.seconds) + TimeInterval(components.attoseconds) / 1e18
    }
}

/// A clock that only moves when told to. A sleeper wakes once the clock has been advanced to its deadline;
/// `sleepers` and `waitForSleepers` let a test see that something is waiting before it moves time. With
/// `advancesWhenSleeping`, a sleep moves the clock to its own deadline at once: waits take no real time, and a test
/// reads how long they were from the clock.
public final class ManualWallClock: WallClock, @unchecked Sendable {
    private struct Sleeper {
        let id: UInt64
        let deadline: Date
        let continuation: CheckedContinuation<Void, any Error>
    }

    private let lock = NSLock()
    private var current: Date
    private var sleeping: [Sleeper] = []
    private var nextID: UInt64 = 0

    private let advancesWhenSleeping: Bool

    public init(_ start: Date = Date(timeIntervalSince1970: 1_800_000_000), advancesWhenSleeping: Bool = false) {
        self.current = start
        self.advancesWhenSleeping = advancesWhenSleeping
    }

    public func now() -> Date { lock.withLock { current } }

    public func advance(by seconds: TimeInterval) {
        let due: [Sleeper] = lock.withLock {
            current = current.addingTimeInterval(seconds)
            let now = current
            let due = sleeping.filter { $0.deadline <= now }
            sleeping.removeAll { $0.deadline <= now }
            return due
        }
        for sleeper in due { sleeper.continuation.resume() }
    }

    public func sleep(for duration: Duration) async throws {
        if advancesWhenSleeping {
            try Task.checkCancellation()
            let due: [Sleeper] = lock.withLock {
                current = max(current, current.addingTimeInterval(max(0, duration.seconds)))
                let now = current
                let due = sleeping.filter { $0.deadline <= now }
                sleeping.removeAll { $0.deadline <= now }
                return due
            }
            for sleeper in due { sleeper.continuation.resume() }
            await Task.yield()
            return
        }
        let id: UInt64 = lock.withLock {
            nextID += 1
            return nextID
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let resumeNow: Bool = lock.withLock {
                    let deadline = current.addingTimeInterval(duration.seconds)
                    if deadline <= current || Task.isCancelled { return true }
                    sleeping.append(Sleeper(id: id, deadline: deadline, continuation: continuation))
                    return false
                }
                if resumeNow {
                    if Task.isCancelled { continuation.resume(throwing: CancellationError()) } else { continuation.resume() }
                }
            }
        } onCancel: {
            let cancelled: Sleeper? = lock.withLock {
                guard let index = sleeping.firstIndex(where: { $0.id == id }) else { return nil }
                return sleeping.remove(at: index)
            }
            cancelled?.continuation.resume(throwing: CancellationError())
        }
    }

    /// How many tasks are asleep on this clock.
    public var sleepers: Int { lock.withLock { sleeping.count } }

    /// The earliest time a sleeper waits for, if any sleeps.
    public var nextDeadline: Date? { lock.withLock { sleeping.map(\.deadline).min() } }

    /// Waits (on the real clock, briefly, a few seconds at most) until at least `count` tasks sleep on this clock.
    /// Returns false when they never did.
    @discardableResult
    public func waitForSleepers(_ count: Int = 1, within seconds: TimeInterval = 10) async -> Bool {
        let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
        while sleepers < count {
            guard ContinuousClock.now < deadline else { return false }
            try? await Task.sleep(for: .milliseconds(2))
        }
        return true
    }
}

extension Date {
    /// Whole Unix seconds, the unit the database and the providers use.
    public var unixSeconds: Int64 { Int64(timeIntervalSince1970.rounded(.down)) }

    public init(unixSeconds: Int64) { self.init(timeIntervalSince1970: TimeInterval(unixSeconds)) }
}
