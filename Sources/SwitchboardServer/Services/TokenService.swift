import Foundation
import Synchronization
public import Logging
public import SwitchboardCore
public import SwitchboardStore

/// Hands out usable access tokens, refreshing them shortly before they expire.
///
/// One refresh per connection at a time: within an instance, callers share one task; across
/// instances, a lease row in the database decides who refreshes while the others wait and reread.
public final class TokenService: Sendable {
    public enum Failure: Error, Sendable, Equatable {
        /// The provider refused the grant; a new authorization is needed.
        case needsReauthorization(String)
        /// The provider or network failed; the connection is intact and a later try may work.
        case unavailable(String)
        /// Switchboard's own database could not be reached (a restart, a failover); a later try may work.
        case databaseUnavailable(String)

        /// `unavailable`, or `databaseUnavailable` when `error` says the database went away.
        static func from(_ error: any Error, _ what: String) -> Failure {
            Database.isUnavailable(error) ? .databaseUnavailable("\(what): the database could not be reached") : .unavailable("\(what): \(type(of: error))")
        }
    }

    let store: Store
    let transport: any HTTPTransport
    let clock: any WallClock
    let logger: Logger
    let instanceID = Identifier.make("inst")
    let metrics: DomainMetrics?
    private let flights = SingleFlight<String, String>()
    /// The refresh leases whose release the database refused, each with when it lapses on its own.
    let leaseReleases = Mutex<[String: Date]>([:])
    /// How long a caller waits for another instance's refresh before giving up.
    let waitLimit: Duration
    let pollInterval: Duration

    public init(store: Store, transport: any HTTPTransport, clock: any WallClock, logger: Logger,
                waitLimit: Duration = .seconds(15), pollInterval: Duration = .milliseconds(100), metrics: DomainMetrics? = nil) {
        self.metrics = metrics
        self.store = store
        self.transport = transport
        self.clock = clock
        self.logger = logger
        self.waitLimit = waitLimit
        self.pollInterval = pollInterval
    }

    /// A token for `connection`, refreshed first if it is due.
    public func accessToken(for connection: Connection, app: OAuthApp) async throws(Failure) -> String {
        if connection.status == .needsReauthorization { throw .needsReauthorization(connection.lastError ?? "the provider refused the stored authorization") }
        if connection.status == .revoked { throw .needsReauthorization("the connection was disconnected") }
        guard connection.refreshDue(at: clock.now()) else { return connection.tokens.accessToken }
        return try await refreshOnce(connectionID: connection.id, app: app, rejected: nil)
    }

    /// After the provider refused `sentToken` (401): the token to retry the call with, once; nil when nobody has
    /// replaced it and it cannot be refreshed. The connection is reread from the database, not the read cache: another
    /// call or instance may have refreshed it meanwhile (and a provider that rotates refresh tokens revokes the old pair),
    /// which makes the refusal no sign of a dead grant. Otherwise, if it has a refresh token, it is refreshed (one
    /// refresh for all the calls refused alike, across instances, as `accessToken` does); `invalid_grant` then throws
    /// `needsReauthorization`.
    public func retryToken(after sentToken: String, connectionID: String, app: OAuthApp) async throws(Failure) -> String? {
        let current: Connection?
        do { current = try await store.connections.connection(id: connectionID) } catch { throw .from(error, "the connection could not be read") }
        guard let current else { throw .needsReauthorization("the connection no longer exists") }
        if current.tokens.accessToken != sentToken {
            guard current.status == .active else { throw .needsReauthorization(current.lastError ?? "the connection needs a new authorization") }
            return current.tokens.accessToken
        }
        guard current.status == .active, current.tokens.refreshToken != nil else { return nil }
        let token = try await refreshOnce(connectionID: connectionID, app: app, rejected: sentToken)
        return token == sentToken ? nil : token
    }

    /// Marks the connection as needing a new authorization after the provider refused `sentToken`, unless the token was
    /// replaced meanwhile. True when marked; false when the connection now holds another token (try again).
    public func markRefused(_ sentToken: String, connectionID: String, reason: String) async throws -> Bool {
        guard let current = try await store.connections.connection(id: connectionID) else { return true }
        guard current.tokens.accessToken == sentToken else { return false }
        if current.status != .active { return true }
        return try await store.connections.markNeedsReauthorization(connectionID: connectionID, tokenVersion: current.tokenVersion,
                                                                    reason: reason, now: clock.now())
    }

    /// One refresh per connection at a time in this instance (callers share it), and across instances through the lease.
    /// Calls refused with a token share a flight of their own: one that found a token not yet due has nothing for them.
    private func refreshOnce(connectionID: String, app: OAuthApp, rejected: String?) async throws(Failure) -> String {
        do {
            return try await flights.run(key: rejected == nil ? connectionID : connectionID + " refused") { try await self.refreshAcrossInstances(connectionID: connectionID, app: app, rejected: rejected) }
        } catch let failure as Failure {
            throw failure
        } catch {
            throw .from(error, "refresh failed")
        }
    }

