public import AsyncHTTPClient
import Foundation
import NIOCore
public import NIOHTTP1

/// The one HTTP helper tests use to talk to a real server over loopback (Switchboard, the sandbox, a fake): it never
/// follows redirects, so a test sees every `Location`.
public enum LoopbackHTTP {
    public struct Answer: Sendable {
        public let status: Int
        public let headers: HTTPHeaders
        public let body: String

        /// The body as a JSON object (empty when it is not one).
        public var json: [String: Any] { (try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any] ?? [:] }
        public var location: String? { headers.first(name: "location") }
        /// The `name=value` of the first cookie the response set.
        public var cookie: String? { headers.first(name: "set-cookie").map { String($0.split(separator: ";")[0]) } }
    }

    /// An HTTP client that does not follow redirects.
    public static let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: .init(redirectConfiguration: .disallow))

    public static func send(_ method: HTTPMethod = .GET, _ url: String, headers: [(String, String)] = [], json: String? = nil,
                            form: [(String, String)]? = nil, timeout: Int64 = 20) async throws -> Answer {
        var request = HTTPClientRequest(url: url)
        request.method = method
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let json {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: json))
        } else if let form {
            var allowed = CharacterSet.alphanumerics
            allowed.insert(charactersIn: "-._~")
            request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
            request.body = .bytes(ByteBuffer(string: form.map { "\($0.0)=\($0.1.addingPercentEncoding(withAllowedCharacters: allowed)!)" }.joined(separator: "&")))
        }
        let response = try await client.execute(request, timeout: .seconds(timeout))
        let body = try await response.body.collect(upTo: 1 << 20)
        return Answer(status: Int(response.status.code), headers: response.headers, body: String(buffer: body))
    }
}

extension LiveSandbox {
    /// The one faults helper: sets the sandbox's injected faults (`{}` clears them), as `PUT /_sandbox/faults` takes them.
    public func setFaults(_ json: String) async throws {
        let answer = try await LoopbackHTTP.send(.PUT, url + "/_sandbox/faults", json: json, timeout: 5)
        guard answer.status == 200 else { throw TestSupportError("setting faults answered \(answer.status): \(answer.body.prefix(200))") }
    }

    /// What the sandbox's `/me` answers a token: 200 while the grant stands, 401 once revoked.
    public func me(token: String) async throws -> Int {
        try await LoopbackHTTP.send(.GET, url + "/me", headers: [("Authorization", "Bearer \(token)"), ("Intercom-Version", "2.14")], timeout: 10).status
    }
}
