import Foundation
import Hummingbird
import HummingbirdTesting
import SwitchboardTestSupport
import Testing
@testable import IntercomSandbox

/// The sandbox in process, with a token for Acme (US) and one for Globex (Europe).
struct RestHarness: Sendable {
    let client: any TestClientProtocol
    let acme: String
    let globex: String
    let state: SandboxState
    let time: TestTime
    let faults: Faults
    let app: SandboxApp
    let webhooks: Webhooks
    let sent: SentWebhooks

    static func with(perMinute: Int = 10_000, webhookAnswers: [Int] = [], _ body: @escaping @Sendable (RestHarness) async throws -> Void) async throws {
        let time = TestTime()
        let state = SandboxState(seed: .standard, now: { time.now() })
        let app = await state.registerApp(name: "API tests", redirectURLs: ["https://example.test/cb"])
        let acme = await state.issueToken(clientID: app.clientID, workspaceID: "acme7x2k")!
        let globex = await state.issueToken(clientID: app.clientID, workspaceID: "glbx4eu9")!
        let faults = Faults()
        let sent = SentWebhooks(answers: webhookAnswers)
        let webhooks = Webhooks(state: state, retryDelays: [.milliseconds(10), .milliseconds(10)], now: { time.now() }) { url, body, headers in
            await sent.record(url: url, body: body, headers: headers)
        }
        let router = buildSandboxRouter(state: state, data: SandboxData(seed: .standard, now: { time.now() }),
                                        limiter: RateLimiter(perMinute: perMinute, now: { time.now() }), faults: faults, webhooks: webhooks)
        try await Application(router: router).test(.router) { client in
            try await body(RestHarness(client: client, acme: acme, globex: globex, state: state, time: time, faults: faults,
                                       app: app, webhooks: webhooks, sent: sent))
        }
    }

    /// Calls the API; `contract` names the spec's path template to check the response against.
    @discardableResult
    func call(_ method: HTTPRequest.Method, _ uri: String, _ json: String? = nil, token: String? = nil, headers extra: HTTPFields = [:],
              contract: String? = nil, sourceLocation: SourceLocation = #_sourceLocation) async throws -> (status: Int, json: JSONNode, headers: HTTPFields) {
        var headers: HTTPFields = [.authorization: "Bearer \(token ?? acme)", .accept: "application/json"]
        if json != nil { headers[.contentType] = "application/json" }
        for field in extra { headers[field.name] = field.value }
        let response = try await client.execute(uri: uri, method: method, headers: headers, body: json.map { ByteBuffer(string: $0) })
        let data = Data(response.body.readableBytesView)
        let status = Int(response.status.code)
        if let contract {
            // Errors the path does not list (429, 400, 404 on most paths) are checked against the shared `error` schema.
            let listed = OpenAPIContract.intercom.responseSchema(path: contract, method: method.rawValue, status: status) != nil
            let violations = listed || status < 400
                ? OpenAPIContract.intercom.violations(of: data, path: contract, method: method.rawValue, status: status)
                : OpenAPIContract.intercom.violations(of: data, schema: "error")
            #expect(violations.isEmpty, "\(method) \(uri) → \(status) breaks the spec: \(violations.prefix(5))", sourceLocation: sourceLocation)
        }
        return (status, JSONNode.parse(data) ?? .null, response.headers)
    }

    /// Creates a contact and returns its id.
    func contact(_ json: String, token: String? = nil) async throws -> String {
        let created = try await call(.post, "/contacts", json, token: token, contract: "/contacts")
        #expect(created.status == 200, "\(created.json)")
        return try #require(created.json["id"]?.string)
    }
}

func errorCode(_ json: JSONNode) -> String? { json["errors"]?.array?.first?["code"]?.string }
func errorField(_ json: JSONNode) -> String? { json["errors"]?.array?.first?["field"]?.string }

/// Webhook posts the sandbox made, answered from a script (200 once the script runs out).
actor SentWebhooks {
    struct Post {
        let url: String
        let body: Data
        let headers: [(String, String)]
        var json: JSONNode { JSONNode.parse(body) ?? .null }
        func header(_ name: String) -> String? { headers.first { $0.0.lowercased() == name.lowercased() }?.1 }
    }

    private(set) var posts: [Post] = []
    private var answers: [Int]

    init(answers: [Int]) { self.answers = answers }

    func record(url: String, body: Data, headers: [(String, String)]) -> Int {
        posts.append(Post(url: url, body: body, headers: headers))
        return answers.isEmpty ? 200 : answers.removeFirst()
    }

    /// Waits until `count` posts arrived (deliveries run in the background); throws when 10 s run out.
    func waitFor(_ count: Int) async throws -> [Post] {
        try await eventually("\(count) webhook posts (arrived: \(posts.count))", within: .seconds(10)) { posts.count >= count }
        return posts
    }
}
