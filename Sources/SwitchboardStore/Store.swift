public import Foundation
public import Logging
import SQLKit
public import SwitchboardCore

/// Switchboard's persistence: one query layer over SQLite or PostgreSQL, with secrets sealed by the vault.
///
/// Every read that takes a workspace id filters by it, so another workspace's object is
/// indistinguishable from a missing one.
public final class Store: Sendable {
    public let database: Database
    public let vault: TokenVault
    let logger: Logger
    /// Reads repeated by every action call; every write below forgets them (`defer { hot.invalidate() }`).
    let hot = HotReads()
    let runBuffer = RunBuffer()
    let keyUseThrottle = KeyUseThrottle()
    /// What the run buffer waits on before it flushes (tests move a manual one).
    let clock: any WallClock

    public init(database: Database, vault: TokenVault, logger: Logger, clock: any WallClock = SystemWallClock()) {
        self.database = database
        self.vault = vault
        self.logger = logger
        self.clock = clock
    }

    /// Applies pending migrations; returns the versions applied now.
    @discardableResult
    public func migrate() async throws -> [Int] {
        try await Migrations.run(on: database, logger: logger)
    }

    public func shutdown() async {
        await flushRuns()
        await database.shutdown()
    }

    /// `integration(id:workspaceID:)` and `connection(integrationID:endUserID:)` (and `cachedKey(forAPIKey:now:)`), remembered
    /// for a second (see `HotReads`): for the action path, where the same key, integration and connection recur.
    public func cachedIntegration(id: String, workspaceID: String) async throws -> IntegrationRecord? {
        try await hot.value("integration:\(workspaceID):\(id)") { try await integration(id: id, workspaceID: workspaceID) }
    }

    public func cachedConnection(integrationID: String, endUserID: String) async throws -> Connection? {
        try await hot.value("connection:\(integrationID):\(endUserID)") { try await connection(integrationID: integrationID, endUserID: endUserID) }
    }

    static func json<T: Encodable>(_ value: T) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return String(decoding: (try? encoder.encode(value)) ?? Data("null".utf8), as: UTF8.self)
    }

    static func decodeJSON<T: Decodable>(_ text: String, as type: T.Type, default value: T) -> T {
        (try? JSONDecoder().decode(T.self, from: Data(text.utf8))) ?? value
    }
}

// MARK: - Workspaces and admin API keys

struct WorkspaceRow: Codable {
    var id: String
    var name: String
    var created_at: Int64
    var model: Workspace { Workspace(id: id, name: name, createdAt: Date(unixSeconds: created_at)) }
}

extension Store {
    /// The workspace named `name`, created if it does not exist yet.
    public func workspace(named name: String, createIfMissing: Bool, now: Date = Date()) async throws -> Workspace? {
        defer { hot.invalidate() }
        return try await database.transaction { db in
            if let row = try await db.select().columns("*").from("workspaces").where("name", .equal, name).first(decoding: WorkspaceRow.self) {
                return row.model
            }
            guard createIfMissing else { return nil }
            let row = WorkspaceRow(id: Identifier.make("ws"), name: name, created_at: now.unixSeconds)
            try await db.insert(into: "workspaces").model(row).run()
            return row.model
        }
    }
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

extension Store {
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

    public func insert(_ profile: AuthProfile) async throws {
        defer { hot.invalidate() }
        let row = try row(for: profile)
        try await database.withConnection { db in try await db.insert(into: "auth_profiles").model(row).run() }
    }

    /// Replaces every column of an existing profile; false when it is not in that workspace.
    @discardableResult
    public func update(_ profile: AuthProfile) async throws -> Bool {
        try await update(profile, markingConnections: nil, now: Date()).updated
    }

