import Foundation
import Logging
import SQLKit
import SwitchboardCore

/// The audit log of action runs, written in batches (see `RunBuffer`).
public protocol RunRepository: Sendable {
    /// Records a run; it is written within `RunBuffer.delay`, or before the log is next read.
    func insert(_ run: RunRecord) async throws

    /// Writes the buffered runs now, after any flush already under way (flushes run one after another, so a reader that
    /// flushes first sees every run recorded before it, even those another flush had taken but not yet written). Runs
    /// the database refuses are kept and tried again a second later (a run already written is not written twice).
    func flushRuns() async

    /// How many runs wait in this instance's buffer, and how many it let go since it started.
    var buffer: (buffered: Int, dropped: Int) { get }

    /// A workspace's runs, newest first, after the cursor `(startedAtMs, id)` of the previous page's last run.
    func runs(workspaceID: String, integrationID: String?, filter: RunFilter, limit: Int, before cursor: (Int64, String)?) async throws -> [RunRecord]
}

/// The SQL implementation over the shared database and vault (SQLite or PostgreSQL).
extension RunRepository {
    /// Every run, unfiltered.
    public func runs(workspaceID: String, integrationID: String?, limit: Int, before cursor: (Int64, String)?) async throws -> [RunRecord] {
        try await runs(workspaceID: workspaceID, integrationID: integrationID, filter: RunFilter(), limit: limit, before: cursor)
    }
}

/// Which runs to list: of one action, one outcome (`ok`, `failed` for any problem, or a problem's code), one end user.
public struct RunFilter: Sendable, Equatable {
    public var action: String?
    public var outcome: String?
    public var endUserID: String?

    public init(action: String? = nil, outcome: String? = nil, endUserID: String? = nil) {
        self.action = action
        self.outcome = outcome
        self.endUserID = endUserID
    }
}

struct SQLRunRepository: RunRepository, SQLRepository {
    let shared: StoreShared

    public var buffer: (buffered: Int, dropped: Int) { runBuffer.depth }

    /// Records a run; it is written within `RunBuffer.delay`, or before the log is next read.
    public func insert(_ run: RunRecord) async throws {
        guard runBuffer.add(run) else { return }
        Task {
            try? await clock.sleep(for: RunBuffer.delay)
            await flushRuns()
        }
    }

    /// Writes the buffered runs now, after any flush already under way (flushes run one after another, so a reader that
    /// flushes first sees every run recorded before it, even those another flush had taken but not yet written). Runs
    /// the database refuses are kept and tried again a second later (a run already written is not written twice).
    public func flushRuns() async {
        let task = runBuffer.chain { [self] in await self.writeBufferedRuns() }
        await task.value
    }

    private func writeBufferedRuns() async {
        let runs = runBuffer.take()
        guard !runs.isEmpty else { return }
        var written = 0
        do {
            while written < runs.count {
                let batch = runs[written..<min(runs.count, written + RunBuffer.batch)]
                try await database.write { db in
                    var insert = db.insert(into: "runs").columns(RunRecord.columns).ignoringConflicts(with: ["id"])
                    for run in batch { insert = insert.values(run.row) }
                    try await insert.run()
                }
                written += batch.count
            }
        } catch {
            let (dropped, schedule) = runBuffer.putBack(Array(runs[written...]))
            logger.error("recording runs failed; they are kept and tried again", metadata: [
                "runs": "\(runs.count - written)", "dropped": "\(dropped)", "error.type": "\(type(of: error))",
            ])
            if schedule {
                Task {
                    try? await clock.sleep(for: RunBuffer.retryDelay)
                    await flushRuns()
                }
            }
        }
    }

    /// A workspace's runs, newest first, after the cursor `(startedAtMs, id)` of the previous page's last run.
    public func runs(workspaceID: String, integrationID: String?, filter: RunFilter, limit: Int, before cursor: (Int64, String)?) async throws -> [RunRecord] {
        await flushRuns()
        return try await database.read { db in
            var query = db.select().columns("*").from("runs").where("workspace_id", .equal, workspaceID)
            if let action = filter.action { query = query.where("action", .equal, action) }
            if let user = filter.endUserID { query = query.where("end_user_id", .equal, user) }
            switch filter.outcome {
            case nil: break
            case "ok": query = query.where("outcome", .equal, "ok")
            case "failed": query = query.where("outcome", .notEqual, "ok")
            case let code?: query = query.where("outcome", .equal, code)
            }
            return try await query.newestFirst(by: "started_at_ms", integrationID: integrationID, after: cursor, limit: limit).all(decoding: RunRecord.self)
        }
    }
}
