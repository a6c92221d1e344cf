import Foundation
import Hummingbird
import Providers
import SwitchboardCore
import SwitchboardStore

/// `/v1/auth-profiles`: a workspace's own OAuth v2 apps (the guide's "Custom" authorization); a thin adapter over
/// `ProfileService`.
struct AuthProfilesController: Sendable {
    let profiles: ProfileService
    var store: Store { profiles.store }
    var settings: ServerSettings { profiles.settings }

    var routes: RouteCollection<WorkspaceRequestContext> {
        let routes = RouteCollection(context: WorkspaceRequestContext.self)
        routes.post("auth-profiles", use: create)
        routes.get("auth-profiles", use: list)
        routes.get("auth-profiles/{id}", use: show)
        routes.patch("auth-profiles/{id}", use: update)
        routes.delete("auth-profiles/{id}", use: delete)
        return routes
    }

    @Sendable func create(request: Request, context: WorkspaceRequestContext) async throws -> Response {
        let profile = try await profiles.createProfile(try await request.inputReader(context: context), by: context.principal)
        return JSONResponse.make(represent(profile), status: .created)
    }

    @Sendable func list(request: Request, context: WorkspaceRequestContext) async throws -> Response {
        JSONResponse.list(try await store.profiles.authProfiles(workspaceID: context.workspace.id).map(represent))
    }

    @Sendable func show(request: Request, context: WorkspaceRequestContext) async throws -> Response {
        JSONResponse.make(represent(try await load(context)))
    }

    @Sendable func update(request: Request, context: WorkspaceRequestContext) async throws -> Response {
        JSONResponse.make(represent(try await profiles.update(id: try context.parameters.require("id"),
                                                              with: try await request.inputReader(context: context), by: context.principal)))
    }

    @Sendable func delete(request: Request, context: WorkspaceRequestContext) async throws -> Response {
        try await profiles.deleteProfile(id: try context.parameters.require("id"), by: context.principal)
        return Response(status: .noContent)
    }

    private func load(_ context: WorkspaceRequestContext) async throws -> AuthProfile {
        try await profiles.load(id: try context.parameters.require("id"), workspace: context.workspace)
    }

    func represent(_ profile: AuthProfile) -> JSONValue {
        .object([
            "id": .string(profile.id),
            "name": .string(profile.name),
            "description": .optional(profile.description),
            "type": .string("oauth2"),
            "clientId": .string(profile.clientID),
            "clientSecretSet": .bool(!profile.clientSecret.isEmpty),
            "authorizationURL": .string(profile.authorizationURL),
            "tokenURL": .string(profile.tokenURL),
            "refreshTokenURL": .string(profile.refreshTokenURL ?? profile.tokenURL),
            "scopes": .strings(profile.scopes),
            "pkce": .bool(profile.pkce),
            "tokenRequestFormat": .string(profile.tokenRequestFormat.rawValue),
            "exchangeStyle": .string(profile.exchangeStyle.rawValue),
            "authorizationParameters": .map(profile.authorizationParameters),
            "fields": .map(profile.fields),
            "callbackURL": .string(settings.callbackURL(profileID: profile.id)),
            "createdAt": .time(profile.createdAt),
            "updatedAt": .time(profile.updatedAt),
        ])
    }
}
