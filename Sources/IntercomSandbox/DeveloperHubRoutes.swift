import Foundation
import Hummingbird

/// The developer hub, reduced to what a test or a demo needs: register an app, list apps.
struct DeveloperHubRoutes: Sendable {
    let state: SandboxState
    let faults: Faults
    let webhooks: Webhooks

    func register(on router: Router<BasicRequestContext>) {
        router.post("/_sandbox/apps", use: create)
        router.get("/_sandbox/apps", use: list)
        router.post("/_sandbox/tokens", use: token)
        router.post("/_sandbox/tokens/revoke", use: revoke)
        router.get("/_sandbox/faults", use: showFaults)
        router.put("/_sandbox/faults", use: setFaults)
        router.delete("/_sandbox/faults", use: clearFaults)
        router.put("/_sandbox/apps/{clientId}/webhooks", use: subscribe)
        router.put("/_sandbox/apps/{clientId}/redirect-urls", use: setRedirectURLs)
        router.get("/_sandbox/webhooks/deliveries", use: deliveries)
    }

    /// `{"url", "topics": [...]}`: the app's webhook subscription, as set in the Developer Hub.
    @Sendable func subscribe(request: Request, context: BasicRequestContext) async throws -> Response {
        let clientID = try context.parameters.require("clientId")
        guard await state.app(clientID: clientID) != nil else { throw IntercomError(.notFound, code: "not_found", message: "No such app") }
        let buffer = try await request.body.collect(upTo: 1 << 16)
        guard let subscription = try? JSONDecoder().decode(Webhooks.Subscription.self, from: Data(String(buffer: buffer).utf8)) else {
            throw IntercomError(.badRequest, code: "parameter_invalid", message: "Expected {\"url\": \"…\", \"topics\": [\"…\"]}")
        }
        try await webhooks.subscribe(clientID: clientID, subscription)
        return JSONBody.response(["url": subscription.url, "topics": subscription.topics])
    }

    @Sendable func deliveries(request: Request, context: BasicRequestContext) async throws -> Response {
        let log = await webhooks.log()
        return JSONBody.json(SJSON.parse((try? JSONEncoder().encode(log)) ?? Data("[]".utf8)).map { .object(["type": .string("list"), "data": $0]) } ?? .null)
    }

    /// `{"token"}` → revokes it, as an Intercom admin removing the app would; later calls get 401 `token_revoked`.
    @Sendable func revoke(request: Request, context: BasicRequestContext) async throws -> Response {
        let buffer = try await request.body.collect(upTo: 1 << 16)
        guard let token = ((try? JSONSerialization.jsonObject(with: Data(String(buffer: buffer).utf8))) as? [String: Any])?["token"] as? String else {
            throw IntercomError(.badRequest, code: "parameter_not_found", message: "token is required", field: "token")
        }
        guard await state.revoke(token: token) else { throw IntercomError(.notFound, code: "not_found", message: "No such token") }
        return JSONBody.response(["revoked": true])
    }

    @Sendable func showFaults(request: Request, context: BasicRequestContext) async throws -> Response {
        JSONBody.json(try SJSON.parse(JSONEncoder().encode(await faults.settings)) ?? .null)
    }

    /// Replaces the fault settings; fields left out are off.
    @Sendable func setFaults(request: Request, context: BasicRequestContext) async throws -> Response {
        let buffer = try await request.body.collect(upTo: 1 << 16)
        let settings: FaultSettings
        do {
            settings = try JSONDecoder().decode(FaultSettings.self, from: Data(String(buffer: buffer).utf8))
        } catch {
            throw IntercomError(.badRequest, code: "parameter_invalid",
                                message: "Expected {latencyMs, serverErrorRate, unavailableRate, rateLimitNext, tokenEndpointStatus}")
        }
        try settings.check()
        await faults.set(settings)
        return try await showFaults(request: request, context: context)
    }

    @Sendable func clearFaults(request: Request, context: BasicRequestContext) async throws -> Response {
        await faults.set(FaultSettings())
        return try await showFaults(request: request, context: context)
    }

