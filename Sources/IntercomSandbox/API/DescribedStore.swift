import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import Synchronization

/// The long tail of Intercom's API: every operation of the description that has no hand-written route, answered from
/// the description. Objects keep state by collection (the path an item's `/{id}` hangs from): a create stores the
/// operation's example with the new id and the body's members, a get, an update or a delete finds it (404 with
/// Intercom's error list when there is none), a list answers the list example's shape with the stored items. An item
/// whose id is the one the description's examples use exists until deleted, so every example request works. Other
/// operations answer their example. Each answer keeps the example's members and types, so it conforms as the
/// description's examples do.
actor DescribedStore {
    struct Collection {
        var items: [String: SJSON] = [:]
        var order: [String] = []
        var deleted: Set<String> = []
    }

    /// Workspace → concrete collection path → its items.
    private var collections: [String: [String: Collection]] = [:]
    private var nextID = 7_000_000

    /// Whether an operation acts on one stored item: its path ends in a parameter that is not itself a collection,
    /// and hangs from a collection that can be listed or added to.
    static func isItem(_ operation: DescribedAPI.Operation, in api: DescribedAPI) -> Bool {
        guard operation.segments.last?.hasPrefix("{") == true, !api.isCollection(operation.segments) else { return false }
        let parent = Array(operation.segments.dropLast())
        return api.operations.contains { $0.segments == parent && ($0.method == "GET" || $0.method == "POST") }
    }

    func answer(_ api: DescribedAPI, _ operation: DescribedAPI.Operation, parameters: [String: String], path: String,
                body: SJSON, workspace: String) throws -> (status: Int, contentType: String?, body: SJSON?) {
        let (status, contentType, example) = api.success(of: operation)
        guard contentType == nil || contentType == "application/json" else { return (status, contentType, example) }
        let (code, answer) = try jsonAnswer(api, operation, status: status, example: example, path: path, body: body, workspace: workspace)
        // What a request's members brought in (a value its own enum allows and the answer's does not) is made to fit.
        let schema = api.successSchema(of: operation)
        return (code, contentType, answer.map { answer in schema.map { api.conformed(answer, to: $0, depth: 0) } ?? answer })
    }

    private func jsonAnswer(_ api: DescribedAPI, _ operation: DescribedAPI.Operation, status: Int, example: SJSON?, path: String,
                            body: SJSON, workspace: String) throws -> (status: Int, body: SJSON?) {
        let parts = path.split(separator: "/").map(String.init)
        let last = operation.segments.last ?? ""
        if Self.isItem(operation, in: api), parts.count >= 1 {
            // An item: the collection is the path it hangs from.
            let collection = "/" + parts.dropLast().joined(separator: "/")
            let id = parts.last!
            let name = String(last.dropFirst().dropLast())
            var items = collections[workspace]?[collection] ?? Collection()
            defer { collections[workspace, default: [:]][collection] = items }
            if items.items[id] == nil, !items.deleted.contains(id), isDocumentedID(id, parameter: name, of: operation, in: api, example: example) {
                items.items[id] = shaped(example ?? .object([:]), id: id, body: .object([:]))
                items.order.append(id)
            }
            guard let stored = items.items[id] else {
                throw IntercomError(.notFound, code: "not_found", message: "Resource Not Found", field: name)
            }
            switch operation.method {
            case "GET":
                return (status, example.map { overlay(stored, on: $0) })
            case "PUT", "PATCH":
                let updated = overlay(body, on: stored)
                items.items[id] = updated
                return (status, example.map { overlay(updated, on: $0) })
            case "DELETE":
                items.items[id] = nil
                items.order.removeAll { $0 == id }
                items.deleted.insert(id)
                return (status, example.map { shaped($0, id: id, body: .object([:])) })
            default:
                return (status, example.map { shaped($0, id: id, body: body) })
            }
        }
        if api.isCollection(operation.segments) {
            let collection = path
            var items = collections[workspace]?[collection] ?? Collection()
            defer { collections[workspace, default: [:]][collection] = items }
            switch operation.method {
            case "POST":
                nextID += 1
                var template = example ?? .object([:])
                // The member that names an item: the item path's parameter when the answer has it (`job_identifier`), else `id`.
                let itemKey = api.operations.first { $0.segments.count == operation.segments.count + 1 && Array($0.segments.dropLast()) == operation.segments }
                    .flatMap { $0.segments.last.map { String($0.dropFirst().dropLast()) } }
                if let itemKey, itemKey != "id", case .object(var members)? = example, members[itemKey] != nil {
                    members[itemKey] = .string(String(nextID))
                    template = .object(members)
                }
                let id = template["id"]?.int != nil ? nil : String(nextID)
                let created = id.map { shaped(template, id: $0, body: body) } ?? shaped(template, numericID: nextID, body: body)
                let key = (itemKey.flatMap { created[$0] } ?? created["id"]).map(Self.text) ?? String(nextID)
                items.items[key] = created
                items.order.append(key)
                return (status, created)
            case "GET":
                guard let example else { return (status, nil) }
                return (status, listed(items.order.compactMap { items.items[$0] }, in: example))
            default:
                return (status, example)
            }
        }
        return (status, example)
    }

    /// Whether `id` is the one the description's examples use for this parameter (the parameter's example, or the
    /// example answer's `id`).
    private func isDocumentedID(_ id: String, parameter: String, of operation: DescribedAPI.Operation, in api: DescribedAPI, example: SJSON?) -> Bool {
        let declared = (operation.raw["parameters"]?.array ?? []).compactMap { api.resolve($0) }.first { $0["name"]?.string == parameter }
        if let value = declared?["example"] ?? declared?["schema"]?["example"], Self.text(value) == id { return true }
        if let value = example?["id"], Self.text(value) == id { return true }
        return false
    }

    static func text(_ value: SJSON) -> String {
        switch value {
        case .string(let string): string
        case .int(let int): String(int)
        case .double(let double): String(double)
        default: ""
        }
    }

    /// The example with `id` set (in the example's own type) and the body's members that the example has, where their
    /// type agrees.
    private func shaped(_ example: SJSON, id: String, body: SJSON) -> SJSON {
        guard case .object(var members) = overlay(body, on: example) else { return example }
        if let current = members["id"] {
            switch current {
            case .int: members["id"] = Int(id).map(SJSON.int) ?? current
            default: members["id"] = .string(id)
            }
        }
        return .object(members)
    }

    private func shaped(_ example: SJSON, numericID: Int, body: SJSON) -> SJSON {
        guard case .object(var members) = overlay(body, on: example) else { return example }
        members["id"] = .int(numericID)
        return .object(members)
    }

    /// `template` with each member of `values` it also has, where the JSON type is the same (or the template's is null).
    private func overlay(_ values: SJSON, on template: SJSON) -> SJSON {
        guard case .object(var members) = template, case .object(let given) = values else { return template }
        for (key, value) in given {
            guard let current = members[key] else { continue }
            if current.typeName == value.typeName || (current.typeName == "integer" && value.typeName == "number") {
                members[key] = current.object != nil ? overlay(value, on: current) : value
            }
        }
        return .object(members)
    }

    /// The list example with its items (its array of objects) replaced by `items`, each shaped like its first item.
    private func listed(_ items: [SJSON], in example: SJSON) -> SJSON {
        guard case .object(var members) = example else { return example }
        guard let field = members.keys.sorted().first(where: { members[$0]?.array?.first?.object != nil || members[$0]?.array?.isEmpty == true && $0 == "data" }) else {
            return example
        }
        let template = members[field]?.array?.first
        members[field] = .array(items.map { item in template.map { overlay(item, on: $0) } ?? item })
        if members["total_count"]?.int != nil { members["total_count"] = .int(items.count) }
        // Every item is on this one page: no next page, however the example went on.
        if case .object(var pages)? = members["pages"] {
            pages["next"] = nil
            if pages["total_pages"]?.int != nil { pages["total_pages"] = .int(1) }
            if pages["page"]?.int != nil { pages["page"] = .int(1) }
            members["pages"] = .object(pages)
        }
        return .object(members)
    }
}

