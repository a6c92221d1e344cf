public import Configuration
public import Crypto
public import Foundation
public import Logging
public import Providers
public import SwitchboardCore
public import SwitchboardStore

/// The deployment's own app at its default provider (Intercom), set once by the operator.
public struct SystemAppSettings: Sendable, Equatable {
    public var clientID: String
    public var clientSecret: String
    public var authorizationURL: String
    public var tokenURL: String

    public init(clientID: String, clientSecret: String, authorizationURL: String, tokenURL: String) {
        self.clientID = clientID
        self.clientSecret = clientSecret
        self.authorizationURL = authorizationURL
        self.tokenURL = tokenURL
    }
}

/// Everything `serve` needs, read once at start-up.
public struct ServerSettings: Sendable {
    public var host: String
    public var port: Int
    /// Callback and connect URLs are built from it.
    public var publicURL: URL
    public var database: DatabaseLocation
    public var masterKey: SymmetricKey
    public var previousMasterKeys: [SymmetricKey]
    public var systemApp: SystemAppSettings?
    /// The operator's API bases, by provider and region, over the definitions' own (a proxy, a sandbox).
    public var apiBaseOverrides: [String: [String: URL]]
    public var logLevel: Logger.Level
    /// Text for a terminal, or one JSON object a line for a log shipper (`serve --log-format json`).
    public var logFormat: LogFormat = .text
    /// How long one call to Intercom may take before it counts as timed out.
    public var intercomTimeout: TimeInterval
    /// How long a connect link works.
    public var connectLinkLifetime: TimeInterval
    /// Lets workspace-supplied URLs (profile token URLs, notify URLs) reach loopback and private addresses and use plain
    /// http. Off in production; `demo` and the tests turn it on, since their Intercom and receivers live on loopback.
    public var allowPrivateNetwork: Bool
    /// Per-workspace bounds on open connect links, kept calls and idempotency records.
    public var limits = WorkspaceLimits()

    public init(
        host: String = "127.0.0.1", port: Int = 8080, publicURL: URL? = nil, database: DatabaseLocation,
        masterKey: SymmetricKey, previousMasterKeys: [SymmetricKey] = [], systemApp: SystemAppSettings? = nil,
        apiBaseOverrides: [String: [String: URL]] = [:], logLevel: Logger.Level = .info,
        intercomTimeout: TimeInterval = 20, connectLinkLifetime: TimeInterval = ConnectLink.defaultLifetime,
        allowPrivateNetwork: Bool = false
    ) {
        self.host = host
        self.port = port
        self.publicURL = publicURL ?? URL(string: "http://\(host):\(port)")!
        self.database = database
        self.masterKey = masterKey
        self.previousMasterKeys = previousMasterKeys
        self.systemApp = systemApp
        self.apiBaseOverrides = apiBaseOverrides
        self.logLevel = logLevel
        self.intercomTimeout = intercomTimeout
        self.connectLinkLifetime = connectLinkLifetime
        self.allowPrivateNetwork = allowPrivateNetwork
    }

    /// A cookie path as the browser sees it: under the public URL's own path, when Switchboard is served below one.
    public func cookiePath(_ path: String) -> String {
        let prefix = publicURL.path.hasSuffix("/") ? String(publicURL.path.dropLast()) : publicURL.path
        return prefix + path
    }

    /// The start page of an authorization an admin started through the API.
    public func startURL(state: String) -> String { publicURL.absoluteString + "/oauth/start/" + state }

    /// The URL of a connect link.
    public func connectURL(token: String) -> String { publicURL.absoluteString + "/connect/" + token }

    /// The OAuth redirect URL of the system app, to paste into its Intercom app's "Redirect URLs".
    public var callbackURL: String { publicURL.appendingPathComponent("oauth/callback").absoluteString }

    /// A custom profile's own redirect URL: with one per app, a code can only come back to the app it was issued for.
    public func callbackURL(profileID: String) -> String { callbackURL + "/" + profileID }

    /// The redirect URL an integration's authorizations use.
    public func callbackURL(for integration: Integration) -> String {
        integration.app == .custom ? integration.authProfileID.map(callbackURL(profileID:)) ?? callbackURL : callbackURL
    }

    public var vault: TokenVault { TokenVault(masterKey: masterKey, previousKeys: previousMasterKeys) }

