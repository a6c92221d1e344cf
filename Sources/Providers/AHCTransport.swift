import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import SwitchboardCore

/// The production transport: AsyncHTTPClient, with a size cap on bodies and per-request timeouts.
public struct AHCTransport: HTTPTransport {
    let client: HTTPClient
    let maxBodyBytes: Int

    public init(client: HTTPClient = .shared, maxBodyBytes: Int = 8 << 20) {
        self.client = client
        self.maxBodyBytes = maxBodyBytes
    }

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
