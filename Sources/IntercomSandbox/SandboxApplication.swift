public import Foundation
public import Hummingbird
public import NIOCore
public import Logging

/// How to run a sandbox.
public struct SandboxConfiguration: Sendable {
    public var host: String
    public var port: Int
    public var seed: SandboxSeed
    /// Requests a minute per app, enforced in 10-second windows (Intercom's default: 10,000).
    public var rateLimitPerMinute: Int
    /// Generated contacts per workspace (deterministic), for demos and benchmarks.
    public var generatedContacts: Int
    /// Failures injected from the start (also settable at run time: `PUT /_sandbox/faults`).
    public var faults: FaultSettings
    /// An SQLite file that keeps the sandbox across restarts; nil keeps it in memory.
    public var dataFile: String?
    /// Generate a realistic workspace (contacts, companies, tags, conversations, tickets) in each workspace.
    public var realisticSeed: Bool = false
    /// The sandbox's time: rate-limit windows, consent and code lifetimes, timestamps of what it stores and sends.
    /// Tests give the clock the product under test runs on, so both agree on what "now" is.
    public var now: @Sendable () -> Date = { Date() }

    public init(host: String = "127.0.0.1", port: Int = 8081, seed: SandboxSeed = .standard, rateLimitPerMinute: Int = 10_000,
                generatedContacts: Int = 0, faults: FaultSettings = FaultSettings(), dataFile: String? = nil) {
        self.faults = faults
        self.dataFile = dataFile
        self.host = host
        self.port = port
        self.seed = seed
        self.rateLimitPerMinute = rateLimitPerMinute
        self.generatedContacts = generatedContacts
    }
}

/// Builds the Intercom sandbox application: `switchboard sandbox`, the demo and the tests all run this.
public func buildSandboxApplication(
    configuration: SandboxConfiguration,
    state: SandboxState? = nil,
    logger: Logger = Logger(label: "intercom-sandbox"),
    onServerRunning: @escaping @Sendable (any Channel) async -> Void = { _ in }
) async throws -> some ApplicationProtocol {
    let state = state ?? SandboxState(seed: configuration.seed, now: configuration.now)
    let data = SandboxData(seed: configuration.seed, now: configuration.now)
    var persistence: SandboxPersistence?
    var restored = false
    if let file = configuration.dataFile {
        let store = SandboxPersistence(path: file, state: state, data: data, logger: logger)
        restored = try await store.load()
        persistence = store
    }
    if (configuration.generatedContacts > 0 || configuration.realisticSeed) && !restored {
        for workspace in configuration.seed.workspaces {
            if configuration.realisticSeed {
                try await data.generateWorkspace(workspace.idCode, contacts: max(300, configuration.generatedContacts))
            } else {
                try await data.generateContacts(workspace.idCode, count: configuration.generatedContacts)
            }
        }
        await persistence?.markDirty()
    }
    let router = buildSandboxRouter(state: state, data: data, limiter: RateLimiter(perMinute: configuration.rateLimitPerMinute, now: configuration.now),
                                    faults: Faults(configuration.faults), persistence: persistence, webhooks: Webhooks(state: state, now: configuration.now))
    var app = Application(
        router: router,
        configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "intercom-sandbox"),
        onServerRunning: onServerRunning,
        logger: logger
    )
    if let persistence { app.addServices(PersistenceService(persistence: persistence)) }
    return app
}

/// The sandbox's routes, for in-process tests.
public func buildSandboxRouter(state: SandboxState, data: SandboxData? = nil, limiter: RateLimiter = RateLimiter(),
                               faults: Faults = Faults(), persistence: SandboxPersistence? = nil, webhooks: Webhooks? = nil) -> Router<BasicRequestContext> {
    let router = Router(context: BasicRequestContext.self)
    let webhooks = webhooks ?? Webhooks(state: state)
    if let persistence { router.add(middleware: MarkDirtyMiddleware(persistence: persistence)) }
    OAuthRoutes(state: state, faults: faults).register(on: router)
    DeveloperHubRoutes(state: state, faults: faults, webhooks: webhooks).register(on: router)
    let api = RestAPI(state: state, data: data ?? SandboxData(seed: .standard), limiter: limiter, faults: faults, webhooks: webhooks)
    router.add(middleware: DescribedAPIMiddleware(api: api, store: DescribedStore()))
    api.register(on: router)
    router.get("/health") { _, _ in "ok" }
    return router
}