    /// A provider's API base for a region: the operator's override, else the definition's (its default region's when
    /// the definition has no such region).
    public func apiBase(for definition: ProviderDefinition, region: String) -> URL {
        if let override = apiBaseOverrides[definition.name]?[region] { return override }
        let text = definition.api.baseURLs[region] ?? definition.api.baseURLs[definition.api.defaultRegion] ?? ""
        guard let url = URL(string: text) else { fatalError("the \(definition.name) definition has no API base for \(region)") }
        return url
    }
}

/// How much of what waits for someone one workspace may hold at once; beyond it, a 429 `workspace_limit_reached`.
public struct WorkspaceLimits: Sendable {
    /// Connect links not used yet and not expired (they last 15 minutes by default).
    public var openConnectLinks = 10_000
    /// Calls kept with `resume: true` for users who have not connected yet.
    public var keptCalls = 1_000
    /// Idempotency records (each lives a day).
    public var idempotencyRecords = 100_000

    public init() {}

    static func reached(_ what: String, limit: Int, advice: String) -> Problem {
        Problem(status: 429, code: "workspace_limit_reached", title: "Workspace limit reached",
                detail: "This workspace holds \(limit) \(what), the most it may hold at once. \(advice)",
                extra: ["limit": .number(Double(limit))])
    }
}

/// A setting that is missing or malformed; its description is the one line printed at start-up.
public struct SettingsError: Error, CustomStringConvertible {
    public let key: String
    public let problem: String

    public var description: String {
        let flag = "--" + key.replacingOccurrences(of: ".", with: "-")
        let env = "SWITCHBOARD_" + key.uppercased().replacingOccurrences(of: ".", with: "_")
        return "setting '\(key)' (\(flag) or \(env)) \(problem)"
    }
}

extension ServerSettings {
    /// The keys `serve` reads; flags are `--key-with-dashes`, environment variables `SWITCHBOARD_KEY_WITH_UNDERSCORES`.
    public enum Key {
        public static let host = "host"
        public static let port = "port"
        public static let publicURL = "public.url"
        public static let database = "database.url"
        public static let masterKey = "master.key"
        public static let previousMasterKeys = "master.previous.keys"
        public static let intercomClientID = "intercom.client.id"
        public static let intercomClientSecret = "intercom.client.secret"
        public static let intercomAuthorizeURL = "intercom.authorize.url"
        public static let intercomTokenURL = "intercom.token.url"
        public static let intercomAPIUS = "intercom.api.us"
        public static let intercomAPIEU = "intercom.api.eu"
        public static let intercomAPIAU = "intercom.api.au"
        public static let logLevel = "log.level"
        public static let logFormat = "log.format"
        public static let intercomTimeout = "intercom.timeout"
        public static let connectLinkTTL = "connect.link.ttl"
        public static let allowPrivateNetwork = "allow.private.network"
    }

