import AsyncKit
import Foundation
public import Logging
public import NIOCore
public import NIOPosix
import PostgresKit
public import SQLKit
import SQLiteKit

/// Where the data lives: an SQLite file (the embedded default) or PostgreSQL.
public enum DatabaseLocation: Sendable, Equatable, CustomStringConvertible {
    case sqlite(path: String)
    case postgres(url: String)

    /// Parses `sqlite:PATH`, `sqlite://PATH`, or a `postgres://` / `postgresql://` URL.
    public init(parsing string: String) throws(DatabaseError) {
        if string.hasPrefix("sqlite://") {
            self = .sqlite(path: String(string.dropFirst("sqlite://".count)))
        } else if string.hasPrefix("sqlite:") {
            self = .sqlite(path: String(string.dropFirst("sqlite:".count)))
        } else if string.hasPrefix("postgres://") || string.hasPrefix("postgresql://") {
            guard URL(string: string)?.host != nil else { throw .badLocation("the PostgreSQL URL has no host") }
            self = .postgres(url: string)
        } else {
            throw .badLocation("expected sqlite:PATH or postgres://USER:PASSWORD@HOST:PORT/DATABASE")
        }
        if case .sqlite(let path) = self, path.isEmpty { throw .badLocation("sqlite: needs a file path") }
    }

    /// Says where, without a password.
    public var description: String {
        switch self {
        case .sqlite(let path):
            return "sqlite:\(path)"
        case .postgres(let url):
            guard var components = URLComponents(string: url) else { return "postgres://…" }
            if components.password != nil { components.password = "…" }
            return components.string ?? "postgres://…"
        }
    }
}

public enum DatabaseError: Error, CustomStringConvertible {
    case badLocation(String)
    public var description: String {
        switch self {
        case .badLocation(let why): "database setting is malformed: \(why)"
        }
    }
}

public enum SQLDialectKind: Sendable {
    case sqlite
    case postgres
}

/// Opens SQLite connections tuned for several connections and processes sharing one file.
struct TunedSQLiteSource: ConnectionPoolSource {
    let base: SQLiteConnectionSource

    func makeConnection(logger: Logger, on eventLoop: any EventLoop) -> EventLoopFuture<SQLiteConnection> {
        base.makeConnection(logger: logger, on: eventLoop).flatMap { connection in
            // WAL lets readers run beside a writer; busy_timeout makes a writer wait for a lock (another pooled
            // connection, or `switchboard keys create` in another process) instead of failing.
            connection.query("PRAGMA busy_timeout=10000")
                .flatMap { _ in Self.switchToWAL(connection, on: eventLoop, attemptsLeft: 200) }
                .flatMap { _ in connection.query("PRAGMA synchronous=NORMAL") }
                .map { _ in connection }
                .flatMapError { error in
                    // A connection that could not be tuned is closed, not dropped open.
                    connection.close().flatMapThrowing { throw error }
                }
        }
    }

    /// Switching a new file to WAL needs it alone, and SQLite answers "busy" at once rather than waiting when several
    /// connections open together: try again every 10 ms, for up to 2 s.
    static func switchToWAL(_ connection: SQLiteConnection, on eventLoop: any EventLoop, attemptsLeft: Int) -> EventLoopFuture<Void> {
        connection.query("PRAGMA journal_mode=WAL").map { _ in () }.flatMapError { error in
            guard attemptsLeft > 1, let failure = error as? SQLiteError, [.busy, .locked, .busyTimeout].contains(failure.reason) else {
                return eventLoop.makeFailedFuture(error)
            }
            return eventLoop.flatScheduleTask(in: .milliseconds(10)) {
                switchToWAL(connection, on: eventLoop, attemptsLeft: attemptsLeft - 1)
            }.futureResult
        }
    }
}

/// Pooled connections to either back-end, handed out as SQLKit databases.
public final class Database: @unchecked Sendable {
    private enum Pool {
        case sqlite(EventLoopGroupConnectionPool<TunedSQLiteSource>)
        case postgres(EventLoopGroupConnectionPool<PostgresConnectionSource>)
    }

