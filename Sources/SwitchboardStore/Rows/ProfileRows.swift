import Foundation
import SQLKit
import SwitchboardCore

// MARK: - Authorization profiles: rows and the helpers that read and write them

/// What deleting a profile did.
public enum DeleteOutcome: Sendable, Equatable {
    case deleted
    case notFound
    case inUse(integrationIDs: [String])
}

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

