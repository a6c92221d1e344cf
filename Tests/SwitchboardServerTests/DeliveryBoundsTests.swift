import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import ServiceLifecycle
import SwitchboardCore
import SwitchboardServer
import SwitchboardStore
import SwitchboardTestSupport
import Testing

/// A receiver that takes requests and answers none of them until released: counts how many are held at once.
final class Tarpit: @unchecked Sendable {
    let url: String
    private let lock = NSLock()
    private var held = 0
    private(set) var maxHeld = 0
    private(set) var arrived = 0
    private var released = false
    private let task: Task<Void, any Error>
    private let group: ServiceGroup

    private init(url: String, task: Task<Void, any Error>, group: ServiceGroup) {
        self.url = url
        self.task = task
        self.group = group
    }

    var heldNow: Int { lock.withLock { held } }
    var isReleased: Bool { lock.withLock { released } }
    func release() { lock.withLock { released = true } }

    static func start() async throws -> Tarpit {
        let box = Box()
        let router = Router()
        router.post("/hook") { _, _ -> Response in
            box.tarpit?.enter()
            // Held until released (or a minute, so a failed test cannot hang).
            for _ in 0..<6000 where box.tarpit?.isReleased == false { try await Task.sleep(for: .milliseconds(10)) }
            box.tarpit?.leave()
            return Response(status: .ok)
        }
        let (ports, portContinuation) = AsyncStream.makeStream(of: Int.self)
        var logger = Logger(label: "tarpit")
        logger.logLevel = .critical
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)), onServerRunning: { channel in
            portContinuation.yield(channel.localAddress?.port ?? 0)
            portContinuation.finish()
        }, logger: logger)
        let group = ServiceGroup(configuration: .init(services: [app], logger: logger))
        let task = Task { try await group.run() }
        var port = 0
        for await value in ports { port = value }
        let tarpit = Tarpit(url: "http://127.0.0.1:\(port)/hook", task: task, group: group)
        box.tarpit = tarpit
        return tarpit
    }

    final class Box: @unchecked Sendable { weak var tarpit: Tarpit? }

    private func enter() { lock.withLock { held += 1; arrived += 1; maxHeld = max(maxHeld, held) } }
    private func leave() { lock.withLock { held -= 1 } }

    func stop() async {
        release()
        await group.triggerGracefulShutdown()
        _ = try? await task.value
    }
}

@Suite("Event delivery bounds")
struct DeliveryBoundsTests {
    func pendingEvent(_ harness: Harness, integrationID: String) -> EventRecord {
        let now = harness.clock.now()
        let id = Identifier.make("evt")
        return EventRecord(id: id, workspaceID: harness.workspace.id, integrationID: integrationID, type: .connectionCreated, endUserID: "u",
                           payload: .object(["id": .string(id), "type": .string("connection.created")]), status: .pending, attempts: 0,
                           nextAttemptAt: now, lastStatus: nil, lastError: nil, createdAt: now, deliveredAt: nil)
    }

    func notifying(_ harness: Harness, _ client: any TestClientProtocol, _ url: String) async throws -> String {
        let created = try object(try await client.call(.post, "/v1/integrations", harness,
            json: "{\"name\":\"bot\",\"app\":\"system\",\"authorization\":\"per_user\",\"notifyURL\":\"\(url)\"}"))
        return try #require(created["id"] as? String)
    }

    @Test("a receiver that never answers holds only its own integration's two slots: another integration's events arrive meanwhile")
    func tarpitDoesNotDelayOthers() async throws {
        let tarpit = try await Tarpit.start()
        let fast = try await NotifyReceiver.start()
        do {
            try await Harness.with { harness, client in
                let slow = try await notifying(harness, client, tarpit.url)
                let quick = try await notifying(harness, client, fast.url)
                // The tarpit's events are older, so they come first in the due list.
                for _ in 0..<30 { try await harness.store.insert(pendingEvent(harness, integrationID: slow)) }
                harness.clock.advance(by: 1)
                for _ in 0..<5 { try await harness.store.insert(pendingEvent(harness, integrationID: quick)) }

                let round = Task { await harness.events.deliverDue() }
                let arrived = try await fast.wait(for: 5, seconds: 10)
                #expect(arrived.count == 5, "the fast receiver got all its events")
                #expect(tarpit.heldNow == EventDispatcher.perIntegrationLimit, "while the tarpit still holds its deliveries")
                #expect(tarpit.arrived == EventDispatcher.perIntegrationLimit, "and no more than its per-integration bound were sent to it")
                tarpit.release()
                await round.value
                await tarpit.stop()
                #expect(tarpit.maxHeld == EventDispatcher.perIntegrationLimit)
            }
        } catch {
            await tarpit.stop()
            await fast.stop()
            throw error
        }
        await fast.stop()
    }
}
