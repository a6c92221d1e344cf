import ArgumentParser
import Foundation
import Providers
import Hummingbird
import Logging
import Metrics
import Prometheus
import ServiceLifecycle
import SwitchboardServer
import UnixSignals
import SwitchboardStore

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run Switchboard for production (settings from flags, SWITCHBOARD_* environment variables, or --config FILE)."
    )

    @OptionGroup var database: DatabaseOptions
    @Option(help: "Listen address.") var host: String?
    @Option(help: "Listen port.") var port: Int?
    @Option(name: .customLong("public-url"), help: "The URL users reach Switchboard at; callback URLs are built from it.") var publicURL: String?
    @Option(name: .customLong("master-previous-keys"), help: "Comma-separated older master keys, during a rotation.") var previousKeys: String?
    @Option(name: .customLong("intercom-client-id"), help: "The system Intercom app's client id.") var intercomClientID: String?
    @Option(name: .customLong("intercom-client-secret"), help: "The system Intercom app's client secret (prefer SWITCHBOARD_INTERCOM_CLIENT_SECRET).") var intercomClientSecret: String?
    @Option(name: .customLong("intercom-authorize-url"), help: "Default \(ProviderDefinition.intercom.oauth.authorizationURL).") var intercomAuthorizeURL: String?
    @Option(name: .customLong("intercom-token-url"), help: "Default \(ProviderDefinition.intercom.oauth.tokenURL).") var intercomTokenURL: String?
    @Option(name: .customLong("intercom-api-us"), help: "Default \(ProviderDefinition.intercom.api.baseURLs["US"] ?? "none").") var intercomAPIUS: String?
    @Option(name: .customLong("intercom-api-eu"), help: "Default \(ProviderDefinition.intercom.api.baseURLs["EU"] ?? "none").") var intercomAPIEU: String?
    @Option(name: .customLong("intercom-api-au"), help: "Default \(ProviderDefinition.intercom.api.baseURLs["AU"] ?? "none").") var intercomAPIAU: String?
    @Option(name: .customLong("intercom-timeout"), help: "Seconds one call to Intercom may take (default 20).") var intercomTimeout: String?
    @Option(name: .customLong("connect-link-ttl"), help: "Seconds a connect link works (default 900).") var connectLinkTTL: String?
    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error.") var logLevel: String?
    @Option(name: .customLong("log-format"), help: "text (default) or json: one JSON object a line, for a log shipper.") var logFormat: String?
    @Flag(name: .customLong("allow-private-network"),
          help: "Let workspace-supplied URLs (profile token URLs, notify URLs) reach loopback and private addresses over plain http. For development only.")
    var allowPrivateNetwork = false

    func run() async throws {
        var flags = try database.entries()
        let optional: [(String, Any?)] = [
            (ServerSettings.Key.host, host), (ServerSettings.Key.port, port), (ServerSettings.Key.publicURL, publicURL),
            (ServerSettings.Key.previousMasterKeys, previousKeys),
            (ServerSettings.Key.intercomClientID, intercomClientID), (ServerSettings.Key.intercomClientSecret, intercomClientSecret),
            (ServerSettings.Key.intercomAuthorizeURL, intercomAuthorizeURL), (ServerSettings.Key.intercomTokenURL, intercomTokenURL),
            (ServerSettings.Key.intercomAPIUS, intercomAPIUS), (ServerSettings.Key.intercomAPIEU, intercomAPIEU),
            (ServerSettings.Key.intercomAPIAU, intercomAPIAU), (ServerSettings.Key.logLevel, logLevel),
            (ServerSettings.Key.logFormat, logFormat),
            (ServerSettings.Key.intercomTimeout, intercomTimeout), (ServerSettings.Key.connectLinkTTL, connectLinkTTL),
        ]
        for (key, value) in optional { if let value { flags[key] = "\(value)" } }
        if allowPrivateNetwork { flags[ServerSettings.Key.allowPrivateNetwork] = "true" }
        let settings = try await SettingsReader.settings(flags: flags, configFile: database.configFile)
        let logger = makeLogger("switchboard", level: settings.logLevel, format: settings.logFormat)
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        logger.info("starting", metadata: [
            "database": "\(settings.database)", "publicURL": "\(settings.publicURL)",
            "systemApp": "\(settings.systemApp == nil ? "not configured" : "configured")",
        ])
        if settings.allowPrivateNetwork {
            logger.warning("allow-private-network is on: workspace-supplied URLs (profile token URLs, notify URLs) may reach loopback and private addresses over plain http; turn it off in production")
        }
        let app = try await buildApplication(settings: settings, dependencies: Dependencies(metrics: registry), logger: logger) { _ in
            logger.notice("listening", metadata: ["address": "\(settings.host):\(settings.port)", "callbackURL": "\(settings.callbackURL)"])
        }
        // SIGTERM (or SIGINT): stop accepting, finish what is in flight, write the run log, close the pools, exit 0 —
        // within `Serve.shutdownGrace`; what is still running then is cancelled.
        var group = ServiceGroupConfiguration(services: [.init(service: app)], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        group.maximumGracefulShutdownDuration = Self.shutdownGrace
        group.maximumCancellationDuration = .seconds(5)
        try await ServiceGroup(configuration: group).run()
    }

    /// How long a graceful shutdown may take before what is still in flight is cancelled: under the 30 seconds
    /// orchestrators (Kubernetes, systemd) usually wait between SIGTERM and SIGKILL.
    static let shutdownGrace: Duration = .seconds(25)
}

struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Apply pending database migrations and exit.")

    @OptionGroup var database: DatabaseOptions

    func run() async throws {
        let store = try await openAdminStore(database)
        let applied: [Int]
        do {
            applied = try await store.migrate()
        } catch {
            await store.shutdown()
            throw error
        }
        await store.shutdown()
        print(applied.isEmpty ? "Database is up to date." : "Applied migrations: \(applied.map(String.init).joined(separator: ", ")).")
    }
}
