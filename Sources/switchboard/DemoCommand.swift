import ArgumentParser
import Foundation
import Providers
import Hummingbird
import IntercomSandbox
import Logging
import Metrics
import Prometheus
import ServiceLifecycle
import UnixSignals
import SwitchboardCore
import SwitchboardServer
import SwitchboardStore

struct Demo: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run Switchboard and the Intercom sandbox together, on SQLite, with the system app, a workspace and an API key ready."
    )

    @Option(help: "Switchboard's port.") var port = 8080
    @Option(name: .customLong("sandbox-port"), help: "The Intercom sandbox's port.") var sandboxPort = 8081
    @Option(name: .customLong("data"), help: "Where the demo keeps its database, master key and credentials.") var data = "./.switchboard"
    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error.") var logLevel = "notice"
    @Option(name: .customLong("log-format"), help: "text (default) or json: one JSON object a line.") var logFormat = "text"

    func validate() throws {
        guard (1...65535).contains(port) else { throw ValidationError("--port must be from 1 to 65535") }
        guard (1...65535).contains(sandboxPort) else { throw ValidationError("--sandbox-port must be from 1 to 65535") }
        guard port != sandboxPort else { throw ValidationError("--port and --sandbox-port must differ") }
        guard Logger.Level(rawValue: logLevel) != nil else { throw ValidationError("--log-level must be one of trace, debug, info, notice, warning, error") }
        guard LogFormat(rawValue: logFormat) != nil else { throw ValidationError("--log-format must be text or json") }
    }

    func run() async throws {
        let host = "127.0.0.1"
        let demoData = DemoData(directory: data)
        try demoData.prepare()
        let masterKey = try demoData.masterKey()
        let sandboxURL = "http://\(host):\(sandboxPort)"
        let level = Logger.Level(rawValue: logLevel) ?? .notice

        var state = demoData.loadState() ?? DemoData.State(
            systemClientID: UUID().uuidString.lowercased(), systemClientSecret: SecureRandom.token(bytes: 24), apiKey: nil
        )
        let sandboxBase = URL(string: sandboxURL)!
        // Every region of the Intercom definition goes to the sandbox.
        let intercom = ProviderDefinition.intercom
        let settings = ServerSettings(
            host: host, port: port, publicURL: URL(string: "http://\(host):\(port)")!,
            database: .sqlite(path: demoData.databasePath), masterKey: try TokenVault.key(base64: masterKey),
            previousMasterKeys: try demoData.keyFile.previousKeys().map { try TokenVault.key(base64: $0) },
            systemApp: SystemAppSettings(clientID: state.systemClientID, clientSecret: state.systemClientSecret,
                                         authorizationURL: sandboxURL + "/oauth", tokenURL: sandboxURL + "/auth/eagle/token"),
            apiBaseOverrides: [intercom.name: Dictionary(uniqueKeysWithValues: intercom.api.baseURLs.keys.map { ($0, sandboxBase) })], logLevel: level,
            allowPrivateNetwork: true
        )

        // The deployment's system app exists in the sandbox's developer hub with Switchboard's callback URL.
        let sandboxState = SandboxState(seed: .standard)
        _ = await sandboxState.registerApp(name: "Switchboard", redirectURLs: [settings.callbackURL],
                                           clientID: state.systemClientID, clientSecret: state.systemClientSecret)

        let format = LogFormat(rawValue: logFormat) ?? .text
        let logger = makeLogger("switchboard", level: level, format: format)
        let store = try openStore(settings: settings, logger: logger)
        try await store.migrate()
        let workspace = try await store.workspaces.workspace(named: "Demo", createIfMissing: true)!
        let existingKeyWorks: Bool
        if let key = state.apiKey { existingKeyWorks = try await store.workspaces.workspace(forAPIKey: key) != nil } else { existingKeyWorks = false }
        if !existingKeyWorks {
            let key = AdminAPIKey.generate()
            try await store.workspaces.addAPIKey(workspaceID: workspace.id, key: key)
            state.apiKey = key
        }
        try demoData.save(state)
        await store.shutdown()
        let apiKey = state.apiKey!

        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        let ready = Readiness(count: 2) {
            emit("""
                Console: http://\(host):\(port)/console
                API: http://\(host):\(port)/v1
                API key: \(apiKey)
                Intercom sandbox: \(sandboxURL)
                Sandbox login: \(SandboxSeed.standard.workspaces[0].admins[0].email) / \(SandboxSeed.standard.workspaces[0].admins[0].password)
                Callback URL: \(settings.callbackURL)
                """)
        }
        // The sandbox keeps its data and issued tokens beside Switchboard's, so connections survive a restart.
        // On its first start the demo's Intercom is filled with a realistic workspace (fixed seed) to act on.
        var sandboxConfiguration = SandboxConfiguration(host: host, port: sandboxPort, dataFile: demoData.sandboxPath)
        sandboxConfiguration.realisticSeed = true
        let sandbox = try await buildSandboxApplication(
            configuration: sandboxConfiguration, state: sandboxState,
            logger: makeLogger("intercom-sandbox", level: level, format: format)
        ) { _ in await ready.arrive() }
        let switchboard = try await buildApplication(settings: settings, dependencies: Dependencies(metrics: registry), logger: logger) { _ in
            await ready.arrive()
        }
        let group = ServiceGroup(configuration: .init(services: [
            .init(service: sandbox), .init(service: switchboard),
        ], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }
}

/// Runs `action` once `count` servers have said they are listening.
actor Readiness {
    private var remaining: Int
    private let action: @Sendable () -> Void

    init(count: Int, action: @escaping @Sendable () -> Void) {
        self.remaining = count
        self.action = action
    }

    func arrive() {
        remaining -= 1
        if remaining == 0 { action() }
    }
}
