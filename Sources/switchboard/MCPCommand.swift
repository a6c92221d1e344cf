import ArgumentParser
import Foundation
import Logging
import SwitchboardServer

/// `switchboard mcp`: MCP over stdio, for a desktop agent that launches a command; answered by a running Switchboard.
struct MCPCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mcp",
        abstract: "MCP over stdio for an AI agent, answered by a running Switchboard's /mcp (logs go to stderr).",
        discussion: """
            Give the agent token with SWITCHBOARD_AGENT_TOKEN (kept out of the process list) or --token. A token made \
            for one end user acts for that user; a server-side agent's token names the user with --user.
            """
    )

    @Option(help: "Switchboard's URL.") var url = "http://127.0.0.1:8080"
    @Option(help: "An agent token (sbat_…; or SWITCHBOARD_AGENT_TOKEN).") var token: String?
    @Option(help: "The end user the calls are for (a server-side agent's token only).") var user: String?
    @Option(help: "The conversation the calls belong to, for events and runs.") var conversation: String?
    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical (stderr).") var logLevel = "notice"

    func run() async throws {
        guard let token = token ?? ProcessInfo.processInfo.environment["SWITCHBOARD_AGENT_TOKEN"], !token.isEmpty else {
            throw CLIError("give an agent token with SWITCHBOARD_AGENT_TOKEN or --token (switchboard agent-tokens create makes one)")
        }
        guard let url = URL(string: url), url.scheme == "http" || url.scheme == "https", url.host != nil else {
            throw CLIError("--url must be Switchboard's http(s) URL, e.g. http://127.0.0.1:8080")
        }
        guard let level = Logger.Level(rawValue: logLevel) else { throw CLIError("--log-level must be one of trace, debug, info, notice, warning, error, critical") }
        var logger = Logger(label: "switchboard.mcp", factory: { StreamLogHandler.standardError(label: $0) })
        logger.logLevel = level
        try await MCPStdioBridge(options: .init(url: url.absoluteString, token: token, userID: user, conversationID: conversation), logger: logger).run()
    }
}