    private let pool: Pool
    public let dialect: SQLDialectKind
    public let location: DatabaseLocation
    private let logger: Logger

    /// - Parameter postgresSearchPath: schemas to use on PostgreSQL (tests give each run its own).
    public init(
        location: DatabaseLocation, logger: Logger, postgresSearchPath: [String]? = nil,
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) throws {
        self.location = location
        self.logger = logger
        switch location {
        case .sqlite(let path):
            let directory = URL(fileURLWithPath: path).deletingLastPathComponent()
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            let source = TunedSQLiteSource(base: SQLiteConnectionSource(configuration: .init(storage: .file(path: path), enableForeignKeys: true)))
            pool = .sqlite(EventLoopGroupConnectionPool(source: source, maxConnectionsPerEventLoop: 2, logger: logger, on: eventLoopGroup))
            dialect = .sqlite
        case .postgres(let url):
            var configuration = try SQLPostgresConfiguration(url: url)
            if let postgresSearchPath { configuration.searchPath = postgresSearchPath }
            let source = PostgresConnectionSource(sqlConfiguration: configuration)
            // A request waits at most 5 s for a connection: while the server restarts, calls fail fast with 503
            // database_unavailable (and Retry-After) instead of queueing for the pool's default 10 s at each statement.
            pool = .postgres(EventLoopGroupConnectionPool(source: source, maxConnectionsPerEventLoop: 4, requestTimeout: .seconds(5),
                                                          logger: logger, on: eventLoopGroup))
            dialect = .postgres
        }
    }

    /// Runs `body` on one pooled connection.
    public func withConnection<R: Sendable>(_ body: @Sendable (any SQLDatabase) async throws -> R) async throws -> R {
        switch pool {
        case .sqlite(let pool):
            let connection = try await pool.requestConnection(logger: logger).get()
            defer { pool.releaseConnection(connection, logger: logger) }
            return try await body(connection.sql(queryLogLevel: .trace))
        case .postgres(let pool):
            let connection = try await pool.requestConnection(logger: logger).get()
            defer { pool.releaseConnection(connection, logger: logger) }
            return try await body(connection.sql(queryLogLevel: .trace))
        }
    }

    /// Runs `body` in one transaction: committed if it returns, rolled back if it throws.
    public func transaction<R: Sendable>(_ body: @Sendable (any SQLDatabase) async throws -> R) async throws -> R {
        try await withConnection { db in
            // IMMEDIATE takes SQLite's write lock up front, so two writers queue rather than deadlock.
            try await db.raw(SQLQueryString(dialect == .sqlite ? "BEGIN IMMEDIATE" : "BEGIN")).run()
            do {
                let result = try await body(db)
                try await db.raw("COMMIT").run()
                return result
            } catch {
                try? await db.raw("ROLLBACK").run()
                throw error
            }
        }
    }

    public func shutdown() async {
        switch pool {
        case .sqlite(let pool): try? await pool.shutdownAsync()
        case .postgres(let pool): try? await pool.shutdownAsync()
        }
    }
}

extension Database {
    /// Whether `error` says the database could not be reached or went away (a restart, a failover, an exhausted pool)
    /// rather than that a statement was wrong: the request may well succeed if tried again shortly. The API answers such
    /// a failure 503 `database_unavailable` instead of a 500.
    public static func isUnavailable(_ error: any Error) -> Bool {
        switch error {
        case let error as PSQLError:
            if [.clientClosedConnection, .serverClosedConnection, .connectionError, .uncleanShutdown, .poolClosed].contains(error.code) { return true }
            // SQLSTATE class 08 (connection exception), 57P (the server shutting down or starting), 53300 (too many connections).
            guard error.code == .server, let state = error.serverInfo?[.sqlState] else { return false }
            return state.hasPrefix("08") || state.hasPrefix("57P") || state == "53300"
        case is ConnectionPoolTimeoutError, is ConnectionPoolError, is ChannelError, is IOError, is NIOConnectionError:
            return true
        default:
            return false
        }
    }
}
