// The floor of Switchboard's own stack, for Benchmarks/actions.sh: what nginx does in that benchmark (forward the
// request, add the bearer header, hand back Intercom's bytes), written with Hummingbird and AsyncHTTPClient as
// Switchboard uses them, and nothing else: no middleware, no key check, no JSON. Not part of the product.
// A GET is forwarded as it came; a POST (shaped like an action call) has its body read, then UPSTREAM_POST_PATH
// is fetched, so that the floor of Switchboard's own request shape is measured too.
// Usage: stack-floor-proxy PORT UPSTREAM_URL TOKEN UPSTREAM_POST_PATH
import AsyncHTTPClient
import Foundation
import Hummingbird
import NIOCore
import NIOHTTP1

let arguments = CommandLine.arguments
guard arguments.count == 5, let port = Int(arguments[1]) else {
    FileHandle.standardError.write(Data("usage: stack-floor-proxy PORT UPSTREAM_URL TOKEN UPSTREAM_POST_PATH\n".utf8))
    exit(2)
}
let upstream = arguments[2], token = arguments[3], postPath = arguments[4]
// As many pooled connections to the upstream as nginx keeps (`keepalive 32`), and as Switchboard's default.
var configuration = HTTPClient.Configuration.singletonConfiguration
configuration.connectionPool = .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: 32)
let client = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)

@Sendable func forward(_ pathAndQuery: String) async throws -> Response {
    var outbound = HTTPClientRequest(url: upstream + pathAndQuery)
    outbound.headers.add(name: "Authorization", value: "Bearer \(token)")
    outbound.headers.add(name: "Accept", value: "application/json")
    outbound.headers.add(name: "Intercom-Version", value: "2.14")
    let response = try await client.execute(outbound, timeout: .seconds(20))
    let body = try await response.body.collect(upTo: 8 << 20)
    return Response(status: .init(code: Int(response.status.code)), headers: [.contentType: "application/json; charset=utf-8"],
                    body: .init(byteBuffer: body))
}

let router = Router()
router.get("**") { request, _ in try await forward(request.uri.description) }
router.post("**") { request, _ in
    _ = try await request.body.collect(upTo: 1 << 20)
    return try await forward(postPath)
}
let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: port)))
try await app.runService()
