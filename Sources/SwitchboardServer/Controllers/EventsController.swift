import Foundation
import Hummingbird
import SwitchboardCore
import SwitchboardStore

/// `GET /v1/events?integration=&limit=&starting_after=`: the delivery log, newest first (never payloads).
struct EventsController: Sendable {
    let store: Store

    var routes: RouteCollection<WorkspaceRequestContext> {
        let routes = RouteCollection(context: WorkspaceRequestContext.self)
        routes.get("events", use: list)
        return routes
    }

    @Sendable func list(request: Request, context: WorkspaceRequestContext) async throws -> Response {
        let query = request.uri.queryParameters
        let (limit, cursor) = try Paging.read(limit: query["limit"], startingAfter: query["starting_after"])
        let events = try await store.events.events(workspaceID: context.workspace.id, integrationID: try Paging.filter(query, "integration"), limit: limit, before: cursor)
        var body: [String: JSONValue] = ["data": .array(events.map(Self.represent)), "count": .number(Double(events.count))]
        if events.count == limit, let last = events.last { body["next"] = .string("\(last.createdAt.unixSeconds):\(last.id)") }
        return JSONResponse.make(.object(body))
    }

    static func represent(_ event: EventRecord) -> JSONValue {
        .object([
            "id": .string(event.id), "type": .string(event.type.rawValue), "integrationId": .string(event.integrationID),
            "userId": .optional(event.endUserID), "status": .string(event.status.rawValue), "attempts": .number(Double(event.attempts)),
            "lastStatus": event.lastStatus.map { .number(Double($0)) } ?? .null, "lastError": .optional(event.lastError),
            "nextAttemptAt": event.status == .pending ? .time(event.nextAttemptAt) : .null,
            "createdAt": .time(event.createdAt), "deliveredAt": .time(event.deliveredAt),
        ])
    }
}

/// `GET /v1/audit?limit=&starting_after=`: the workspace's administrative changes, newest first.
struct AuditController: Sendable {
    let store: Store

    var routes: RouteCollection<WorkspaceRequestContext> {
        let routes = RouteCollection(context: WorkspaceRequestContext.self)
        routes.get("audit", use: list)
        return routes
    }

    @Sendable func list(request: Request, context: WorkspaceRequestContext) async throws -> Response {
        let query = request.uri.queryParameters
        let (limit, cursor) = try Paging.read(limit: query["limit"], startingAfter: query["starting_after"])
        let entries = try await store.audit.auditEntries(workspaceID: context.workspace.id, limit: limit, before: cursor)
        var body: [String: JSONValue] = ["data": .array(entries.map(Self.represent)), "count": .number(Double(entries.count))]
        if entries.count == limit, let last = entries.last {
            body["next"] = .string("\(Int64((last.createdAt.timeIntervalSince1970 * 1000).rounded(.down))):\(last.id)")
        }
        return JSONResponse.make(.object(body))
    }

    static func represent(_ entry: AuditEntry) -> JSONValue {
        .object([
            "id": .string(entry.id), "actor": .string(entry.actor), "action": .string(entry.action), "targetType": .string(entry.targetType),
            "targetId": .optional(entry.targetID), "detail": .object(entry.detail), "createdAt": .time(entry.createdAt),
        ])
    }
}

/// `limit` (1–200, default 50) and `starting_after` (a `next` cursor this API returned), as the list endpoints read them.
enum Paging {
    static func read(limit rawLimit: Substring?, startingAfter: Substring?) throws -> (limit: Int, cursor: (Int64, String)?) {
        var limit = 50
        if let raw = rawLimit {
            guard raw.first != "+", let value = Int(raw), (1...200).contains(value) else {
                throw Problem.validation([.init(field: "limit", detail: "must be an integer from 1 to 200")])
            }
            limit = value
        }
        var cursor: (Int64, String)?
        if let raw = startingAfter {
            // The shape the description gives: ^-?[0-9]{1,18}:.+$, at most 300 characters.
            // Split on the first ':' scalar (a ':' followed by a combining mark is one Character, not a ':').
            let scalars = raw.unicodeScalars
            let colon = scalars.firstIndex(of: ":")
            let time = colon.map { String(scalars[..<$0]) } ?? ""
            let id = colon.map { String(scalars[scalars.index(after: $0)...]) } ?? ""
            guard scalars.count <= 300, !id.isEmpty, !id.unicodeScalars.contains("\n"), time.first != "+", time.drop(while: { $0 == "-" }).count <= 18,
                  let value = Int64(time) else {
                throw Problem.validation([.init(field: "starting_after", detail: "is not a cursor this API returned")])
            }
            cursor = (value, id)
        }
        return (limit, cursor)
    }

    /// A list's filter (`integration`, `action`, `outcome`, `userId`): at most 200 characters, as the description says.
    static func filter(_ query: Parameters, _ name: String) throws -> String? {
        guard let raw = query[name[...]] else { return nil }
        guard raw.unicodeScalars.count <= 200 else {
            throw Problem.validation([.init(field: name, detail: "must be at most 200 characters")])
        }
        return String(raw)
    }
}
