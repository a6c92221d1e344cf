import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import Crypto
import SwitchboardTestSupport
import Testing

/// JSON over real HTTP to a running Switchboard.
struct API {
    let base: String
    let key: String

    func call(_ method: HTTPMethod, _ path: String, _ json: String? = nil) async throws -> (status: Int, body: [String: Any]) {
        let answer = try await LoopbackHTTP.send(method, base + path, headers: [("Authorization", "Bearer \(key)")], json: json)
        return (answer.status, answer.json)
    }
}

/// `switchboard sandbox` and `switchboard serve` as separate processes on loopback.
struct RunningSystem {
    let sandbox: ChildProcess
    let server: ChildProcess
    let sandboxURL: String
    let serverURL: String
    let databaseURL: String
    let systemSecret: String

    var callbackURL: String { serverURL + "/oauth/callback" }

    /// What `serve` was started with, so that another instance can join it on the same database.
    let serverEnvironment: [String: String]

    static func start(databaseURL: String, logFormat: String = "text") async throws -> RunningSystem {
        let sandboxPort = try freePort(), serverPort = try freePort()
        let sandboxURL = "http://127.0.0.1:\(sandboxPort)", serverURL = "http://127.0.0.1:\(serverPort)"
        let systemID = "system-\(UUID().uuidString.prefix(8))", systemSecret = "system-secret-\(UUID().uuidString)"
        let sandbox = try ChildProcess(arguments: ["sandbox", "--port", "\(sandboxPort)", "--app", "\(systemID):\(systemSecret):\(serverURL)/oauth/callback"])
        try await sandbox.waitUntilServing(sandboxURL + "/health")
        let environment = [
            "SWITCHBOARD_PORT": "\(serverPort)",
            "SWITCHBOARD_PUBLIC_URL": serverURL,
            "SWITCHBOARD_DATABASE_URL": databaseURL,
            "SWITCHBOARD_MASTER_KEY": Data((0..<32).map { _ in UInt8.random(in: 0...255) }).base64EncodedString(),
            "SWITCHBOARD_INTERCOM_CLIENT_ID": systemID,
            "SWITCHBOARD_INTERCOM_CLIENT_SECRET": systemSecret,
            "SWITCHBOARD_INTERCOM_AUTHORIZE_URL": sandboxURL + "/oauth",
            "SWITCHBOARD_INTERCOM_TOKEN_URL": sandboxURL + "/auth/eagle/token",
            "SWITCHBOARD_INTERCOM_API_US": sandboxURL,
            "SWITCHBOARD_INTERCOM_API_EU": sandboxURL,
            "SWITCHBOARD_INTERCOM_API_AU": sandboxURL,
            "SWITCHBOARD_LOG_LEVEL": "trace",
            "SWITCHBOARD_LOG_FORMAT": logFormat,
            // The sandbox and the notify receivers live on loopback.
            "SWITCHBOARD_ALLOW_PRIVATE_NETWORK": "true",
        ]
        let server = try ChildProcess(arguments: ["serve"], environment: environment)
        do {
            try await server.waitUntilServing(serverURL + "/health")
        } catch {
            _ = await sandbox.stop()
            throw error
        }
        return RunningSystem(sandbox: sandbox, server: server, sandboxURL: sandboxURL, serverURL: serverURL, databaseURL: databaseURL,
                             systemSecret: systemSecret, serverEnvironment: environment)
    }

    /// Another `serve` instance on the same database and master key, on a port of its own (its public URL stays the
    /// first one's, as behind a load balancer).
    func anotherServer() async throws -> (process: ChildProcess, url: String) {
        let port = try freePort()
        var environment = serverEnvironment
        environment["SWITCHBOARD_PORT"] = "\(port)"
        let process = try ChildProcess(arguments: ["serve"], environment: environment)
        try await process.waitUntilServing("http://127.0.0.1:\(port)/health")
        return (process, "http://127.0.0.1:\(port)")
    }

    func stop() async -> (Int32?, Int32?) {
        (await server.stop(), await sandbox.stop())
    }

