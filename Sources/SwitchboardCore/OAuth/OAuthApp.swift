public import Foundation

/// How the token endpoint wants its requests. A provider's definition names its style; a profile may set its own.
public enum TokenExchangeStyle: String, Sendable, Codable, CaseIterable {
    /// The pre-RFC style Intercom uses (the raw value is its name, as stored and shown): `code`, `client_id`,
    /// `client_secret`; no `grant_type`, no `redirect_uri`, no `response_type`.
    case intercom
    /// RFC 6749: `grant_type`, `redirect_uri`, optional PKCE `code_verifier`, refresh tokens.
    case standard
}

public enum TokenRequestFormat: String, Sendable, Codable, CaseIterable {
    case form
    case json
}

/// A resolved OAuth client: the system app or a workspace's profile, with templates already filled.
public struct OAuthApp: Sendable, Equatable {
    public var clientID: String
    public var clientSecret: String
    public var authorizationURL: String
    public var tokenURL: String
    public var refreshTokenURL: String
    public var scopes: [String]
    public var pkce: Bool
    public var tokenRequestFormat: TokenRequestFormat
    public var exchangeStyle: TokenExchangeStyle
    public var authorizationParameters: [String: String]
    /// Who chose the token endpoints: a profile's are workspace-supplied and held to the outbound address rules.
    public var destination: OutboundDestination
    /// Where the token endpoint's answers keep what RFC 6749 names (the provider's definition says).
    public var tokenAnswer: TokenAnswerShape = .rfc6749

    public init(
        clientID: String, clientSecret: String, authorizationURL: String, tokenURL: String, refreshTokenURL: String? = nil,
        scopes: [String] = [], pkce: Bool = false, tokenRequestFormat: TokenRequestFormat = .form,
        exchangeStyle: TokenExchangeStyle = .standard, authorizationParameters: [String: String] = [:], destination: OutboundDestination = .operatorSet
    ) {
        self.clientID = clientID
        self.clientSecret = clientSecret
        self.authorizationURL = authorizationURL
        self.tokenURL = tokenURL
        self.refreshTokenURL = refreshTokenURL ?? tokenURL
        self.scopes = scopes
        self.pkce = pkce
        self.tokenRequestFormat = tokenRequestFormat
        self.exchangeStyle = exchangeStyle
        self.authorizationParameters = authorizationParameters
        self.destination = destination
    }
}

/// Parameters Switchboard owns in an authorization URL; a pasted URL's values for them are replaced.
public let reservedAuthorizationParameters: Set<String> = [
    "client_id", "state", "redirect_uri", "response_type", "code_challenge", "code_challenge_method", "scope",
]

extension OAuthApp {
    /// The URL the browser is sent to.
    ///
    /// The guide has users paste Intercom's example URL with `client_id=****&state=****`; those values
    /// are overwritten here, so a pasted placeholder or a fixed "random phrase" never becomes the state.
    public func authorizationRequestURL(state: String, redirectURI: String, pkce: PKCE?) -> URL? {
        guard var components = URLComponents(string: authorizationURL) else { return nil }
        var items = (components.queryItems ?? []).filter { !reservedAuthorizationParameters.contains($0.name) }
        let extra = authorizationParameters.filter { !reservedAuthorizationParameters.contains($0.key) }
        items.removeAll { extra[$0.name] != nil }
        items += extra.sorted { $0.key < $1.key }.map { URLQueryItem(name: $0.key, value: $0.value) }
        items.append(URLQueryItem(name: "client_id", value: clientID))
        if exchangeStyle == .standard { items.append(URLQueryItem(name: "response_type", value: "code")) }
        items.append(URLQueryItem(name: "redirect_uri", value: redirectURI))
        items.append(URLQueryItem(name: "state", value: state))
        if !scopes.isEmpty { items.append(URLQueryItem(name: "scope", value: scopes.joined(separator: " "))) }
        if let pkce {
            items.append(URLQueryItem(name: "code_challenge", value: pkce.challenge))
            items.append(URLQueryItem(name: "code_challenge_method", value: PKCE.method))
        }
        components.percentEncodedQuery = items.map { item in
            "\(FormEncoding.escape(item.name))=\(FormEncoding.escape(item.value ?? ""))"
        }.joined(separator: "&")
        return components.url
    }

    /// The request that trades an authorization code for tokens.
    public func codeExchangeRequest(code: String, redirectURI: String, codeVerifier: String?) -> OutboundRequest? {
        var fields: [(String, String)]
        switch exchangeStyle {
        case .intercom:
            fields = [("code", code), ("client_id", clientID), ("client_secret", clientSecret)]
        case .standard:
            fields = [("grant_type", "authorization_code"), ("code", code), ("redirect_uri", redirectURI),
                      ("client_id", clientID), ("client_secret", clientSecret)]
            if let codeVerifier { fields.append(("code_verifier", codeVerifier)) }
        }
        return tokenRequest(url: tokenURL, fields: fields)
    }

    /// The request that trades a refresh token for a new access token (RFC 6749 §6).
    public func refreshRequest(refreshToken: String) -> OutboundRequest? {
        var fields = [("grant_type", "refresh_token"), ("refresh_token", refreshToken),
                      ("client_id", clientID), ("client_secret", clientSecret)]
        if !scopes.isEmpty { fields.append(("scope", scopes.joined(separator: " "))) }
        return tokenRequest(url: refreshTokenURL, fields: fields)
    }

    private func tokenRequest(url: String, fields: [(String, String)]) -> OutboundRequest? {
        guard let url = URL(string: url) else { return nil }
        let body: Data
        let contentType: String
        switch tokenRequestFormat {
        case .form:
            body = Data(FormEncoding.encode(fields).utf8)
            contentType = "application/x-www-form-urlencoded"
        case .json:
            var object: [String: JSONValue] = [:]
            for (name, value) in fields { object[name] = .string(value) }
            body = (try? JSONEncoder().encode(JSONValue.object(object))) ?? Data()
            contentType = "application/json"
        }
        return OutboundRequest(
            method: "POST", url: url,
            headers: [("Content-Type", contentType), ("Accept", "application/json")],
            body: body, destination: destination
        )
    }
}
