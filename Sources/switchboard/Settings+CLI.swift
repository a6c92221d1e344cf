import ArgumentParser
import Configuration
import Foundation
import Logging
import SwitchboardServer
import SwitchboardStore
import SystemPackage

/// Flags that choose the database, shared by `serve`, `migrate` and `keys`.
struct DatabaseOptions: ParsableArguments {
    @Option(name: .customLong("data"), help: "A demo data folder: uses DIR/switchboard.sqlite and DIR/master.key.")
    var dataDirectory: String?

    @Option(name: .customLong("database-url"), help: "sqlite:PATH or postgres://USER:PASSWORD@HOST:PORT/DB (env SWITCHBOARD_DATABASE_URL).")
    var databaseURL: String?

    @Option(name: .customLong("master-key"), help: "Base64 master key, 32 bytes (env SWITCHBOARD_MASTER_KEY).")
    var masterKey: String?

    @Option(name: .customLong("config"), help: "A JSON settings file, e.g. {\"database\":{\"url\":\"…\"}}.")
    var configFile: String?

    /// Flag values as configuration entries; flags win over the environment, which wins over the file.
    func entries() throws -> [String: String] {
        var values: [String: String] = [:]
        if let dataDirectory {
            values[ServerSettings.Key.database] = "sqlite:" + DemoData(directory: dataDirectory).databasePath
            let file = DemoData(directory: dataDirectory).keyFile
            if masterKey == nil, let key = try? file.read() {
                values[ServerSettings.Key.masterKey] = key
                // An interrupted rotation's new key, and the key the last rotation replaced, still open values.
                let previous = file.previousKeys()
                if !previous.isEmpty { values[ServerSettings.Key.previousMasterKeys] = previous.joined(separator: ",") }
            }
        }
        if let databaseURL { values[ServerSettings.Key.database] = databaseURL }
        if let masterKey { values[ServerSettings.Key.masterKey] = masterKey }
        return values
    }
}

enum SettingsReader {
    /// Flags, then `SWITCHBOARD_*` environment variables, then the optional JSON file.
    static func make(flags: [String: String], configFile: String?) async throws -> ConfigReader {
        var values: [AbsoluteConfigKey: ConfigValue] = [:]
        for (key, value) in flags {
            let secret = key.contains("secret") || key.contains("master") || key == ServerSettings.Key.database
            values[AbsoluteConfigKey(key.split(separator: ".").map(String.init))] = ConfigValue(.string(value), isSecret: secret)
        }
        var providers: [any ConfigProvider] = [
            InMemoryProvider(name: "flags", values: values),
            EnvironmentVariablesProvider(secretsSpecifier: .dynamic { key, _ in
                key.contains("SECRET") || key.contains("MASTER") || key.contains("DATABASE")
            }).prefixKeys(with: ConfigKey(["switchboard"])),
        ]
        if let configFile {
            guard FileManager.default.isReadableFile(atPath: configFile) else {
                throw CLIError("the settings file '\(configFile)' does not exist or cannot be read")
            }
            do {
                providers.append(try await FileProvider<JSONSnapshot>(filePath: .init(configFile)))
            } catch {
                throw CLIError("the settings file '\(configFile)' is not a JSON object of settings (e.g. {\"database\": {\"url\": \"…\"}})")
            }
        }
        return ConfigReader(providers: providers)
    }

    /// Loads `ServerSettings`, or throws one line naming the missing or malformed setting.
    static func settings(flags: [String: String], configFile: String?) async throws -> ServerSettings {
        let reader = try await make(flags: flags, configFile: configFile)
        do {
            return try ServerSettings.load(from: reader)
        } catch {
            throw CLIError(error.description)
        }
    }
}

/// One clear line on stderr and a non-zero exit.
struct CLIError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

func makeLogger(_ label: String, level: Logger.Level, format: LogFormat = .text) -> Logger {
    format.logger(label: label, level: level)
}

/// Writes a line to stdout unbuffered, so a caller reading a pipe sees it at once.
func emit(_ text: String) {
    FileHandle.standardOutput.write(Data((text.hasSuffix("\n") ? text : text + "\n").utf8))
}
