import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import Providers
import SQLKit
import ServiceLifecycle
import SwitchboardCore
import SwitchboardServer
import SwitchboardStore
import SwitchboardTestSupport
import Testing

/// A receiver that takes requests and answers none of them until released: counts how many are held at once.
final class Tarpit: @unchecked Sendable {
    private let lock = NSLock()
    private var held = 0
    private(set) var maxHeld = 0
    private(set) var arrived = 0
    private var released = false
    private var server: LoopbackServer?

    var url: String { server?.url("/hook") ?? "" }
    private var waiting: [CheckedContinuation<Void, Never>] = []

    var heldNow: Int { lock.withLock { held } }

    /// Lets every held request answer, and every later one answer at once.
    func release() {
        let woken = lock.withLock {
            released = true
            defer { waiting = [] }
            return waiting
        }
        for continuation in woken { continuation.resume() }
    }

    /// Holds the request until `release`.
    private func hold() async {
        await withCheckedContinuation { continuation in
            let now = lock.withLock {
                if released { return true }
                waiting.append(continuation)
                return false
            }
            if now { continuation.resume() }
        }
    }

    static func start() async throws -> Tarpit {
        let tarpit = Tarpit()
        let router = Router()
        router.post("/hook") { [weak tarpit] _, _ -> Response in
            tarpit?.enter()
            // Held until released; `stop` releases, so a failed test cannot leave it hanging.
            await tarpit?.hold()
            tarpit?.leave()
            return Response(status: .ok)
        }
        tarpit.server = try await LoopbackServer.start(router, label: "tarpit")
        return tarpit
    }

    private func enter() { lock.withLock { held += 1; arrived += 1; maxHeld = max(maxHeld, held) } }
    private func leave() { lock.withLock { held -= 1 } }

    func stop() async {
        release()
        await server?.stop()
    }
}

@Suite("Event delivery bounds")
struct DeliveryBoundsTests {
    func pendingEvent(_ harness: Harness, integrationID: String, workspaceID: String? = nil) -> EventRecord {
        let now = harness.clock.now()
        let id = Identifier.make("evt")
        return EventRecord(id: id, workspaceID: workspaceID ?? harness.workspace.id, integrationID: integrationID, type: .connectionCreated, endUserID: "u",
                           payload: .object(["id": .string(id), "type": .string("connection.created")]), status: .pending, attempts: 0,
                           nextAttemptAt: now, lastStatus: nil, lastError: nil, createdAt: now, deliveredAt: nil)
    }

    func notifying(_ harness: Harness, _ client: any TestClientProtocol, _ url: String, key: String? = nil) async throws -> String {
        let created = try object(try await client.call(.post, "/v1/integrations", harness,
            json: "{\"name\":\"bot\",\"app\":\"system\",\"authorization\":\"per_user\",\"notifyURL\":\"\(url)\"}", key: key))
        return try #require(created["id"] as? String)
    }

    /// A tarpit and a receiver that answers at once, around a harness; both stopped however the body ends.
    func withTarpit(_ body: @escaping @Sendable (Harness, any TestClientProtocol, Tarpit, NotifyReceiver) async throws -> Void) async throws {
        let tarpit = try await Tarpit.start()
        let fast = try await NotifyReceiver.start()
        do {
            try await Harness.with { harness, client in try await body(harness, client, tarpit, fast) }
        } catch {
            await tarpit.stop()
            await fast.stop()
            throw error
        }
        await tarpit.stop()
        await fast.stop()
    }

    @Test("a receiver that never answers holds only its own integration's two slots: another integration's events arrive meanwhile")
    func tarpitDoesNotDelayOthers() async throws {
        try await withTarpit { harness, client, tarpit, fast in
            let slow = try await notifying(harness, client, tarpit.url)
            let quick = try await notifying(harness, client, fast.url)
            // The tarpit's events are older, so they come first in the due list.
            for _ in 0..<30 { try await harness.store.events.insert(pendingEvent(harness, integrationID: slow)) }
            harness.clock.advance(by: 1)
            for _ in 0..<5 { try await harness.store.events.insert(pendingEvent(harness, integrationID: quick)) }

            let round = Task { await harness.events.deliverDue() }
            let arrived = try await fast.wait(for: 5, seconds: 30)
            #expect(arrived.count == 5, "the fast receiver got all its events")
            try await eventually("the tarpit holding its integration's bound") { tarpit.heldNow == EventDispatcher.perIntegrationLimit }
            #expect(tarpit.arrived == EventDispatcher.perIntegrationLimit, "and no more than its per-integration bound were sent to it")
            tarpit.release()
            await round.value
            await tarpit.stop()
            #expect(tarpit.maxHeld == EventDispatcher.perIntegrationLimit)
        }
    }

