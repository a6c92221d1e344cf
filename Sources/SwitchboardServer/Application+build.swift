import AsyncHTTPClient
import Foundation
public import Hummingbird
public import Logging
public import NIOCore
public import Prometheus
public import Providers
import ServiceLifecycle
public import SwitchboardCore
public import SwitchboardStore

/// What the app runs with besides its settings: the seams tests replace.
public struct Dependencies: Sendable {
    public var transport: any HTTPTransport
    public var clock: any WallClock
    public var metrics: PrometheusCollectorRegistry
    /// The providers' definitions and catalogs: the bundled ones, or others a test adds as data.
    public var providers: ProviderRegistry

    public init(transport: any HTTPTransport = AHCTransport(), clock: any WallClock = SystemWallClock(),
                metrics: PrometheusCollectorRegistry = PrometheusCollectorRegistry(), providers: ProviderRegistry = .bundled) {
        self.transport = transport
        self.clock = clock
        self.metrics = metrics
        self.providers = providers
    }
}

/// Opens the store the settings name, without migrating.
public func openStore(settings: ServerSettings, logger: Logger, clock: any WallClock = SystemWallClock()) throws -> Store {
    Store(database: try Database(location: settings.database, logger: logger), vault: settings.vault, logger: logger, clock: clock)
}

/// Builds the whole server: `serve`, `demo` and the tests all go through here.
public func buildApplication(
    settings: ServerSettings,
    dependencies: Dependencies = Dependencies(),
    logger: Logger? = nil,
    onServerRunning: @escaping @Sendable (any Channel) async -> Void = { _ in }
) async throws -> some ApplicationProtocol {
    let logger: Logger = {
        var logger = logger ?? Logger(label: "switchboard")
        logger.logLevel = settings.logLevel
        return logger
    }()
    let store = try openStore(settings: settings, logger: logger, clock: dependencies.clock)
    let events = EventDispatcher(store: store, transport: dependencies.transport, clock: dependencies.clock, logger: logger,
                                 allowPrivateNetwork: settings.allowPrivateNetwork)
    let router = buildRouter(settings: settings, store: store, dependencies: dependencies, logger: logger, events: events)
    var app = Application(
        router: router,
        configuration: .init(address: .hostname(settings.host, port: settings.port), serverName: "switchboard"),
        onServerRunning: onServerRunning,
        logger: logger
    )
    let (migrated, migratedContinuation) = AsyncStream.makeStream(of: Void.self)
    app.addServices(StoreService(store: store), EventDeliveryService(dispatcher: events, interval: .seconds(1), migrated: migrated))
    app.beforeServerStarts {
        let applied = try await store.migrate()
        migratedContinuation.yield()
        migratedContinuation.finish()
        if !applied.isEmpty { logger.info("database migrated", metadata: ["applied": "\(applied)", "database": "\(settings.database)"]) }
    }
    return app
}

/// The routes, for `buildApplication` and for in-process tests that bring their own store.
/// `events`: the dispatcher whose retries a background service drives (tests hold it to drive retries themselves).
public func buildRouter(settings: ServerSettings, store: Store, dependencies: Dependencies, logger: Logger,
                        events: EventDispatcher? = nil) -> Router<AppRequestContext> {
    let events = events ?? EventDispatcher(store: store, transport: dependencies.transport, clock: dependencies.clock, logger: logger,
                                           allowPrivateNetwork: settings.allowPrivateNetwork)
    let router = Router(context: AppRequestContext.self)
    router.addMiddleware {
        SecurityHeadersMiddleware(https: settings.publicURL.scheme == "https")
        RequestLogMiddleware()
        MetricsMiddleware()
        ProblemMiddleware()
    }
    let providers = ProviderDirectory(registry: dependencies.providers, settings: settings, transport: dependencies.transport, clock: dependencies.clock)
    let authorization = AuthorizationService(store: store, settings: settings, transport: dependencies.transport, clock: dependencies.clock, logger: logger,
                                             events: events, providers: providers)
    let tokens = TokenService(store: store, transport: dependencies.transport, clock: dependencies.clock, logger: logger)

    let actionService = ActionService(store: store, settings: settings, authorization: authorization, tokens: tokens, providers: providers,
                                      clock: dependencies.clock, logger: logger)
    let audit = AuditLog(store: store, clock: dependencies.clock, logger: logger)
    let profiles = ProfileService(store: store, settings: settings, clock: dependencies.clock, audit: audit, registry: dependencies.providers)
    let integrations = IntegrationService(store: store, settings: settings, authorization: authorization, tokens: tokens,
                                          providers: providers, clock: dependencies.clock, audit: audit)
    let resumer = ResumeRunner(store: store, actions: actionService, events: events, logger: logger)

    // Browser pages and the system endpoints.
    router.addRoutes(SystemController(store: store, registry: dependencies.metrics).routes)
    router.addRoutes(OAuthCallbackController(authorization: authorization, resumer: resumer, settings: settings).routes)
    router.addRoutes(ConnectController(store: store, settings: settings, authorization: authorization, clock: dependencies.clock, logger: logger).routes)
    router.addRoutes(AuthorizeStartController(store: store, settings: settings, authorization: authorization, clock: dependencies.clock, logger: logger).routes)
    let sessions = ConsoleSessionMiddleware(store: store, signer: ConsoleSession.Signer(masterKey: settings.masterKey), clock: dependencies.clock)
    router.addRoutes(ConsoleController(store: store, settings: settings, integrations: integrations, profiles: profiles, sessions: sessions,
                                       clock: dependencies.clock).routes)

    // MCP for AI agents: an agent token proves the integration (and the end user, if it was made for one).
    router.addRoutes(MCPController(store: store, tools: MCPToolServer(store: store, actions: actionService), clock: dependencies.clock).routes)

    // The admin API: an API key proves the workspace, which every `/v1` handler's context carries.
    let api = router.group("v1").add(middleware: APIKeyMiddleware(store: store, clock: dependencies.clock)).group(context: WorkspaceRequestContext.self)
    api.addRoutes(AuthProfilesController(profiles: profiles).routes)
    api.addRoutes(IntegrationsController(integrations: integrations).routes)
    api.addRoutes(ActionsController(actions: actionService).routes)
    api.addRoutes(AgentTokensController(tokens: AgentTokenService(store: store, integrations: integrations, clock: dependencies.clock, audit: audit)).routes)
    api.addRoutes(EventsController(store: store).routes)
    api.addRoutes(AuditController(store: store).routes)
    return router
}

/// Closes the database pools on graceful shutdown.
struct StoreService: Service {
    let store: Store

    func run() async throws {
        try? await gracefulShutdown()
        await store.shutdown()
    }
}
