import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import SwitchboardCore

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
    /// Lives as long as the process, as `HTTPClient.shared` does.
    public static let sharedClient: HTTPClient = {
        var configuration = HTTPClient.Configuration.singletonConfiguration
        configuration.connectionPool = .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: 32)
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }()

    public func send(_ request: OutboundRequest) async throws -> OutboundResponse {
        var outbound = HTTPClientRequest(url: request.url.absoluteString)
        outbound.method = HTTPMethod(rawValue: request.method)
        for header in request.headers { outbound.headers.add(name: header.name, value: header.value) }
        if let body = request.body { outbound.body = .bytes(ByteBuffer(bytes: body)) }
        do {
            let response = try await client.execute(outbound, timeout: .milliseconds(Int64(request.timeout * 1000)))
            let body = try await response.body.collect(upTo: maxBodyBytes)
            return OutboundResponse(
                status: Int(response.status.code),
                headers: response.headers.map { ($0.name, $0.value) },
                body: Data(body.readableBytesView)
            )
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
