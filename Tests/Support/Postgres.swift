import Foundation
import SQLKit
import SwitchboardCore
import SwitchboardStore

/// A PostgreSQL database of its own for a process under test (which takes only a URL), dropped afterwards.
public struct ScratchPostgresDatabase: Sendable {
    public let url: String
    let name: String
    let adminURL: String

    public static func create() async throws -> ScratchPostgresDatabase {
        guard let adminURL = Backend.postgresURL, var components = URLComponents(string: adminURL) else {
            throw TestSupportError("PostgreSQL is not configured")
        }
        let name = "sb_e2e_" + SecureRandom.hexIdentifier(bytes: 6)
        let admin = try Database(location: .postgres(url: adminURL), logger: TestStore.logger)
        do {
            try await admin.write { db in try await db.raw(SQLQueryString("CREATE DATABASE \(unsafeRaw: name)")).run() }
        } catch {
            await admin.shutdown()
            throw TestSupportError("CREATE DATABASE failed (the test role needs CREATEDB): \(String(reflecting: error))")
        }
        await admin.shutdown()
        components.path = "/" + name
        return ScratchPostgresDatabase(url: components.string!, name: name, adminURL: adminURL)
    }

    public func drop() async {
        guard let admin = try? Database(location: .postgres(url: adminURL), logger: TestStore.logger) else { return }
        try? await admin.write { db in try await db.raw(SQLQueryString("DROP DATABASE IF EXISTS \(unsafeRaw: name) WITH (FORCE)")).run() }
        await admin.shutdown()
    }
}
