import Foundation
import Hummingbird
import HummingbirdTesting
import IntercomSandbox
import SwitchboardCore
import SwitchboardServer
import SwitchboardStore
import SwitchboardTestSupport
import Testing

let validProfile = """
    {"name":"Acme IdP","clientId":"cid","clientSecret":"TOP-SECRET-VALUE","authorizationURL":"https://{tenant}.idp.example/authorize",
     "tokenURL":"https://idp.example/token","scopes":["read"],"pkce":true,"tokenRequestFormat":"json","fields":{"tenant":"acme"},
     "authorizationParameters":{"audience":"api"}}
    """

@Suite("Admin API")
struct AdminAPITests {
    @Test("every /v1 route needs a valid key")
    func authentication() async throws {
        try await Harness.with { harness, client in
            try expectProblem(try await client.execute(uri: "/v1/integrations", method: .get), 401, code: "unauthenticated")
            try expectProblem(try await client.execute(uri: "/v1/auth-profiles", method: .get, headers: [.authorization: "Basic abc"]), 401, code: "unauthenticated")
            try expectProblem(try await client.call(.get, "/v1/integrations", harness, key: "sbk_not-a-key"), 401, code: "invalid_api_key")
            let response = try await client.execute(uri: "/v1/integrations", method: .get)
            #expect(response.headers[.wwwAuthenticate] == "Bearer")
        }
    }

