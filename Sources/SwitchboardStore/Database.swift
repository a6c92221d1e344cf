import AsyncKit
import Synchronization
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
    /// A reader refuses to write (`PRAGMA query_only`): a write sent to a reader by mistake fails at once, in every
    /// test that makes it, instead of contending with the writer on `busy_timeout`.
    let readOnly: Bool

    func makeConnection(logger: Logger, on eventLoop: any EventLoop) -> EventLoopFuture<SQLiteConnection> {
        base.makeConnection(logger: logger, on: eventLoop).flatMap { connection in
            // WAL lets readers run beside the writer; busy_timeout makes the writer wait for a lock held by another
            // process (`switchboard keys create` beside `serve`) instead of failing. Within one process writers never
            // meet there: they queue for the one writer connection (`Database.write`).
            connection.query("PRAGMA busy_timeout=10000")
                .flatMap { _ in Self.switchToWAL(connection, on: eventLoop, attemptsLeft: 200) }
                .flatMap { _ in connection.query("PRAGMA synchronous=NORMAL") }
                .flatMap { _ in readOnly ? connection.query("PRAGMA query_only=1").map { _ in () } : eventLoop.makeSucceededVoidFuture() }
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
        /// Readers, pooled, and the one writer: every write of this process queues for it, in order.
        case sqlite(readers: EventLoopGroupConnectionPool<TunedSQLiteSource>, writer: EventLoopConnectionPool<TunedSQLiteSource>)
        case postgres(EventLoopGroupConnectionPool<PostgresConnectionSource>)
    }

    /// How long a write waits for its turn at SQLite's one writer before it fails as `database_unavailable`.
    public static let writerQueueLimit: TimeAmount = .seconds(30)

    private let pool: Pool
    /// SQLite calls holding or waiting for a connection: `shutdown` lets them end before it stops SQLite's threads.
    private let sqliteInUse = Mutex(0)
    /// SQLite's own threads, one a pooled connection (nil on PostgreSQL, whose I/O is on the event loops).
    private let sqliteThreads: NIOThreadPool?
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
            // Each connection gets a thread of its own: SQLite's busy_timeout (kept for other processes) waits by sleeping
            // in the thread that runs the statement, and a shared thread would stall every other connection meanwhile.
            // Readers run beside the writer on WAL; every write of this process queues for the one writer connection,
            // in order (AsyncKit's waiters are first come, first served), so no two writers of one process ever spin on
            // busy_timeout (seen under CI's load: writers on every pooled connection failed "database is locked").
            let readers = 2 * eventLoopGroup.makeIterator().reduce(0) { count, _ in count + 1 }
            let threads = NIOThreadPool(numberOfThreads: readers + 1)
            threads.start()
            sqliteThreads = threads
            let base = SQLiteConnectionSource(configuration: .init(storage: .file(path: path), enableForeignKeys: true), threadPool: threads)
            pool = .sqlite(
                readers: EventLoopGroupConnectionPool(source: TunedSQLiteSource(base: base, readOnly: true), maxConnectionsPerEventLoop: 2,
                                                      logger: logger, on: eventLoopGroup),
                writer: EventLoopConnectionPool(source: TunedSQLiteSource(base: base, readOnly: false), maxConnections: 1,
                                                requestTimeout: Self.writerQueueLimit, logger: logger, on: eventLoopGroup.any()))
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
            sqliteThreads = nil
        }
    }

    /// How long `body` may keep a PostgreSQL connection before the connection is closed under it (the statement then
    /// fails, as `database_unavailable`). A query in flight while the server restarts was seen never to answer.
    public static let statementLimit: Duration = .seconds(15)

    /// Runs `body`, which only reads, on one pooled connection; on PostgreSQL within `limit` (nil: unbounded). On
    /// SQLite a reader refuses writes: use `write` or `transaction` for them.
    public func read<R: Sendable>(limit: Duration? = Database.statementLimit,
                                  _ body: @escaping @Sendable (any SQLDatabase) async throws -> R) async throws -> R {
        switch pool {
        case .sqlite(let readers, _):
            return try await onSQLite(request: { readers.requestConnection(logger: $0) }, release: { readers.releaseConnection($0, logger: $1) }, body)
        case .postgres:
            return try await onPostgres(limit: limit, body)
        }
    }

    /// Runs `body`, which writes, outside a transaction (each statement commits on its own). On SQLite it waits its
    /// turn at the one writer connection (at most `writerQueueLimit`); on PostgreSQL it is `read`'s pooled connection.
    public func write<R: Sendable>(limit: Duration? = Database.statementLimit,
                                   _ body: @escaping @Sendable (any SQLDatabase) async throws -> R) async throws -> R {
        switch pool {
        case .sqlite(_, let writer):
            return try await onSQLite(request: { writer.requestConnection(logger: $0) }, release: { writer.releaseConnection($0, logger: $1) }, body)
        case .postgres:
            return try await onPostgres(limit: limit, body)
        }
    }

    /// `body` on a SQLite connection taken and given back through `request` and `release`, counted in use meanwhile.
    private func onSQLite<R: Sendable>(request: (Logger) -> EventLoopFuture<SQLiteConnection>, release: (SQLiteConnection, Logger) -> Void,
                                       _ body: @Sendable (any SQLDatabase) async throws -> R) async throws -> R {
        sqliteInUse.withLock { $0 += 1 }
        defer { sqliteInUse.withLock { $0 -= 1 } }
        let connection = try await request(logger).get()
        defer { release(connection, logger) }
        return try await body(connection.sql(queryLogLevel: .trace))
    }

    private func onPostgres<R: Sendable>(limit: Duration?, _ body: @escaping @Sendable (any SQLDatabase) async throws -> R) async throws -> R {
        guard case .postgres(let pool) = pool else { preconditionFailure("onPostgres on a SQLite database") }
        guard let limit else {
            let connection = try await pool.requestConnection(logger: logger).get()
            defer { pool.releaseConnection(connection, logger: logger) }
            return try await body(connection.sql(queryLogLevel: .trace))
        }
        // Taking a connection and running `body` on it, within `limit`; past it, the connection (once there is one)
        // is closed, which fails a statement in flight, and the caller gets `StatementTimeout` either way.
        let held = Shared<PostgresConnection?>(nil)
        let logger = self.logger
        return try await Self.bounded(limit, onTimeout: { if let connection = held.value.withLock({ $0 }) { try? await connection.close().get() } }) {
            try await self.heldOnPostgres(held: held, logger: logger, body)
        }
    }

    private func heldOnPostgres<R: Sendable>(held: Shared<PostgresConnection?>, logger: Logger,
                                         _ body: @Sendable (any SQLDatabase) async throws -> R) async throws -> R {
        guard case .postgres(let pool) = pool else { preconditionFailure("heldOnPostgres on a SQLite database") }
        let connection = try await pool.requestConnection(logger: logger).get()
        held.value.withLock { $0 = connection }
        defer { pool.releaseConnection(connection, logger: logger) }
        return try await body(connection.sql(queryLogLevel: .trace))
    }

    /// `body`'s result, or `StatementTimeout` once `limit` has passed (after `onTimeout`, which should make `body` end).
    /// `body` runs in a task of its own, so that a caller is answered even if `body` never ends.
    static func bounded<R: Sendable>(_ limit: Duration, onTimeout: @escaping @Sendable () async -> Void,
                                     _ body: @escaping @Sendable () async throws -> R) async throws -> R {
        let waiting = Shared<CheckedContinuation<R, any Error>?>(nil)
        let worker = Shared<Task<Void, Never>?>(nil)
        return try await withCheckedThrowingContinuation { continuation in
            waiting.value.withLock { $0 = continuation }
            let timer = Task {
                do { try await Task.sleep(for: limit) } catch { return }  // cancelled: the work ended in time
                guard let continuation = waiting.take() else { return }
                continuation.resume(throwing: StatementTimeout(limit: limit))
                worker.value.withLock { $0 }?.cancel()
                await onTimeout()
            }
            let work = Task {
                let result: Result<R, any Error>
                do { result = .success(try await body()) } catch { result = .failure(error) }
                timer.cancel()
                waiting.take()?.resume(with: result)
            }
            worker.value.withLock { $0 = work }
        }
    }

    /// Runs `body` in one transaction: committed if it returns, rolled back if it throws.
    public func transaction<R: Sendable>(limit: Duration? = Database.statementLimit,
                                         _ body: @escaping @Sendable (any SQLDatabase) async throws -> R) async throws -> R {
        try await write(limit: limit) { db in
            // IMMEDIATE takes SQLite's write lock up front (waiting only for another process's writer).
            try await db.raw(SQLQueryString(self.dialect == .sqlite ? "BEGIN IMMEDIATE" : "BEGIN")).run()
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
        case .sqlite(let readers, let writer):
            // Connections still in use are given back first (for at most 10 s): one given back after the threads stop
            // could not be closed, and SQLiteNIO traps on a connection deinitialized open (a suspected cause of `demo`
            // crashing once on SIGTERM under CI's load; not reproduced in 27 tries here).
            for _ in 0..<1000 where sqliteInUse.withLock({ $0 }) > 0 { try? await Task.sleep(for: .milliseconds(10)) }
            try? await readers.shutdownAsync()
            try? await writer.close().get()
        case .postgres(let pool): try? await pool.shutdownAsync()
        }
        try? await sqliteThreads?.shutdownGracefully()
    }
}

