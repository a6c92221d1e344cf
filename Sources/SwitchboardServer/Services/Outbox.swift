public import Foundation
import Synchronization
import Logging
import ServiceLifecycle
import SwitchboardCore
import SwitchboardStore

/// Runs the work stored in the outbox (`OutboxRepository`): stored in the transaction of the change that calls for
/// it, run after the commit by this instance at once (`kick`) or by the outbox service's next round, and taken again
/// by any instance once a lease lapses (its runner died) or after a restart (it stopped before running it). Nothing
/// here runs in a detached task: the service owns the rounds, and a graceful shutdown waits for the one in progress.
public final class Outbox: Sendable {
    let store: Store
    let clock: any WallClock
    let logger: Logger
    let resumer: ResumeRunner
    let tokens: TokenService
    /// This instance, as the leases name it.
    let owner = Identifier.make("inst")
    let kicks = Wakeup()

    /// How long one item may run before another instance may take it: kept calls run one after another, each bounded
    /// by the provider timeout and its retries.
    public static let lease: TimeInterval = 300
    /// Tries before an item is given up (logged); between them 2ⁿ s, at most 5 minutes.
    static let maxAttempts = 8

    init(store: Store, clock: any WallClock, logger: Logger, resumer: ResumeRunner, tokens: TokenService) {
        self.store = store
        self.clock = clock
        self.logger = logger
        self.resumer = resumer
        self.tokens = tokens
    }

    /// Asks the service for a round now: something was just stored.
    func kick() { kicks.signal() }

    /// Runs every due item until none is left, and retries the refresh-lease releases that failed meanwhile. The
    /// service calls it each round; tests call it to run what a callback stored, and await it as the signal that
    /// the work is done.
    public func drain() async {
        await tokens.retryLeaseReleases()
        while true {
            let items: [OutboxItem]
            do {
                items = try await store.outbox.takeDue(owner: owner, now: clock.now(), lease: Self.lease, limit: 20)
            } catch {
                logger.error("taking outbox items failed", metadata: ["error.type": "\(type(of: error))", "error": "\(Database.summary(of: error))"])
                return
            }
            if items.isEmpty { return }
            for item in items { await run(item) }
        }
    }

    private func run(_ item: OutboxItem) async {
        do {
            switch item.kind {
            case .resumeKeptCalls: try await resumer.resume(connectLinkID: item.subject)
            }
            try await store.outbox.complete(id: item.id)
        } catch {
            let summary = Database.summary(of: error)
            guard item.attempts < Self.maxAttempts else {
                logger.error("an outbox item was given up", metadata: ["kind": "\(item.kind.rawValue)", "attempts": "\(item.attempts)", "error": "\(summary)"])
                try? await store.outbox.complete(id: item.id)
                return
            }
            let wait = min(300, pow(2, Double(item.attempts)))
            logger.warning("an outbox item failed; it is tried again", metadata: ["kind": "\(item.kind.rawValue)", "in_seconds": "\(Int(wait))", "error": "\(summary)"])
            // Not given back when the database is gone too: the lease lapses and the item is taken again.
            try? await store.outbox.retry(id: item.id, at: clock.now().addingTimeInterval(wait), error: summary)
        }
    }
}

/// Drains the outbox every `interval`, and at once when kicked, until graceful shutdown; the round in progress
/// finishes first (what it has not reached stays stored for the next start or another instance).
struct OutboxService: Service {
    let outbox: Outbox
    let interval: Duration
    /// Yields once migrations have run.
    let migrated: AsyncStream<Void>

    func run() async throws {
        await cancelWhenGracefulShutdown { for await _ in migrated { break } }
        let clock = outbox.clock
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            await outbox.drain()
            // The next round: when kicked, or after `interval`, whichever comes first; at once on shutdown.
            await cancelWhenGracefulShutdown {
                await withTaskGroup(of: Void.self) { group in
                    group.addTask { try? await clock.sleep(for: interval) }
                    group.addTask { await outbox.kicks.wait() }
                    await group.next()
                    group.cancelAll()
                }
            }
        }
        await outbox.tokens.retryLeaseReleases()
    }
}

/// A signal one waiter waits for; a signal given while nobody waits is kept (one) for the next wait. A cancelled wait
/// returns at once.
final class Wakeup: Sendable {
    private struct State {
        var pending = false
        var waiter: CheckedContinuation<Void, Never>?
    }
    private let state = Mutex(State())

    func signal() {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            guard let waiter = state.waiter else {
                state.pending = true
                return nil
            }
            state.waiter = nil
            return waiter
        }
        waiter?.resume()
    }

    func wait() async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let now = state.withLock { state -> Bool in
                    if state.pending || Task.isCancelled {
                        state.pending = false
                        return true
                    }
                    state.waiter = continuation
                    return false
                }
                if now { continuation.resume() }
            }
        } onCancel: {
            state.withLock { state -> CheckedContinuation<Void, Never>? in
                defer { state.waiter = nil }
                return state.waiter
            }?.resume()
        }
    }
}