    @Test("another workspace's profile and integration answer 404, exactly like missing ones", arguments: Backend.available)
    func isolation(backend: Backend) async throws {
        try await Harness.with(backend) { harness, client in
            let profileID = try #require(try object(try await client.call(.post, "/v1/auth-profiles", harness, json: validProfile))["id"] as? String)
            let integrationID = try await harness.createIntegration(client)
            let other = try await harness.otherWorkspaceKey()
            for uri in ["/v1/auth-profiles/\(profileID)", "/v1/integrations/\(integrationID)", "/v1/integrations/\(integrationID)/connections"] {
                let foreign = try expectProblem(try await client.call(.get, uri, harness, key: other), 404, code: "not_found")
                let missingURI = uri.replacingOccurrences(of: profileID, with: "ap_missing").replacingOccurrences(of: integrationID, with: "int_missing")
                let missing = try expectProblem(try await client.call(.get, missingURI, harness, key: other), 404, code: "not_found")
                #expect((foreign["detail"] as? String)?.replacingOccurrences(of: profileID, with: "X").replacingOccurrences(of: integrationID, with: "X")
                        == (missing["detail"] as? String)?.replacingOccurrences(of: "ap_missing", with: "X").replacingOccurrences(of: "int_missing", with: "X"))
            }
            try expectProblem(try await client.call(.post, "/v1/integrations/\(integrationID)/authorize", harness, key: other), 404, code: "not_found")
            try expectProblem(try await client.call(.delete, "/v1/auth-profiles/\(profileID)", harness, key: other), 404, code: "not_found")
            try expectProblem(try await client.call(.patch, "/v1/integrations/\(integrationID)", harness, json: #"{"name":"x"}"#, key: other), 404, code: "not_found")
            #expect(try object(try await client.call(.get, "/v1/integrations", harness, key: other))["count"] as? Int == 0)
            try expectProblem(try await client.call(.post, "/v1/integrations", harness,
                json: "{\"name\":\"x\",\"app\":\"custom\",\"authProfileId\":\"\(profileID)\",\"authorization\":\"preauthorized\"}", key: other),
                404, code: "not_found", field: "authProfileId")
        }
    }

    @Test("profiles: create, read, update, delete; the client secret is never returned")
    func profileLifecycle() async throws {
        try await Harness.with { harness, client in
            let created = try await client.call(.post, "/v1/auth-profiles", harness, json: validProfile)
            #expect(created.status == .created)
            #expect(!text(created).contains("TOP-SECRET-VALUE"))
            let profile = try object(created)
            #expect(profile["clientSecretSet"] as? Bool == true)
            #expect(profile["clientSecret"] == nil)
            #expect(profile["refreshTokenURL"] as? String == "https://idp.example/token", "defaults to the token URL")
            #expect(profile["exchangeStyle"] as? String == "standard")
            let id = try #require(profile["id"] as? String)

            let patched = try await client.call(.patch, "/v1/auth-profiles/\(id)", harness, json: #"{"clientSecret":"NEW-SECRET-VALUE","scopes":[],"description":"ours"}"#)
            #expect(patched.status == .ok)
            #expect(!text(patched).contains("NEW-SECRET-VALUE"))
            #expect(try object(patched)["description"] as? String == "ours")
            #expect(try await harness.store.profiles.authProfile(id: id, workspaceID: harness.workspace.id)?.clientSecret == "NEW-SECRET-VALUE")
            #expect(try await client.call(.patch, "/v1/auth-profiles/\(id)", harness, json: #"{"description":null}"#).status == .ok)
            let cleared = try await harness.store.profiles.authProfile(id: id, workspaceID: harness.workspace.id)
            #expect(cleared?.description == nil, "a null clears the stored value")

            let listed = try await client.call(.get, "/v1/auth-profiles", harness)
            #expect(try object(listed)["count"] as? Int == 1)
            #expect(!text(listed).contains("SECRET-VALUE"))

            let integrationID = try await harness.createIntegration(client, app: "custom", profileID: id)
            try expectProblem(try await client.call(.delete, "/v1/auth-profiles/\(id)", harness), 409, code: "auth_profile_in_use")
            #expect(try await client.call(.delete, "/v1/integrations/\(integrationID)", harness).status == .noContent)
            #expect(try await client.call(.delete, "/v1/auth-profiles/\(id)", harness).status == .noContent)
            try expectProblem(try await client.call(.get, "/v1/auth-profiles/\(id)", harness), 404, code: "not_found")
        }
    }

    @Test("bad profile input: each case names its field, and nothing is stored", arguments: [
        (#"{"name":"#, 400, "invalid_json", nil),
        ("[]", 400, "invalid_json", nil),
        (#"{}"#, 422, "validation_failed", "name"),
        (#"{"name":"n","clientId":"c","clientSecret":"s","authorizationURL":"https://a/x","tokenURL":7}"#, 422, "validation_failed", "tokenURL"),
        (#"{"name":"n","clientId":"c","clientSecret":"s","authorizationURL":"mailto:a@b","tokenURL":"https://t/x"}"#, 422, "validation_failed", "authorizationURL"),
        (#"{"name":"n","clientId":"c","clientSecret":"s","authorizationURL":"https://a/x","tokenURL":"https://t/x","pkce":"true"}"#, 422, "validation_failed", "pkce"),
        (#"{"name":"n","clientId":"c","clientSecret":"s","authorizationURL":"https://a/x","tokenURL":"https://t/x","tokenRequestFormat":"xml"}"#, 422, "validation_failed", "tokenRequestFormat"),
        (#"{"name":"n","clientId":"c","clientSecret":"s","authorizationURL":"https://a/x","tokenURL":"https://t/x","clientSecet":"typo"}"#, 422, "validation_failed", "clientSecet"),
        (#"{"name":"n","clientId":"c","clientSecret":"s","authorizationURL":"https://{tenant}.a/x","tokenURL":"https://t/x"}"#, 422, "validation_failed", "fields.tenant"),
        (#"{"name":"n","clientId":"c","clientSecret":"s","authorizationURL":"https://a/x","tokenURL":"https://t/x","authorizationParameters":{"state":"x"}}"#, 422, "validation_failed", "authorizationParameters.state"),
        (#"{"name":"n","clientId":"c","clientSecret":"s","authorizationURL":"https://a/x","tokenURL":"https://t/x","scopes":"read"}"#, 422, "validation_failed", "scopes"),
        ("{\"name\":\"\(String(repeating: "n", count: 201))\",\"clientId\":\"c\",\"clientSecret\":\"s\",\"authorizationURL\":\"https://a/x\",\"tokenURL\":\"https://t/x\"}", 422, "validation_failed", "name"),
    ] as [(String, Int, String, String?)])
    func badProfileInput(body: String, status: Int, code: String, field: String?) async throws {
        try await Harness.with { harness, client in
            let response = try await client.call(.post, "/v1/auth-profiles", harness, json: body)
            try expectProblem(response, status, code: code, field: field)
            #expect(try object(try await client.call(.get, "/v1/auth-profiles", harness))["count"] as? Int == 0)
        }
    }

    @Test("a secret in bad input is never echoed back")
    func secretNotEchoed() async throws {
        try await Harness.with { harness, client in
            let response = try await client.call(.post, "/v1/auth-profiles", harness, json: #"{"name":"n","clientSecret":"ECHO-ME-NOT","tokenURL":"x"}"#)
            #expect(response.status == .unprocessableContent)
            #expect(!text(response).contains("ECHO-ME-NOT"))
        }
    }

    @Test("bad integration input names the field and stores nothing", arguments: [
        (#"{"name":"x","app":"customer","authorization":"preauthorized"}"#, "app"),
        (#"{"name":"x","app":"system","authorization":"sometimes"}"#, "authorization"),
        (#"{"name":"x","app":"custom","authorization":"preauthorized"}"#, "authProfileId"),
        (#"{"name":"x","app":"system","authProfileId":"ap_x","authorization":"preauthorized"}"#, "authProfileId"),
        (#"{"name":"x","app":"system","authorization":"per_user","region":"Mars"}"#, "region"),
        (#"{"name":"x","app":"system","authorization":"per_user","notifyURL":"not a url"}"#, "notifyURL"),
        (#"{"name":"x","provider":"zendesk","app":"system","authorization":"per_user"}"#, "provider"),
        (#"{"app":"system","authorization":"per_user"}"#, "name"),
    ])
    func badIntegrationInput(body: String, field: String) async throws {
        try await Harness.with { harness, client in
            try expectProblem(try await client.call(.post, "/v1/integrations", harness, json: body), 422, code: "validation_failed", field: field)
            #expect(try object(try await client.call(.get, "/v1/integrations", harness))["count"] as? Int == 0)
        }
    }

    @Test("a profile the body names that does not exist is 404 naming the field, as GET would say; nothing is stored")
    func missingProfileIsNotFound() async throws {
        try await Harness.with { harness, client in
            let response = try await client.call(.post, "/v1/integrations", harness,
                                                 json: #"{"name":"x","app":"custom","authProfileId":"ap_nope","authorization":"preauthorized"}"#)
            let problem = try expectProblem(response, 404, code: "not_found", field: "authProfileId")
            #expect((problem["detail"] as? String)?.contains("ap_nope") == true)
            #expect(try object(try await client.call(.get, "/v1/integrations", harness))["count"] as? Int == 0)
        }
    }

    @Test("the system app must be configured to use it")
    func systemAppMissing() async throws {
        try await Harness.with(systemApp: false) { harness, client in
            try expectProblem(try await client.call(.post, "/v1/integrations", harness, json: #"{"name":"x","app":"system","authorization":"preauthorized"}"#),
                              422, code: "system_app_not_configured", field: "app")
        }
    }

    @Test("an integration's app and mode cannot change; its name, region and notify URL can")
    func integrationUpdate() async throws {
        try await Harness.with { harness, client in
            let id = try await harness.createIntegration(client)
            try expectProblem(try await client.call(.patch, "/v1/integrations/\(id)", harness, json: #"{"authorization":"per_user"}"#),
                              422, code: "validation_failed", field: "authorization")
            let updated = try object(try await client.call(.patch, "/v1/integrations/\(id)", harness,
                                                           json: #"{"name":"Renamed","region":"EU","notifyURL":"https://bot.example/events"}"#))
            #expect(updated["name"] as? String == "Renamed")
            #expect(updated["region"] as? String == "EU")
            #expect(updated["notifyURL"] as? String == "https://bot.example/events")
            let cleared = try object(try await client.call(.patch, "/v1/integrations/\(id)", harness, json: #"{"region":null,"notifyURL":null}"#))
            #expect(cleared["region"] is NSNull)
            // Cleared in the store too, not only in the answer.
            let stored = try object(try await client.call(.get, "/v1/integrations/\(id)", harness))
            #expect(stored["region"] is NSNull)
            #expect(stored["notifyURL"] is NSNull)
            #expect(stored["name"] as? String == "Renamed")
        }
    }

    @Test("wrong content type, unknown routes (404) and wrong methods (405 with Allow) are problems too")
    func protocolErrors() async throws {
        try await Harness.with { harness, client in
            let form = try await client.execute(uri: "/v1/auth-profiles", method: .post,
                                                headers: [.authorization: "Bearer \(harness.apiKey)", .contentType: "application/x-www-form-urlencoded"],
                                                body: ByteBuffer(string: "name=x"))
            try expectProblem(form, 415, code: "unsupported_media_type")
            try expectProblem(try await client.call(.get, "/v1/nothing-here", harness), 404, code: "route_not_found")
            // A path that exists, with a method it does not answer: 405 naming the methods it does, in Allow too.
            let put = try await client.call(.put, "/v1/integrations/int_000000000000000000000000", harness, json: "{}")
            let problem = try expectProblem(put, 405, code: "method_not_allowed")
            #expect(put.headers[.allow] == "DELETE, GET, PATCH")
            #expect(problem["allow"] as? [String] == ["DELETE", "GET", "PATCH"])
            let health = try await client.execute(uri: "/health", method: .post)
            #expect(health.status == .methodNotAllowed && health.headers[.allow] == "GET")
            let action = try await client.call(.get, "/v1/integrations/int_1/actions/intercom.who_am_i", harness)
            #expect(action.status == .methodNotAllowed && action.headers[.allow] == "POST", "a captured segment matches too")
            let huge = "{\"name\":\"\(String(repeating: "x", count: 300_000))\"}"
            try expectProblem(try await client.call(.post, "/v1/auth-profiles", harness, json: huge), 413, code: "body_too_large")
        }
    }

    @Test("no token, secret, code or state appears in any log line during a full authorization")
    func nothingSecretInLogs() async throws {
        try await Harness.with { harness, client in
            let id = try await harness.createIntegration(client)
            let url = try await harness.startAuthorization(client, integrationID: id)
            let location = try await SandboxBrowser.authorize(url)
            #expect(try await harness.callback(client, location).status == .ok)
            _ = try await client.call(.post, "/v1/integrations/\(id)/enable", harness)
            let token = try #require(try await harness.store.connections.connection(integrationID: id, endUserID: "")?.tokens.accessToken)
            let logs = harness.logs.text
            #expect(harness.logs.count > 3, "the capture saw the request logs")
            #expect(logs.contains("/oauth/callback"), "the callback was logged, by path")
            let secrets = [token, harness.systemApp.clientSecret, harness.apiKey, queryItems(location)["code"]!, queryItems(url)["state"]!]
            for secret in secrets {
                #expect(!logs.contains(secret), "a secret (\(secret.prefix(6))…) reached the log")
                #expect(!logs.contains(secret.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!))
            }
        }
    }

    @Test("/openapi.yaml documents exactly the routes the router serves")
    func openAPIMatchesRoutes() async throws {
        let settings = ServerSettings(database: .sqlite(path: "/unused"), masterKey: try TokenVault.key(base64: TokenVault.generateKeyBase64()))
        try await TestStore.with(.sqlite) { test in
            let router = buildRouter(settings: settings, store: test.store, dependencies: Dependencies(), logger: TestStore.logger)
            // The console serves HTML to people and is not part of the admin API's contract.
            let served = Set(router.routes.filter { !$0.path.description.hasPrefix("/console") }
                .map { "\($0.method.rawValue.lowercased()) \($0.path.description)" })
            let documented = switchboardContract.operations
            #expect(!served.isEmpty)
            #expect(served.subtracting(documented).isEmpty, "served but not documented: \(served.subtracting(documented).sorted())")
            #expect(documented.subtracting(served).isEmpty, "documented but not served: \(documented.subtracting(served).sorted())")
        }
    }

    @Test("health, metrics and the OpenAPI document are served without a key")
    func publicEndpoints() async throws {
        try await Harness.with { harness, client in
            let health = try await client.execute(uri: "/health", method: .get)
            #expect(health.status == .ok)
            #expect(try object(health)["database"] as? String == "ok")
            #expect(try await client.execute(uri: "/metrics", method: .get).status == .ok)
            let spec = try await client.execute(uri: "/openapi.yaml", method: .get)
            #expect(text(spec).hasPrefix("openapi: 3.1.0"))
        }
    }
}
