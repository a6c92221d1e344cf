import ArgumentParser
import Foundation
import Logging
import SwitchboardCore
import SwitchboardServer
import SwitchboardStore

struct Keys: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Admin API keys and the master key.",
        subcommands: [Create.self, RotateMaster.self]
    )

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create an admin API key for a workspace (created if new). Prints the key, once; only its hash is stored."
        )

        @OptionGroup var database: DatabaseOptions
        @Option(help: "The workspace name.") var workspace: String

        func run() async throws {
            let name = workspace.trimmingCharacters(in: .whitespaces)
            guard !name.isEmpty, name.count <= 200 else { throw CLIError("--workspace must be 1 to 200 characters") }
            let store = try await openAdminStore(database)
            do {
                try await store.migrate()
                guard let workspace = try await store.workspace(named: name, createIfMissing: true) else { throw CLIError("the workspace could not be created") }
                let key = AdminAPIKey.generate()
                try await store.addAPIKey(workspaceID: workspace.id, key: key)
                await store.shutdown()
                print(key)
            } catch {
                await store.shutdown()
                throw error
            }
        }
    }

    struct RotateMaster: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "rotate-master",
            abstract: "Re-encrypt every stored secret under a new master key.",
            discussion: """
                With --data DIR the new key replaces DIR/master.key. Otherwise pass the current key (--master-key or \
                SWITCHBOARD_MASTER_KEY) and the new one (--new-master-key, or one is generated and printed), then restart \
                every instance with the new key.
                """
        )

        @OptionGroup var database: DatabaseOptions
        @Option(name: .customLong("new-master-key"), help: "The new base64 key; generated when omitted.") var newMasterKey: String?

        func run() async throws {
            let settings = try await SettingsReader.settings(flags: try database.entries(), configFile: database.configFile)
            let newKey = newMasterKey ?? TokenVault.generateKeyBase64()
            let newVault: TokenVault
            do { newVault = TokenVault(masterKey: try TokenVault.key(base64: newKey)) } catch {
                throw CLIError("--new-master-key is malformed: \(error)")
            }
            let logger = makeLogger("switchboard", level: .warning)
            let store = try openStore(settings: settings, logger: logger)
            do {
                try await store.migrate()
                let count = try await store.resealAll(with: newVault)
                await store.shutdown()
                if let directory = database.dataDirectory {
                    try DemoData(directory: directory).writeMasterKey(newKey)
                    FileHandle.standardError.write(Data("Re-encrypted \(count) secrets; \(DemoData(directory: directory).masterKeyPath) holds the new key (id \(newVault.currentKeyID)).\n".utf8))
                } else {
                    FileHandle.standardError.write(Data("Re-encrypted \(count) secrets under key id \(newVault.currentKeyID). Restart every instance with the new key.\n".utf8))
                    if newMasterKey == nil { print(newKey) }
                }
            } catch {
                await store.shutdown()
                throw error
            }
        }
    }
}

/// A store for admin commands that never open a secret (migrate, keys create): any master key will do,
/// so none is required; the real one is used when given.
func openAdminStore(_ options: DatabaseOptions) async throws -> Store {
    var flags = try options.entries()
    if flags[ServerSettings.Key.masterKey] == nil { flags[ServerSettings.Key.masterKey] = TokenVault.generateKeyBase64() }
    let reader = try await SettingsReader.make(flags: flags, configFile: options.configFile)
    let settings: ServerSettings
    do { settings = try ServerSettings.load(from: reader) } catch { throw CLIError(error.description) }
    if case .sqlite = settings.database, options.dataDirectory == nil, options.databaseURL == nil,
       ProcessInfo.processInfo.environment["SWITCHBOARD_DATABASE_URL"] == nil, options.configFile == nil {
        throw CLIError("choose a database: --data DIR (the demo's folder), --database-url URL, or SWITCHBOARD_DATABASE_URL")
    }
    return try openStore(settings: settings, logger: makeLogger("switchboard", level: .warning))
}