    /// Updates a profile and, in the same transaction, marks every connection made through it as needing a new
    /// authorization when `reason` is given: no refresh can read the new endpoints with a connection still active.
    public func update(_ profile: AuthProfile, markingConnections reason: String?, now: Date) async throws -> (updated: Bool, marked: Int) {
        defer { hot.invalidate() }
        let row = try row(for: profile)
        return try await database.transaction { db in
            let updated = try await db.update("auth_profiles")
                .set(model: row, nilEncodingStrategy: .asNil)
                .where("id", .equal, profile.id).where("workspace_id", .equal, profile.workspaceID)
                .returning("id").first() != nil
            guard updated, let reason else { return (updated, 0) }
            return (true, try await Store.markConnectionsNeedReauthorization(db, profileID: profile.id, workspaceID: profile.workspaceID,
                                                                             reason: reason, now: now))
        }
    }

    public func authProfile(id: String, workspaceID: String) async throws -> AuthProfile? {
        let row = try await database.withConnection { db in
            try await db.select().columns("*").from("auth_profiles")
                .where("id", .equal, id).where("workspace_id", .equal, workspaceID)
                .first(decoding: AuthProfileRow.self)
        }
        return try row.map(model)
    }

    public func authProfiles(workspaceID: String) async throws -> [AuthProfile] {
        let rows = try await database.withConnection { db in
            try await db.select().columns("*").from("auth_profiles").where("workspace_id", .equal, workspaceID)
                .orderBy("created_at").orderBy("id").all(decoding: AuthProfileRow.self)
        }
        return try rows.map(model)
    }

    public enum DeleteOutcome: Sendable, Equatable {
        case deleted
        case notFound
        case inUse(integrationIDs: [String])
    }

    /// Deletes a profile unless an integration still uses it.
    public func deleteAuthProfile(id: String, workspaceID: String) async throws -> DeleteOutcome {
        defer { hot.invalidate() }
        return try await database.transaction { db in
            let users = try await db.select().column("id").from("integrations")
                .where("auth_profile_id", .equal, id).where("workspace_id", .equal, workspaceID)
                .all().map { try $0.decode(column: "id", as: String.self) }
            if !users.isEmpty { return .inUse(integrationIDs: users) }
            let deleted = try await db.delete(from: "auth_profiles")
                .where("id", .equal, id).where("workspace_id", .equal, workspaceID)
                .returning("id").first()
            return deleted == nil ? .notFound : .deleted
        }
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

extension Store {
    public func insert(_ integration: Integration) async throws {
        defer { hot.invalidate() }
        let row = IntegrationRow(integration)
        try await database.withConnection { db in try await db.insert(into: "integrations").model(row).run() }
    }

    @discardableResult
    public func update(_ integration: Integration) async throws -> Bool {
        defer { hot.invalidate() }
        let row = IntegrationRow(integration)
        return try await database.withConnection { db in
            try await db.update("integrations").set(model: row, nilEncodingStrategy: .asNil)
                .where("id", .equal, integration.id).where("workspace_id", .equal, integration.workspaceID)
                .returning("id").first() != nil
        }
    }

    public func integration(id: String, workspaceID: String) async throws -> IntegrationRecord? {
        try await integrations(workspaceID: workspaceID, id: id).first
    }

    /// An integration by id alone, for the OAuth callback, which has no API key.
    public func integration(id: String) async throws -> IntegrationRecord? {
        try await integrations(workspaceID: nil, id: id).first
    }

    public func integrations(workspaceID: String) async throws -> [IntegrationRecord] {
        try await integrations(workspaceID: workspaceID, id: nil)
    }

    private func integrations(workspaceID: String?, id: String?) async throws -> [IntegrationRecord] {
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

    /// Deletes an integration and, by cascade, every connection and authorization request under it.
    public func deleteIntegration(id: String, workspaceID: String) async throws -> Bool {
        defer { hot.invalidate() }
        return try await database.transaction { db in
            // Explicit deletes keep the guarantee even where a driver runs with foreign keys off.
            try await db.delete(from: "connections").where("integration_id", .equal, id).where("workspace_id", .equal, workspaceID).run()
            try await db.delete(from: "authorization_requests").where("integration_id", .equal, id).where("workspace_id", .equal, workspaceID).run()
            return try await db.delete(from: "integrations").where("id", .equal, id).where("workspace_id", .equal, workspaceID)
                .returning("id").first() != nil
        }
    }
}