    /// `{"clientId", "workspace", "admin"?}` → an access token for that app in that workspace.
    @Sendable func token(request: Request, context: BasicRequestContext) async throws -> Response {
        let buffer = try await request.body.collect(upTo: 1 << 16)
        let object = (try? JSONSerialization.jsonObject(with: Data(String(buffer: buffer).utf8))) as? [String: Any] ?? [:]
        guard let clientID = object["clientId"] as? String, let workspace = object["workspace"] as? String else {
            throw IntercomError(.badRequest, code: "parameter_not_found", message: "clientId and workspace are required", field: "clientId")
        }
        guard let token = await state.issueToken(clientID: clientID, workspaceID: workspace, adminEmail: object["admin"] as? String) else {
            throw IntercomError(.notFound, code: "not_found", message: "No such app, workspace or admin")
        }
        return JSONBody.response(status: .created, ["token": token, "token_type": "Bearer"])
    }

    @Sendable func create(request: Request, context: BasicRequestContext) async throws -> Response {
        let buffer = try await request.body.collect(upTo: 1 << 16)
        guard let object = try? JSONSerialization.jsonObject(with: Data(String(buffer: buffer).utf8)) as? [String: Any] else {
            throw IntercomError(.badRequest, code: "bad_request", message: "The body must be a JSON object with name and redirectURLs")
        }
        guard let name = object["name"] as? String, !name.trimmingCharacters(in: .whitespaces).isEmpty, name.count <= 200 else {
            throw IntercomError(.badRequest, code: "parameter_invalid", message: "name must be a non-empty string", field: "name")
        }
        guard let urls = object["redirectURLs"] as? [String], !urls.isEmpty else {
            throw IntercomError(.badRequest, code: "parameter_invalid", message: "redirectURLs must be a non-empty array of URLs", field: "redirectURLs")
        }
        for url in urls {
            guard let components = URLComponents(string: url), ["http", "https"].contains(components.scheme ?? ""), components.host != nil else {
                throw IntercomError(.badRequest, code: "parameter_invalid", message: "'\(url.prefix(100))' is not an absolute URL", field: "redirectURLs")
            }
        }
        let app = await state.registerApp(
            name: name, redirectURLs: urls,
            clientID: object["clientId"] as? String, clientSecret: object["clientSecret"] as? String
        )
        return JSONBody.response(status: .created, [
            "name": app.name, "clientId": app.clientID, "clientSecret": app.clientSecret, "redirectURLs": app.redirectURLs,
        ])
    }

    /// `{"redirectURLs": [...]}`: the app's redirect URLs, replaced, as editing the app in the Developer Hub does.
    @Sendable func setRedirectURLs(request: Request, context: BasicRequestContext) async throws -> Response {
        let clientID = context.parameters.get("clientId") ?? ""
        let buffer = try await request.body.collect(upTo: 1 << 16)
        let object = (try? JSONSerialization.jsonObject(with: Data(String(buffer: buffer).utf8))) as? [String: Any] ?? [:]
        guard let urls = object["redirectURLs"] as? [String], !urls.isEmpty,
              urls.allSatisfy({ URLComponents(string: $0).map { ["http", "https"].contains($0.scheme ?? "") && $0.host != nil } ?? false }) else {
            throw IntercomError(.badRequest, code: "parameter_invalid", message: "redirectURLs must be a non-empty array of absolute URLs", field: "redirectURLs")
        }
        guard await state.setRedirectURLs(clientID: clientID, urls) else { throw IntercomError(.notFound, code: "not_found", message: "No such app") }
        return JSONBody.response(["clientId": clientID, "redirectURLs": urls])
    }

    @Sendable func list(request: Request, context: BasicRequestContext) async throws -> Response {
        let apps = await state.allApps().map { ["name": $0.name, "clientId": $0.clientID, "redirectURLs": $0.redirectURLs] as [String: Any] }
        return JSONBody.response(["type": "list", "data": apps])
    }
}
