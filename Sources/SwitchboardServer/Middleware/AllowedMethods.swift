import HTTPTypes
import Hummingbird
import Synchronization

/// Which methods each route path answers, read from the router once every route is added, so that a request for a
/// path that exists with a method it does not answer gets 405 and `Allow` (RFC 9110 §15.5.6) rather than 404.
final class AllowedMethods: Sendable {
    private struct Route: Sendable {
        let components: [RouterPath.Element]
        let methods: Set<HTTPRequest.Method>
    }

    private let routes = Mutex<[Route]>([])

    /// Takes the router's routes (after they are all added).
    func learn(_ described: [Router<AppRequestContext>.RouteDescription]) {
        var byPath: [String: (RouterPath, Set<HTTPRequest.Method>)] = [:]
        for route in described {
            byPath[route.path.description, default: (route.path, [])].1.insert(route.method)
        }
        routes.withLock { $0 = byPath.values.map { Route(components: $0.0.components, methods: $0.1) } }
    }

    /// The methods some route at `path` answers, sorted; empty when no route has this path.
    func methods(for path: String) -> [HTTPRequest.Method] {
        let segments = path.split(separator: "/", omittingEmptySubsequences: true)
        let found = routes.withLock { routes in
            routes.filter { $0.components.count == segments.count && zip($0.components, segments).allSatisfy { $0 ~= $1 } }
                .reduce(into: Set<HTTPRequest.Method>()) { $0.formUnion($1.methods) }
        }
        return found.sorted { $0.rawValue < $1.rawValue }
    }
}
