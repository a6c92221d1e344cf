import ArgumentParser

@main
struct Switchboard: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "switchboard",
        abstract: "Let assistants act in Intercom: OAuth connections, token vault, actions.",
        subcommands: [Demo.self, Serve.self, Migrate.self, Keys.self, AgentTokens.self, Actions.self, MCPCommand.self, SandboxCommand.self, OpenAPICommand.self]
    )
}
