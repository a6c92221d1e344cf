import ArgumentParser
import Foundation
import Providers
import SwitchboardServer

/// `switchboard openapi`: the admin API's description as `serve` answers it at /openapi.yaml, for a client generator.
struct OpenAPICommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "openapi",
        abstract: "Print the admin API's OpenAPI description (as served at /openapi.yaml), e.g. for a client generator."
    )

    func run() throws {
        emit(OpenAPIDocument.text(actions: ProviderRegistry.bundled.actions))
    }
}
