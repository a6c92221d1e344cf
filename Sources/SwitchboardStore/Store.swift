public import Foundation
public import Logging
import SQLKit
public import SwitchboardCore

/// Switchboard's persistence: one repository per aggregate over one database (SQLite or PostgreSQL), with secrets
/// sealed by the vault. Each repository is a `Sendable` protocol with its SQL implementation; the store holds them,
/// and the maintenance that spans them (migrations, pruning, re-sealing under a new master key, shutdown).
///
/// Every read that takes a workspace id filters by it, so another workspace's object is
/// indistinguishable from a missing one.
public final class Store: Sendable, SQLRepository {
    public let database: Database
    public let vault: TokenVault
    let shared: StoreShared

    public let workspaces: any WorkspaceRepository
    public let profiles: any ProfileRepository
    public let integrations: any IntegrationRepository
    public let connections: any ConnectionRepository
    public let authorizations: any AuthorizationRepository
    public let events: any EventRepository
    public let runs: any RunRepository
    public let idempotency: any IdempotencyRepository
    public let audit: any AuditRepository
    public let agentTokens: any AgentTokenRepository
    public let agentSessions: any AgentSessionRepository
    public let outbox: any OutboxRepository

    public init(database: Database, vault: TokenVault, logger: Logger, clock: any WallClock = SystemWallClock()) {
        self.database = database
        self.vault = vault
        let shared = StoreShared(database: database, vault: vault, logger: logger, clock: clock)
        self.shared = shared
        workspaces = SQLWorkspaceRepository(shared: shared)
        profiles = SQLProfileRepository(shared: shared)
        integrations = SQLIntegrationRepository(shared: shared)
        connections = SQLConnectionRepository(shared: shared)
        authorizations = SQLAuthorizationRepository(shared: shared)
        events = SQLEventRepository(shared: shared)
        runs = SQLRunRepository(shared: shared)
        idempotency = SQLIdempotencyRepository(shared: shared)
        audit = SQLAuditRepository(shared: shared)
        agentTokens = SQLAgentTokenRepository(shared: shared)
        agentSessions = SQLAgentSessionRepository(shared: shared)
        outbox = SQLOutboxRepository(shared: shared)
    }

    /// Applies pending migrations; returns the versions applied now.
    @discardableResult
    public func migrate() async throws -> [Int] {
        try await Migrations.run(on: database, logger: logger)
    }

    /// Writes the runs still buffered, then closes the database pools.
    public func shutdown() async {
        await runs.flushRuns()
        await database.shutdown()
    }

    /// What an operator watches, read when `/metrics` is scraped: connections by status, across every workspace, and
    /// when the oldest event still waiting to be delivered was recorded.
    public func operatorFigures() async throws -> (connections: [String: Int], oldestUndeliveredEvent: Date?) {
        try await database.read { db in
            var connections: [String: Int] = [:]
            for row in try await db.select().column("status").column(SQLFunction("COUNT", args: SQLLiteral.all), as: "n")
                .from("connections").groupBy("status").all() {
                connections[try row.decode(column: "status", as: String.self)] = try row.decode(column: "n", as: Int.self)
            }
            let oldest = try await db.select().column(SQLFunction("MIN", args: SQLIdentifier("created_at")), as: "oldest")
                .from("events").where("status", .equal, EventStatus.pending.rawValue).first()
            let seconds = try oldest?.decode(column: "oldest", as: Int64?.self)
            return (connections, seconds.map(Date.init(unixSeconds:)))
        }
    }

    /// How long an instance may go on accepting a key revoked by another process (its one-second read cache).
    public static let keyCacheLifetime: Duration = HotReads.lifetime

    /// The actor recorded for changes made from the command line (`keys`, `rotate-master`).
    public static let operatorActor = "operator"

    /// Idempotency records live a day; afterwards the key may be used again.
    public static let idempotencyLifetime: TimeInterval = 86_400
    /// How long a claimed key stays "in progress" without an outcome: past it, the instance that claimed it is taken to
    /// have died and the key may be claimed again. Longer than a write can run (the provider's timeout on each of three
    /// tries, a refresh waited for, a 429 waited out, one retry after a 401).
    public static let idempotencyLease: TimeInterval = 300
    /// MCP sessions an agent token keeps (each `initialize` opens one); past it, the longest idle ends.
    public static let sessionsPerAgentToken = 100

    /// How long finished records are kept: expired links and authorization requests a day (so a late visitor is told
    /// "expired" rather than "not valid"), settled events thirty days (the delivery log).
    public static let expiredRetention: TimeInterval = 86_400

    public static let eventRetention: TimeInterval = 30 * 86_400
    /// How long an MCP session may stay unused before it is pruned (its client then initializes again).
    public static let agentSessionIdleLifetime: TimeInterval = 86_400

