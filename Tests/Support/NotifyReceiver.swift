public import Foundation
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle

/// A tiny assistant endpoint on a loopback port: records every POST it gets and answers with the statuses it is told to.
public final class NotifyReceiver: @unchecked Sendable {
    public struct Delivery: Sendable {
        /// Header values by lower-case name.
        public let headers: [String: String]
        public let body: Data
        public init(headers: [String: String], body: Data) {
            self.headers = headers
            self.body = body
        }
        public var json: [String: Any] { (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] ?? [:] }
        public var type: String? { json["type"] as? String }
    }

    public let url: String
    private let lock = NSLock()
    private var received: [Delivery] = []
    private var statuses: [Int] = []
    private var server: LoopbackServer?

    private init(url: String) { self.url = url }

    /// Starts it; the next answers come from `answer(…)`, then 200.
    public static func start() async throws -> NotifyReceiver {
        let holder = Holder()
        let router = Router()
        router.post("/hook") { request, _ -> Response in
            let body = try await request.body.collect(upTo: 1 << 20)
            var headers: [String: String] = [:]
            for field in request.headers { headers[field.name.canonicalName.lowercased()] = field.value }
            let status = holder.receiver?.record(Delivery(headers: headers, body: Data(body.readableBytesView))) ?? 200
            return Response(status: .init(code: status))
        }
        let server = try await LoopbackServer.start(router, label: "notify receiver")
        let receiver = NotifyReceiver(url: server.url("/hook"))
        receiver.server = server
        holder.receiver = receiver
        return receiver
    }

    final class Holder: @unchecked Sendable { weak var receiver: NotifyReceiver? }

    func record(_ delivery: Delivery) -> Int {
        lock.withLock {
            received.append(delivery)
            return statuses.isEmpty ? 200 : statuses.removeFirst()
        }
    }

    /// The statuses of the next answers, in order.
    public func answer(_ statuses: Int...) { lock.withLock { self.statuses = statuses } }

    public var deliveries: [Delivery] { lock.withLock { received } }

    /// Waits until `count` deliveries have arrived and returns them all; throws, naming what did arrive, when
    /// `seconds` run out.
    public func wait(for count: Int, seconds: Double = 20) async throws -> [Delivery] {
        try await eventually("\(count) deliveries (arrived: \(deliveries.map(\.type)))", within: .milliseconds(Int(seconds * 1000))) {
            deliveries.count >= count
        }
        return deliveries
    }

    public func stop() async {
        await server?.stop()
    }
}
