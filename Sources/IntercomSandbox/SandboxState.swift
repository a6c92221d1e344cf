public import Foundation
import Hummingbird

/// An Intercom workspace ("app" in Intercom's legacy words) with its admins.
public struct SandboxWorkspace: Sendable, Codable, Equatable {
    public var idCode: String
    public var name: String
    /// As Intercom reports it: "US", "Europe", "Australia".
    public var region: String
    public var timezone: String
    public var createdAt: Int
    public var admins: [SandboxAdmin]

    public init(idCode: String, name: String, region: String = "US", timezone: String = "Europe/Dublin", createdAt: Int = 1_700_000_000, admins: [SandboxAdmin]) {
        self.idCode = idCode
        self.name = name
        self.region = region
        self.timezone = timezone
        self.createdAt = createdAt
        self.admins = admins
    }
}

public struct SandboxAdmin: Sendable, Codable, Equatable {
    public var id: String
    public var name: String
    public var email: String
    public var password: String
    public var emailVerified: Bool

    public init(id: String, name: String, email: String, password: String, emailVerified: Bool = true) {
        self.id = id
        self.name = name
        self.email = email
        self.password = password
        self.emailVerified = emailVerified
    }
}

/// An app registered in the developer hub: what a Switchboard operator or admin creates.
public struct SandboxApp: Sendable, Codable, Equatable {
    public var name: String
    public var clientID: String
    public var clientSecret: String
    public var redirectURLs: [String]

    public init(name: String, clientID: String, clientSecret: String, redirectURLs: [String]) {
        self.name = name
        self.clientID = clientID
        self.clientSecret = clientSecret
        self.redirectURLs = redirectURLs
    }

    enum CodingKeys: String, CodingKey {
        case name, clientID = "clientId", clientSecret, redirectURLs
    }
}

/// What the sandbox starts with.
public struct SandboxSeed: Sendable, Codable, Equatable {
    public var workspaces: [SandboxWorkspace]
    public var apps: [SandboxApp]

    public init(workspaces: [SandboxWorkspace], apps: [SandboxApp] = []) {
        self.workspaces = workspaces
        self.apps = apps
    }

    /// Two workspaces with one admin each, for demos and tests.
    public static let standard = SandboxSeed(workspaces: [
        SandboxWorkspace(idCode: "acme7x2k", name: "Acme Support", region: "US", timezone: "America/New_York", admins: [
            SandboxAdmin(id: "991267001", name: "Ada Admin", email: "ada@acme.test", password: "sandbox-password"),
        ]),
        SandboxWorkspace(idCode: "glbx4eu9", name: "Globex Europe", region: "Europe", timezone: "Europe/Dublin", admins: [
            SandboxAdmin(id: "991267002", name: "Bea Berg", email: "bea@globex.test", password: "sandbox-password"),
            SandboxAdmin(id: "991267003", name: "Unverified Uli", email: "uli@globex.test", password: "sandbox-password", emailVerified: false),
        ]),
    ])

