import ArgumentParser
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import Providers
import SwitchboardCore

struct Actions: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The Intercom action catalog, and running actions through a Switchboard server.",
        subcommands: [List.self, Describe.self, Run.self]
    )

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the actions: name, group and title.")

        @Option(help: "Only this group's actions (Intercom's tag for the operation, e.g. Articles; any case).") var group: String?
        @Option(help: "Only actions whose name, title, description or group hold every word.") var search: String?

        func run() async throws {
            var actions = ActionCatalog.intercom.actions
            if let group {
                actions = actions.filter { $0.group?.caseInsensitiveCompare(group) == .orderedSame }
                guard !actions.isEmpty else {
                    let groups = Set(ActionCatalog.intercom.actions.compactMap(\.group)).sorted()
                    throw CLIError("no action is in the group '\(group)'; the groups are \(groups.joined(separator: ", "))")
                }
            }
            if let search { actions = ActionSearch.search(actions, query: search) }
            let width = actions.map(\.name.count).max() ?? 0
            let groupWidth = actions.map { ($0.group ?? "").count }.max() ?? 0
            for action in actions {
                emit(action.name.padding(toLength: width + 2, withPad: " ", startingAt: 0)
                     + (action.group ?? "").padding(toLength: groupWidth + 2, withPad: " ", startingAt: 0) + action.title)
            }
        }
    }

    struct Describe: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show an action: description, input schema, prompts.")

        @Argument(help: "The action's name, e.g. intercom.create_ticket.") var name: String

        func run() async throws {
            guard let action = ActionCatalog.intercom.action(named: name) else {
                throw CLIError("no action is named '\(name)'; 'switchboard actions list' shows them")
            }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            emit(String(decoding: try encoder.encode(action.json), as: UTF8.self))
        }
    }

    struct Run: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run an action with an integration's connection; prints the message, then the result as JSON."
        )

        @Argument(help: "The action's name.") var name: String
        @Option(help: "The integration's id.") var integration: String
        @Option(help: "The input, as a JSON object.") var input = "{}"
        @Option(help: "The end user's id (per-user integrations).") var user: String?
        @Option(help: "Switchboard's URL.") var url = "http://127.0.0.1:8080"
        @Option(name: .customLong("api-key"), help: "An admin API key (or SWITCHBOARD_API_KEY).") var apiKey: String?

        func run() async throws {
            guard let key = apiKey ?? ProcessInfo.processInfo.environment["SWITCHBOARD_API_KEY"], !key.isEmpty else {
                throw CLIError("give an admin API key with --api-key or SWITCHBOARD_API_KEY")
            }
            guard let parsed = JSONValue.parse(Data(input.utf8)), case .object = parsed else {
                throw CLIError("--input must be a JSON object, e.g. '{\"email\":\"ada@example.com\"}'")
            }
            var body: [String: JSONValue] = ["input": parsed]
            if let user { body["user"] = .object(["id": .string(user)]) }
            var request = HTTPClientRequest(url: "\(url)/v1/integrations/\(integration)/actions/\(name)")
            request.method = .POST
            request.headers.add(name: "Authorization", value: "Bearer \(key)")
            request.headers.add(name: "Content-Type", value: "application/json")
            request.headers.add(name: "Switchboard-Client", value: "cli")
            request.body = .bytes(ByteBuffer(bytes: try JSONEncoder().encode(JSONValue.object(body))))
            let response: HTTPClientResponse
            do {
                response = try await HTTPClient.shared.execute(request, timeout: .seconds(60))
            } catch {
                throw CLIError("Switchboard at \(url) could not be reached: \(error)")
            }
            let data = Data(try await response.body.collect(upTo: 8 << 20).readableBytesView)
            let answer = JSONValue.parse(data)
            guard response.status == .ok, let answer else {
                let code = answer?["code"]?.stringValue ?? "http_\(response.status.code)"
                throw CLIError("\(code): \(answer?["detail"]?.stringValue ?? "HTTP \(response.status.code)")")
            }
            if let message = answer["message"]?.stringValue, !message.isEmpty { emit(message) }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            emit(String(decoding: try encoder.encode(answer["result"] ?? .null), as: UTF8.self))
        }
    }
}