/// A value behind a lock, shared by tasks.
final class Shared<Value: Sendable>: Sendable {
    let value: Mutex<Value>
    init(_ initial: Value) { value = Mutex(initial) }
}

extension Shared {
    /// The value, leaving nil in its place: only one taker gets it.
    func take<Wrapped>() -> Wrapped? where Value == Wrapped? {
        value.withLock { state in
            defer { state = nil }
            return state
        }
    }
}

/// A statement that did not finish within `Database.statementLimit`; its connection was closed.
public struct StatementTimeout: Error, CustomStringConvertible {
    public let limit: Duration
    public var description: String { "a database statement took longer than \(limit)" }
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
        case let error as SQLiteError:
            // The write lock stayed taken past busy_timeout: contention, not a wrong statement.
            return [.busy, .locked, .busyTimeout].contains(error.reason)
        case is StatementTimeout, is ConnectionPoolTimeoutError, is ConnectionPoolError, is ChannelError, is IOError, is NIOConnectionError:
            return true
        default:
            return false
        }
    }

    /// What a log may say of a database error: its kind and the engine's own reason (SQLite's result code and message,
    /// PostgreSQL's SQLSTATE), never a bound value.
    public static func summary(of error: any Error) -> String {
        switch error {
        case let error as SQLiteError: "SQLiteError \(error.reason): \(error.message)"
        case let error as PSQLError: "PSQLError \(error.code) \(error.serverInfo?[.sqlState] ?? "")"
        default: "\(type(of: error))"
        }
    }
}
