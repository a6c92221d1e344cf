import Foundation
import Logging
import SQLKit
import SwitchboardCore
import Synchronization

/// One action execution, as the audit log keeps it: never tokens, inputs or outputs.
public struct RunRecord: Sendable, Equatable, Codable {
    public var id: String
    public var workspace_id: String
    public var integration_id: String
    public var action: String
    public var end_user_id: String?
    public var started_at_ms: Int64
    public var duration_ms: Int
    /// `ok`, or the problem's code.
    public var outcome: String
    public var http_status: Int
    public var provider_request_id: String?
    /// Which adapter ran it: `api`, `mcp`, `console`, `resume` (nil for runs recorded before channels were).
    public var channel: String?
    /// The agent token an MCP call came with.
    public var agent_token_id: String?

    public init(id: String, workspaceID: String, integrationID: String, action: String, endUserID: String?, startedAtMs: Int64,
                durationMs: Int, outcome: String, httpStatus: Int, providerRequestID: String?, channel: String? = nil, agentTokenID: String? = nil) {
        self.channel = channel
        self.agent_token_id = agentTokenID
        self.id = id
        self.workspace_id = workspaceID
        self.integration_id = integrationID
        self.action = action
        self.end_user_id = endUserID
        self.started_at_ms = startedAtMs
        self.duration_ms = durationMs
        self.outcome = outcome
        self.http_status = httpStatus
        self.provider_request_id = providerRequestID
    }
}

extension RunRecord {
    static let columns = ["id", "workspace_id", "integration_id", "action", "end_user_id", "started_at_ms", "duration_ms", "outcome",
                          "http_status", "provider_request_id", "channel", "agent_token_id"]

    /// The values of `columns`, bound one by one: a batch mixes runs with and without an end user or a request id, which
    /// `models()` refuses (it wants every model to encode the same columns), and binding skips `Codable` for each row.
    var row: [any SQLExpression] {
        func optional(_ value: String?) -> any SQLExpression { value.map { SQLBind($0) } ?? SQLLiteral.null }
        return [SQLBind(id), SQLBind(workspace_id), SQLBind(integration_id), SQLBind(action), optional(end_user_id), SQLBind(started_at_ms),
                SQLBind(duration_ms), SQLBind(outcome), SQLBind(http_status), optional(provider_request_id), optional(channel), optional(agent_token_id)]
    }
}

/// Runs waiting to be written: recording one is a memory append, and they reach the database together,
/// at most `delay` later, in one statement. Reading the log, and shutting down, write them first.
/// A lock rather than an actor: recording happens on every action call, and must not be a hop.
public final class RunBuffer: Sendable {
    public static let delay: Duration = .milliseconds(100)
    public static let retryDelay: Duration = .seconds(1)
    static let batch = 200

    private struct State {
        var pending: [RunRecord] = []
        var dropped = 0
        var scheduled = false
        /// The last flush started: the next one waits for it.
        var tail: Task<Void, Never>?
    }
    private let state = Mutex(State())

    /// Adds a run; true when the caller should schedule a flush.
    func add(_ run: RunRecord) -> Bool {
        state.withLock { state in
            state.pending.append(run)
            defer { state.scheduled = true }
            return !state.scheduled
        }
    }

    /// Starts `flush` once every flush started before it has ended; returns its task.
    func chain(_ flush: @escaping @Sendable () async -> Void) -> Task<Void, Never> {
        state.withLock { state in
            let previous = state.tail
            let task = Task {
                await previous?.value
                await flush()
            }
            state.tail = task
            return task
        }
    }

    func take() -> [RunRecord] {
        state.withLock { state in
            state.scheduled = false
            defer { state.pending.removeAll(keepingCapacity: true) }
            return state.pending
        }
    }

    /// How many runs wait to be written now, and how many were let go since the start (the database refused them for
    /// too long): for `/metrics`.
    public var depth: (buffered: Int, dropped: Int) { state.withLock { ($0.pending.count, $0.dropped) } }

    /// How many runs wait at most while the database refuses them; beyond it the oldest are let go.
    static let maxPending = 10_000

    /// Puts back runs that could not be written, before any recorded since; returns how many had to be let go
    /// and whether the caller should schedule the retry.
    func putBack(_ runs: [RunRecord]) -> (dropped: Int, schedule: Bool) {
        state.withLock { state in
            state.pending.insert(contentsOf: runs, at: 0)
            let dropped = max(0, state.pending.count - Self.maxPending)
            state.pending.removeFirst(dropped)
            state.dropped += dropped
            defer { state.scheduled = true }
            return (dropped, !state.scheduled)
        }
    }
}

extension SQLSelectBuilder {
    /// One page of a log, newest first by `(timeColumn, id)`, optionally of one integration, after the previous page's last `(time, id)`.
    func newestFirst(by timeColumn: String, integrationID: String?, after cursor: (Int64, String)?, limit: Int) -> Self {
        var query = self
        if let integrationID { query = query.where("integration_id", .equal, integrationID) }
        if let (time, id) = cursor {
            query = query.where { group in
                group.where(SQLColumn(timeColumn), .lessThan, SQLBind(time))
                    .orWhere { inner in inner.where(SQLColumn(timeColumn), .equal, SQLBind(time)).where("id", .lessThan, id) }
            }
        }
        return query.orderBy(timeColumn, .descending).orderBy("id", .descending).limit(limit)
    }
}