    /// Reads and checks every setting; the first problem found is thrown, naming its setting.
    public static func load(from reader: ConfigReader) throws(SettingsError) -> ServerSettings {
        // The defaults are the bundled definition's; the operator's settings override them.
        let intercom = ProviderDefinition.intercom
        // Every setting is read as text; a JSON file may hold a port as a number or a flag as a boolean.
        func text(_ key: String, secret: Bool = false) -> String? {
            let configKey = ConfigKey(key.split(separator: ".").map(String.init))
            let value = reader.string(forKey: configKey, isSecret: secret)
                ?? reader.int(forKey: configKey, isSecret: secret).map(String.init)
                ?? reader.bool(forKey: configKey, isSecret: secret).map(String.init)
            guard let value = value?.trimmingCharacters(in: .whitespaces), !value.isEmpty else { return nil }
            return value
        }
        func url(_ key: String, default fallback: String? = nil) throws(SettingsError) -> URL? {
            guard let raw = text(key) ?? fallback else { return nil }
            if let problem = URLRules.problem(with: raw, allowTemplate: false) { throw SettingsError(key: key, problem: problem) }
            return URL(string: raw.hasSuffix("/") ? String(raw.dropLast()) : raw)
        }

        let host = text(Key.host) ?? "127.0.0.1"
        var port = 8080
        if let raw = text(Key.port) {
            guard let value = Int(raw), (1...65535).contains(value) else {
                throw SettingsError(key: Key.port, problem: "must be a port number from 1 to 65535, not '\(Problem.clip(raw, to: 20))'")
            }
            port = value
        }
        let publicURL = try url(Key.publicURL)

        let database: DatabaseLocation
        do {
            database = try DatabaseLocation(parsing: text(Key.database, secret: true) ?? "sqlite:./switchboard.sqlite")
        } catch {
            throw SettingsError(key: Key.database, problem: "is malformed: \(error)")
        }

        guard let rawKey = text(Key.masterKey, secret: true) else {
            throw SettingsError(key: Key.masterKey, problem: "is required: 32 random bytes, base64 (make one with 'openssl rand -base64 32')")
        }
        let masterKey: SymmetricKey
        do { masterKey = try TokenVault.key(base64: rawKey) } catch {
            throw SettingsError(key: Key.masterKey, problem: "is malformed: \(error)")
        }
        var previous: [SymmetricKey] = []
        for raw in (text(Key.previousMasterKeys, secret: true) ?? "").split(separator: ",") {
            do { previous.append(try TokenVault.key(base64: String(raw))) } catch {
                throw SettingsError(key: Key.previousMasterKeys, problem: "is malformed: \(error)")
            }
        }

        var systemApp: SystemAppSettings?
        let clientID = text(Key.intercomClientID)
        let clientSecret = text(Key.intercomClientSecret, secret: true)
        switch (clientID, clientSecret) {
        case (nil, nil):
            systemApp = nil
        case (.some, nil):
            throw SettingsError(key: Key.intercomClientSecret, problem: "is required when intercom.client.id is set")
        case (nil, .some):
            throw SettingsError(key: Key.intercomClientID, problem: "is required when intercom.client.secret is set")
        case (.some(let id), .some(let secret)):
            systemApp = SystemAppSettings(
                clientID: id, clientSecret: secret,
                authorizationURL: try url(Key.intercomAuthorizeURL, default: intercom.oauth.authorizationURL)!.absoluteString,
                tokenURL: try url(Key.intercomTokenURL, default: intercom.oauth.tokenURL)!.absoluteString
            )
        }
        var bases: [String: URL] = [:]
        for (key, region) in [(Key.intercomAPIUS, "US"), (Key.intercomAPIEU, "EU"), (Key.intercomAPIAU, "AU")] {
            if let base = try url(key) { bases[region] = base }
        }

        var level = Logger.Level.info
        if let raw = text(Key.logLevel) {
            guard let parsed = Logger.Level(rawValue: raw.lowercased()) else {
                throw SettingsError(key: Key.logLevel, problem: "must be one of trace, debug, info, notice, warning, error, critical")
            }
            level = parsed
        }
        var format = LogFormat.text
        if let raw = text(Key.logFormat) {
            guard let parsed = LogFormat(rawValue: raw.lowercased()) else {
                throw SettingsError(key: Key.logFormat, problem: "must be text or json, not '\(Problem.clip(raw, to: 20))'")
            }
            format = parsed
        }
        var timeout: TimeInterval = 20
        if let raw = text(Key.intercomTimeout) {
            guard let seconds = Double(raw), (1...300).contains(seconds) else {
                throw SettingsError(key: Key.intercomTimeout, problem: "must be a number of seconds from 1 to 300, not '\(Problem.clip(raw, to: 20))'")
            }
            timeout = seconds
        }
        var linkLifetime = ConnectLink.defaultLifetime
        if let raw = text(Key.connectLinkTTL) {
            guard let seconds = Int(raw), (60...86_400).contains(seconds) else {
                throw SettingsError(key: Key.connectLinkTTL, problem: "must be a number of seconds from 60 to 86400, not '\(Problem.clip(raw, to: 20))'")
            }
            linkLifetime = TimeInterval(seconds)
        }
        var allowPrivate = false
        if let raw = text(Key.allowPrivateNetwork) {
            switch raw.lowercased() {
            case "true", "1", "yes": allowPrivate = true
            case "false", "0", "no": allowPrivate = false
            default: throw SettingsError(key: Key.allowPrivateNetwork, problem: "must be true or false, not '\(Problem.clip(raw, to: 20))'")
            }
        }
        var settings = ServerSettings(
            host: host, port: port, publicURL: publicURL, database: database, masterKey: masterKey, previousMasterKeys: previous,
            systemApp: systemApp, apiBaseOverrides: bases.isEmpty ? [:] : [intercom.name: bases], logLevel: level, intercomTimeout: timeout, connectLinkLifetime: linkLifetime,
            allowPrivateNetwork: allowPrivate
        )
        settings.logFormat = format
        return settings
    }
}
