import Foundation
import Hummingbird
import SwitchboardCore

/// JSON bodies built from `JSONValue`, so what a response holds is spelled out field by field.
enum JSONResponse {
    static func make(_ value: JSONValue, status: HTTPResponse.Status = .ok) -> Response {
        make(json: value.jsonData(), status: status)
    }

    /// A body that is JSON text already.
    static func make(json data: Data, status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: [.contentType: "application/json; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    static func list(_ items: [JSONValue]) -> Response {
        make(.object(["data": .array(items), "count": .number(Double(items.count))]))
    }
}

extension JSONValue {
    static func time(_ date: Date?) -> JSONValue {
        guard let date else { return .null }
        return .string(date.formatted(.iso8601))
    }

    static func optional(_ string: String?) -> JSONValue { string.map(JSONValue.string) ?? .null }

    static func strings(_ values: [String]) -> JSONValue { .array(values.map(JSONValue.string)) }

    static func map(_ values: [String: String]) -> JSONValue { .object(values.mapValues(JSONValue.string)) }
}

extension Request {
    /// The body as an input reader; an oversized body is a problem, not a crash.
    func inputReader(context: some RequestContext) async throws -> InputReader {
        let buffer: ByteBuffer
        do {
            buffer = try await body.collect(upTo: context.maxUploadSize)
        } catch {
            throw Problem(status: 413, code: "body_too_large", title: "Body too large",
                          detail: "The request body is larger than \(context.maxUploadSize / 1024) KiB.")
        }
        if let type = headers[.contentType], buffer.readableBytes > 0, !type.lowercased().contains("json") {
            throw Problem(status: 415, code: "unsupported_media_type", title: "Unsupported media type",
                          detail: "Send the body as application/json, not '\(Problem.clip(type, to: 64))'.")
        }
        return try InputReader(body: Data(buffer.readableBytesView))
    }
}
