import Foundation
import SwitchboardStore

/// The demo's data folder: database, master key, and what the demo must reuse on its next start.
struct DemoData {
    let directory: String

    var databasePath: String { (directory as NSString).appendingPathComponent("switchboard.sqlite") }
    var masterKeyPath: String { (directory as NSString).appendingPathComponent("master.key") }
    var statePath: String { (directory as NSString).appendingPathComponent("demo.json") }
    var sandboxPath: String { (directory as NSString).appendingPathComponent("sandbox.sqlite") }

    /// The system app registered in the sandbox and the demo admin key; kept so a restart reuses them.
    struct State: Codable {
        var systemClientID: String
        var systemClientSecret: String
        var apiKey: String?
    }

    func prepare() throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
    }

    var keyFile: MasterKeyFile { MasterKeyFile(path: masterKeyPath) }

    func readMasterKey() throws -> String { try keyFile.read() }

    /// The master key, generated on first use and stored with mode 0600.
    func masterKey() throws -> String {
        if FileManager.default.fileExists(atPath: masterKeyPath) { return try readMasterKey() }
        let key = TokenVault.generateKeyBase64()
        try keyFile.create(key)
        return key
    }

    func loadState() -> State? {
        guard let data = FileManager.default.contents(atPath: statePath) else { return nil }
        return try? JSONDecoder().decode(State.self, from: data)
    }

    func save(_ state: State) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try writePrivate(String(decoding: try encoder.encode(state), as: UTF8.self), to: statePath)
    }

    /// Writes a file readable by its owner only.
    private func writePrivate(_ text: String, to path: String) throws {
        let temporary = path + ".tmp"
        FileManager.default.createFile(atPath: temporary, contents: Data(text.utf8), attributes: [.posixPermissions: 0o600])
        if FileManager.default.fileExists(atPath: path) { try FileManager.default.removeItem(atPath: path) }
        try FileManager.default.moveItem(atPath: temporary, toPath: path)
    }
}
