import ArgumentParser
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import SwitchboardCore

/// `switchboard agent-tokens`: make, list and revoke an integration's agent tokens through a running Switchboard's
/// admin API, as an admin would with curl.
struct AgentTokens: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "agent-tokens",
        abstract: "Tokens for AI agents' MCP clients: create (shown once), list, revoke.",
        subcommands: [Create.self, List.self, Revoke.self]
    )

    struct Connection: ParsableArguments {
        @Option(help: "The integration's id.") var integration: String
        @Option(help: "Switchboard's URL.") var url = "http://127.0.0.1:8080"
        @Option(name: .customLong("api-key"), help: "An admin API key (or SWITCHBOARD_API_KEY).") var apiKey: String?

        /// Calls the admin API; a problem answer becomes one clear line.
        func call(_ method: HTTPMethod, _ path: String, body: JSONValue? = nil) async throws -> JSONValue {
            guard let key = apiKey ?? ProcessInfo.processInfo.environment["SWITCHBOARD_API_KEY"], !key.isEmpty else {
                throw CLIError("give an admin API key with --api-key or SWITCHBOARD_API_KEY")
            }
            var request = HTTPClientRequest(url: "\(url)/v1/integrations/\(integration)/agent-tokens\(path)")
            request.method = method
            request.headers.add(name: "Authorization", value: "Bearer \(key)")
            if let body {
                request.headers.add(name: "Content-Type", value: "application/json")
                request.body = .bytes(ByteBuffer(bytes: body.jsonData()))
            }
            let response: HTTPClientResponse
            do {
                response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
            } catch {
                throw CLIError("Switchboard at \(url) could not be reached: \(error)")
            }
            let answer = JSONValue.parse(Data(try await response.body.collect(upTo: 8 << 20).readableBytesView))
            guard (200..<300).contains(Int(response.status.code)), let answer else {
                let code = answer?["code"]?.stringValue ?? "http_\(response.status.code)"
                throw CLIError("\(code): \(answer?["detail"]?.stringValue ?? "HTTP \(response.status.code)")")
            }
            return answer
        }
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Make a token; it is printed once.")

        @OptionGroup var connection: Connection
        @Option(help: "What the token is for, e.g. \"Ada's Claude Desktop\".") var name: String
        @Option(help: "Per-user integrations: the end user the token acts for.") var user: String?
        @Option(name: .customLong("tool"), help: "An action the token may use (repeat; default: all the integration allows).") var tools: [String] = []
        @Option(name: .customLong("expires-in"), help: "The token stops working after this long: e.g. 90d, 12h, 30m (default: never).")
        var expiresIn: String?

        func run() async throws {
            var body: [String: JSONValue] = ["name": .string(name)]
            if let user { body["userId"] = .string(user) }
            if !tools.isEmpty { body["tools"] = .array(tools.map(JSONValue.string)) }
            if let expiresIn { body["expiresIn"] = .number(try KeyLifetime.parse(expiresIn)) }
            let answer = try await connection.call(.POST, "", body: .object(body))
            emit(answer["token"]?.stringValue ?? "")
            FileHandle.standardError.write(Data("agent token \(answer["id"]?.stringValue ?? "") made; it is shown this once\n".utf8))
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the integration's tokens (never the tokens themselves).")

        @OptionGroup var connection: Connection

        func run() async throws {
            let answer = try await connection.call(.GET, "")
            for token in answer["data"]?.arrayValue ?? [] {
                let fields = ["id", "name", "prefix", "userId", "status", "expiresAt", "lastUsedAt"].map { key in
                    token[key]?.stringValue ?? "—"
                }
                emit(fields.joined(separator: "\t"))
            }
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a token: /mcp refuses it from then on.")

        @OptionGroup var connection: Connection
        @Argument(help: "The token's id (atok_…).") var id: String

        func run() async throws {
            let answer = try await connection.call(.DELETE, "/" + id)
            emit("\(answer["id"]?.stringValue ?? id) \(answer["status"]?.stringValue ?? "revoked")")
        }
    }
}
