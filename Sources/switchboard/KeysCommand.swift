import ArgumentParser
import Foundation
import Logging
import SwitchboardCore
import SwitchboardServer
import SwitchboardStore

struct Keys: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Admin API keys and the master key.",
        subcommands: [Create.self, List.self, Revoke.self, RotateMaster.self]
    )

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create an admin API key for a workspace (created if new). Prints the key, once; only its hash is stored."
        )

        @OptionGroup var database: DatabaseOptions
        @Option(help: "The workspace name.") var workspace: String
        @Option(help: "A name to tell the key by in 'keys list' (e.g. who or what uses it).") var name: String?
        @Option(name: .customLong("expires-in"), help: "The key stops working after this long: e.g. 90d, 12h, 30m, 3600s (default: never).")
        var expiresIn: String?

        func run() async throws {
            let workspaceName = workspace.trimmingCharacters(in: .whitespaces)
            guard !workspaceName.isEmpty, workspaceName.count <= 200 else { throw CLIError("--workspace must be 1 to 200 characters") }
            let keyName = name?.trimmingCharacters(in: .whitespaces)
            if let keyName, keyName.isEmpty || keyName.count > 200 { throw CLIError("--name must be 1 to 200 characters") }
            let lifetime = try expiresIn.map(KeyLifetime.parse)
            let store = try await openAdminStore(database)
            do {
                try await store.migrate()
                guard let workspace = try await store.workspaces.workspace(named: workspaceName, createIfMissing: true) else { throw CLIError("the workspace could not be created") }
                let key = AdminAPIKey.generate()
                let now = Date()
                let id = try await store.workspaces.addAPIKey(workspaceID: workspace.id, key: key, name: keyName, expiresAt: lifetime.map { now.addingTimeInterval($0) }, now: now)
                try await store.audit.record(AuditEntry(workspaceID: workspace.id, actor: Store.operatorActor, action: "api_key.created", targetType: "api_key",
                                                  targetID: id, detail: ["expires": .bool(lifetime != nil)], at: now))
                await store.shutdown()
                print(key)
            } catch {
                await store.shutdown()
                throw error
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List a workspace's admin API keys: id, name, created, last used, expires, status (never the key)."
        )

        @OptionGroup var database: DatabaseOptions
        @Option(help: "The workspace name.") var workspace: String

        func run() async throws {
            let store = try await openAdminStore(database)
            do {
                try await store.migrate()
                guard let found = try await store.workspaces.workspace(named: workspace.trimmingCharacters(in: .whitespaces), createIfMissing: false) else {
                    throw CLIError("there is no workspace named '\(workspace)'")
                }
                let keys = try await store.workspaces.apiKeys(workspaceID: found.id)
                await store.shutdown()
                let now = Date()
                func time(_ date: Date?) -> String { date.map { $0.formatted(.iso8601) } ?? "-" }
                var rows = [["ID", "NAME", "CREATED", "LAST USED", "EXPIRES", "STATUS"]]
                rows += keys.map { [$0.id, $0.name.isEmpty ? "-" : $0.name, time($0.createdAt), time($0.lastUsedAt), time($0.expiresAt), $0.status(at: now).rawValue] }
                let widths = (0..<6).map { column in rows.map { $0[column].count }.max() ?? 0 }
                for row in rows {
                    print(zip(row, widths).map { $0.0.padding(toLength: $0.1, withPad: " ", startingAt: 0) }.joined(separator: "  ")
                        .trimmingCharacters(in: .whitespaces))
                }
            } catch {
                await store.shutdown()
                throw error
            }
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Revoke an admin API key: it answers 401 everywhere, and its console sessions end.",
            discussion: "Returns once every running instance refuses the key (instances remember a key for at most a second)."
        )

        @OptionGroup var database: DatabaseOptions
        @Argument(help: "The key's id, as 'keys list' shows it (key_…).") var id: String

        func run() async throws {
            let store = try await openAdminStore(database)
            do {
                try await store.migrate()
                guard let revoked = try await store.workspaces.revokeAPIKey(id: id) else {
                    throw CLIError("there is no admin API key with id '\(Problem.clip(id, to: 40))' (see 'switchboard keys list --workspace NAME')")
                }
                try await store.audit.record(AuditEntry(workspaceID: revoked.workspaceID, actor: Store.operatorActor, action: "api_key.revoked",
                                                  targetType: "api_key", targetID: revoked.id, at: Date()))
                await store.shutdown()
                // Running instances remember a working key for up to `Store.keyCacheLifetime`: wait that out, so that
                // when this command returns the key is refused everywhere.
                try await Task.sleep(for: Store.keyCacheLifetime)
                print("Revoked \(revoked.id)\(revoked.name.isEmpty ? "" : " (\(revoked.name))"); it is refused everywhere now.")
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
                With --data DIR the new key is written to DIR/master.key.new and fsynced first, the database is \
                re-encrypted in one transaction, and then the new key replaces DIR/master.key; if that is interrupted, \
                every secret stays readable and running the command again finishes it. Otherwise pass the current key \
                (--master-key or SWITCHBOARD_MASTER_KEY, with --master-previous-keys for values still under an older one) \
                and the new one (--new-master-key, or one is generated and printed); see the README for rotating while \
                instances run.
                """
        )

        @OptionGroup var database: DatabaseOptions
        @Option(name: .customLong("new-master-key"), help: "The new base64 key; generated when omitted.") var newMasterKey: String?
        @Option(name: .customLong("master-previous-keys"), help: "Comma-separated older keys that values may still be sealed under.")
        var previousKeys: String?

        func run() async throws {
            var flags = try database.entries()
            if let previousKeys { flags[ServerSettings.Key.previousMasterKeys] = previousKeys }
            let settings = try await SettingsReader.settings(flags: flags, configFile: database.configFile)
            if let newMasterKey {
                do { _ = try TokenVault.key(base64: newMasterKey) } catch { throw CLIError("--new-master-key is malformed: \(error)") }
            }
            let logger = makeLogger("switchboard", level: .warning)
            let store = try openStore(settings: settings, logger: logger)
            do {
                try await store.migrate()
                let keyID: String, count: Int
                if let directory = database.dataDirectory {
                    (keyID, count) = try await DemoData(directory: directory).keyFile.rotate(store: store, newKey: newMasterKey)
                } else {
                    let key = newMasterKey ?? TokenVault.generateKeyBase64()
                    let newVault = TokenVault(masterKey: try TokenVault.key(base64: key))
                    count = try await store.resealAll(with: newVault)
                    keyID = newVault.currentKeyID
                    if newMasterKey == nil { print(key) }
                }
                for workspace in try await store.audit.workspaceIDs() {
                    try await store.audit.record(AuditEntry(workspaceID: workspace, actor: Store.operatorActor, action: "master_key.rotated",
                                                      targetType: "master_key", targetID: keyID, detail: ["resealed": .number(Double(count))], at: Date()))
                }
                await store.shutdown()
                if let directory = database.dataDirectory {
                    FileHandle.standardError.write(Data("Re-encrypted \(count) secrets; \(DemoData(directory: directory).masterKeyPath) holds the new key (id \(keyID)).\n".utf8))
                } else {
                    FileHandle.standardError.write(Data("Re-encrypted \(count) secrets under key id \(keyID). Restart every instance with the new key as --master-key and the old one in --master-previous-keys, then run this again with the same keys to re-seal what was written meanwhile.\n".utf8))
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

/// `--expires-in`: a number and a unit (s, m, h, d), or seconds alone; from one minute to ten years.
enum KeyLifetime {
    static func parse(_ raw: String) throws -> TimeInterval {
        let text = raw.trimmingCharacters(in: .whitespaces).lowercased()
        let units: [Character: Double] = ["s": 1, "m": 60, "h": 3600, "d": 86_400]
        var number = Substring(text), unit = 1.0
        if let last = text.last, let factor = units[last] { number = text.dropLast(); unit = factor }
        guard let value = Double(number), value.isFinite, value > 0 else {
            throw CLIError("--expires-in must be a duration such as 90d, 12h, 30m or 3600s, not '\(Problem.clip(raw, to: 20))'")
        }
        let seconds = value * unit
        guard (60...(10 * 365 * 86_400)).contains(seconds) else { throw CLIError("--expires-in must be from 1 minute to 10 years") }
        return seconds
    }
}