    @Test("one workspace's many stuck receivers hold at most its share of the slots: another workspace's events arrive meanwhile")
    func workspaceShare() async throws {
        try await withTarpit { harness, client, tarpit, fast in
            for _ in 0..<9 {
                let slow = try await notifying(harness, client, tarpit.url)
                for _ in 0..<2 { try await harness.store.events.insert(pendingEvent(harness, integrationID: slow)) }
            }
            harness.clock.advance(by: 1)
            let other = try await harness.otherWorkspaceKey()
            let otherWorkspace = try #require(try await harness.store.workspaces.workspace(forAPIKey: other))
            let quick = try await notifying(harness, client, fast.url, key: other)
            for _ in 0..<3 { try await harness.store.events.insert(pendingEvent(harness, integrationID: quick, workspaceID: otherWorkspace.id)) }

            let round = Task { await harness.events.deliverDue() }
            #expect(try await fast.wait(for: 3, seconds: 30).count == 3, "the other workspace's events arrived")
            try await eventually("the stuck workspace holding its share") { tarpit.heldNow == EventDispatcher.perWorkspaceLimit }
            #expect(tarpit.arrived == EventDispatcher.perWorkspaceLimit, "and no more")
            tarpit.release()
            await round.value
            #expect(tarpit.maxHeld == EventDispatcher.perWorkspaceLimit)
        }
    }

    @Test("two workspaces whose receivers all hang hold at most their two shares: a third workspace's events arrive meanwhile")
    func hungWorkspacesLeaveRoom() async throws {
        try await withTarpit { harness, client, tarpit, fast in
            for _ in 0..<2 {
                let key = try await harness.otherWorkspaceKey()
                let workspace = try #require(try await harness.store.workspaces.workspace(forAPIKey: key))
                for _ in 0..<5 {
                    let stuck = try await notifying(harness, client, tarpit.url, key: key)
                    for _ in 0..<3 { try await harness.store.events.insert(pendingEvent(harness, integrationID: stuck, workspaceID: workspace.id)) }
                }
            }
            harness.clock.advance(by: 1)
            let quick = try await notifying(harness, client, fast.url)
            for _ in 0..<3 { try await harness.store.events.insert(pendingEvent(harness, integrationID: quick)) }

            let round = Task { await harness.events.deliverDue() }
            #expect(try await fast.wait(for: 3, seconds: 30).count == 3, "the third workspace's events arrived")
            try await eventually("the hung workspaces holding their shares") { tarpit.heldNow == 2 * EventDispatcher.perWorkspaceLimit }
            #expect(tarpit.arrived == 2 * EventDispatcher.perWorkspaceLimit, "and no more")
            tarpit.release()
            await round.value
        }
    }

    @Test("a receiver that times out is backed off: its other events wait in the database, untried, until one probe after the back-off")
    func slowReceiverBackedOff() async throws {
        let attempts = Counter()
        let transport = ClosureTransport { request in
            guard request.url.host == "slow.example" else { return try await AHCTransport().send(request) }
            _ = attempts.next()
            throw TransportError("no answer", kind: .timeout)
        }
        try await Harness.with(transport: transport) { harness, client in
            let slow = try await notifying(harness, client, "https://slow.example/hook")
            for _ in 0..<10 { try await harness.store.events.insert(pendingEvent(harness, integrationID: slow)) }
            await harness.events.deliverDue()
            let first = EventDispatcher.perIntegrationLimit
            #expect(attempts.value == first, "its first workers' attempts, not the integration's whole queue")
            await harness.events.deliverDue()
            #expect(attempts.value == first, "backed off")
            harness.clock.advance(by: EventDispatcher.slowBackoff + 1)
            await harness.events.deliverDue()
            #expect(attempts.value == first + 1, "one probe after the back-off")
            harness.clock.advance(by: EventDispatcher.slowBackoff + 1)
            await harness.events.deliverDue()
            #expect(attempts.value == first + 1, "the back-off doubled")
            let untried = try await harness.store.database.read { db in
                try await db.select().column("id").from("events").where("attempts", .equal, 0).all().count
            }
            #expect(untried == 10 - first - 1, "the others were not tried")
        }
    }
}