    /// Whether the connection's token must be refreshed now: it is due, or it is the token the provider just refused.
    private func needsRefresh(_ connection: Connection, rejected: String?) -> Bool {
        connection.refreshDue(at: clock.now()) || (rejected != nil && connection.tokens.accessToken == rejected)
    }

    private func refreshAcrossInstances(connectionID: String, app: OAuthApp, rejected: String?) async throws -> String {
        let deadline = clock.now().addingTimeInterval(waitLimit.seconds)
        while true {
            guard let current = try await store.connections.connection(id: connectionID) else { throw Failure.needsReauthorization("the connection no longer exists") }
            if current.status != .active { throw Failure.needsReauthorization(current.lastError ?? "the connection needs a new authorization") }
            if !needsRefresh(current, rejected: rejected) { return current.tokens.accessToken }
            if try await store.connections.acquireRefreshLease(connectionID: connectionID, owner: instanceID, now: clock.now(), duration: RefreshPolicy.leaseDuration) {
                // A release still pending from an earlier refresh must not let go of this new lease.
                _ = leaseReleases.withLock { $0.removeValue(forKey: connectionID) }
                do {
                    return try await whileRenewingLease(connectionID: connectionID) {
                        try await self.refresh(connectionID: connectionID, app: app, rejected: rejected)
                    }
                } catch {
                    // Whatever broke the refresh (the database going away between two statements, say), the lease must
                    // not outlive it, or every other instance waits it out: released now or, if the database cannot be
                    // reached, by the outbox service's next rounds until the lease would have lapsed anyway.
                    // (Released already when the refresh recorded its failure.)
                    await releaseLease(connectionID: connectionID)
                    throw error
                }
            }
            // Another instance is refreshing: wait for its result rather than spend the refresh token twice.
            if clock.now() >= deadline {
                if let expiresAt = current.tokens.expiresAt, expiresAt > clock.now() { return current.tokens.accessToken }
                throw Failure.unavailable("another instance's refresh did not finish in time")
            }
            try await clock.sleep(for: pollInterval)
        }
    }

    /// Runs `work` while a child task renews this instance's refresh lease every `RefreshPolicy.leaseRenewal` of real
    /// time (not the wall clock the lease's times are read on: a test's manual clock would jump at each renewal), so the
    /// lease stays short and still outlasts a slow token request.
    private func whileRenewingLease(connectionID: String, _ work: @escaping @Sendable () async throws -> String) async throws -> String {
        try await withThrowingTaskGroup(of: String?.self) { group in
            group.addTask { try await work() }
            group.addTask {
                while true {
                    try await Task.sleep(for: RefreshPolicy.leaseRenewal)
                    _ = try? await self.store.connections.renewRefreshLease(connectionID: connectionID, owner: self.instanceID,
                                                                             now: self.clock.now(), duration: RefreshPolicy.leaseDuration)
                }
            }
            defer { group.cancelAll() }
            while let result = try await group.next() {
                if let token = result { return token }
            }
            throw Failure.unavailable("the refresh ended without an answer")
        }
    }

    /// Performs the refresh while holding the lease.
    private func refresh(connectionID: String, app: OAuthApp, rejected: String?) async throws -> String {
        // Reread under the lease: the refresh token may have rotated since the caller read it.
        guard let connection = try await store.connections.connection(id: connectionID), let refreshToken = connection.tokens.refreshToken else {
            throw Failure.needsReauthorization("the connection has no refresh token")
        }
        // Marked meanwhile (its profile's endpoints changed, or the grant died): the refresh token goes nowhere.
        guard connection.status == .active else {
            throw Failure.needsReauthorization(connection.lastError ?? "the connection needs a new authorization")
        }
        if !needsRefresh(connection, rejected: rejected) {
            try await store.connections.releaseRefreshLease(connectionID: connectionID, owner: instanceID)
            return connection.tokens.accessToken
        }
        guard let request = app.refreshRequest(refreshToken: refreshToken) else {
            try await store.connections.recordRefreshFailure(connectionID: connectionID, owner: instanceID, reason: "the refresh token URL is invalid", permanent: false, now: clock.now())
            throw Failure.unavailable("the refresh token URL is invalid")
        }
        let outcome: Result<TokenGrant, TokenEndpointError>
        do {
            outcome = TokenResponse.parse(try await transport.send(request), now: clock.now(), shape: app.tokenAnswer)
        } catch let error as TransportError where error.kind == .refused {
            outcome = .failure(.misconfigured(code: "destination_refused", description: error.description))
        } catch {
            outcome = .failure(.transient(description: "\(error)"))
        }
        switch outcome {
        case .success(let grant):
            guard try await storeRefreshed(grant, connectionID: connectionID, keepRefreshToken: refreshToken) else {
                throw Failure.unavailable("the refresh lease expired before the new tokens were stored")
            }
            logger.info("token refreshed", metadata: ["connection": "\(connectionID)"])
            metrics?.refresh(outcome: "ok")
            return grant.accessToken
        case .failure(.permanent(let code, let description)):
            let reason = "the provider refused the refresh token (\(code): \(description))"
            try await store.connections.recordRefreshFailure(connectionID: connectionID, owner: instanceID, reason: reason, permanent: true, now: clock.now())
            logger.warning("refresh refused; connection needs reauthorization", metadata: ["connection": "\(connectionID)", "code": "\(code)"])
            metrics?.refresh(outcome: "invalid_grant")
            throw Failure.needsReauthorization(reason)
        case .failure(let failure):
            // Transient or misconfigured: the connection stays; the failure is recorded and reported.
            let reason = "refresh failed: \(failure.summary)"
            try await store.connections.recordRefreshFailure(connectionID: connectionID, owner: instanceID, reason: reason, permanent: false, now: clock.now())
            logger.warning("refresh failed; will retry later", metadata: ["connection": "\(connectionID)", "reason": "\(failure.summary)"])
            metrics?.refresh(outcome: "transient")
            if let expiresAt = connection.tokens.expiresAt, expiresAt > clock.now() { return connection.tokens.accessToken }
            throw Failure.unavailable(reason)
        }
    }
}

