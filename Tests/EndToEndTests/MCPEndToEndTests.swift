import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import SwitchboardTestSupport
import Testing

/// A Python with the test tools `.ci/run` installs (`SWITCHBOARD_TEST_PYTHON`, or the virtual environment under the
/// build folder), if it can import `modules`; otherwise nil, said loudly.
enum PythonTools {
    static let candidate: URL? = {
        let candidates = [ProcessInfo.processInfo.environment["SWITCHBOARD_TEST_PYTHON"].map(URL.init(fileURLWithPath:)),
                          BuiltBinary.packageRoot.appendingPathComponent(".build/test-venv/bin/python3")].compactMap { $0 }
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0.path) }
    }()

    static func python(importing modules: String, for what: String) -> URL? {
        guard let python = candidate else {
            print("⚠️  SKIPPED: \(what) need a Python with \(modules) (.ci/run installs them into .build/test-venv; or set SWITCHBOARD_TEST_PYTHON)")
            return nil
        }
        let probe = Process()
        probe.executableURL = python
        probe.arguments = ["-c", "import " + modules]
        probe.standardOutput = FileHandle.nullDevice
        probe.standardError = FileHandle.nullDevice
        guard (try? probe.run()) != nil else { return nil }
        probe.waitUntilExit()
        guard probe.terminationStatus == 0 else {
            print("⚠️  SKIPPED: \(what): \(python.path) cannot import \(modules) (.ci/run installs the pinned packages)")
            return nil
        }
        return python
    }
}

/// The Python `mcp` SDK, a third-party MCP client.
enum PythonMCP {
    static let python = PythonTools.python(importing: "mcp, jsonschema, httpx2", for: "the Python mcp client tests")
    static let script = BuiltBinary.packageRoot.appendingPathComponent("Tests/EndToEndTests/Python/mcp_clients.py")
}

/// What the MCP tests set up in a running system: a pre-authorized integration and a per-user one, each enabled.
struct MCPSetup {
    let api: API
    let shared: String
    let perUser: String

    static func make(_ system: RunningSystem) async throws -> MCPSetup {
        let api = API(base: system.serverURL, key: try await system.createKey(workspace: "MCP"))
        let shared = try #require(try await api.call(.POST, "/v1/integrations", #"{"name":"Shared bot","app":"system","authorization":"preauthorized"}"#).body["id"] as? String)
        let start = try #require(try await api.call(.POST, "/v1/integrations/\(shared)/authorize").body["authorizationURL"] as? String)
        let (_, callback, cookie) = try await SandboxBrowser.authorizeFromStart(start, email: "bea@globex.test")
        #expect(try await SandboxBrowser.get(callback, cookie: cookie).status == 200)
        #expect(try await api.call(.POST, "/v1/integrations/\(shared)/enable").status == 200)
        let perUser = try #require(try await api.call(.POST, "/v1/integrations", #"{"name":"Support bot","app":"system","authorization":"per_user"}"#).body["id"] as? String)
        #expect(try await api.call(.POST, "/v1/integrations/\(perUser)/enable").status == 200)
        return MCPSetup(api: api, shared: shared, perUser: perUser)
    }

    /// How many actions the running server's catalog has (every one is a tool when no allow-list narrows it).
    func catalogSize() async throws -> Int {
        let listed = try await api.call(.GET, "/v1/actions?limit=300")
        #expect(listed.body["next"] == nil, "the whole catalog in one page")
        return try #require((listed.body["data"] as? [Any])?.count)
    }

