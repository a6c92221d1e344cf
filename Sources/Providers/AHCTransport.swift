public import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
public import SwitchboardCore

/// The production transport: AsyncHTTPClient, with a size cap on bodies and per-request timeouts.
public struct AHCTransport: HTTPTransport {
    let client: HTTPClient
    let maxBodyBytes: Int

    public init(client: HTTPClient = AHCTransport.sharedClient, maxBodyBytes: Int = 8 << 20) {
        self.client = client
        self.maxBodyBytes = maxBodyBytes
    }

    /// `HTTPClient.shared`'s settings, with up to 32 HTTP/1.1 connections per host rather than 8: assistants' calls
    /// to Intercom arrive together, and a call waiting for a pooled connection costs CPU as well as time
    /// (Benchmarks/actions.sh: the bare proxy went from 3,900 to 5,000 requests/s with 16 callers).
    /// Follows no redirects. Lives as long as the process, as `HTTPClient.shared` does.
    public static let sharedClient: HTTPClient = {
        var configuration = HTTPClient.Configuration.singletonConfiguration
        configuration.connectionPool = .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: 32)
        configuration.redirectConfiguration = .disallow
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }()

    /// The client for workspace-supplied URLs: every new connection is checked, once connected and before a byte of
    /// the request is written, against `AddressPolicy` on the address it actually reached (so a name that resolves,
    /// or later re-resolves, to a private address is refused). Follows no redirects; a refused connection is not retried.
    public static let guardedClient: HTTPClient = {
        var configuration = HTTPClient.Configuration.singletonConfiguration
        configuration.redirectConfiguration = .disallow
        configuration.connectionPool = .init(idleTimeout: .seconds(30), concurrentHTTP1ConnectionsPerHostSoftLimit: 8)
        configuration.connectionPool.retryConnectionEstablishment = false
        let check: @Sendable (any Channel) -> EventLoopFuture<Void> = { channel in
            // A refused connection is closed here: AsyncHTTPClient reports the failure but leaves the channel open.
            guard let address = channel.remoteAddress?.ipAddress, let bytes = AddressPolicy.literal(address) else {
                channel.close(promise: nil)
                return channel.eventLoop.makeFailedFuture(RefusedAddress(reason: "the connected address is unknown"))
            }
            if let why = AddressPolicy.refusal(bytes) {
                channel.close(promise: nil)
                return channel.eventLoop.makeFailedFuture(RefusedAddress(reason: "\(address) \(why)"))
            }
            return channel.eventLoop.makeSucceededVoidFuture()
        }
        configuration.http1_1ConnectionDebugInitializer = check
        configuration.http2ConnectionDebugInitializer = check
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }()

    /// A connection reached an address a workspace-supplied URL may not reach.
    struct RefusedAddress: Error { let reason: String }

    public func send(_ request: OutboundRequest) async throws -> OutboundResponse {
        try await send(request, preflight: true)
    }

    /// `preflight: false` skips the checks made before connecting (scheme, IP literal, `localhost`), so that tests can
    /// show the check on the connected address holds by itself.
    func send(_ request: OutboundRequest, preflight: Bool) async throws -> OutboundResponse {
        let guarded = request.destination.isGuarded
        if guarded, preflight, let why = AddressPolicy.preflight(request.url) {
            throw TransportError("\(request.method) \(request.url.host ?? "?"): refused: \(why)", kind: .refused)
        }
        var outbound = HTTPClientRequest(url: request.url.absoluteString)
        outbound.method = HTTPMethod(rawValue: request.method)
        for header in request.headers { outbound.headers.add(name: header.name, value: header.value) }
        if let body = request.body { outbound.body = .bytes(ByteBuffer(bytes: body)) }
        do {
            let client = guarded ? Self.guardedClient : self.client
            let response = try await client.execute(outbound, timeout: .milliseconds(Int64(request.timeout * 1000)))
            let body = try await response.body.collect(upTo: maxBodyBytes)
            return OutboundResponse(
                status: Int(response.status.code),
                headers: response.headers.map { ($0.name, $0.value) },
                body: Data(body.readableBytesView)
            )
        } catch let refused as RefusedAddress {
            throw TransportError("\(request.method) \(request.url.host ?? "?"): refused: \(refused.reason) (allow with --allow-private-network)", kind: .refused)
        } catch let error as HTTPClientError {
            // The error names the failure (timeout, refused), never the request's headers or body.
            let timedOut = [HTTPClientError.deadlineExceeded, .readTimeout, .connectTimeout, .writeTimeout].contains(error)
            throw TransportError("\(request.method) \(request.url.host ?? "?"): \(error)", kind: timedOut ? .timeout : .unreachable)
        } catch let error as TransportError {
            throw error
        } catch {
            throw TransportError("\(request.method) \(request.url.host ?? "?"): \(type(of: error))")
        }
    }
}
