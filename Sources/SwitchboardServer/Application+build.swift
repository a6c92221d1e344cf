import AsyncHTTPClient
import Foundation
public import Hummingbird
public import Logging
public import NIOCore
public import Prometheus
public import Providers
public import MCP
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
                                 allowPrivateNetwork: settings.allowPrivateNetwork, metrics: DomainMetrics(registry: dependencies.metrics))
    let services = Services(settings: settings, store: store, dependencies: dependencies, logger: logger, events: events)
    let router = buildRouter(settings: settings, store: store, dependencies: dependencies, logger: logger, services: services)
    var app = Application(
        router: router,
        configuration: .init(address: .hostname(settings.host, port: settings.port), serverName: "switchboard"),
        onServerRunning: onServerRunning,
        logger: logger
    )
    let (migrated, migratedContinuation) = AsyncStream.makeStream(of: Void.self)
    let (outboxMigrated, outboxMigratedContinuation) = AsyncStream.makeStream(of: Void.self)
    app.addServices(StoreService(store: store), EventDeliveryService(dispatcher: events, interval: .seconds(1), migrated: migrated),
                    OutboxService(outbox: services.outbox, interval: .seconds(1), migrated: outboxMigrated))
    app.beforeServerStarts {
        let applied = try await store.migrate()
        for continuation in [migratedContinuation, outboxMigratedContinuation] {
            continuation.yield()
            continuation.finish()
        }
        if !applied.isEmpty { logger.info("database migrated", metadata: ["applied": "\(applied)", "database": "\(settings.database)"]) }
    }
    return app
}

/// The services every adapter shares, built once per instance: authorization, tokens, the one action service,
/// profiles, integrations, resumed calls, agent tokens and the MCP tool server.
public struct Services: Sendable {
    let store: Store
    let settings: ServerSettings
    let dependencies: Dependencies
    let events: EventDispatcher
    let providers: ProviderDirectory
    let authorization: AuthorizationService
    let tokens: TokenService
    let actions: ActionService
    let audit: AuditLog
    let profiles: ProfileService
    let integrations: IntegrationService
    let resumer: ResumeRunner
    /// Work stored to run after a commit (kept calls after a callback); its service drains it.
    public let outbox: Outbox
    let metrics: DomainMetrics
    let agentTokens: AgentTokenService
    let mcp: MCPToolServer

    /// `events`: the dispatcher whose retries a background service drives (tests hold it to drive retries themselves).
    public init(settings: ServerSettings, store: Store, dependencies: Dependencies, logger: Logger, events: EventDispatcher? = nil) {
        let clock = dependencies.clock
        self.store = store
        self.settings = settings
        self.dependencies = dependencies
        metrics = DomainMetrics(registry: dependencies.metrics)
        self.events = events ?? EventDispatcher(store: store, transport: dependencies.transport, clock: clock, logger: logger,
                                                allowPrivateNetwork: settings.allowPrivateNetwork, metrics: metrics)
        providers = ProviderDirectory(registry: dependencies.providers, settings: settings, transport: dependencies.transport, clock: clock,
                                      metrics: metrics)
        authorization = AuthorizationService(store: store, settings: settings, transport: dependencies.transport, clock: clock, logger: logger,
                                             events: self.events, providers: providers)
        tokens = TokenService(store: store, transport: dependencies.transport, clock: clock, logger: logger, metrics: metrics)
        actions = ActionService(store: store, settings: settings, authorization: authorization, tokens: tokens, providers: providers,
                                clock: clock, logger: logger, metrics: metrics)
        audit = AuditLog(store: store, clock: clock, logger: logger)
        profiles = ProfileService(store: store, settings: settings, clock: clock, audit: audit, registry: dependencies.providers)
        integrations = IntegrationService(store: store, settings: settings, authorization: authorization, tokens: tokens,
                                          providers: providers, clock: clock, audit: audit)
        resumer = ResumeRunner(store: store, actions: actions, events: self.events, logger: logger)
        outbox = Outbox(store: store, clock: clock, logger: logger, resumer: resumer, tokens: tokens)
        agentTokens = AgentTokenService(store: store, integrations: integrations, clock: clock, audit: audit)
        mcp = MCPToolServer(store: store, actions: actions, clock: clock)
    }

