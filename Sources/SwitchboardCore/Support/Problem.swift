public import Foundation

/// A failure as a client sees it: an RFC 9457 problem with a stable `code`.
///
/// Every error that reaches a caller is one of these; `detail` never carries a secret.
public struct Problem: Error, Sendable, Equatable, Codable {
    public struct FieldError: Sendable, Equatable, Codable {
        public var field: String
        public var detail: String
        public init(field: String, detail: String) {
            self.field = field
            self.detail = detail
        }
    }

    public var httpStatus: Int
    public var code: String
    public var title: String
    public var detail: String
    public var field: String?
    public var errors: [FieldError]?
    /// Extra members specific to a code (e.g. `retryAfter`).
    public var extra: [String: JSONValue]?

    public init(status: Int, code: String, title: String, detail: String, field: String? = nil, errors: [FieldError]? = nil, extra: [String: JSONValue]? = nil) {
        self.httpStatus = status
        self.code = code
        self.title = title
        self.detail = detail
        self.field = field
        self.errors = errors
        self.extra = extra
    }

    /// The problem's type URI, stable per code.
    public var type: String { "https://switchboard.dev/problems/\(code)" }

    /// The problem+json document.
    public func jsonBody() -> Data {
        var object: [String: JSONValue] = [
            "type": .string(type), "title": .string(title), "status": .number(Double(httpStatus)),
            "code": .string(code), "detail": .string(detail),
        ]
        if let field { object["field"] = .string(field) }
        if let errors {
            object["errors"] = .array(errors.map { .object(["field": .string($0.field), "detail": .string($0.detail)]) })
        }
        for (key, value) in extra ?? [:] where object[key] == nil { object[key] = value }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(JSONValue.object(object))) ?? Data()
    }
}

extension Problem {
    public static func validation(_ errors: [FieldError]) -> Problem {
        let first = errors.first
        let detail = switch errors.count {
        case 0: "The input is invalid."
        case 1: "\(first!.field): \(first!.detail)"
        default: "\(errors.count) fields are invalid: " + errors.map { "\($0.field): \($0.detail)" }.joined(separator: "; ")
        }
        return Problem(status: 422, code: "validation_failed", title: "Invalid input", detail: detail, field: first?.field, errors: errors)
    }

    public static func invalidJSON(_ detail: String) -> Problem {
        Problem(status: 400, code: "invalid_json", title: "Malformed JSON", detail: detail)
    }

    public static func notFound(_ what: String, id: String? = nil) -> Problem {
        let detail = id.map { "No \(what) with id '\(Problem.clip($0))' exists in this workspace." } ?? "No such \(what)."
        return Problem(status: 404, code: "not_found", title: "Not found", detail: detail)
    }

    public static func conflict(_ code: String, _ detail: String, field: String? = nil) -> Problem {
        Problem(status: 409, code: code, title: "Conflict", detail: detail, field: field)
    }

    public static let unauthenticated = Problem(
        status: 401, code: "unauthenticated", title: "Authentication required",
        detail: "Send an admin API key as 'Authorization: Bearer <key>'. Create one with 'switchboard keys create --workspace NAME'."
    )

    public static let invalidAPIKey = Problem(
        status: 401, code: "invalid_api_key", title: "Invalid API key", detail: "The API key is unknown, revoked or expired."
    )

    public static func internalError() -> Problem {
        Problem(status: 500, code: "internal_error", title: "Internal error", detail: "Switchboard failed to handle this request; the server log has the cause.")
    }

    /// Shortens a user-supplied value before echoing it, so that errors stay readable.
    public static func clip(_ value: String, to length: Int = 64) -> String {
        value.count <= length ? value : String(value.prefix(length)) + "…"
    }
}