    public static func load(path: String) throws -> SandboxSeed {
        try JSONDecoder().decode(SandboxSeed.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
    }
}

/// The sandbox's memory: apps, admins, consent sessions, codes and tokens.
public actor SandboxState {
    struct ConsentSession {
        let app: SandboxApp
        let redirectURL: String
        let state: String?
        let workspace: SandboxWorkspace
        let admin: SandboxAdmin
        let expiresAt: Date
    }

    struct AuthorizationCode {
        let clientID: String
        let workspaceID: String
        let adminID: String
        let expiresAt: Date
    }

    struct IssuedToken: Codable {
        let clientID: String
        let workspaceID: String
        let adminID: String
        var revoked: Bool
    }

    private var apps: [String: SandboxApp] = [:]
    private var workspaces: [String: SandboxWorkspace] = [:]
    private var sessions: [String: ConsentSession] = [:]
    private var codes: [String: AuthorizationCode] = [:]
    private var tokens: [String: IssuedToken] = [:]
    private let now: @Sendable () -> Date

    /// Intercom's codes live about five minutes.
    public static let codeLifetime: TimeInterval = 300

    public init(seed: SandboxSeed, now: @escaping @Sendable () -> Date = { Date() }) {
        self.now = now
        for workspace in seed.workspaces { workspaces[workspace.idCode] = workspace }
        for app in seed.apps { apps[app.clientID] = app }
    }

    // MARK: Developer hub

    /// Registers an app; credentials are generated unless given.
    public func registerApp(name: String, redirectURLs: [String], clientID: String? = nil, clientSecret: String? = nil) -> SandboxApp {
        let app = SandboxApp(
            name: name,
            clientID: clientID ?? UUID().uuidString.lowercased(),
            clientSecret: clientSecret ?? SandboxRandom.token(bytes: 24),
            redirectURLs: redirectURLs
        )
        apps[app.clientID] = app
        return app
    }

    public func app(clientID: String) -> SandboxApp? { apps[clientID] }

    /// Replaces an app's redirect URLs, as editing the app in the Developer Hub does; false for an unknown app.
    @discardableResult
    public func setRedirectURLs(clientID: String, _ urls: [String]) -> Bool {
        guard apps[clientID] != nil else { return false }
        apps[clientID]?.redirectURLs = urls
        return true
    }
    public func allApps() -> [SandboxApp] { apps.values.sorted { $0.name < $1.name } }

    // MARK: OAuth

    func authenticate(email: String, password: String) -> (SandboxWorkspace, SandboxAdmin)? {
        for workspace in workspaces.values.sorted(by: { $0.idCode < $1.idCode }) {
            if let admin = workspace.admins.first(where: { $0.email.lowercased() == email.lowercased() && $0.password == password }) {
                return (workspace, admin)
            }
        }
        return nil
    }

    func openConsentSession(app: SandboxApp, redirectURL: String, state: String?, workspace: SandboxWorkspace, admin: SandboxAdmin) -> String {
        let id = SandboxRandom.token(bytes: 24)
        sessions[id] = ConsentSession(app: app, redirectURL: redirectURL, state: state, workspace: workspace, admin: admin,
                                      expiresAt: now().addingTimeInterval(600))
        return id
    }

    /// Takes a consent session once.
    func takeConsentSession(_ id: String) -> ConsentSession? {
        guard let session = sessions.removeValue(forKey: id), session.expiresAt > now() else { return nil }
        return session
    }

    func issueCode(clientID: String, workspaceID: String, adminID: String) -> String {
        // 20 random bytes in standard base64 end in "=": Intercom's codes can, and clients must keep it.
        let code = Data(SandboxRandom.bytes(20)).base64EncodedString()
        codes[code] = AuthorizationCode(clientID: clientID, workspaceID: workspaceID, adminID: adminID,
                                        expiresAt: now().addingTimeInterval(SandboxState.codeLifetime))
        return code
    }

    enum ExchangeFailure: Error {
        case badClient
        case badCode
    }

    /// Trades a code for a token. A code works once, for the app it was issued to, before it expires.
    func exchange(code: String, clientID: String, clientSecret: String) throws(ExchangeFailure) -> String {
        guard let app = apps[clientID], app.clientSecret == clientSecret else { throw .badClient }
        guard let grant = codes.removeValue(forKey: code), grant.clientID == clientID, grant.expiresAt > now() else { throw .badCode }
        let token = Data(("tok:" + SandboxRandom.token(bytes: 30)).utf8).base64EncodedString()
        tokens[token] = IssuedToken(clientID: clientID, workspaceID: grant.workspaceID, adminID: grant.adminID, revoked: false)
        return token
    }

    /// An access token for the app in one of the sandbox's workspaces, as Intercom's Developer Hub gives an app
    /// for its own workspace; tests and benchmarks use it to skip the browser.
    public func issueToken(clientID: String, workspaceID: String, adminEmail: String? = nil) -> String? {
        guard apps[clientID] != nil, let workspace = workspaces[workspaceID],
              let admin = adminEmail.flatMap({ email in workspace.admins.first { $0.email == email } }) ?? workspace.admins.first
        else { return nil }
        let token = Data(("tok:" + SandboxRandom.token(bytes: 30)).utf8).base64EncodedString()
        tokens[token] = IssuedToken(clientID: clientID, workspaceID: workspaceID, adminID: admin.id, revoked: false)
        return token
    }

    enum TokenCheck {
        case valid(app: SandboxApp, workspace: SandboxWorkspace, admin: SandboxAdmin)
        case revoked
        case unknown
    }

    func check(token: String) -> TokenCheck {
        guard let issued = tokens[token] else { return .unknown }
        if issued.revoked { return .revoked }
        guard let app = apps[issued.clientID], let workspace = workspaces[issued.workspaceID],
              let admin = workspace.admins.first(where: { $0.id == issued.adminID })
        else { return .unknown }
        return .valid(app: app, workspace: workspace, admin: admin)
    }

    /// Uninstalls the app from the token's workspace: every token of that app there stops working.
    func uninstall(token: String) -> Bool {
        guard let issued = tokens[token], !issued.revoked else { return false }
        for (key, value) in tokens where value.clientID == issued.clientID && value.workspaceID == issued.workspaceID {
            tokens[key]?.revoked = true
        }
        return true
    }

    /// Revokes one token, as a workspace admin removing the app would (a fault knob for tests).
    public func revoke(token: String) -> Bool {
        guard tokens[token] != nil else { return false }
        tokens[token]?.revoked = true
        return true
    }

    public func issuedTokenCount() -> Int { tokens.count }

    /// What must survive a restart: apps, workspaces with their admins, and issued tokens.
    /// (Consent sessions and codes live minutes and are not kept.)
    struct Snapshot: Codable {
        var apps: [SandboxApp]
        var workspaces: [SandboxWorkspace]
        var tokens: [String: IssuedToken]
    }

    func snapshot() -> Snapshot {
        Snapshot(apps: Array(apps.values), workspaces: Array(workspaces.values), tokens: tokens)
    }

    func restore(_ snapshot: Snapshot) {
        // An app registered in this process (the demo's system app, with this run's redirect URL) wins over its saved copy.
        for app in snapshot.apps where apps[app.clientID] == nil { apps[app.clientID] = app }
        for workspace in snapshot.workspaces { workspaces[workspace.idCode] = workspace }
        for (token, issued) in snapshot.tokens { tokens[token] = issued }
    }

    /// Who a bearer token speaks for, or Intercom's 401 (`unauthorized`, `token_revoked`).
    func caller(for request: Request) throws -> Caller {
        guard let token = request.bearerToken else { throw IntercomError.unauthorized }
        switch check(token: token) {
        case .valid(let app, let workspace, let admin): return Caller(app: app, workspace: workspace, admin: admin)
        case .revoked: throw IntercomError.tokenRevoked
        case .unknown: throw IntercomError.unauthorized
        }
    }

    /// Apps installed in a workspace: those holding a live token there.
    func installedApps(workspaceID: String) -> [SandboxApp] {
        let ids = Set(tokens.values.filter { $0.workspaceID == workspaceID && !$0.revoked }.map(\.clientID))
        return ids.sorted().compactMap { apps[$0] }
    }

    func admins(workspaceID: String) -> [SandboxAdmin] { workspaces[workspaceID]?.admins ?? [] }
}

enum SandboxRandom {
    static func bytes(_ count: Int) -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        return (0..<count).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
    }

    static func token(bytes count: Int) -> String {
        Data(bytes(count)).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }
}

/// The app, workspace and admin an access token speaks for.
struct Caller: Sendable {
    let app: SandboxApp
    let workspace: SandboxWorkspace
    let admin: SandboxAdmin
}