    /// The MCP server `/mcp` answers with, for one agent token, started on a transport of the caller's (an in-process
    /// pair, a pipe): the same tools, checks and runs. The client's declared capabilities come from its `initialize`;
    /// a user who must connect gets `-32042` when it declared URL elicitation, then the completion notification.
    /// Nil when the token does not work.
    public func startMCPServer(agentToken secret: String, userID: String? = nil, conversationID: String? = nil,
                               transport: any Transport) async throws -> Server? {
        guard let token = try await store.agentTokens.workingAgentToken(secret, now: dependencies.clock.now()) else { return nil }
        let declared = DeclaredCapabilities()
        let server = try await mcp.server(for: MCPCaller(token: token, userID: token.endUserID ?? userID, conversationID: conversationID),
                                          elicitor: DeclaredURLElicitor(declared: declared, store: store, clock: dependencies.clock))
        try await server.start(transport: transport) { _, capabilities in await declared.set(capabilities) }
        return server
    }
}

/// The routes, for `buildApplication` and for in-process tests that bring their own store (and may bring the services).
public func buildRouter(settings: ServerSettings, store: Store, dependencies: Dependencies, logger: Logger,
                        events: EventDispatcher? = nil, services: Services? = nil) -> Router<AppRequestContext> {
    let services = services ?? Services(settings: settings, store: store, dependencies: dependencies, logger: logger, events: events)
    let router = Router(context: AppRequestContext.self)
    let allowed = AllowedMethods()
    router.addMiddleware {
        SecurityHeadersMiddleware(https: settings.publicURL.scheme == "https")
        RequestLogMiddleware()
        MetricsMiddleware()
        ProblemMiddleware(allowed: allowed)
    }
    let clock = dependencies.clock

    // Browser pages and the system endpoints.
    router.addRoutes(SystemController(store: store, registry: dependencies.metrics, domain: services.metrics, clock: clock,
                                      openAPI: OpenAPIDocument.text(actions: dependencies.providers.actions)).routes)
    router.addRoutes(OAuthCallbackController(authorization: services.authorization, outbox: services.outbox, settings: settings,
                                             metrics: services.metrics).routes)
    router.addRoutes(ConnectController(store: store, settings: settings, authorization: services.authorization, clock: clock, logger: logger).routes)
    router.addRoutes(AuthorizeStartController(store: store, settings: settings, authorization: services.authorization, clock: clock, logger: logger).routes)
    let sessions = ConsoleSessionMiddleware(store: store, signer: ConsoleSession.Signer(masterKey: settings.masterKey), clock: clock)
    router.addRoutes(ConsoleController(store: store, settings: settings, integrations: services.integrations, profiles: services.profiles,
                                       agentTokens: services.agentTokens, sessions: sessions, clock: clock).routes)
    router.addRoutes(ConsoleSettingsController(store: store, integrations: services.integrations, sessions: sessions).routes)
    router.addRoutes(ConsoleActionsController(store: store, actions: services.actions, sessions: sessions).routes)

    // MCP for AI agents: an agent token proves the integration (and the end user, if it was made for one).
    router.addRoutes(MCPController(store: store, tools: services.mcp, clock: clock).routes)

    // The admin API: an API key proves the workspace, which every `/v1` handler's context carries.
    let api = router.group("v1").add(middleware: APIKeyMiddleware(store: store, clock: clock)).group(context: WorkspaceRequestContext.self)
    api.addRoutes(AuthProfilesController(profiles: services.profiles).routes)
    api.addRoutes(IntegrationsController(integrations: services.integrations).routes)
    api.addRoutes(ActionsController(actions: services.actions).routes)
    api.addRoutes(AgentTokensController(tokens: services.agentTokens).routes)
    api.addRoutes(EventsController(store: store).routes)
    api.addRoutes(AuditController(store: store).routes)
    allowed.learn(router.routes)
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
