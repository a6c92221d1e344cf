import Foundation
import Hummingbird
public import Logging
import NIOCore
import NIOPosix
import SQLiteNIO
import ServiceLifecycle

/// Keeps the sandbox in an SQLite file (`--data FILE`), so a demo's Intercom (its data, apps and issued
/// tokens) survives a restart. The whole state is written as one snapshot per table row, shortly after
/// any change and at shutdown.
public actor SandboxPersistence {
    let path: String
    let state: SandboxState
    let data: SandboxData
    let logger: Logger
    private var dirty = false

    public init(path: String, state: SandboxState, data: SandboxData, logger: Logger) {
        self.path = path
        self.state = state
        self.data = data
        self.logger = logger
    }

    /// Runs `body` on a connection opened for it and always closed (sqlite-nio requires it): nothing is held between writes.
    private func withConnection<R: Sendable>(_ body: (SQLiteConnection) async throws -> R) async throws -> R {
        let directory = URL(fileURLWithPath: path).deletingLastPathComponent()
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let connection = try await SQLiteConnection.open(storage: .file(path: path), logger: logger)
        do {
            _ = try await connection.query("CREATE TABLE IF NOT EXISTS sandbox_snapshots (name TEXT PRIMARY KEY, body BLOB NOT NULL, saved_at INTEGER NOT NULL)")
            let result = try await body(connection)
            try await connection.close()
            return result
        } catch {
            try? await connection.close()
            throw error
        }
    }

    /// Loads what the file holds into the state and data; true when there was something to load.
    @discardableResult
    public func load() async throws -> Bool {
        let rows = try await withConnection { try await $0.query("SELECT name, body FROM sandbox_snapshots") }
        var loaded = false
        for row in rows {
            guard let name = row.column("name")?.string, let body = row.column("body")?.blob else { continue }
            let bytes = Data(body.readableBytesView)
            switch name {
            case "state":
                await state.restore(try JSONDecoder().decode(SandboxState.Snapshot.self, from: bytes))
                loaded = true
            case "data":
                await data.restore(try JSONDecoder().decode([String: SandboxData.Workspace].self, from: bytes))
                loaded = true
            default: continue
            }
        }
        return loaded
    }

    public func markDirty() { dirty = true }

    /// Writes the snapshot if anything changed since the last write.
    public func saveIfDirty() async throws {
        guard dirty else { return }
        dirty = false
        try await save()
    }

    public func save() async throws {
        let encoder = JSONEncoder()
        let stateBytes = try encoder.encode(await state.snapshot())
        let dataBytes = try encoder.encode(await data.snapshot())
        let now = SQLiteData.integer(Int(Date().timeIntervalSince1970))
        do {
            try await withConnection { connection in
                _ = try await connection.query("BEGIN IMMEDIATE")
                do {
                    for (name, bytes) in [("state", stateBytes), ("data", dataBytes)] {
                        _ = try await connection.query(
                            "INSERT INTO sandbox_snapshots (name, body, saved_at) VALUES (?, ?, ?) ON CONFLICT(name) DO UPDATE SET body = excluded.body, saved_at = excluded.saved_at",
                            [.text(name), .blob(ByteBuffer(bytes: bytes)), now])
                    }
                    _ = try await connection.query("COMMIT")
                } catch {
                    _ = try? await connection.query("ROLLBACK")
                    throw error
                }
            }
        } catch {
            dirty = true
            throw error
        }
    }
}

/// Saves the sandbox half a second after changes, and once more at shutdown.
struct PersistenceService: Service {
    let persistence: SandboxPersistence

    func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(500))
                do { try await persistence.saveIfDirty() } catch {
                    persistence.logger.error("saving the sandbox failed", metadata: ["error": "\(error)"])
                }
            }
        }
        try await persistence.save()
    }
}

/// Marks the sandbox changed after every request that may have changed it.
struct MarkDirtyMiddleware<Context: RequestContext>: RouterMiddleware {
    let persistence: SandboxPersistence

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        defer {
            if request.method != .get && request.method != .head {
                Task { await persistence.markDirty() }
            }
        }
        return try await next(request, context)
    }
}
