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

    /// How long an instance may go on accepting a key revoked by another process (its one-second read cache).
    public static let keyCacheLifetime: Duration = HotReads.lifetime

    /// The actor recorded for changes made from the command line (`keys`, `rotate-master`).
    public static let operatorActor = "operator"

    /// Idempotency records live a day; afterwards the key may be used again.
    public static let idempotencyLifetime: TimeInterval = 86_400

    /// How long finished records are kept: expired links and authorization requests a day (so a late visitor is told
    /// "expired" rather than "not valid"), settled events thirty days (the delivery log).
    public static let expiredRetention: TimeInterval = 86_400

    public static let eventRetention: TimeInterval = 30 * 86_400

    /// Re-seals every secret under `newVault`'s key, in one transaction. Returns how many values were re-sealed.
    ///
    /// `self.vault` must be able to open every stored value (the current key, plus any previous ones).
    public func resealAll(with newVault: TokenVault) async throws -> Int {
        defer { hot.invalidate() }
        return try await database.transaction { db in
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
        return try await database.withConnection { db in
            var removed = 0
            let deletions: [(table: String, build: (SQLDeleteBuilder) -> SQLDeleteBuilder)] = [
                ("pending_actions", { $0.where("expires_at", .lessThan, now.unixSeconds) }),
                ("authorization_requests", { $0.where("expires_at", .lessThan, expired) }),
                ("connect_links", { $0.where("expires_at", .lessThan, expired) }),
                ("used_confirmations", { $0.where("expires_at", .lessThan, now.unixSeconds) }),
                ("console_sessions", { $0.where("expires_at", .lessThan, now.unixSeconds) }),
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

/// What deleting a profile did.
public enum DeleteOutcome: Sendable, Equatable {
    case deleted
    case notFound
    case inUse(integrationIDs: [String])
}

// MARK: - Workspaces and admin API keys

struct WorkspaceRow: Codable {
    var id: String
    var name: String
    var created_at: Int64
    var model: Workspace { Workspace(id: id, name: name, createdAt: Date(unixSeconds: created_at)) }
}

// MARK: - Authorization profiles

struct AuthProfileRow: Codable {
    var id: String
    var workspace_id: String
    var name: String
    var description: String?
    var client_id: String
    var client_secret_sealed: String
    var authorization_url: String
    var token_url: String
    var refresh_token_url: String?
    var scopes: String
    var pkce: Int
    var token_request_format: String
    var exchange_style: String
    var authorization_parameters: String
    var fields: String
    var created_at: Int64
    var updated_at: Int64
}

extension SQLRepository {
    static func secretContext(profileID: String) -> String { "auth_profiles:\(profileID):client_secret" }

    func row(for profile: AuthProfile) throws -> AuthProfileRow {
        AuthProfileRow(
            id: profile.id, workspace_id: profile.workspaceID, name: profile.name, description: profile.description,
            client_id: profile.clientID,
            client_secret_sealed: try vault.seal(profile.clientSecret, context: Store.secretContext(profileID: profile.id)),
            authorization_url: profile.authorizationURL, token_url: profile.tokenURL, refresh_token_url: profile.refreshTokenURL,
            scopes: Store.json(profile.scopes), pkce: profile.pkce ? 1 : 0,
            token_request_format: profile.tokenRequestFormat.rawValue, exchange_style: profile.exchangeStyle.rawValue,
            authorization_parameters: Store.json(profile.authorizationParameters), fields: Store.json(profile.fields),
            created_at: profile.createdAt.unixSeconds, updated_at: profile.updatedAt.unixSeconds
        )
    }

    func model(_ row: AuthProfileRow) throws -> AuthProfile {
        AuthProfile(
            id: row.id, workspaceID: row.workspace_id, name: row.name, description: row.description, clientID: row.client_id,
            clientSecret: try vault.open(row.client_secret_sealed, context: Store.secretContext(profileID: row.id)),
            authorizationURL: row.authorization_url, tokenURL: row.token_url, refreshTokenURL: row.refresh_token_url,
            scopes: Store.decodeJSON(row.scopes, as: [String].self, default: []), pkce: row.pkce != 0,
            tokenRequestFormat: TokenRequestFormat(rawValue: row.token_request_format) ?? .form,
            exchangeStyle: TokenExchangeStyle(rawValue: row.exchange_style) ?? .standard,
            authorizationParameters: Store.decodeJSON(row.authorization_parameters, as: [String: String].self, default: [:]),
            fields: Store.decodeJSON(row.fields, as: [String: String].self, default: [:]),
            createdAt: Date(unixSeconds: row.created_at), updatedAt: Date(unixSeconds: row.updated_at)
        )
    }
}

// MARK: - Integrations

struct IntegrationRow: Codable {
    var id: String
    var workspace_id: String
    var name: String
    var provider: String
    var app: String
    var auth_profile_id: String?
    var authorization_mode: String
    var region: String?
    var notify_url: String?
    var verify_url: String?
    var enablement: String
    var created_at: Int64
    var updated_at: Int64

    init(_ integration: Integration) {
        id = integration.id
        workspace_id = integration.workspaceID
        name = integration.name
        provider = integration.provider.rawValue
        app = integration.app.rawValue
        auth_profile_id = integration.authProfileID
        authorization_mode = integration.authorization.rawValue
        region = integration.region
        notify_url = integration.notifyURL
        verify_url = integration.verifyURL
        enablement = integration.enablement.rawValue
        created_at = integration.createdAt.unixSeconds
        updated_at = integration.updatedAt.unixSeconds
    }

    var model: Integration {
        Integration(
            id: id, workspaceID: workspace_id, name: name, provider: Provider(rawValue: provider),
            app: AppKind(rawValue: app) ?? .system, authProfileID: auth_profile_id,
            authorization: AuthorizationMode(rawValue: authorization_mode) ?? .preauthorized,
            region: region, notifyURL: notify_url,
            enablement: Enablement(rawValue: enablement) ?? .never,
            createdAt: Date(unixSeconds: created_at), updatedAt: Date(unixSeconds: updated_at), verifyURL: verify_url
        )
    }
}

/// An integration with the state of its shared connection, which its status derives from.
public struct IntegrationRecord: Sendable, Equatable {
    public var integration: Integration
    public var sharedConnectionStatus: ConnectionStatus?
    public var status: IntegrationStatus { integration.status(sharedConnection: sharedConnectionStatus) }

    public init(integration: Integration, sharedConnectionStatus: ConnectionStatus?) {
        self.integration = integration
        self.sharedConnectionStatus = sharedConnectionStatus
    }
}

extension SQLRepository {
    @discardableResult

    func integrations(workspaceID: String?, id: String?) async throws -> [IntegrationRecord] {
        try await database.withConnection { db in
            var query = db.select().columns("*").from("integrations")
            if let workspaceID { query = query.where("workspace_id", .equal, workspaceID) }
            if let id { query = query.where("id", .equal, id) }
            let rows = try await query.orderBy("created_at").orderBy("id").all(decoding: IntegrationRow.self)
            guard !rows.isEmpty else { return [] }
            let statuses = try await db.select().columns("integration_id", "status").from("connections")
                .where("integration_id", .in, rows.map(\.id))
                .where("end_user_id", .equal, Connection.sharedUser)
                .all()
            var byIntegration: [String: ConnectionStatus] = [:]
            for row in statuses {
                byIntegration[try row.decode(column: "integration_id", as: String.self)] =
                    ConnectionStatus(rawValue: try row.decode(column: "status", as: String.self))
            }
            return rows.map { IntegrationRecord(integration: $0.model, sharedConnectionStatus: byIntegration[$0.id]) }
        }
    }
}
