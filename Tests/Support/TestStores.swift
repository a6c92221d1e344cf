import Foundation
public import Logging
import SQLKit
public import SwitchboardCore
public import SwitchboardStore

/// The database back-ends a test runs on: SQLite always, PostgreSQL when `SWITCHBOARD_TEST_POSTGRES_URL` is set.
public enum Backend: String, Sendable, CaseIterable, CustomStringConvertible {
    case sqlite
    case postgres

    public var description: String { rawValue }

    public static let postgresURL: String? = {
        let url = ProcessInfo.processInfo.environment["SWITCHBOARD_TEST_POSTGRES_URL"]
        if url == nil || url!.isEmpty {
            FileHandle.standardError.write(Data("""

                ⚠️  SWITCHBOARD_TEST_POSTGRES_URL is not set: the PostgreSQL runs of the store, server and \
                end-to-end tests are SKIPPED. Only SQLite was tested.

                """.utf8))
            return nil
        }
        return url
    }()

    /// The back-ends available in this run.
    public static let available: [Backend] = postgresURL == nil ? [.sqlite] : [.sqlite, .postgres]
}

/// A fresh, migrated store on one back-end; removed afterwards.
public struct TestStore: Sendable {
    public let store: Store
    public let backend: Backend
    /// The SQLite file, for tests that read the raw bytes.
    public let sqlitePath: String?
    let cleanup: @Sendable () async -> Void

    public static let logger: Logger = {
        var logger = Logger(label: "test")
        logger.logLevel = .warning
        return logger
    }()

    /// - Parameter clock: what the store's run buffer waits on.
    public static func make(_ backend: Backend, vault: TokenVault = TestStore.vault(), clock: any WallClock = SystemWallClock()) async throws -> TestStore {
        switch backend {
        case .sqlite:
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("sb-test-\(UUID().uuidString)")
            let path = directory.appendingPathComponent("switchboard.sqlite").path
            let store = Store(database: try Database(location: .sqlite(path: path), logger: logger), vault: vault, logger: logger, clock: clock)
            try await store.migrate()
            return TestStore(store: store, backend: backend, sqlitePath: path) {
                await store.shutdown()
                try? FileManager.default.removeItem(at: directory)
            }
        case .postgres:
            guard let url = Backend.postgresURL else { throw TestSupportError("PostgreSQL is not configured") }
            let schema = "t_" + SecureRandom.hexIdentifier(bytes: 8)
            let admin = try Database(location: .postgres(url: url), logger: logger)
            try await admin.write { db in try await db.raw(SQLQueryString("CREATE SCHEMA \(unsafeRaw: schema)")).run() }
            let store = Store(database: try Database(location: .postgres(url: url), logger: logger, postgresSearchPath: [schema]), vault: vault, logger: logger, clock: clock)
            try await store.migrate()
            return TestStore(store: store, backend: backend, sqlitePath: nil) {
                await store.shutdown()
                try? await admin.write { db in try await db.raw(SQLQueryString("DROP SCHEMA \(unsafeRaw: schema) CASCADE")).run() }
                await admin.shutdown()
            }
        }
    }

    /// Runs `body` with a fresh store and always cleans up.
    public static func with<R: Sendable>(_ backend: Backend, vault: TokenVault = TestStore.vault(), clock: any WallClock = SystemWallClock(),
                                         _ body: (TestStore) async throws -> R) async throws -> R {
        let testStore = try await make(backend, vault: vault, clock: clock)
        do {
            let result = try await body(testStore)
            await testStore.cleanup()
            return result
        } catch {
            await testStore.cleanup()
            throw error
        }
    }

    public static func vault() -> TokenVault {
        TokenVault(masterKey: try! TokenVault.key(base64: TokenVault.generateKeyBase64()))
    }
}

public struct TestSupportError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

extension Store {
    /// A workspace with a fresh name.
    public func makeWorkspace(_ prefix: String = "ws") async throws -> Workspace {
        try await workspaces.workspace(named: "\(prefix)-\(SecureRandom.hexIdentifier(bytes: 4))", createIfMissing: true)!
    }
}
