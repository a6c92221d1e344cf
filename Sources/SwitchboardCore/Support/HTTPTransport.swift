public import Foundation

/// One outbound HTTP request, free of any HTTP framework so that logic above it can be tested.
public struct OutboundRequest: Sendable {
    public var method: String
    public var url: URL
    public var headers: [(name: String, value: String)]
    public var body: Data?
    public var timeout: TimeInterval
    /// Who chose the URL: a workspace-supplied one is held to the outbound address rules.
    public var destination: OutboundDestination

    public init(method: String, url: URL, headers: [(name: String, value: String)] = [], body: Data? = nil, timeout: TimeInterval = 20,
                destination: OutboundDestination = .operatorSet) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.timeout = timeout
        self.destination = destination
    }

    public func header(_ name: String) -> String? { HeaderName.value(of: name, in: headers) }
}

public struct OutboundResponse: Sendable {
    public var status: Int
    public var headers: [(name: String, value: String)]
    public var body: Data

    public init(status: Int, headers: [(name: String, value: String)] = [], body: Data = Data()) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    public func header(_ name: String) -> String? { HeaderName.value(of: name, in: headers) }
}

/// Header names compare without regard to ASCII case (RFC 9110 §5.1), here without allocating: the executor looks up
/// several in every Intercom response.
public enum HeaderName {
    public static func value(of name: String, in headers: [(name: String, value: String)]) -> String? {
        headers.first { equal($0.name, name) }?.value
    }

    public static func equal(_ a: String, _ b: String) -> Bool {
        a.utf8.count == b.utf8.count && zip(a.utf8, b.utf8).allSatisfy { x, y in
            x == y || (x ^ y == 0x20 && (0x61...0x7A).contains(x | 0x20))
        }
    }
}

/// Why a request never produced a response: the network or a timeout (transient), or the outbound address rules
/// (`refused`: the URL must change, or the operator allow private networks).
public struct TransportError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable { case timeout, unreachable, refused }
    public var kind: Kind
    public var description: String
    public init(_ description: String, kind: Kind = .unreachable) {
        self.description = description
        self.kind = kind
    }
}

/// The HTTP client seam: AsyncHTTPClient in production, a closure in tests.
///
/// A transport follows no redirects: a 3xx is returned as it is (a token endpoint or receiver that redirects fails,
/// naming the status), and a workspace-supplied destination is checked against `AddressPolicy`.
public protocol HTTPTransport: Sendable {
    /// Sends the request; throws `TransportError` when no response arrived.
    func send(_ request: OutboundRequest) async throws -> OutboundResponse
}

/// A transport made of one closure, for tests and adapters.
public struct ClosureTransport: HTTPTransport {
    let handler: @Sendable (OutboundRequest) async throws -> OutboundResponse
    public init(_ handler: @escaping @Sendable (OutboundRequest) async throws -> OutboundResponse) { self.handler = handler }
    public func send(_ request: OutboundRequest) async throws -> OutboundResponse { try await handler(request) }
}
