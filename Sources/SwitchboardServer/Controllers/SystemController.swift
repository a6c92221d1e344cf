import Foundation
import Providers
import Hummingbird
import Prometheus
import SQLKit
public import SwitchboardCore
import SwitchboardStore

/// `/health`, `/metrics`, `/openapi.yaml`, and the pages' stylesheet.
struct SystemController: Sendable {
    let store: Store
    let registry: PrometheusCollectorRegistry
    let domain: DomainMetrics
    let clock: any WallClock
    /// `/openapi.yaml`, with the names of the catalog's actions filled in.
    let openAPI: String

    var routes: RouteCollection<AppRequestContext> {
        let routes = RouteCollection(context: AppRequestContext.self)
        routes.get("/health", use: health)
        routes.get("/metrics", use: metrics)
        routes.get("/openapi.yaml", use: openAPI)
        routes.get("/assets/switchboard.css", use: stylesheet)
        routes.get("/assets/switchboard.js", use: script)
        return routes
    }

    /// Healthy when the database answers.
    @Sendable func health(request: Request, context: AppRequestContext) async throws -> Response {
        do {
            try await store.database.read { db in try await db.raw("SELECT 1").run() }
            return JSONResponse.make(.object(["status": .string("ok"), "database": .string("ok")]))
        } catch {
            return JSONResponse.make(.object(["status": .string("unavailable"), "database": .string("unreachable")]), status: .serviceUnavailable)
        }
    }

    @Sendable func metrics(request: Request, context: AppRequestContext) async throws -> Response {
        await domain.refreshGauges(store: store, now: clock.now())
        return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"], body: .init(byteBuffer: ByteBuffer(bytes: registry.emitToBuffer())))
    }

    @Sendable func stylesheet(request: Request, context: AppRequestContext) async throws -> Response {
        Response(status: .ok, headers: [.contentType: "text/css; charset=utf-8", .cacheControl: "public, max-age=3600"],
                 body: .init(byteBuffer: ByteBuffer(string: Stylesheet.text)))
    }

    @Sendable func script(request: Request, context: AppRequestContext) async throws -> Response {
        Response(status: .ok, headers: [.contentType: "text/javascript; charset=utf-8", .cacheControl: "public, max-age=3600"],
                 body: .init(byteBuffer: ByteBuffer(string: Stylesheet.script)))
    }

    @Sendable func openAPI(request: Request, context: AppRequestContext) async throws -> Response {
        Response(status: .ok, headers: [.contentType: "application/yaml"], body: .init(byteBuffer: ByteBuffer(string: openAPI)))
    }
}

/// The pages' one stylesheet and the console's one script, bundled with the server.
enum Stylesheet {
    static let text = resource("switchboard", "css")
    static let script = resource("switchboard", "js")

    static func resource(_ name: String, _ type: String) -> String {
        guard let url = Bundle.module.url(forResource: name, withExtension: type, subdirectory: "Resources"),
              let text = try? String(contentsOf: url, encoding: .utf8)
        else { fatalError("\(name).\(type) is missing from the SwitchboardServer bundle") }
        return text
    }
}

/// The admin API's OpenAPI description, bundled with the server.
public enum OpenAPIDocument {
    /// The bundled file, whose `ActionName` enum is a placeholder.
    public static let template: String = {
        guard let url = Bundle.module.url(forResource: "openapi", withExtension: "yaml", subdirectory: "Resources"),
              let text = try? String(contentsOf: url, encoding: .utf8)
        else { fatalError("openapi.yaml is missing from the SwitchboardServer bundle") }
        return text
    }()

    /// The description as served: `ActionName` lists the actions of the providers this deployment has, so a
    /// generated client offers them and a fuzzer tries them (a new provider definition adds its own without an edit here).
    /// The description with the catalog's action names and its groups (as allow-list entries, `group:NAME`) filled in.
    public static func text(actions: [ActionTemplate]) -> String {
        let names = actions.map(\.name).sorted().map { "\"\($0)\"" }.joined(separator: ", ")
        let groups = Set(actions.compactMap(\.group)).sorted().map { "\"\(ToolAllowList.groupPrefix)\($0)\"" }.joined(separator: ", ")
        return template.replacingOccurrences(of: "[\"{{actionNames}}\"]", with: "[\(names)]")
            .replacingOccurrences(of: "[\"{{toolGroups}}\"]", with: "[\(groups)]")
    }

    /// The description of the bundled providers' catalog.
    public static var text: String { text(actions: ProviderRegistry.bundled.actions) }
}
