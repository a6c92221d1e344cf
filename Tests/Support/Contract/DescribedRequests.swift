public import Foundation
public import SwitchboardCore

/// A transport that checks every request Switchboard sends to Intercom's API (the sandbox at `apiBase`) against
/// Intercom's description of the version the request names in `Intercom-Version`, then sends it on. OAuth's and the
/// sandbox's own paths are not the REST API and pass unchecked. Tests read `violations` at the end.
public final class DescribedRequests: HTTPTransport, @unchecked Sendable {
    let base: any HTTPTransport
    let apiBase: URL
    private let lock = NSLock()
    private var found: [String] = []
    private var count = 0
    private var sent: [String] = []

    /// Query parameters Intercom takes although its description leaves them out, by path template: its pagination
    /// guide pages contacts and a contact's notes with `per_page` and `starting_after`.
    public static let undeclaredQuery: [String: Set<String>] = [
        "/contacts": ["per_page", "starting_after"],
        "/contacts/{contact_id}/notes": ["per_page", "starting_after"],
    ]

    public init(_ base: any HTTPTransport, apiBase: URL) {
        self.base = base
        self.apiBase = apiBase
    }

    /// Every way a request broke its version's description so far.
    public var violations: [String] { lock.withLock { found } }
    /// How many requests were checked.
    public var checked: Int { lock.withLock { count } }
    /// Each checked request as `VERSION METHOD path`, in the order sent.
    public var requests: [String] { lock.withLock { sent } }

    public func send(_ request: OutboundRequest) async throws -> OutboundResponse {
        check(request)
        return try await base.send(request)
    }

    func check(_ request: OutboundRequest) {
        guard request.url.host == apiBase.host, request.url.port == apiBase.port else { return }
        let path = request.url.path
        guard !["/oauth", "/auth/", "/_sandbox", "/health"].contains(where: { path.hasPrefix($0) }) else { return }
        let version = request.headers.first { $0.name.lowercased() == "intercom-version" }?.value
        var problems: [String] = []
        if let version, let contract = OpenAPIContract.intercom(version) {
            let items = URLComponents(url: request.url, resolvingAgainstBaseURL: false)?.queryItems ?? []
            problems = contract.requestViolations(method: request.method, path: path, query: items.map { ($0.name, $0.value ?? "") },
                                                  headers: request.headers, body: request.body, undeclaredQuery: Self.undeclaredQuery)
        } else {
            problems = ["\(request.method) \(path) names Intercom-Version \(version ?? "(none)"), which has no description here"]
        }
        lock.withLock {
            sent.append("\(version ?? "-") \(request.method) \(path)")
            count += 1
            found += problems.map { "[\(version ?? "-")] \($0)" }
        }
    }
}