/// Answers what the router has no route for from the description (`DescribedStore`), through the same endpoint
/// wrapper as every hand-written route (token, version, rate limit, faults). A path the description does not have for
/// the request's version stays a 404.
struct DescribedAPIMiddleware: RouterMiddleware {
    let api: RestAPI
    let store: DescribedStore
    static let sourceHeader = HTTPField.Name("X-Sandbox-Source")!

    func handle(_ request: Request, context: BasicRequestContext, next: (Request, BasicRequestContext) async throws -> Response) async throws -> Response {
        let path = request.uri.path
        if RestAPI.describedBesideHandWritten.contains("\(request.method.rawValue) \(path)") {
            if let response = try await described(request, context: context, path: path) { return response }
            return try await next(request, context)
        }
        do {
            return try await next(request, context)
        } catch let error as HTTPError where error.status == .notFound || error.status == .methodNotAllowed {
            guard let response = try await described(request, context: context, path: path) else { throw error }
            return response
        }
    }

    /// The description's answer, or nil when it has no such operation for the request's version.
    private func described(_ request: Request, context: BasicRequestContext, path: String) async throws -> Response? {
        do {
            guard !path.hasPrefix("/_sandbox"), !path.hasPrefix("/oauth"), !path.hasPrefix("/auth/"),
                  let described = DescribedAPI.forVersion(request.headers[HTTPField.Name("Intercom-Version")!]),
                  let (operation, parameters) = described.match(method: request.method.rawValue, path: path)
            else { return nil }
            let answered = Mutex<(status: Int, contentType: String?, body: SJSON?)>((200, nil, nil))
            let handler = api.endpoint { request, _, caller in
                let body = try await RestAPI.body(request)
                let answer = try await store.answer(described, operation, parameters: parameters, path: path, body: body, workspace: caller.workspace.idCode)
                answered.withLock { $0 = answer }
                return answer.body ?? .null
            }
            var response = try await handler(request, context)
            // Sandbox-only: says the answer came from the description, not a hand-written route (its walk test reads it).
            response.headers[DescribedAPIMiddleware.sourceHeader] = "description"
            let answer = answered.withLock { $0 }
            guard response.status == .ok else { return response }
            response.status = HTTPResponse.Status(code: answer.status)
            switch (answer.contentType, answer.body) {
            case (nil, _), (_, nil):
                response.body = .init()
                response.headers[.contentType] = nil
                if (300..<400).contains(answer.status) {
                    response.headers[.location] = "https://downloads.intercom.example/\(path.split(separator: "/").last ?? "file")"
                }
            case ("application/json"?, _):
                break
            case (let type?, let body?):
                let text = body.string ?? String(decoding: body.encoded(), as: UTF8.self)
                response.body = .init(byteBuffer: ByteBuffer(string: text))
                response.headers[.contentType] = type
            }
            return response
        }
    }
}
