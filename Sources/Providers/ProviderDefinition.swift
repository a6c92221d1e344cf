public import Foundation
public import SwitchboardCore

/// A provider as data: its OAuth endpoints and exchange style, API bases by region, how to identify the account and
/// revoke a token, and the mechanics of its API (version header, error envelope, request ids, rate-limit headers,
/// cursor paging). Read from `Definitions/NAME.json`; a new provider is a new file, not Swift.
public struct ProviderDefinition: Sendable, Decodable {
    public struct OAuth: Sendable, Decodable {
        public var authorizationURL: String
        public var tokenURL: String
        public var exchangeStyle: TokenExchangeStyle
        /// What the token endpoint's answer holds beyond RFC 6749's members.
        public var tokenAnswer: TokenAnswerShape?
        public var developerHubURL: String?
    }

    public struct Header: Sendable, Decodable {
        public var name: String
        public var value: String
    }

    /// The header naming the API version an integration speaks: `value` unless the integration chose one of `allowed`.
    public struct VersionHeader: Sendable, Decodable {
        public var name: String
        /// The version of new integrations, and the one the generated catalog is made from.
        public var value: String
        /// Every version an integration may choose (the default among them); nil: only the default.
        public var allowed: [String]?

        public var versions: [String] { allowed ?? [value] }
    }

    public struct API: Sendable, Decodable {
        /// Region → API base URL.
        public var baseURLs: [String: String]
        /// The region used before the account's own is known.
        public var defaultRegion: String
        /// Other words the identity answer uses for a region ("Europe" → "EU"), lower-cased.
        public var regionNames: [String: String]?
        /// Sent with every API call, so the provider answers in the version the catalog was written for.
        public var versionHeader: VersionHeader?
        public var headers: [String: String]?
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

    /// How the provider reports what went wrong: the value at `path` is one error object or a list of them.
    public struct Errors: Sendable, Decodable {
        public var path: String
        public var code: String
        public var message: String
        public var field: String?

        public init(path: String, code: String, message: String, field: String? = nil) {
            self.path = path
            self.code = code
            self.message = message
            self.field = field
        }
    }

    /// Where a response names the provider's id for the request: a header, or a member of the body.
    public struct RequestID: Sendable, Decodable {
        public var header: String?
        public var bodyField: String?
    }

    /// The rate-limit headers every authenticated response carries, and the window the provider counts in.
    public struct RateLimit: Sendable, Decodable {
        /// The allowance, per `limitPeriodSeconds`.
        public var limitHeader: String?
        public var limitPeriodSeconds: Double
        public var remainingHeader: String
        /// When the current window resets, in Unix seconds.
        public var resetHeader: String
        /// The length of the window the provider counts in.
        public var windowSeconds: Double
    }

    /// Cursor paging: the inputs a paged action's request template reads, and where a page names the next.
    public struct Paging: Sendable, Decodable {
        /// The input that sets one page's size (and the whole call's total, as the caller gives it).
        public var limitParameter: String
        /// The input that carries the cursor of the next page.
        public var cursorParameter: String
        /// Where in a page the next cursor is (dotted path); absent or empty on the last page.
        public var nextCursor: String
        /// The largest page the provider serves.
        public var maxPageSize: Int
        /// The total when the caller gives no limit.
        public var defaultLimit: Int
    }

    public var name: String
    public var title: String
    public var oauth: OAuth
    public var api: API
    public var identity: Identity
    public var revoke: Revoke?
    public var errors: Errors?
    public var requestID: RequestID?
    public var rateLimit: RateLimit?
    public var paging: Paging?

    /// Decodes a definition file.
    public init(file data: Data) throws {
        self = try JSONDecoder().decode(ProviderDefinition.self, from: data)
    }

    /// The bundled definition named `name`.
    static func bundled(_ name: String) -> ProviderDefinition {
        guard let url = Bundle.module.url(forResource: name, withExtension: "json", subdirectory: "Definitions"),
              let data = try? Data(contentsOf: url)
        else { fatalError("the \(name) definition is missing from the Providers bundle") }
        do {
            return try ProviderDefinition(file: data)
        } catch {
            fatalError("the \(name) definition is malformed: \(error)")
        }
    }

    public static let intercom = bundled("intercom")

    /// The region a name from the identity answer stands for ("Europe" → "EU"); nil when it names none.
    public func region(named name: String) -> String? {
        if api.baseURLs[name] != nil { return name }
        let lower = name.lowercased()
        if let region = api.baseURLs.keys.first(where: { $0.lowercased() == lower }) { return region }
        return api.regionNames?[lower]
    }

    /// The headers every API call carries besides the token, naming `version` (nil: the default one).
    public func apiHeaders(version: String?) -> [(name: String, value: String)] {
        var headers = (api.headers ?? [:]).sorted { $0.key < $1.key }.map { (name: $0.key, value: $0.value) }
        if let header = api.versionHeader { headers.append((header.name, version ?? header.value)) }
        return headers
    }

    /// The API versions an integration may choose, the default first; empty when the provider names none.
    public var apiVersions: (default: String, allowed: [String])? {
        api.versionHeader.map { ($0.value, $0.versions) }
    }

    /// The first error of an answer: its code, message and field, as the envelope places them.
    public func firstError(in body: JSONValue?) -> (code: String?, message: String?, field: String?) {
        guard let error = self.errorList(in: body).first else { return (nil, nil, nil) }
        return error
    }

    /// Every error of an answer.
    public func errorList(in body: JSONValue?) -> [(code: String?, message: String?, field: String?)] {
        guard let errors, let value = body?.value(at: errors.path) else { return [] }
        let items = value.arrayValue ?? [value]
        return items.compactMap { item in
            guard case .object = item else {
                // `{"error": "not_found", "error_description": …}`: the value at the path is the code itself, and
                // the message and field are the answer's own members.
                return item.stringValue.map { ($0, body?.value(at: errors.message)?.stringValue, errors.field.flatMap { body?.value(at: $0)?.stringValue }) }
            }
            return (item.value(at: errors.code)?.stringValue, item.value(at: errors.message)?.stringValue,
                    errors.field.flatMap { item.value(at: $0)?.stringValue })
        }
    }

    /// The provider's id for the request a response answers.
    public func requestID(of response: OutboundResponse, body: JSONValue?) -> String? {
        if let field = requestID?.bodyField, let id = body?.value(at: field)?.stringValue { return id }
        return requestID?.header.flatMap(response.header)
    }
}

extension JSONValue {
    /// The value at a dotted path such as `app.id_code`.
    public func value(at path: String) -> JSONValue? {
        var current: JSONValue? = self
        for component in path.split(separator: ".") { current = current?[String(component)] }
        return current
    }
}
