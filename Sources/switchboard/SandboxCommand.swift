import ArgumentParser
import AsyncHTTPClient
import Foundation
import Hummingbird
import IntercomSandbox
import Logging
import NIOCore
import NIOHTTP1

struct SandboxCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sandbox",
        abstract: "The local Intercom: OAuth pages, token endpoint, /me, developer hub.",
        subcommands: [Run.self, RegisterApp.self],
        defaultSubcommand: Run.self
    )

    struct Run: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Run the Intercom sandbox.")

        @Option(help: "Listen address.") var host = "127.0.0.1"
        @Option(help: "Listen port.") var port = 8081
        @Option(name: .customLong("seed-file"), help: "A JSON seed file: {\"workspaces\":[…],\"apps\":[…]}; default: two workspaces with their admins.") var seedFile: String?
        @Flag(name: .customLong("seed"), help: "Fill each workspace with realistic data from a fixed seed: 300 contacts, companies, tags, conversations, tickets.") var realistic = false
        @Option(name: .customLong("app"), help: "Register an app: CLIENT_ID:CLIENT_SECRET:REDIRECT_URL (repeatable).") var apps: [String] = []
        @Option(name: .customLong("data"), help: "An SQLite file that keeps the sandbox (data, apps, tokens) across restarts.") var dataFile: String?
        @Option(name: .customLong("contacts"), help: "Generate this many contacts in each workspace (deterministic).") var contacts = 0
        @Option(name: .customLong("rate-limit"), help: "Requests a minute per app, enforced in 10-second windows.") var rateLimit = 10_000
        @Option(name: .customLong("latency-ms"), help: "Fault: added latency on every REST call.") var latencyMs = 0
        @Option(name: .customLong("server-error-rate"), help: "Fault: share (0…1) of REST calls answering 500.") var serverErrorRate = 0.0
        @Option(name: .customLong("unavailable-rate"), help: "Fault: share (0…1) of REST calls answering 503.") var unavailableRate = 0.0
        @Option(name: .customLong("fail-token-endpoint"), help: "Fault: the token endpoint answers this status (500, 502, 503).") var failTokenEndpoint = 0
        @Option(name: .customLong("admin"), help: "Add an admin: EMAIL:PASSWORD[:WORKSPACE NAME] (repeatable; a new workspace name creates it).") var admins: [String] = []

        func run() async throws {
            var seedData = SandboxSeed.standard
            if let seedFile {
                do { seedData = try SandboxSeed.load(path: seedFile) } catch { throw CLIError("--seed-file '\(seedFile)' is not a valid seed file: \(error)") }
            }
            for spec in apps {
                let parts = spec.split(separator: ":", maxSplits: 2).map(String.init)
                guard parts.count == 3, !parts[0].isEmpty, !parts[1].isEmpty, parts[2].contains("://") else {
                    throw CLIError("--app must be CLIENT_ID:CLIENT_SECRET:REDIRECT_URL")
                }
                seedData.apps.append(SandboxApp(name: "App \(parts[0])", clientID: parts[0], clientSecret: parts[1], redirectURLs: [parts[2]]))
            }
            for (index, spec) in admins.enumerated() {
                let parts = spec.split(separator: ":", maxSplits: 2).map(String.init)
                guard parts.count >= 2, parts[0].contains("@"), !parts[1].isEmpty else {
                    throw CLIError("--admin must be EMAIL:PASSWORD or EMAIL:PASSWORD:WORKSPACE NAME")
                }
                let admin = SandboxAdmin(id: String(991_268_000 + index), name: String(parts[0].split(separator: "@")[0]), email: parts[0], password: parts[1])
                let workspaceName = parts.count == 3 ? parts[2] : seedData.workspaces.first?.name
                if let position = seedData.workspaces.firstIndex(where: { $0.name == workspaceName }) {
                    seedData.workspaces[position].admins.append(admin)
                } else {
                    let idCode = String(UUID().uuidString.lowercased().filter(\.isLetter).prefix(4)) + String(format: "%04d", index)
                    seedData.workspaces.append(SandboxWorkspace(idCode: idCode, name: workspaceName ?? "Sandbox", admins: [admin]))
                }
            }
            let seeded = seedData
            guard (0...1_000_000).contains(contacts) else { throw CLIError("--contacts must be from 0 to 1000000") }
            guard rateLimit >= 6 else { throw CLIError("--rate-limit must be at least 6 a minute (one a 10-second window)") }
            var faults = FaultSettings()
            faults.latencyMs = latencyMs
            faults.serverErrorRate = serverErrorRate
            faults.unavailableRate = unavailableRate
            faults.tokenEndpointStatus = failTokenEndpoint
            do { try faults.validate() } catch { throw CLIError("fault settings: \(error)") }
            var configuration = SandboxConfiguration(host: host, port: port, seed: seeded, rateLimitPerMinute: rateLimit,
                                                     generatedContacts: contacts, faults: faults, dataFile: dataFile)
            configuration.realisticSeed = realistic
            let logger = makeLogger("intercom-sandbox", level: .info)
            let app = try await buildSandboxApplication(configuration: configuration, logger: logger) { _ in
                emit("Intercom sandbox: http://\(host):\(port)")
                for workspace in seeded.workspaces {
                    for admin in workspace.admins { emit("Sandbox login: \(admin.email) / \(admin.password)  (\(workspace.name))") }
                }
            }
            try await app.runService()
        }
    }

    struct RegisterApp: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "register-app",
            abstract: "Register an app in a running sandbox's developer hub; prints its client id and secret."
        )

        @Option(name: .customLong("sandbox"), help: "The sandbox's URL.") var sandboxURL = "http://127.0.0.1:8081"
        @Option(help: "The app's name.") var name: String
        @Option(name: .customLong("redirect-url"), help: "A redirect URL (repeatable), e.g. Switchboard's callback URL.") var redirectURLs: [String]

        func run() async throws {
            guard !redirectURLs.isEmpty else { throw CLIError("give at least one --redirect-url") }
            var request = HTTPClientRequest(url: sandboxURL + "/_sandbox/apps")
            request.method = .POST
            request.headers.add(name: "Content-Type", value: "application/json")
            let body = try JSONSerialization.data(withJSONObject: ["name": name, "redirectURLs": redirectURLs])
            request.body = .bytes(ByteBuffer(bytes: body))
            let response: HTTPClientResponse
            do {
                response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
            } catch {
                throw CLIError("the sandbox at \(sandboxURL) could not be reached: \(error)")
            }
            let data = Data(try await response.body.collect(upTo: 1 << 20).readableBytesView)
            let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any]
            guard response.status == .created, let clientID = object?["clientId"] as? String, let secret = object?["clientSecret"] as? String else {
                let message = ((object?["errors"] as? [[String: Any]])?.first?["message"] as? String) ?? "HTTP \(response.status.code)"
                throw CLIError("the sandbox refused the app: \(message)")
            }
            print("Client ID: \(clientID)")
            print("Client secret: \(secret)")
        }
    }
}
