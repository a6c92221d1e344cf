import Foundation
import Hummingbird
import NIOCore
import Logging

/// How to run a sandbox.
public struct SandboxConfiguration: Sendable {
    public var host: String
    public var port: Int
    public var seed: SandboxSeed

    public init(host: String = "127.0.0.1", port: Int = 8081, seed: SandboxSeed = .standard) {
        self.host = host
        self.port = port
        self.seed = seed
    }
}

/// Builds the Intercom sandbox application: `switchboard sandbox`, the demo and the tests all run this.
public func buildSandboxApplication(
    configuration: SandboxConfiguration,
    state: SandboxState? = nil,
    logger: Logger = Logger(label: "intercom-sandbox"),
    onServerRunning: @escaping @Sendable (any Channel) async -> Void = { _ in }
) -> some ApplicationProtocol {
    let state = state ?? SandboxState(seed: configuration.seed)
    let router = buildSandboxRouter(state: state)
    return Application(
        router: router,
        configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "intercom-sandbox"),
        onServerRunning: onServerRunning,
        logger: logger
    )
}

/// The sandbox's routes, for in-process tests.
public func buildSandboxRouter(state: SandboxState) -> Router<BasicRequestContext> {
    let router = Router(context: BasicRequestContext.self)
    OAuthRoutes(state: state).register(on: router)
    DeveloperHubRoutes(state: state).register(on: router)
    router.get("/health") { _, _ in "ok" }
    return router
}