    func token(_ integration: String, _ json: String = #"{"name":"agent"}"#) async throws -> (id: String, token: String) {
        let made = try await api.call(.POST, "/v1/integrations/\(integration)/agent-tokens", json)
        #expect(made.status == 201, "\(made.body)")
        return (try #require(made.body["id"] as? String), try #require(made.body["token"] as? String))
    }

    func revoked(_ integration: String) async throws -> String {
        let made = try await token(integration, #"{"name":"revoked"}"#)
        #expect(try await api.call(.DELETE, "/v1/integrations/\(integration)/agent-tokens/\(made.id)").status == 200)
        return made.token
    }

    /// The end user opens the connect link, presses its button, signs in to the sandbox and consents.
    static func connect(_ link: String) async throws {
        let pressed = try await SandboxBrowser.postForm(link, [])
        #expect(pressed.status == 303)
        let callback = try await SandboxBrowser.authorize(try #require(pressed.location))
        let done = try await SandboxBrowser.get(callback, cookie: try #require(pressed.cookie))
        #expect(done.status == 200 && done.body.contains("You can return to the conversation."), "\(done.body)")
    }
}

/// JSON-RPC over streamable HTTP to one instance's `/mcp`, as a client that keeps its session would send it.
struct RawMCP {
    let token: String
    var session: String?

    /// A request (with an id), or a notification when `id` is nil.
    func post(_ base: String, _ method: String, _ params: String = "{}", id: Int? = 1) async throws -> LoopbackHTTP.Answer {
        var headers = [("Authorization", "Bearer \(token)"), ("Accept", "application/json, text/event-stream"), ("MCP-Protocol-Version", "2025-11-25")]
        if let session { headers.append(("Mcp-Session-Id", session)) }
        let idMember = id.map { #""id":\#($0),"# } ?? ""
        return try await LoopbackHTTP.send(.POST, base + "/mcp", headers: headers, json: #"{"jsonrpc":"2.0",\#(idMember)"method":"\#(method)","params":\#(params)}"#)
    }

    /// Reads the session's GET stream until `needle` arrives; throws when `timeout` runs out.
    func streamUntil(_ base: String, contains needle: String, timeout: Duration = .seconds(20)) async throws -> String {
        var request = HTTPClientRequest(url: base + "/mcp")
        request.headers.add(name: "Authorization", value: "Bearer \(token)")
        request.headers.add(name: "Accept", value: "text/event-stream")
        if let session { request.headers.add(name: "Mcp-Session-Id", value: session) }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
        #expect(response.status == .ok)
        return try await withThrowingTaskGroup(of: String.self) { group in
            group.addTask {
                var seen = ""
                for try await chunk in response.body {
                    seen += String(buffer: chunk)
                    if seen.contains(needle) { return seen }
                }
                return seen
            }
            group.addTask {
                try await Task.sleep(for: timeout)
                throw TestSupportError("the stream did not carry \(needle) within \(timeout)")
            }
            let first = try await group.next() ?? ""
            group.cancelAll()
            return first
        }
    }
}

@Suite("End to end: MCP through real clients and several instances", .serialized)
struct MCPEndToEndTests {
    @Test("the Python mcp SDK over streamable HTTP and over stdio (switchboard mcp): tools, schemas, calls, allow-list, revoked token, errors, URL elicitation",
          .enabled(if: PythonMCP.python != nil, "needs Python with the mcp package (.ci/run installs it)"))
    func pythonClient() async throws {
        let python = try #require(PythonMCP.python)
        try await withDatabase(.sqlite) { databaseURL, _ in
            let system = try await RunningSystem.start(databaseURL: databaseURL)
            do {
                let setup = try await MCPSetup.make(system)
                let handshake = FileManager.default.temporaryDirectory.appendingPathComponent("sb-mcp-\(UUID().uuidString)")
                try FileManager.default.createDirectory(at: handshake, withIntermediateDirectories: true)
                defer { try? FileManager.default.removeItem(at: handshake) }
                _ = try await setup.api.call(.PATCH, "/v1/integrations/\(setup.shared)",
                                             #"{"tools":["intercom.who_am_i","intercom.get_contact","intercom.delete_contact","intercom.create_contact","intercom.list_contacts","intercom.list_admins","intercom.create_ticket"]}"#)
                let arguments = [
                    PythonMCP.script.path, "--url", system.serverURL, "--expect-tools", "7",
                    "--token", try await setup.token(setup.shared).token,
                    "--narrow-token", try await setup.token(setup.shared, #"{"name":"narrow","tools":["intercom.who_am_i","intercom.list_admins"]}"#).token,
                    "--narrow-tools", "intercom_who_am_i,intercom_list_admins",
                    "--revoked-token", try await setup.revoked(setup.shared),
                    "--user-token", try await setup.token(setup.perUser, #"{"name":"Ada's agent","userId":"user-a"}"#).token,
                    "--stdio-user-token", try await setup.token(setup.perUser, #"{"name":"Bo's agent","userId":"user-b"}"#).token,
                    "--switchboard", try BuiltBinary.url().path, "--handshake", handshake.path,
                ]
                let client = try ChildProcess(executable: python, arguments: arguments)
                // The script writes the connect link it was given; the user opens it in the sandbox.
                let linkFile = handshake.appendingPathComponent("link-http.txt")
                // A script that ends first (its checks failed before) is reported below with what it printed.
                try await eventually("the Python client to write its connect link", within: .seconds(90), every: .milliseconds(50)) {
                    !client.process.isRunning || FileManager.default.fileExists(atPath: linkFile.path)
                }
                if let link = try? String(contentsOf: linkFile, encoding: .utf8) {
                    try await MCPSetup.connect(link)
                    FileManager.default.createFile(atPath: handshake.appendingPathComponent("connected-http.txt").path, contents: Data())
                }
                let status = try await client.wait(timeout: .seconds(240))
                let output = client.stdout
                print(output)
                #expect(status == 0, "the Python client's checks failed:\n\(checkReport(output, client.stderr))")
                #expect(output.contains("ok http: notifications/elicitation/complete arrives"), "\(output)")
                #expect(output.contains("ok stdio: a revoked token is refused"), "\(output)")
                #expect(!output.contains("FAIL"))
            } catch {
                _ = await system.stop()
                throw error
            }
            let (serverExit, _) = await system.stop()
            #expect(serverExit == 0)
        }
    }

    @Test("switchboard mcp over stdio: one JSON-RPC line in, one out; logs on stderr only; a refused token is a JSON-RPC error naming the 401")
    func stdioBridge() async throws {
        try await withDatabase(.sqlite) { databaseURL, _ in
            let system = try await RunningSystem.start(databaseURL: databaseURL)
            do {
                let setup = try await MCPSetup.make(system)
                let token = try await setup.token(setup.shared).token
                let catalogSize = try await setup.catalogSize()
                for (secret, expectsTools) in [(token, true), (try await setup.revoked(setup.shared), false)] {
                    let input = Pipe()
                    let bridge = try ChildProcess(arguments: ["mcp", "--url", system.serverURL, "--log-level", "debug"],
                                                  environment: ["SWITCHBOARD_AGENT_TOKEN": secret], stdin: input)
                    let lines = [
                        #"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}"#,
                        #"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
                        #"{"jsonrpc":"2.0","id":2,"method":"tools/list","params":{}}"#,
                        #"{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"intercom_who_am_i","arguments":{}}}"#,
                    ]
                    input.fileHandleForWriting.write(Data((lines.joined(separator: "\n") + "\n").utf8))
                    try await eventually("three answers from the bridge: \(bridge.stdout) \(bridge.stderr.suffix(2000))", within: .seconds(30), every: .milliseconds(50)) {
                        bridge.stdout.split(separator: "\n").count >= 3
                    }
                    try input.fileHandleForWriting.close()
                    #expect(try await bridge.wait(timeout: .seconds(15)) == 0, "stdin closed: the bridge ends its session and exits 0")
                    let answers = bridge.stdout.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
                    #expect(answers.count == 3, "one line per request, nothing else on stdout: \(bridge.stdout)")
                    let byID = Dictionary(answers.map { (($0["id"] as? Int) ?? 0, $0) }, uniquingKeysWith: { first, _ in first })
                    if expectsTools {
                        #expect(((byID[2]?["result"] as? [String: Any])?["tools"] as? [Any])?.count == catalogSize)
                        let call = try #require(byID[3]?["result"] as? [String: Any])
                        #expect(call["isError"] as? Bool != true && "\(call)".contains("bea@globex.test"), "\(call)")
                        #expect(bridge.stderr.contains("forwarding MCP over stdio"), "logs go to stderr: \(bridge.stderr)")
                        #expect(!bridge.stderr.contains(secret), "the token is never logged")
                    } else {
                        for id in [1, 2, 3] {
                            let message = ((byID[id]?["error"] as? [String: Any])?["message"] as? String) ?? ""
                            #expect(message.contains("401 unauthenticated"), "\(String(describing: byID[id]))")
                        }
                    }
                }
            } catch {
                _ = await system.stop()
                throw error
            }
            _ = await system.stop()
        }
    }

    @Test("two serve instances on one PostgreSQL answer one MCP conversation alternately: session, tools, -32042, the completion on the other instance's stream, DELETE",
          .enabled(if: Backend.postgresURL != nil, "needs SWITCHBOARD_TEST_POSTGRES_URL (CI sets it)"))
    func twoInstances() async throws {
        try await withDatabase(.postgres) { databaseURL, _ in
            let system = try await RunningSystem.start(databaseURL: databaseURL)
            let second = try await system.anotherServer()
            do {
                let setup = try await MCPSetup.make(system)
                let (a, b) = (system.serverURL, second.url)
                let catalogSize = try await setup.catalogSize()
                var mcp = RawMCP(token: try await setup.token(setup.perUser, #"{"name":"Ada's agent","userId":"user-a"}"#).token)
                let opened = try await mcp.post(a, "initialize", #"{"protocolVersion":"2025-11-25","capabilities":{"elicitation":{"url":{}}},"clientInfo":{"name":"raw","version":"1"}}"#)
                #expect(opened.status == 200)
                mcp.session = try #require(opened.headers.first(name: "Mcp-Session-Id"))
                #expect(try await mcp.post(b, "notifications/initialized", id: nil).status == 202)
                let tools = try await mcp.post(b, "tools/list")
                #expect(tools.status == 200 && ((tools.json["result"] as? [String: Any])?["tools"] as? [Any])?.count == catalogSize, "the session is known to B")
                let refused = try await mcp.post(a, "tools/call", #"{"name":"intercom_who_am_i","arguments":{}}"#)
                let error = try #require(refused.json["error"] as? [String: Any], "\(refused.body)")
                #expect(error["code"] as? Int == -32042)
                let elicitation = try #require(((error["data"] as? [String: Any])?["elicitations"] as? [[String: Any]])?.first)
                let id = try #require(elicitation["elicitationId"] as? String)
                try await MCPSetup.connect(try #require(elicitation["url"] as? String))
                let events = try await mcp.streamUntil(b, contains: id)
                #expect(events.contains("notifications/elicitation/complete") && events.contains(id), "B's stream hears of the link A sent: \(events)")
                let works = try await mcp.post(b, "tools/call", #"{"name":"intercom_who_am_i","arguments":{}}"#)
                #expect((works.json["result"] as? [String: Any])?["isError"] as? Bool != true, "\(works.body)")
                let runs = try await setup.api.call(.GET, "/v1/runs?limit=5")
                #expect((runs.body["data"] as? [[String: Any]])?.allSatisfy { $0["channel"] as? String == "mcp" } == true)
                var headers = [("Authorization", "Bearer \(mcp.token)")]
                headers.append(("Mcp-Session-Id", try #require(mcp.session)))
                #expect(try await LoopbackHTTP.send(.DELETE, a + "/mcp", headers: headers).status == 204)
                #expect(try await mcp.post(b, "tools/list").status == 404, "ended on A: B knows at once")
            } catch {
                _ = await second.process.stop()
                _ = await system.stop()
                throw error
            }
            #expect(await second.process.stop() == 0)
            _ = await system.stop()
        }
    }
}
