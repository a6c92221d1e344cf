import Foundation
import Hummingbird
import HummingbirdTesting
import IntercomSandbox
import Logging
import SwitchboardCore
import SwitchboardServer
import SwitchboardStore
import SwitchboardTestSupport
import Testing

@Suite("JSON logs")
struct JSONLogsTests {
    @Test("every line is one JSON object; each request's line names its route, status, duration and ids, and no secret, connect token or query string")
    func jsonLinesCarryFactsAndNoSecrets() async throws {
        try await Harness.with(logFormat: .json) { harness, client in
            // A custom profile (its client secret), a pre-authorized integration (the system app's token), a per-user
            // integration (a connect link, the user's token), an action run, and requests that fail.
            let (profileID, app) = try await harness.sandboxProfile(client)
            let preauthorized = try await harness.createIntegration(client)
            #expect(try await harness.preauthorize(client, integrationID: preauthorized).status == .ok)
            #expect(try await client.call(.post, "/v1/integrations/\(preauthorized)/enable", harness).status == .ok)
            let ran = try await harness.run(client, preauthorized, "intercom.create_contact", #"{"email":"log@example.com"}"#)
            #expect(ran.status == .ok, "\(text(ran))")
            let perUser = try await harness.perUserIntegration(client)
            let linked = try expectProblem(try await harness.run(client, perUser, "intercom.create_contact", #"{"email":"u@example.com"}"#, user: "user-a"),
                                           409, code: "authorization_required")
            let link = try #require(linked["authorizationURL"] as? String)
            let connectToken = String(link.split(separator: "/").last ?? "")
            let browser = EndUserBrowser(harness: harness, client: client)
            #expect(try await browser.connect(link).status == .ok)
            let querySecret = "qs_" + String(UUID().uuidString.prefix(12))
            _ = try await client.call(.get, "/v1/integrations?api_key=\(querySecret)", harness)
            _ = try await client.execute(uri: "/connect/\(connectToken)?note=\(querySecret)", method: .get)
            _ = try await client.call(.get, "/v1/integrations", harness, key: "sbk_not-a-key")
            _ = try await client.call(.put, "/v1/integrations/\(preauthorized)", harness, json: "{}")

            let lines = harness.logs.lines
            #expect(lines.count > 20, "the capture saw the logs")
            var requests: [[String: Any]] = []
            for line in lines {
                let parsed = try? JSONSerialization.jsonObject(with: Data(line.utf8))
                guard let object = parsed as? [String: Any] else {
                    Issue.record("not one JSON object: \(line.prefix(200))")
                    continue
                }
                #expect(!line.contains("\n"), "one line")
                for member in ["time", "level", "logger", "message"] { #expect(object[member] is String, "\(member) in \(line.prefix(200))") }
                #expect((object["time"] as? String).flatMap { try? Date($0, strategy: .iso8601) } != nil
                        || (object["time"] as? String).flatMap { try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse($0) } != nil,
                        "an ISO 8601 time")
                if object["message"] as? String == "request" { requests.append(object) }
            }

            // A request's line: its id, method, route, path, status and duration as numbers, and whom it was for.
            #expect(!requests.isEmpty)
            for request in requests {
                #expect((request["request_id"] as? String)?.isEmpty == false, "request_id in \(request)")
                #expect(request["status"] is Int, "status is a number in \(request)")
                #expect(request["duration_ms"] is Double || request["duration_ms"] is Int, "duration_ms is a number in \(request)")
                #expect(request["route"] is String && request["method"] is String && request["path"] is String)
            }
            let run = try #require(requests.first { ($0["route"] as? String) == "/v1/integrations/{id}/actions/{name}" && $0["status"] as? Int == 200 })
            #expect(run["integration_id"] as? String == preauthorized)
            #expect(run["workspace_id"] as? String == harness.workspace.id)
            let refused = try #require(requests.first { $0["status"] as? Int == 401 })
            #expect(refused["workspace_id"] == nil, "a refused key proves no workspace")
            let notAllowed = try #require(requests.first { $0["status"] as? Int == 405 })
            #expect(notAllowed["route"] as? String == "none", "no route answered")
            let linkPage = try #require(requests.first { ($0["route"] as? String) == "/connect/{token}" })
            #expect(linkPage["path"] as? String == "/connect/\(connectToken.prefix(6))…")

            // Nothing secret: the API key, the profile's and the system app's client secrets, every Intercom token,
            // the connect link's token, the signing secret, and what came in a query string.
            let all = lines.joined(separator: "\n")
            let perUserConnection = try #require(try await harness.store.connections.connection(integrationID: perUser, endUserID: "user-a"))
            let shared = try #require(try await harness.store.connections.connection(integrationID: preauthorized, endUserID: ""))
            var secrets = [harness.apiKey, app.clientSecret, harness.systemApp.clientSecret, connectToken, querySecret,
                           perUserConnection.tokens.accessToken, shared.tokens.accessToken]
            secrets += [perUserConnection.tokens.refreshToken, shared.tokens.refreshToken].compactMap { $0 }
            _ = profileID
            for secret in secrets {
                #expect(!all.contains(secret), "a secret (\(secret.prefix(6))…) reached the JSON log")
            }
            #expect(!all.contains("?api_key") && !all.contains("?note="), "no query string")
        }
    }

    @Test("the JSON handler escapes what it writes and keeps numbers and booleans typed")
    func handlerEscapes() throws {
        let capture = LogCapture()
        var logger = Logger(label: "unit") { JSONLogHandler(label: $0, output: .custom { capture.append($0) }) }
        logger.logLevel = .trace
        logger[metadataKey: "hb.request.id"] = "r1"
        logger.info("a \"quoted\"\nline\u{1}", metadata: [
            "count": .stringConvertible(3), "ratio": .stringConvertible(0.5), "on": .stringConvertible(true),
            "nested": ["k": "v", "list": ["a", .stringConvertible(2)]],
        ])
        let line = try #require(capture.lines.first)
        #expect(line.hasSuffix("}\n") && line.filter { $0 == "\n" }.count == 1, "one line")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        #expect(object["message"] as? String == "a \"quoted\"\nline\u{1}")
        #expect(object["request_id"] as? String == "r1" && object["hb.request.id"] == nil)
        #expect(object["count"] as? Int == 3 && object["ratio"] as? Double == 0.5 && object["on"] as? Bool == true)
        let nested = try #require(object["nested"] as? [String: Any])
        #expect(nested["k"] as? String == "v" && (nested["list"] as? [Any])?.count == 2)
        #expect(object["level"] as? String == "info" && object["logger"] as? String == "unit")
    }
}
