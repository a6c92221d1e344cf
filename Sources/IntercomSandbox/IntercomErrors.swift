import Foundation
import Hummingbird

/// Intercom's error body: `{"type":"error.list","request_id":…,"errors":[{code, message, field?}]}`.
struct IntercomError: HTTPResponseError, CustomStringConvertible {
    var description: String { "\(field.map { "\($0): " } ?? "")\(message)" }

    let status: HTTPResponse.Status
    let code: String
    let message: String
    let field: String?

    init(_ status: HTTPResponse.Status, code: String, message: String, field: String? = nil) {
        self.status = status
        self.code = code
        self.message = message
        self.field = field
    }

    static let unauthorized = IntercomError(.unauthorized, code: "unauthorized", message: "Access Token Invalid")
    static let tokenRevoked = IntercomError(.unauthorized, code: "token_revoked", message: "Token revoked")

    func response(from request: Request, context: some RequestContext) throws -> Response {
        var error: [String: String] = ["code": code, "message": message]
        if let field { error["field"] = field }
        return JSONBody.response(status: status, [
            "type": "error.list",
            "request_id": UUID().uuidString.lowercased(),
            "errors": [error],
        ])
    }
}

enum JSONBody {
    static func response(status: HTTPResponse.Status = .ok, _ object: Any) -> Response {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8)
        return Response(
            status: status,
            headers: [.contentType: "application/json; charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(bytes: data))
        )
    }

    static func html(status: HTTPResponse.Status = .ok, _ html: String) -> Response {
        Response(status: status, headers: [.contentType: "text/html; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: html)))
    }
}

/// Reads form or JSON bodies into flat string fields.
enum BodyFields {
    static func read(_ request: Request, context: some RequestContext) async throws -> [String: String] {
        let buffer = try await request.body.collect(upTo: 1 << 20)
        let text = String(buffer: buffer)
        let contentType = request.headers[.contentType]?.lowercased() ?? ""
        if contentType.contains("json") || text.hasPrefix("{") {
            guard let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] else { return [:] }
            var result: [String: String] = [:]
            for (key, value) in object {
                if let string = value as? String { result[key] = string } else { result[key] = "\(value)" }
            }
            return result
        }
        var result: [String: String] = [:]
        for pair in text.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func unescape(_ s: Substring) -> String { String(s).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? String(s) }
            result[unescape(parts[0])] = parts.count > 1 ? unescape(parts[1]) : ""
        }
        return result
    }
}

extension Request {
    /// The bearer token, if the request carries one.
    var bearerToken: String? {
        guard let header = headers[.authorization] else { return nil }
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return nil }
        let token = parts[1].trimmingCharacters(in: .whitespaces)
        return token.isEmpty ? nil : token
    }
}
