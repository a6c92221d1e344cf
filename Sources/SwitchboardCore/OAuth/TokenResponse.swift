public import Foundation

/// Tokens as a token endpoint granted them.
public struct TokenGrant: Sendable, Equatable {
    public var accessToken: String
    public var refreshToken: String?
    public var tokenType: String
    public var expiresAt: Date?
    public var scope: String?
    /// When the provider issued it (when its answer arrived): with `expiresAt`, its lifetime.
    public var issuedAt: Date?

    public init(accessToken: String, refreshToken: String? = nil, tokenType: String = "Bearer", expiresAt: Date? = nil, scope: String? = nil,
                issuedAt: Date? = nil) {
        self.accessToken = accessToken
        self.refreshToken = refreshToken
        self.tokenType = tokenType
        self.expiresAt = expiresAt
        self.scope = scope
        self.issuedAt = issuedAt
    }
}

/// Why a token endpoint did not grant tokens.
public enum TokenEndpointError: Error, Sendable, Equatable {
    /// The grant is dead (RFC 6749 `invalid_grant`, or a provider's refusal of a used code): only a new authorization helps.
    case permanent(code: String, description: String)
    /// The provider or the network failed; trying later may work.
    case transient(description: String)
    /// The client itself is misconfigured (`invalid_client`, `unauthorized_client`): an admin must fix the app.
    case misconfigured(code: String, description: String)

    public var summary: String {
        switch self {
        case .permanent(let code, let description): "\(code): \(description)"
        case .transient(let description): description
        case .misconfigured(let code, let description): "\(code): \(description)"
        }
    }
}

/// Where a token endpoint's answer keeps what RFC 6749 §5 names, for providers that differ: other members holding the
/// access token, and a list of `{code, message}` errors instead of `error` / `error_description`. A provider's
/// definition gives its own; the default is RFC 6749's alone.
public struct TokenAnswerShape: Sendable, Equatable, Decodable {
    /// Members that hold the access token, first found wins.
    public var accessToken: [String]
    /// A member holding a list of error objects, and the members of each that hold the code and message.
    public var errorList: String?
    public var errorCode: String?
    public var errorMessage: String?

    public init(accessToken: [String] = ["access_token"], errorList: String? = nil, errorCode: String? = nil, errorMessage: String? = nil) {
        self.accessToken = accessToken
        self.errorList = errorList
        self.errorCode = errorCode
        self.errorMessage = errorMessage
    }

    public static let rfc6749 = TokenAnswerShape()
}

public enum TokenResponse {
    /// Interprets a token endpoint's answer: `{access_token, token_type, expires_in, refresh_token, scope}`
    /// (RFC 6749 §5.1), form or JSON, with the members `shape` adds.
    public static func parse(_ response: OutboundResponse, now: Date, shape: TokenAnswerShape = .rfc6749) -> Result<TokenGrant, TokenEndpointError> {
        let fields = fields(of: response)
        if (200..<300).contains(response.status) {
            guard let access = shape.accessToken.lazy.compactMap({ fields[$0]?.stringValue }).first, !access.isEmpty else {
                return .failure(.transient(description: "the token endpoint answered \(response.status) without an access token"))
            }
            // Clamped: a lifetime beyond ten years is read as ten years, and nothing non-finite becomes a date.
            let expiresIn = ProviderNumbers.seconds(fields["expires_in"].flatMap { value -> Double? in
                value.numberValue ?? value.stringValue.flatMap(Double.init)
            }, max: 10 * 365 * 86_400)
            let refresh = fields["refresh_token"]?.stringValue
            return .success(TokenGrant(
                accessToken: access,
                refreshToken: refresh?.isEmpty == false ? refresh : nil,
                tokenType: fields["token_type"]?.stringValue ?? "Bearer",
                expiresAt: expiresIn.flatMap { $0 > 0 ? now.addingTimeInterval($0) : nil },
                scope: fields["scope"]?.stringValue,
                issuedAt: now
            ))
        }
        if (300..<400).contains(response.status) {
            // Redirects are not followed: a token endpoint that moved is a profile to fix, and what it redirects to is not read.
            return .failure(.misconfigured(code: "http_\(response.status)",
                                           description: "the token endpoint answered HTTP \(response.status), a redirect, which is not followed"))
        }
        return .failure(classifyError(status: response.status, fields: fields, shape: shape))
    }

    static func classifyError(status: Int, fields: [String: JSONValue], shape: TokenAnswerShape) -> TokenEndpointError {
        let listed = shape.errorList.flatMap { fields[$0]?.arrayValue?.first }
        let code = fields["error"]?.stringValue
            ?? shape.errorCode.flatMap { listed?[$0]?.stringValue }
            ?? "http_\(status)"
        let description = fields["error_description"]?.stringValue
            ?? shape.errorMessage.flatMap { listed?[$0]?.stringValue }
            ?? fields["message"]?.stringValue
            ?? "the token endpoint answered HTTP \(status)"
        if status >= 500 || status == 429 || status == 408 {
            return .transient(description: "HTTP \(status): \(Problem.clip(description, to: 200))")
        }
        switch code {
        case "invalid_client", "unauthorized_client", "unsupported_grant_type", "invalid_scope", "invalid_request":
            return .misconfigured(code: code, description: Problem.clip(description, to: 200))
        default:
            // invalid_grant, a provider's 401 for a used code, token_revoked, and any other 4xx refusal.
            return .permanent(code: code, description: Problem.clip(description, to: 200))
        }
    }

    static func fields(of response: OutboundResponse) -> [String: JSONValue] {
        if let object = JSONValue.parse(response.body)?.objectValue { return object }
        let text = String(decoding: response.body, as: UTF8.self)
        guard text.contains("=") else { return [:] }
        var result: [String: JSONValue] = [:]
        for (name, value) in FormEncoding.decode(text) { result[name] = .string(value) }
        return result
    }
}
