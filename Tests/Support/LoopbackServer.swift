import Foundation
public import Hummingbird
import Logging
import ServiceLifecycle

/// A Hummingbird router served on a free loopback port for the length of a test: receivers, tarpits, redirectors.
public final class LoopbackServer: Sendable {
    public let port: Int
    private let task: Task<Void, any Error>
    private let group: ServiceGroup

    private init(port: Int, task: Task<Void, any Error>, group: ServiceGroup) {
        self.port = port
        self.task = task
        self.group = group
    }

    public static func start(_ router: Router<BasicRequestContext>, label: String) async throws -> LoopbackServer {
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        var logger = Logger(label: label)
        logger.logLevel = .critical
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)), onServerRunning: { channel in
            continuation.yield(channel.localAddress?.port ?? 0)
            continuation.finish()
        }, logger: logger)
        let group = ServiceGroup(configuration: .init(services: [app], logger: logger))
        // A server that cannot start ends the group: the port stream ends with it, and the start fails below.
        let task = Task {
            defer { continuation.finish() }
            try await group.run()
        }
        var port = 0
        for await value in ports { port = value }
        guard port != 0 else { throw TestSupportError("the \(label) did not start") }
        return LoopbackServer(port: port, task: task, group: group)
    }

    public func url(_ path: String) -> String { "http://127.0.0.1:\(port)\(path)" }

    public func stop() async {
        await group.triggerGracefulShutdown()
        _ = try? await task.value
    }
}