    /// Re-seals every secret under `newVault`'s key, in one transaction. Returns how many values were re-sealed.
    ///
    /// `self.vault` must be able to open every stored value (the current key, plus any previous ones).
    public func resealAll(with newVault: TokenVault) async throws -> Int {
        defer { hot.invalidate() }
        return try await database.transaction(limit: nil) { db in
            var count = 0
            let columns: [(table: String, column: String, contextColumn: String)] = [
                ("auth_profiles", "client_secret_sealed", "client_secret"),
                ("connections", "access_token_sealed", "access_token"),
                ("connections", "refresh_token_sealed", "refresh_token"),
                ("authorization_requests", "pkce_verifier_sealed", "pkce_verifier"),
                ("idempotency_keys", "outcome_sealed", "outcome"),
                ("integrations", "signing_secret_sealed", "signing_secret"),
                ("events", "payload_sealed", "payload"),
                ("pending_actions", "input_sealed", "input"),
                ("connect_links", "token_sealed", "token"),
            ]
            for (table, column, contextColumn) in columns {
                let rows = try await db.select().columns("id", column).from(table).where(SQLColumn(column), .isNot, SQLLiteral.null).all()
                for row in rows {
                    let id = try row.decode(column: "id", as: String.self)
                    let sealed = try row.decode(column: column, as: String.self)
                    let context = "\(table):\(id):\(contextColumn)"
                    let plaintext = try self.vault.open(sealed, context: context)
                    // Only if no running instance changed the value meanwhile (a rotated refresh token must not be
                    // overwritten by the older one); a value written meanwhile is re-sealed by running this again.
                    try await db.update(table).set(SQLColumn(column), to: try newVault.seal(plaintext, context: context))
                        .where("id", .equal, id).where(SQLColumn(column), .equal, SQLBind(sealed)).run()
                    count += 1
                }
            }
            return count
        }
    }

    @discardableResult
    public func pruneExpired(now: Date) async throws -> Int {
        let expired = now.addingTimeInterval(-Store.expiredRetention).unixSeconds
        return try await database.write { db in
            var removed = 0
            let deletions: [(table: String, build: (SQLDeleteBuilder) -> SQLDeleteBuilder)] = [
                ("pending_actions", { $0.where("expires_at", .lessThan, now.unixSeconds) }),
                ("authorization_requests", { $0.where("expires_at", .lessThan, expired) }),
                ("connect_links", { $0.where("expires_at", .lessThan, expired) }),
                ("used_confirmations", { $0.where("expires_at", .lessThan, now.unixSeconds) }),
                ("console_sessions", { $0.where("expires_at", .lessThan, now.unixSeconds) }),
                ("mcp_sessions", { $0.where("last_seen_at", .lessThan, now.addingTimeInterval(-Store.agentSessionIdleLifetime).unixSeconds) }),
                ("mcp_elicitations", { $0.where("expires_at", .lessThan, now.unixSeconds) }),
                ("events", { $0.where("status", .notEqual, EventStatus.pending.rawValue)
                    .where("created_at", .lessThan, now.addingTimeInterval(-Store.eventRetention).unixSeconds) }),
            ]
            for deletion in deletions {
                removed += try await deletion.build(db.delete(from: deletion.table)).returning("id").all().count
            }
            return removed
        }
    }
}

/// What every repository of one store shares: the database, the vault, the one-second read cache (`HotReads`, which
/// every write forgets), the run buffer and the key-use throttle.
final class StoreShared: Sendable {
    let database: Database
    let vault: TokenVault
    let logger: Logger
    /// What the run buffer waits on before it flushes (tests move a manual one).
    let clock: any WallClock
    /// Reads repeated by every action call; every write forgets them (`defer { hot.invalidate() }`).
    let hot = HotReads()
    let runBuffer = RunBuffer()
    let keyUseThrottle = KeyUseThrottle()

    init(database: Database, vault: TokenVault, logger: Logger, clock: any WallClock) {
        self.database = database
        self.vault = vault
        self.logger = logger
        self.clock = clock
    }
}

/// A repository over the shared database: the helpers every SQL implementation uses.
protocol SQLRepository: Sendable {
    var shared: StoreShared { get }
}

extension SQLRepository {
    var database: Database { shared.database }
    var vault: TokenVault { shared.vault }
    var logger: Logger { shared.logger }
    var clock: any WallClock { shared.clock }
    var hot: HotReads { shared.hot }
    var runBuffer: RunBuffer { shared.runBuffer }
    var keyUseThrottle: KeyUseThrottle { shared.keyUseThrottle }

    static func json<T: Encodable>(_ value: T) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return String(decoding: (try? encoder.encode(value)) ?? Data("null".utf8), as: UTF8.self)
    }

    static func decodeJSON<T: Decodable>(_ text: String, as type: T.Type, default value: T) -> T {
        (try? JSONDecoder().decode(T.self, from: Data(text.utf8))) ?? value
    }
}