    /// `switchboard keys create`, as an operator would run it while the server runs.
    func createKey(workspace: String) async throws -> String {
        let result = try await ChildProcess.run(["keys", "create", "--database-url", databaseURL, "--workspace", workspace])
        #expect(result.status == 0, "keys create failed: \(result.stderr)")
        let lines = result.stdout.split(separator: "\n")
        #expect(lines.count == 1, "keys create prints the key and nothing else")
        return String(try #require(lines.first))
    }
}

enum Storage: String, CaseIterable, CustomStringConvertible {
    case sqlite, postgres
    var description: String { rawValue }
    static var available: [Storage] { Backend.postgresURL == nil ? [.sqlite] : [.sqlite, .postgres] }
}

/// A database for one run, and how to read its raw bytes (SQLite only).
func withDatabase(_ storage: Storage, _ body: (String, String?) async throws -> Void) async throws {
    switch storage {
    case .sqlite:
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("sb-e2e-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try await body("sqlite:" + directory.appendingPathComponent("switchboard.sqlite").path, directory.path)
    case .postgres:
        let database = try await ScratchPostgresDatabase.create()
        do { try await body(database.url, nil) } catch {
            await database.drop()
            throw error
        }
        await database.drop()
    }
}

@Suite("End to end: the real binaries over loopback", .serialized)
struct EndToEndTests {
    @Test("the guide's pre-authorize steps, custom profile and system app, through serve (logging JSON) and sandbox", arguments: Storage.available)
    func preauthorize(storage: Storage) async throws {
        try await withDatabase(storage) { databaseURL, sqliteDirectory in
            let system = try await RunningSystem.start(databaseURL: databaseURL, logFormat: "json")
            var observed: [String] = [system.systemSecret]
            do {
                let api = API(base: system.serverURL, key: try await system.createKey(workspace: "E2E"))
                observed.append(api.key)

                // Custom: create the app in the developer hub, then the profile from its credentials.
                let registered = try await ChildProcess.run(["sandbox", "register-app", "--sandbox", system.sandboxURL, "--name", "Acme app",
                                                             "--redirect-url", system.callbackURL])
                #expect(registered.status == 0, "\(registered.stderr)")
                let clientID = try #require(registered.stdout.firstMatch(of: /Client ID: (\S+)/)?.1)
                let clientSecret = try #require(registered.stdout.firstMatch(of: /Client secret: (\S+)/)?.1)
                observed.append(String(clientSecret))
                let profile = try await api.call(.POST, "/v1/auth-profiles", """
                    {"name":"Intercom","clientId":"\(clientID)","clientSecret":"\(clientSecret)",
                     "authorizationURL":"\(system.sandboxURL)/oauth?client_id=****&state=abc",
                     "tokenURL":"\(system.sandboxURL)/auth/eagle/token","refreshTokenURL":"\(system.sandboxURL)/auth/eagle/token"}
                    """)
                #expect(profile.status == 201)
                let profileID = try #require(profile.body["id"] as? String)
                let profileCallback = system.callbackURL + "/" + profileID
                #expect(profile.body["callbackURL"] as? String == profileCallback, "the profile has a callback URL of its own")
                // Pasted into the app's Redirect URLs in the developer hub, as the guide says.
                let edit = try await LoopbackHTTP.send(.PUT, system.sandboxURL + "/_sandbox/apps/\(clientID)/redirect-urls",
                                                       json: "{\"redirectURLs\":[\"\(profileCallback)\"]}")
                #expect(edit.status == 200)

                for (app, extra) in [("custom", ",\"authProfileId\":\"\(profileID)\""), ("system", "")] {
                    let integration = try await api.call(.POST, "/v1/integrations",
                                                         "{\"name\":\"\(app) bot\",\"app\":\"\(app)\",\"authorization\":\"preauthorized\"\(extra)}")
                    #expect(integration.status == 201)
                    let id = try #require(integration.body["id"] as? String)
                    let authorize = try await api.call(.POST, "/v1/integrations/\(id)/authorize")
                    let url = try #require(authorize.body["authorizationURL"] as? String)
                    #expect(url.hasPrefix(system.serverURL + "/oauth/start/"), "Switchboard's start page, which binds the browser")
                    let (providerURL, location, cookie) = try await SandboxBrowser.authorizeFromStart(url, email: "bea@globex.test")
                    #expect(location.hasPrefix((app == "custom" ? profileCallback : system.callbackURL) + "?code="))
                    observed.append(contentsOf: [queryValue(location, "code"), queryValue(providerURL, "state")].compactMap { $0 })
                    #expect(try await SandboxBrowser.get(location).status == 400, "not from a browser without the binding cookie")
                    let page = try await SandboxBrowser.get(location, cookie: cookie)
                    #expect(page.status == 200, "\(page.body)")
                    #expect(page.body.contains("Intercom workspace Globex Europe connected"))
                    #expect(try await api.call(.GET, "/v1/integrations/\(id)").body["status"] as? String == "authorized")
                    let enabled = try await api.call(.POST, "/v1/integrations/\(id)/enable")
                    #expect(enabled.status == 200)
                    #expect(enabled.body["status"] as? String == "enabled")
                    let connection = try #require(enabled.body["connection"] as? [String: Any])
                    #expect((connection["account"] as? [String: Any])?["region"] as? String == "Europe")
                    #expect(try await SandboxBrowser.get(location, cookie: cookie).status == 400, "the callback works once")

                    // The CLI runs an action through the server.
                    let ran = try await ChildProcess.run(["actions", "run", "intercom.who_am_i", "--integration", id,
                                                          "--url", system.serverURL, "--api-key", api.key])
                    #expect(ran.status == 0, "\(ran.stderr)")
                    #expect(ran.stdout.hasPrefix("Connected as Bea Berg <bea@globex.test> in Globex Europe."), "\(ran.stdout)")
                    let latest = (try await api.call(.GET, "/v1/runs?limit=1").body["data"] as? [[String: Any]])?.first
                    #expect(latest?["channel"] as? String == "cli", "the CLI's run is recorded as the CLI's: \(String(describing: latest))")
                    let refused = try await ChildProcess.run(["actions", "run", "intercom.find_contact_by_email", "--integration", id,
                                                              "--input", #"{"email":"not-an-email"}"#, "--url", system.serverURL, "--api-key", api.key])
                    #expect(refused.status != 0)
                    #expect(refused.stderr.split(separator: "\n").count == 1 && refused.stderr.contains("validation_failed"), "\(refused.stderr)")

                    // The CLI makes, lists and revokes an agent token through the server; only `create` prints the token, once.
                    let server = ["--integration", id, "--url", system.serverURL, "--api-key", api.key]
                    let made = try await ChildProcess.run(["agent-tokens", "create", "--name", "Desktop agent", "--tool", "intercom.who_am_i",
                                                           "--expires-in", "30d"] + server)
                    #expect(made.status == 0, "\(made.stderr)")
                    let token = made.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
                    #expect(token.hasPrefix("sbat_"), "\(made.stdout)")
                    observed.append(token)
                    let listed = try await ChildProcess.run(["agent-tokens", "list"] + server)
                    #expect(listed.status == 0 && listed.stdout.contains("Desktop agent") && listed.stdout.contains("active"), "\(listed.stdout)")
                    #expect(!listed.stdout.contains(token))
                    let tokenID = String(listed.stdout.split(separator: "\t").first ?? "")
                    let revoked = try await ChildProcess.run(["agent-tokens", "revoke", tokenID] + server)
                    #expect(revoked.status == 0 && revoked.stdout.contains("\(tokenID) revoked"), "\(revoked.stdout) \(revoked.stderr)")
                    let wrong = try await ChildProcess.run(["agent-tokens", "create", "--name", "x", "--tool", "intercom.nope"] + server)
                    #expect(wrong.status != 0)
                    #expect(wrong.stderr.split(separator: "\n").count == 1 && wrong.stderr.contains("validation_failed"), "\(wrong.stderr)")
                }
            } catch {
                _ = await system.stop()
                throw error
            }
            let (serverExit, _) = await system.stop()
            #expect(serverExit == 0, "serve shuts down cleanly on SIGTERM")

            let log = system.server.stderr
            #expect(log.contains("/oauth/callback"), "serve logged the requests")
            // SWITCHBOARD_LOG_FORMAT=json: every line serve wrote is one JSON object; each request's names its route.
            let lines = log.split(separator: "\n").filter { !$0.isEmpty }
            #expect(lines.count > 10)
            for line in lines {
                let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
                #expect(object?["message"] is String, "not a JSON log line: \(line.prefix(200))")
            }
            #expect(lines.contains { $0.contains(#""route":"/oauth/callback""#) && $0.contains(#""status":200"#) })
            for secret in observed {
                #expect(!log.contains(secret), "serve's log holds a secret (\(secret.prefix(6))…)")
            }
            if let sqliteDirectory {
                var bytes = Data()
                for file in try FileManager.default.contentsOfDirectory(atPath: sqliteDirectory) {
                    bytes += (try? Data(contentsOf: URL(fileURLWithPath: sqliteDirectory).appendingPathComponent(file))) ?? Data()
                }
                for secret in observed.dropFirst(2) where secret.count > 8 {
                    #expect(bytes.range(of: Data(secret.utf8)) == nil, "the database file holds a plaintext secret")
                }
            }
        }
    }

    @Test("an end user connects during the conversation: authorization_required, the link through the sandbox, a signed connection.created, the retried action with A's token; B still needs to connect", arguments: Storage.available)
    func perUser(storage: Storage) async throws {
        try await withDatabase(storage) { databaseURL, sqliteDirectory in
            let receiver = try await NotifyReceiver.start()
            let system = try await RunningSystem.start(databaseURL: databaseURL)
            var linkToken = "-"
            var secret = "-"
            do {
                let api = API(base: system.serverURL, key: try await system.createKey(workspace: "E2E"))
                let created = try await api.call(.POST, "/v1/integrations",
                                                 "{\"name\":\"Support bot\",\"app\":\"system\",\"authorization\":\"per_user\",\"notifyURL\":\"\(receiver.url)\"}")
                #expect(created.status == 201)
                let id = try #require(created.body["id"] as? String)
                secret = try #require(created.body["signingSecret"] as? String)
                #expect(try await api.call(.POST, "/v1/integrations/\(id)/enable").status == 200)

                let ticket = "{\"input\":{\"ticket_type_id\":\"1\",\"email\":\"ada@acme.test\",\"title\":\"Cannot log in\"},\"user\":{\"id\":\"%@\",\"conversationId\":\"conv-1\"}}"
                let first = try await api.call(.POST, "/v1/integrations/\(id)/actions/intercom.create_ticket", ticket.replacingOccurrences(of: "%@", with: "user-a"))
                #expect(first.status == 409 && first.body["code"] as? String == "authorization_required")
                let link = try #require(first.body["authorizationURL"] as? String)
                #expect(link.hasPrefix(system.serverURL + "/connect/"))
                linkToken = String(link.split(separator: "/").last ?? "")
                #expect((first.body["message"] as? String)?.hasSuffix(link) == true)

                // The user opens the link, presses the button, signs in to the sandbox and consents.
                let page = try await SandboxBrowser.get(link)
                #expect(page.status == 200 && page.body.contains("Connect your Intercom account to Support bot"))
                let pressed = try await SandboxBrowser.postForm(link, [])
                #expect(pressed.status == 303)
                let cookie = try #require(pressed.cookie)
                let callback = try await SandboxBrowser.authorize(try #require(pressed.location))
                let done = try await SandboxBrowser.get(callback, cookie: cookie)
                #expect(done.status == 200 && done.body.contains("You can return to the conversation."), "\(done.body)")

                let event = try #require(try await receiver.wait(for: 1).first)
                #expect(event.type == "connection.created" && event.json["userId"] as? String == "user-a")
                let header = try #require(event.headers["switchboard-signature"])
                let timestamp = try #require(header.firstMatch(of: /t=(\d+)/)?.1)
                let mac = HMAC<SHA256>.authenticationCode(for: Data("\(timestamp).".utf8) + event.body, using: SymmetricKey(data: Data(secret.utf8)))
                #expect(header.hasSuffix("v1=" + mac.map { String(format: "%02x", $0) }.joined()), "the signature verifies")

                let retried = try await api.call(.POST, "/v1/integrations/\(id)/actions/intercom.create_ticket", ticket.replacingOccurrences(of: "%@", with: "user-a"))
                #expect(retried.status == 200, "\(retried.body)")
                #expect((retried.body["message"] as? String)?.contains("is open") == true)
                let other = try await api.call(.POST, "/v1/integrations/\(id)/actions/intercom.create_ticket", ticket.replacingOccurrences(of: "%@", with: "user-b"))
                #expect(other.status == 409 && other.body["code"] as? String == "authorization_required")
                let events = try await api.call(.GET, "/v1/events?integration=\(id)")
                #expect(((events.body["data"] as? [[String: Any]])?.first)?["status"] as? String == "delivered")
            } catch {
                _ = await system.stop()
                await receiver.stop()
                throw error
            }
            let (serverExit, _) = await system.stop()
            await receiver.stop()
            #expect(serverExit == 0)
            #expect(system.server.stderr.contains("/connect/"), "the link's requests were logged")
            #expect(!system.server.stderr.contains(secret), "the signing secret never reaches the log")
            #expect(!system.server.stderr.contains(linkToken), "the connect token never reaches the log")
            if let sqliteDirectory {
                var bytes = Data()
                for file in try FileManager.default.contentsOfDirectory(atPath: sqliteDirectory) {
                    bytes += (try? Data(contentsOf: URL(fileURLWithPath: sqliteDirectory).appendingPathComponent(file))) ?? Data()
                }
                #expect(bytes.range(of: Data(secret.utf8)) == nil, "the signing secret is sealed at rest")
                #expect(bytes.range(of: Data(linkToken.utf8)) == nil, "only the connect token's hash is stored")
            }
        }
    }

    @Test("serve refuses to start without a master key, in one line naming the setting")
    func missingMasterKey() async throws {
        let result = try await ChildProcess.run(["serve", "--port", "\(try freePort())", "--database-url", "sqlite:/tmp/sb-never-\(UUID()).sqlite"])
        #expect(result.status != 0)
        let lines = result.stderr.split(separator: "\n")
        #expect(lines.count == 1, "one line: \(result.stderr)")
        #expect(result.stderr.contains("master.key") && result.stderr.contains("SWITCHBOARD_MASTER_KEY"))
    }

    @Test("serve names a malformed setting without echoing secrets", arguments: [
        (["--port", "99999"], "port"),
        (["--master-key", "c2hvcnQ="], "master.key"),
        (["--database-url", "mysql://x"], "database.url"),
        (["--public-url", "not a url"], "public.url"),
        (["--intercom-client-id", "abc"], "intercom.client.secret"),
        (["--intercom-timeout", "0"], "intercom.timeout"),
        (["--connect-link-ttl", "5"], "connect.link.ttl"),
        (["--log-level", "loud"], "log.level"),
    ])
    func malformedSettings(arguments: [String], key: String) async throws {
        var all = ["serve", "--master-key", Data(count: 32).base64EncodedString(), "--database-url", "sqlite:/tmp/sb-never-\(UUID()).sqlite"]
        all += arguments
        let result = try await ChildProcess.run(all)
        #expect(result.status != 0)
        #expect(result.stderr.split(separator: "\n").count == 1, "\(result.stderr)")
        #expect(result.stderr.contains("'\(key)'"), "\(result.stderr)")
        #expect(!result.stderr.contains(Data(count: 32).base64EncodedString()))
    }

    @Test("serve reads its settings from a JSON file, numbers included; flags win over the file")
    func settingsFile() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("sb-config-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let filePort = try freePort(), flagPort = try freePort()
        let file = directory.appendingPathComponent("settings.json")
        let key = Data((0..<32).map { _ in UInt8.random(in: 0...255) }).base64EncodedString()
        try Data("""
            {"port": \(filePort), "public": {"url": "https://sb.example"}, "database": {"url": "sqlite:\(directory.path)/db.sqlite"},
             "master": {"key": "\(key)"}, "log": {"level": "warning"}}
            """.utf8).write(to: file)
        let fromFile = try ChildProcess(arguments: ["serve", "--config", file.path])
        try await fromFile.waitUntilServing("http://127.0.0.1:\(filePort)/health")
        #expect(await fromFile.stop() == 0)
        let overridden = try ChildProcess(arguments: ["serve", "--config", file.path, "--port", "\(flagPort)"])
        try await overridden.waitUntilServing("http://127.0.0.1:\(flagPort)/health")
        #expect(await overridden.stop() == 0)
        let missing = try await ChildProcess.run(["serve", "--config", directory.appendingPathComponent("nope.json").path])
        #expect(missing.status != 0 && missing.stderr.contains("does not exist"))
    }

    @Test("keys: create with a name and expiry, list without the key, revoke: the running server refuses it when the command returns")
    func keyLifecycle() async throws {
        try await withDatabase(.sqlite) { databaseURL, _ in
            let system = try await RunningSystem.start(databaseURL: databaseURL)
            do {
                #expect(system.server.stderr.contains("allow-private-network is on"), "serve says at start that the guard is off")
                let created = try await ChildProcess.run(["keys", "create", "--database-url", databaseURL, "--workspace", "Keys",
                                                          "--name", "support bot", "--expires-in", "30d"])
                #expect(created.status == 0, "\(created.stderr)")
                let key = created.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
                let other = try await system.createKey(workspace: "Keys")
                let api = API(base: system.serverURL, key: key)
                #expect(try await api.call(.GET, "/v1/integrations").status == 200)

                let listed = try await ChildProcess.run(["keys", "list", "--database-url", databaseURL, "--workspace", "Keys"])
                #expect(listed.status == 0, "\(listed.stderr)")
                let lines = listed.stdout.split(separator: "\n").map(String.init)
                #expect(lines.first?.contains("LAST USED") == true && lines.count == 3, "\(listed.stdout)")
                #expect(!listed.stdout.contains(key) && !listed.stdout.contains(other) && !listed.stdout.contains(String(key.dropFirst(4).prefix(8))))
                let row = try #require(lines.first { $0.contains("support bot") })
                #expect(row.contains("active"))
                let id = String(try #require(row.firstMatch(of: /key_[0-9a-f]+/)?.0))
                let expiry = try #require(row.firstMatch(of: /\d{4}-\d{2}-\d{2}T[^ ]+/).map { String($0.0) })
                #expect(lines.contains { $0.contains(id) && $0.filter { $0 == "-" }.count >= 1 } && !expiry.isEmpty)

                let revoked = try await ChildProcess.run(["keys", "revoke", "--database-url", databaseURL, id])
                #expect(revoked.status == 0, "\(revoked.stderr)")
                let refused = try await api.call(.GET, "/v1/integrations")
                #expect(refused.status == 401 && refused.body["code"] as? String == "invalid_api_key")
                #expect(try await API(base: system.serverURL, key: other).call(.GET, "/v1/integrations").status == 200, "other keys work on")
                let after = try await ChildProcess.run(["keys", "list", "--database-url", databaseURL, "--workspace", "Keys"])
                #expect(after.stdout.split(separator: "\n").first { $0.contains(id) }?.contains("revoked") == true)

                let unknown = try await ChildProcess.run(["keys", "revoke", "--database-url", databaseURL, "key_nope"])
                #expect(unknown.status != 0 && unknown.stderr.contains("no admin API key"))
                let badExpiry = try await ChildProcess.run(["keys", "create", "--database-url", databaseURL, "--workspace", "Keys", "--expires-in", "soon"])
                #expect(badExpiry.status != 0 && badExpiry.stderr.contains("--expires-in"))
            } catch {
                _ = await system.stop()
                throw error
            }
            _ = await system.stop()
        }
    }

    @Test("actions list: every action with its group, narrowed by group or words; an unknown group is one line naming the groups, and a non-zero exit")
    func actionsList() async throws {
        let all = try await ChildProcess.run(["actions", "list"])
        let lines = all.stdout.split(separator: "\n").count
        #expect(all.status == 0 && lines > 200, "every operation of the API is an action")
        let macros = try await ChildProcess.run(["actions", "list", "--group", "macros"])
        #expect(macros.status == 0)
        let names: [String] = macros.stdout.split(separator: "\n").map { line in String(line.prefix { $0 != " " }) }
        #expect(names == ["intercom.get_macro", "intercom.list_macros"])
        let found = try await ChildProcess.run(["actions", "list", "--search", "create ticket"])
        #expect(found.stdout.split(separator: "\n").first?.hasPrefix("intercom.create_ticket ") == true, "the curated action first: \(found.stdout.prefix(300))")
        let unknown = try await ChildProcess.run(["actions", "list", "--group", "nope"])
        #expect(unknown.status != 0)
        #expect(unknown.stderr.contains("no action is in the group 'nope'") && unknown.stderr.contains("Articles"))
        let errorLines = unknown.stderr.split(separator: "\n").count
        #expect(errorLines == 1, "one line: \(unknown.stderr)")
    }

    @Test("keys create without a database says how to choose one")
    func keysNeedDatabase() async throws {
        let result = try await ChildProcess.run(["keys", "create", "--workspace", "x"])
        #expect(result.status != 0)
        #expect(result.stderr.contains("--data DIR"))
    }

    @Test("demo prints its lines, keeps its master key private, and reuses everything on restart")
    func demo() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("sb-demo-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        var keys: [String] = []
        for _ in 0..<2 {
            let (demo, api) = try await Self.startDemo(directory)
            let output = demo.stdout
            #expect(output.contains("Console: \(api.base)/console"), "\(output)")
            #expect(output.contains("API: \(api.base)/v1"))
            #expect(output.contains("Intercom sandbox: http://127.0.0.1:"))
            #expect(output.contains("Sandbox login: ada@acme.test / sandbox-password"))
            keys.append(api.key)
            #expect(try await api.call(.GET, "/v1/integrations").status == 200)
            if keys.count == 1 {
                let created = try await api.call(.POST, "/v1/integrations", #"{"name":"kept","app":"system","authorization":"preauthorized"}"#)
                let id = try #require(created.body["id"] as? String)
                let url = try #require(try await api.call(.POST, "/v1/integrations/\(id)/authorize").body["authorizationURL"] as? String)
                let (_, callback, cookie) = try await SandboxBrowser.authorizeFromStart(url)
                #expect(try await SandboxBrowser.get(callback, cookie: cookie).status == 200)
                #expect(try await api.call(.POST, "/v1/integrations/\(id)/enable").status == 200)
            } else {
                let listed = try await api.call(.GET, "/v1/integrations")
                #expect(listed.body["count"] as? Int == 1, "data survives a restart")
                let id = try #require((listed.body["data"] as? [[String: Any]])?.first?["id"] as? String)
                let enabled = try await api.call(.POST, "/v1/integrations/\(id)/enable")
                #expect(enabled.status == 200, "the sandbox kept the token it issued, so Intercom's /me still accepts it: \(enabled.body)")
            }
            let exit = await demo.stop()
            #expect(exit == 0, "demo exits 0 on SIGTERM; its stderr: \(exitReport(demo.stderr))")
        }
        #expect(keys[0] == keys[1], "the demo reuses its API key")
        let attributes = try FileManager.default.attributesOfItem(atPath: directory.appendingPathComponent("master.key").path)
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
    }
}

extension EndToEndTests {
    /// Starts the demo in `directory` and returns it with its API.
    static func startDemo(_ directory: URL) async throws -> (ChildProcess, API) {
        let port = try freePort(), sandboxPort = try freePort()
        let demo = try ChildProcess(arguments: ["demo", "--port", "\(port)", "--sandbox-port", "\(sandboxPort)", "--data", directory.path])
        do {
            try await eventually("the demo to print its credentials", within: .seconds(60), every: .milliseconds(50)) {
                if !demo.process.isRunning { throw TestSupportError("the demo exited (\(demo.process.terminationStatus)): \(demo.stderr.suffix(2000))") }
                return demo.stdout.contains("Sandbox login:")
            }
        } catch {
            _ = await demo.stop()
            throw error
        }
        let key = try #require(demo.stdout.firstMatch(of: /API key: (\S+)/)?.1, "demo output: \(demo.stdout) \(demo.stderr)")
        return (demo, API(base: "http://127.0.0.1:\(port)", key: String(key)))
    }

    @Test("keys rotate-master re-encrypts the demo's secrets under a new key that the next start uses")
    func rotateMaster() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("sb-rotate-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        var (demo, api) = try await Self.startDemo(directory)
        let created = try await api.call(.POST, "/v1/auth-profiles", """
            {"name":"p","clientId":"c","clientSecret":"rotate-me-secret","authorizationURL":"https://idp.example/a","tokenURL":"https://idp.example/t"}
            """)
        let id = try #require(created.body["id"] as? String)
        #expect(await demo.stop() == 0, "demo exits 0 on SIGTERM; its stderr: \(exitReport(demo.stderr))")
        let keyPath = directory.appendingPathComponent("master.key").path
        let oldKey = try String(contentsOfFile: keyPath, encoding: .utf8)

        let rotated = try await ChildProcess.run(["keys", "rotate-master", "--data", directory.path])
        #expect(rotated.status == 0, "\(rotated.stderr)")
        #expect(rotated.stderr.contains("Re-encrypted 1 secrets"))
        #expect(rotated.stdout.isEmpty, "with --data the new key goes to the file, not the terminal")
        let newKey = try String(contentsOfFile: keyPath, encoding: .utf8)
        #expect(newKey != oldKey)
        #expect((try FileManager.default.attributesOfItem(atPath: keyPath)[.posixPermissions] as? Int) == 0o600)

        (demo, api) = try await Self.startDemo(directory)
        let profile = try await api.call(.GET, "/v1/auth-profiles/\(id)")
        #expect(profile.status == 200, "the secret opens under the new key")
        #expect(await demo.stop() == 0, "demo exits 0 on SIGTERM; its stderr: \(exitReport(demo.stderr))")
    }
}

func queryValue(_ url: String, _ name: String) -> String? {
    URLComponents(string: url)?.queryItems?.first { $0.name == name }?.value
}