extension TokenService {
    /// Stores a refreshed pair under the lease. A provider that rotates refresh tokens has already revoked the old pair,
    /// so these are the only working tokens there are: when the database is briefly unreachable (a restart, a failover)
    /// the write is tried again, every half second, for as long as the lease lasts, rather than losing them.
    func storeRefreshed(_ grant: TokenGrant, connectionID: String, keepRefreshToken: String?) async throws -> Bool {
        let deadline = clock.now().addingTimeInterval(RefreshPolicy.leaseDuration)
        while true {
            do {
                return try await store.connections.storeRefreshedTokens(connectionID: connectionID, owner: instanceID, grant: grant,
                                                                        keepRefreshToken: keepRefreshToken, now: clock.now())
            } catch where Database.isUnavailable(error) && clock.now() < deadline {
                logger.warning("storing refreshed tokens failed; the database is unavailable, trying again",
                               metadata: ["connection": "\(connectionID)", "error.type": "\(type(of: error))"])
                try await clock.sleep(for: .milliseconds(500))
            }
        }
    }

    /// Releases this instance's refresh lease, trying again every half second while the database is unreachable, for as
    /// long as the lease would last anyway.
    func releaseLease(connectionID: String) async {
        do {
            try await store.connections.releaseRefreshLease(connectionID: connectionID, owner: instanceID)
        } catch where Database.isUnavailable(error) {
            let until = clock.now().addingTimeInterval(RefreshPolicy.leaseDuration)
            leaseReleases.withLock { $0[connectionID] = until }
        } catch {
            logger.warning("releasing a refresh lease failed", metadata: ["connection": "\(connectionID)", "error.type": "\(type(of: error))"])
        }
    }

    /// Tries again the lease releases the database refused (the outbox service calls it each round); one that would
    /// have lapsed by now is forgotten.
    func retryLeaseReleases() async {
        let now = clock.now()
        let due = leaseReleases.withLock { pending in
            pending = pending.filter { $0.value > now }
            return Array(pending.keys)
        }
        for connectionID in due {
            do {
                try await store.connections.releaseRefreshLease(connectionID: connectionID, owner: instanceID)
                _ = leaseReleases.withLock { $0.removeValue(forKey: connectionID) }
            } catch where Database.isUnavailable(error) {
                return
            } catch {
                _ = leaseReleases.withLock { $0.removeValue(forKey: connectionID) }
                logger.warning("releasing a refresh lease failed", metadata: ["connection": "\(connectionID)", "error.type": "\(type(of: error))"])
            }
        }
    }

    /// A token for `connection`, or the problem a caller answers when none can be had.
    func accessTokenOrProblem(for connection: Connection, app: OAuthApp, providerTitle: String) async throws -> String {
        do {
            return try await accessToken(for: connection, app: app)
        } catch .needsReauthorization(let why) {
            throw Problem.conflict("reauthorization_required", "The stored authorization no longer works (\(why)). Authorize the integration again.")
        } catch .unavailable(let why) {
            throw Problem(status: 503, code: "provider_unavailable", title: "Provider unavailable",
                          detail: "\(providerTitle) could not be reached (\(why)). Try again shortly.")
        } catch .databaseUnavailable {
            throw Problem.databaseUnavailable
        }
    }
}

/// Concurrent callers with the same key share one running task and its result.
actor SingleFlight<Key: Hashable & Sendable, Value: Sendable> {
    private var running: [Key: Task<Value, any Error>] = [:]

    func run(key: Key, _ operation: @escaping @Sendable () async throws -> Value) async throws -> Value {
        if let task = running[key] { return try await task.value }
        let task = Task { try await operation() }
        running[key] = task
        defer { running[key] = nil }
        return try await task.value
    }
}
