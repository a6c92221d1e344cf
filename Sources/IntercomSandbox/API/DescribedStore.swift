import Foundation
import HTTPTypes
import Hummingbird
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

    func answer(_ api: DescribedAPI, _ operation: DescribedAPI.Operation, parameters: [String: String], path: String,
                body: SJSON, workspace: String) throws -> (status: Int, body: SJSON?) {
        let (status, example) = api.success(of: operation)
        let parts = path.split(separator: "/").map(String.init)
        let last = operation.segments.last ?? ""
        if last.hasPrefix("{"), parts.count >= 1 {
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
                let template = example ?? .object([:])
                let id = template["id"]?.int != nil ? nil : String(nextID)
                let created = id.map { shaped(template, id: $0, body: body) } ?? shaped(template, numericID: nextID, body: body)
                let key = created["id"].map(Self.text) ?? String(nextID)
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

    func handle(_ request: Request, context: BasicRequestContext, next: (Request, BasicRequestContext) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as HTTPError where error.status == .notFound || error.status == .methodNotAllowed {
            let path = request.uri.path
            guard !path.hasPrefix("/_sandbox"), !path.hasPrefix("/oauth"), !path.hasPrefix("/auth/"),
                  let described = DescribedAPI.forVersion(request.headers[HTTPField.Name("Intercom-Version")!]),
                  let (operation, parameters) = described.match(method: request.method.rawValue, path: path)
            else { throw error }
            let status = Mutex(200)
            let handler = api.endpoint { request, _, caller in
                let body = try await RestAPI.body(request)
                let answer = try await store.answer(described, operation, parameters: parameters, path: path, body: body, workspace: caller.workspace.idCode)
                status.withLock { $0 = answer.status }
                return answer.body ?? .null
            }
            var response = try await handler(request, context)
            let code = status.withLock { $0 }
            if response.status == .ok, code != 200 {
                response.status = HTTPResponse.Status(code: code)
                if code == 204 || (code == 202 && response.body.contentLength == 4) {
                    response.body = .init()
                    response.headers[.contentType] = nil
                }
            }
            return response
        }
    }
}
