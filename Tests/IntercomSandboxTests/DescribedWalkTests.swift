import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import SwitchboardTestSupport
import Testing
@testable import IntercomSandbox

/// Walks every operation of each bundled version of Intercom's description against the sandbox.
@Suite("Every operation of Intercom's description")
struct DescribedWalkTests {
    /// A path parameter's value for a valid request: its example, else the example answer's id.
    static func value(of parameter: String, in operation: DescribedAPI.Operation, api: DescribedAPI) -> String {
        let declared = (operation.raw["parameters"]?.array ?? []).compactMap { api.resolve($0) }.first { $0["name"]?.string == parameter }
        if let example = declared?["example"] ?? declared?["schema"]?["example"] { return DescribedStore.text(example) }
        if let id = api.success(of: operation).example?["id"] { return DescribedStore.text(id) }
        return "1"
    }

    static func request(_ operation: DescribedAPI.Operation, api: DescribedAPI, id override: String? = nil) -> (uri: String, body: String?) {
        var path = ""
        for (index, segment) in operation.segments.enumerated() {
            if segment.hasPrefix("{") {
                let name = String(segment.dropFirst().dropLast())
                let value = index == operation.segments.count - 1 ? (override ?? value(of: name, in: operation, api: api)) : value(of: name, in: operation, api: api)
                path += "/" + (value.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(CharacterSet(charactersIn: "/"))) ?? value)
            } else {
                path += "/" + segment
            }
        }
        var query: [String] = []
        for parameter in (operation.raw["parameters"]?.array ?? []).compactMap({ api.resolve($0) })
        where parameter["in"]?.string == "query" && parameter["required"]?.bool == true {
            let value = parameter["example"] ?? parameter["schema"].map { api.made(from: $0, depth: 0) } ?? .string("1")
            query.append("\(parameter["name"]?.string ?? "")=\(DescribedStore.text(value).addingPercentEncoding(withAllowedCharacters: .urlQueryAllowed) ?? "")")
        }
        var body: String?
        if let media = api.resolve(operation.raw["requestBody"])?["content"]?["application/json"] {
            let example = media["example"] ?? media["examples"]?.object.flatMap { examples in
                examples.keys.sorted().first.flatMap { api.resolve(examples[$0])?["value"] }
            } ?? media["schema"].map { api.made(from: $0, depth: 0) }
            body = example.map { String(decoding: $0.encoded(), as: UTF8.self) }
        }
        return (path + (query.isEmpty ? "" : "?" + query.joined(separator: "&")), body)
    }

    @Test("each operation the hand-written routes do not take: a valid request (the description's examples) answered as described; an unknown id and a bad token answered with Intercom's error list",
          arguments: IntercomDescription.versions)
    func walk(version: String) async throws {
        let api = try #require(DescribedAPI.bundled[version])
        let contract = try #require(OpenAPIContract.intercom(version))
        let tally = Tally()
        try await RestHarness.with { harness in
            var described = 0, handWritten = 0
            var problems: [String] = []
            defer { tally.set(described, handWritten, problems) }
            for operation in api.operations {
                let what = "\(version) \(operation.method) \(operation.template)"
                let method = HTTPRequest.Method(rawValue: operation.method)!
                // An item of a collection one can add to: made first, so the request names one that exists.
                var (uri, body) = Self.request(operation, api: api)
                if DescribedStore.isItem(operation, in: api),
                   let create = api.operations.first(where: { $0.method == "POST" && $0.segments == Array(operation.segments.dropLast()) }) {
                    let (createURI, createBody) = Self.request(create, api: api)
                    let created = try await harness.rawCall(.post, createURI, createBody, headers: [HTTPField.Name("Intercom-Version")!: version])
                    let key = String(operation.segments.last!.dropFirst().dropLast())
                    if let id = (SJSON.parse(created.body)?[key] ?? SJSON.parse(created.body)?["id"]).map(DescribedStore.text) {
                        let query = uri.split(separator: "?", maxSplits: 1).dropFirst().first.map { "?" + $0 } ?? ""
                        uri = String(createURI.split(separator: "?").first ?? "") + "/" + id + query
                    }
                }
                let versionHeader: HTTPFields = [HTTPField.Name("Intercom-Version")!: version]
                let answer = try await harness.rawCall(method, uri, body, headers: versionHeader)
                let path = String(uri.split(separator: "?").first ?? "").removingPercentEncoding ?? ""
                let shape = SandboxRoutes.shape(method: operation.method, template: operation.template)
                if (answer.headers[DescribedAPIMiddleware.sourceHeader] == "description") == SandboxRoutes.handWritten.contains(shape) {
                    problems.append("\(what): RestAPI.handWritten says otherwise")
                }
                guard answer.headers[DescribedAPIMiddleware.sourceHeader] == "description" else {
                    // A hand-written route (its own tests check valid requests with real objects): it answers, as
                    // described or with Intercom's error list, never the router's bare 404.
                    handWritten += 1
                    let violations = answer.status < 400
                        ? contract.violations(path: path, method: operation.method, status: answer.status, contentType: answer.headers[.contentType], body: answer.body)
                        : contract.violations(of: answer.body, schema: "error")
                    if !violations.isEmpty { problems.append("\(what) (hand-written) → \(answer.status): \(violations.prefix(2))") }
                    continue
                }
                described += 1
                if !(200..<400).contains(answer.status) {
                    problems.append("\(what) → \(answer.status) \(String(decoding: answer.body.prefix(200), as: UTF8.self))")
                    continue
                }
                let violations = contract.violations(path: path, method: operation.method, status: answer.status, contentType: answer.headers[.contentType], body: answer.body)
                if !violations.isEmpty { problems.append("\(what) → \(answer.status): \(violations.prefix(3))") }

                let refused = try await harness.rawCall(method, uri, body, token: "not-a-token", headers: versionHeader)
                if refused.status != 401 || !contract.violations(of: refused.body, schema: "error").isEmpty { problems.append("\(what): a bad token got \(refused.status)") }
                if DescribedStore.isItem(operation, in: api) {
                    let (missing, _) = Self.request(operation, api: api, id: "no-such-object")
                    let notFound = try await harness.rawCall(method, missing, body, headers: versionHeader)
                    if notFound.status != 404 || !contract.violations(of: notFound.body, schema: "error").isEmpty {
                        problems.append("\(what): an unknown id got \(notFound.status)")
                    }
                }
            }
        }
        let (described, handWritten, problems) = tally.get()
        #expect(problems.isEmpty, "\(problems.count) operations answered against the description:\n\(problems.prefix(80).joined(separator: "\n"))")
        #expect(described + handWritten == api.operations.count && described > 0)
        print("\(version): \(api.operations.count) operations, \(described) answered from the description, \(handWritten) by hand-written routes")
    }
}

final class Tally: @unchecked Sendable {
    private let lock = NSLock()
    private var value: (Int, Int, [String]) = (0, 0, [])
    func set(_ described: Int, _ handWritten: Int, _ problems: [String]) { lock.withLock { value = (described, handWritten, problems) } }
    func get() -> (Int, Int, [String]) { lock.withLock { value } }
}

extension RestHarness {
    /// A call whose answer is returned as it came: status, headers and body bytes.
    func rawCall(_ method: HTTPRequest.Method, _ uri: String, _ json: String?, token: String? = nil, headers extra: HTTPFields = [:]) async throws
        -> (status: Int, headers: HTTPFields, body: Data) {
        var headers: HTTPFields = [.authorization: "Bearer \(token ?? acme)", .accept: "application/json"]
        if json != nil { headers[.contentType] = "application/json" }
        for field in extra { headers[field.name] = field.value }
        let response = try await client.execute(uri: uri, method: method, headers: headers, body: json.map { ByteBuffer(string: $0) })
        return (Int(response.status.code), response.headers, Data(response.body.readableBytesView))
    }
}
