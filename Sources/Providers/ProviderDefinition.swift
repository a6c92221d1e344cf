import Foundation
import SwitchboardCore

/// A provider as data: OAuth endpoints, API bases by region, how to identify the account, how to revoke.
public struct ProviderDefinition: Sendable, Decodable {
    public struct OAuth: Sendable, Decodable {
        public var authorizationURL: String
        public var tokenURL: String
        public var exchangeStyle: TokenExchangeStyle
        public var developerHubURL: String?
    }

    public struct API: Sendable, Decodable {
        public var baseURLs: [String: String]
        public var version: String
        public var headers: [String: String]
    }

    /// Where in the identity response the account's facts are (dotted paths).
    public struct Identity: Sendable, Decodable {
        public var method: String
        public var path: String
        public var accountID: String
        public var accountName: String
        public var region: String?
        public var adminID: String?
        public var adminEmail: String?
        public var emailVerified: String?
    }

    public struct Revoke: Sendable, Decodable {
        public var method: String
        public var path: String
    }

    public var name: String
    public var title: String
    public var oauth: OAuth
    public var api: API
    public var identity: Identity
    public var revoke: Revoke?

    /// The bundled definition of `provider`.
    public static func bundled(_ provider: Provider) -> ProviderDefinition {
        guard let url = Bundle.module.url(forResource: provider.rawValue, withExtension: "json", subdirectory: "Definitions"),
              let data = try? Data(contentsOf: url)
        else { fatalError("the \(provider.rawValue) definition is missing from the Providers bundle") }
        do {
            return try JSONDecoder().decode(ProviderDefinition.self, from: data)
        } catch {
            fatalError("the \(provider.rawValue) definition is malformed: \(error)")
        }
    }

    public static let intercom = bundled(.intercom)
}

extension JSONValue {
    /// The value at a dotted path such as `app.id_code`.
    public func value(at path: String) -> JSONValue? {
        var current: JSONValue? = self
        for component in path.split(separator: ".") { current = current?[String(component)] }
        return current
    }
}
