import Foundation
import Logging
import SQLKit
import SwitchboardCore
@testable import SwitchboardStore
import SwitchboardTestSupport
import Testing

func makeProfile(workspaceID: String, secret: String = "profile-secret-\(UUID().uuidString)") -> AuthProfile {
    AuthProfile(
        id: Identifier.make("ap"), workspaceID: workspaceID, name: "Custom", description: "d", clientID: "cid", clientSecret: secret,
        authorizationURL: "https://{tenant}.example/oauth", tokenURL: "https://idp.example/token", refreshTokenURL: nil,
        scopes: ["read", "write"], pkce: true, tokenRequestFormat: .json, exchangeStyle: .standard,
        authorizationParameters: ["audience": "x"], fields: ["tenant": "acme"], createdAt: Date(unixSeconds: 1_800_000_000),
        updatedAt: Date(unixSeconds: 1_800_000_000)
    )
}

func makeIntegration(workspaceID: String, profileID: String? = nil, mode: AuthorizationMode = .preauthorized) -> Integration {
    Integration(
        id: Identifier.make("int"), workspaceID: workspaceID, name: "Bot", provider: Provider("intercom"), app: profileID == nil ? .system : .custom,
        authProfileID: profileID, authorization: mode, region: nil, notifyURL: nil, enablement: .never,
        createdAt: Date(unixSeconds: 1_800_000_000), updatedAt: Date(unixSeconds: 1_800_000_000)
    )
}

func makeConnection(_ integration: Integration, endUser: String = Connection.sharedUser, access: String = "access-\(UUID().uuidString)",
                    refresh: String? = nil, expiresAt: Date? = nil) -> Connection {
    Connection(
        id: Identifier.make("conn"), workspaceID: integration.workspaceID, integrationID: integration.id, endUserID: endUser, status: .active,
        account: ProviderAccount(id: "acme7x2k", name: "Acme", region: "US"),
        tokens: TokenGrant(accessToken: access, refreshToken: refresh, expiresAt: expiresAt),
        lastError: nil, lastRefreshedAt: nil, createdAt: Date(unixSeconds: 1_800_000_000), updatedAt: Date(unixSeconds: 1_800_000_000)
    )
}

func makeRequest(_ integration: Integration, state: String, endUser: String = Connection.sharedUser, expiresAt: Date) -> AuthorizationRequest {
    AuthorizationRequest(
        id: Identifier.make("authreq"), workspaceID: integration.workspaceID, integrationID: integration.id, endUserID: endUser,
        stateHash: Digest.sha256Hex(state), pkceVerifier: "verifier-\(state.prefix(4))", redirectURI: "https://sb/cb", status: .pending,
        createdAt: expiresAt.addingTimeInterval(-600), expiresAt: expiresAt, error: nil
    )
}

extension Store {
    /// A fresh workspace with one stored pre-authorized integration.
    func insertIntegration(enablement: Enablement = .never) async throws -> (Workspace, Integration) {
        let workspace = try await makeWorkspace()
        var integration = makeIntegration(workspaceID: workspace.id)
        integration.enablement = enablement
        try await integrations.insert(integration)
        return (workspace, integration)
    }
}

/// Stores an integration with a completed shared connection.
func connect(_ store: Store, _ integration: Integration, connection: Connection) async throws -> Connection {
    let request = makeRequest(integration, state: OAuthState.generate(), endUser: connection.endUserID, expiresAt: Date().addingTimeInterval(600))
    try await store.authorizations.insert(request)
    return try await store.connections.completeAuthorization(requestID: request.id, connectLinkID: nil, connection: connection, now: Date()).connection
}

@Suite("Store")
struct StoreTests {
    @Test("the PostgreSQL back-end is exercised", .enabled(if: Backend.postgresURL != nil, "SWITCHBOARD_TEST_POSTGRES_URL is not set"))
    func postgresRuns() async throws {
        try await TestStore.with(.postgres) { test in
            let applied = try await test.store.migrate()
            #expect(applied.isEmpty, "migrations were already applied")
        }
    }

    @Test("migrations apply once and are idempotent", arguments: Backend.available)
    func migrations(backend: Backend) async throws {
        try await TestStore.with(backend) { test in
            #expect(try await test.store.migrate() == [])
            let versions = try await test.store.database.read { db in
                try await db.select().column("version").from("schema_migrations").all().map { try $0.decode(column: "version", as: Int.self) }
            }
            #expect(versions == Array(1...15))
        }
    }

    @Test("a kept action is taken once, however many callers ask at the same time; an expired one never", arguments: Backend.available)
    func pendingActionsTakenOnce(backend: Backend) async throws {
        try await TestStore.with(backend) { test in
            let workspace = try await test.store.makeWorkspace()
            let integration = makeIntegration(workspaceID: workspace.id, mode: .perUser)
            try await test.store.integrations.insert(integration)
            let now = Date()
            let link = ConnectLink(id: "link_1", workspaceID: workspace.id, integrationID: integration.id, endUserID: "u1", conversationID: nil,
                                   tokenHash: "h", reason: .connect, status: .pending, createdAt: now, expiresAt: now.addingTimeInterval(900), completedAt: nil)
            try await test.store.authorizations.insert(link)
            for (id, expires) in [("pend_live", now.addingTimeInterval(900)), ("pend_old", now.addingTimeInterval(-1))] {
                try await test.store.authorizations.insert(PendingAction(id: id, workspaceID: workspace.id, integrationID: integration.id, connectLinkID: link.id,
                                                          endUserID: "u1", conversationID: nil, action: "intercom.who_am_i", input: .object([:]),
                                                          createdAt: now, expiresAt: expires))
            }
            let taken = try await withThrowingTaskGroup(of: [String].self) { group in
                for _ in 0..<4 { group.addTask { try await test.store.authorizations.takePendingActions(connectLinkID: link.id, now: now).map(\.id) } }
                return try await group.reduce(into: []) { $0 += $1 }
            }
            #expect(taken == ["pend_live"])
        }
    }

    @Test("connections opened at once on a new SQLite file all succeed (busy_timeout is set before switching to WAL)")
    func sqliteConnectionsOpenTogether() async throws {
        for round in 0..<5 {
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("sb-open-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: directory) }
            let database = try Database(location: .sqlite(path: directory.appendingPathComponent("fresh.sqlite").path), logger: Logger(label: "open"))
            let results = await withTaskGroup(of: Bool.self) { group in
                for _ in 0..<12 {
                    group.addTask { (try? await database.read { db in try await db.raw("SELECT 1").run() }) != nil }
                }
                return await group.reduce(into: [Bool]()) { $0.append($1) }
            }
            await database.shutdown()
            #expect(!results.contains(false), "round \(round): a connection failed to open")
        }
    }

    @Test("writers on every pooled SQLite connection at once all commit: a connection waiting for the write lock never takes the thread the lock's holder needs")
    func sqliteWritersDoNotStarve() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("sb-writers-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let database = try Database(location: .sqlite(path: directory.appendingPathComponent("writers.sqlite").path), logger: Logger(label: "writers"))
        try await database.write { db in try await db.raw("CREATE TABLE IF NOT EXISTS notes (id TEXT PRIMARY KEY, body TEXT)").run() }
        // Each transaction holds the write lock across several statements, so the others queue on busy_timeout
        // meanwhile; with one shared thread a core, two waiters left the holder no thread for its next statement.
        let failures = await withTaskGroup(of: String?.self) { group in
            for writer in 0..<8 {
                group.addTask {
                    do {
                        for round in 0..<25 {
                            try await database.transaction { db in
                                for step in 0..<3 {
                                    try await db.raw("INSERT INTO notes (id, body) VALUES (\(bind: "\(writer)-\(round)-\(step)"), \(bind: "x"))").run()
                                }
                            }
                        }
                        return nil
                    } catch {
                        return "writer \(writer): \(Database.summary(of: error))"
                    }
                }
            }
            return await group.reduce(into: [String]()) { if let failure = $1 { $0.append(failure) } }
        }
        let count = try await database.read { db in try await db.raw("SELECT COUNT(*) AS n FROM notes").first(decoding: Count.self)?.n }
        await database.shutdown()
        #expect(failures.isEmpty, "\(failures)")
        #expect(count == 8 * 25 * 3)
    }

    struct Count: Decodable { let n: Int }

    @Test("on SQLite a reader refuses to write (query_only), so every write goes through the one writer; writes and transactions see each other")
    func sqliteReadersDoNotWrite() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("sb-readers-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let database = try Database(location: .sqlite(path: directory.appendingPathComponent("readers.sqlite").path), logger: Logger(label: "readers"))
        try await database.write { db in try await db.raw("CREATE TABLE notes (id TEXT PRIMARY KEY)").run() }
        do {
            try await database.read { db in try await db.raw("INSERT INTO notes (id) VALUES ('r')").run() }
            Issue.record("a write on a reader was accepted")
        } catch {
            #expect(Database.summary(of: error).contains("readonly"), "\(Database.summary(of: error))")
        }
        try await database.write { db in try await db.raw("INSERT INTO notes (id) VALUES ('w')").run() }
        try await database.transaction { db in try await db.raw("INSERT INTO notes (id) VALUES ('t')").run() }
        let count = try await database.read { db in try await db.raw("SELECT COUNT(*) AS n FROM notes").first(decoding: Count.self)?.n }
        await database.shutdown()
        #expect(count == 2)
    }

    @Test("due events: workspaces take turns over what each integration's cut leaves, so a workspace's other integration is not buried under one backlog", arguments: Backend.available)
    func dueEventsTakeTurns(backend: Backend) async throws {
        try await TestStore.with(backend) { test in
            let now = Date()
            var expected: [String] = []
            func event(_ integration: Integration, age: TimeInterval) async throws -> String {
                let id = Identifier.make("evt")
                try await test.store.events.insert(EventRecord(id: id, workspaceID: integration.workspaceID, integrationID: integration.id, type: .connectionCreated,
                                                               endUserID: "u", payload: .object([:]), status: .pending, attempts: 0,
                                                               nextAttemptAt: now.addingTimeInterval(-age), lastStatus: nil, lastError: nil,
                                                               createdAt: now.addingTimeInterval(-age), deliveredAt: nil))
                return id
            }
            let a = try await test.store.makeWorkspace("a"), b = try await test.store.makeWorkspace("b"), c = try await test.store.makeWorkspace("c")
            let backlog = makeIntegration(workspaceID: a.id), other = makeIntegration(workspaceID: a.id), elsewhere = makeIntegration(workspaceID: b.id)
            let many = (0..<10).map { _ in makeIntegration(workspaceID: c.id) }
            for integration in [backlog, other, elsewhere] + many { try await test.store.integrations.insert(integration) }
            // Workspace a: a backlog of 30 in one integration (2 pass its cut) and one newer event in another, its third
            // turn; b: one event; c: ten integrations with one event each, turns 1 to 10.
            for age in 0..<30 { let id = try await event(backlog, age: 1000 - Double(age)); if age < 2 { expected.append(id) } }
            expected.append(try await event(other, age: 500))
            expected.append(try await event(elsewhere, age: 100))
            for (turn, integration) in many.enumerated() { let id = try await event(integration, age: 900 - Double(turn)); if turn < 3 { expected.append(id) } }
            let due = try await test.store.events.dueEvents(now: now, limit: 7, perIntegration: 2, excluding: []).map(\.id)
            #expect(Set(due) == Set(expected), "three turns: a's first two and its other integration's, b's, c's first three: \(due)")
        }
    }

    @Test("an outbox item of a kind this release does not know is left alone: not leased, its attempts untouched", arguments: Backend.available)
    func outboxUnknownKind(backend: Backend) async throws {
        try await TestStore.with(backend) { test in
            let now = Date()
            try await test.store.database.write { db in
                try await db.insert(into: "outbox").columns("id", "kind", "subject", "due_at", "attempts", "created_at")
                    .values(SQLBind("obx_future"), SQLBind("a_later_kind"), SQLBind("x"), SQLBind(now.unixSeconds - 1), SQLBind(0), SQLBind(now.unixSeconds)).run()
            }
            try await test.store.outbox.enqueue(.resumeKeptCalls, subject: "link_1", now: now.addingTimeInterval(-1))
            let taken = try await test.store.outbox.takeDue(owner: "inst_a", now: now, lease: 60, limit: 10)
            #expect(taken.map(\.subject) == ["link_1"] && taken.first?.attempts == 1)
            let future = try await test.store.database.read { db in
                try await db.select().columns("attempts", "lease_until").from("outbox").where("id", .equal, "obx_future").first()
            }
            #expect(try future?.decode(column: "attempts", as: Int.self) == 0)
            #expect(try future?.decode(column: "lease_until", as: Int64?.self) == nil)
            #expect(try await test.store.outbox.takeDue(owner: "inst_b", now: now, lease: 60, limit: 10).isEmpty, "the known one is leased to inst_a")
        }
    }

    @Test("pruning deletes expired links, requests and kept calls, and old settled events; nothing still usable", arguments: Backend.available)
    func pruning(backend: Backend) async throws {
        try await TestStore.with(backend) { test in
            let workspace = try await test.store.makeWorkspace()
            let integration = makeIntegration(workspaceID: workspace.id, mode: .perUser)
            try await test.store.integrations.insert(integration)
            let now = Date()
            func link(_ id: String, expires: TimeInterval) -> ConnectLink {
                ConnectLink(id: id, workspaceID: workspace.id, integrationID: integration.id, endUserID: "u1", conversationID: nil, tokenHash: "h-\(id)",
                            reason: .connect, status: .pending, createdAt: now, expiresAt: now.addingTimeInterval(expires), completedAt: nil)
            }
            try await test.store.authorizations.insert(link("link_old", expires: -2 * 86_400))
            try await test.store.authorizations.insert(link("link_recent", expires: -60))
            try await test.store.authorizations.insert(link("link_live", expires: 600))
            try await test.store.authorizations.insert(PendingAction(id: "pend_old", workspaceID: workspace.id, integrationID: integration.id, connectLinkID: "link_recent",
                                                      endUserID: "u1", conversationID: nil, action: "intercom.who_am_i", input: .object([:]),
                                                      createdAt: now, expiresAt: now.addingTimeInterval(-60)))
            for (id, status, age) in [("evt_old", EventStatus.delivered, 40.0), ("evt_stuck", .pending, 40), ("evt_new", .failed, 1)] {
                try await test.store.events.insert(EventRecord(id: id, workspaceID: workspace.id, integrationID: integration.id, type: .connectionCreated,
                                                        endUserID: "u1", payload: .object([:]), status: status, attempts: 1, nextAttemptAt: nil,
                                                        lastStatus: nil, lastError: nil, createdAt: now.addingTimeInterval(-age * 86_400), deliveredAt: nil))
            }
            #expect(try await test.store.pruneExpired(now: now) == 3)
            func ids(_ table: String) async throws -> Set<String> {
                try await test.store.database.read { db in Set(try await db.select().column("id").from(table).all().map { try $0.decode(column: "id", as: String.self) }) }
            }
            #expect(try await ids("connect_links") == ["link_recent", "link_live"])
            #expect(try await ids("pending_actions").isEmpty)
            #expect(try await ids("events") == ["evt_stuck", "evt_new"])
        }
    }

    @Test("recorded runs reach the database on their own within the batching delay, and all at once, with or without an end user and request id",
          arguments: Backend.available)
    func runsAreWrittenInBatches(backend: Backend) async throws {
        let clock = ManualWallClock()
        try await TestStore.with(backend, clock: clock) { test in
            let workspace = try await test.store.makeWorkspace()
            func count() async throws -> Int {
                try await test.store.database.read { db in try await db.select().column("id").from("runs").all().count }
            }
            // One batch mixes what real traffic mixes: per-user and shared runs, answered and failed ones.
            for index in 0..<250 {
                try await test.store.runs.insert(RunRecord(id: "run_\(index)", workspaceID: workspace.id, integrationID: "int_x", action: "intercom.who_am_i",
                                                      endUserID: index % 2 == 0 ? nil : "user-\(index)", startedAtMs: Int64(index), durationMs: 1,
                                                      outcome: index % 3 == 0 ? "provider_error" : "ok", httpStatus: index % 3 == 0 ? 502 : 200,
                                                      providerRequestID: index % 3 == 0 ? nil : "req-\(index)"))
            }
            // The flush waits out the batching delay on the store's clock; moving it past the delay lets the flush run.
            #expect(await clock.waitForSleepers(), "a flush is scheduled")
            clock.advance(by: RunBuffer.delay.seconds)
            // Nothing here reads the log or flushes it: the rows must appear on their own (the flush runs in the buffer's
            // own task, whose end the store does not announce), so the test looks until they do.
            try await eventually("250 runs written on their own", within: .seconds(10)) { try await count() >= 250 }
            #expect(try await count() == 250, "written without anyone reading the log, in batches under the bind limit")
            let runs = try await test.store.runs.runs(workspaceID: workspace.id, integrationID: nil, limit: 300, before: nil)
            let run7 = try #require(runs.first { $0.id == "run_7" })
            #expect(run7.end_user_id == "user-7" && run7.provider_request_id == "req-7")
            let run6 = try #require(runs.first { $0.id == "run_6" })
            #expect(run6.end_user_id == nil && run6.provider_request_id == nil && run6.outcome == "provider_error")
        }
    }

    @Test("runs the database refuses are kept and written once it takes them again, each once", arguments: Backend.available)
    func runsSurviveARefusingDatabase(backend: Backend) async throws {
        let clock = ManualWallClock()
        try await TestStore.with(backend, clock: clock) { test in
            let workspace = try await test.store.makeWorkspace()
            func run(_ index: Int) -> RunRecord {
                RunRecord(id: "run_\(index)", workspaceID: workspace.id, integrationID: "int_x", action: "intercom.who_am_i", endUserID: nil,
                          startedAtMs: Int64(index), durationMs: 1, outcome: "ok", httpStatus: 200, providerRequestID: "req-\(index)")
            }
            // The table is away: the first flush fails.
            try await test.store.database.write { db in try await db.raw("ALTER TABLE runs RENAME TO runs_away").run() }
            for index in 0..<30 { try await test.store.runs.insert(run(index)) }
            #expect(await clock.waitForSleepers(), "a flush is scheduled")
            clock.advance(by: RunBuffer.delay.seconds)
            // The flush fails and schedules its retry a second later, on the same clock.
            #expect(await clock.waitForSleepers(), "the retry is scheduled")
            try await test.store.database.write { db in try await db.raw("ALTER TABLE runs_away RENAME TO runs").run() }
            for index in 30..<40 { try await test.store.runs.insert(run(index)) }
            // The retry (a second after the failure) writes the kept runs with the new ones; reading flushes any rest.
            clock.advance(by: RunBuffer.retryDelay.seconds)
            let runs = try await test.store.runs.runs(workspaceID: workspace.id, integrationID: nil, limit: 100, before: nil)
            #expect(runs.count == 40)
            #expect(Set(runs.map(\.id)) == Set((0..<40).map { "run_\($0)" }))
        }
    }

    @Test("while the database refuses runs, at most the newest 10,000 wait")
    func keptRunsAreBounded() {
        let buffer = RunBuffer()
        func run(_ index: Int) -> RunRecord {
            RunRecord(id: "run_\(index)", workspaceID: "ws", integrationID: "int_x", action: "a", endUserID: nil, startedAtMs: Int64(index),
                      durationMs: 1, outcome: "ok", httpStatus: 200, providerRequestID: nil)
        }
        #expect(buffer.add(run(-1)))
        #expect(!buffer.add(run(-2)), "one flush is scheduled at a time")
        _ = buffer.take()
        let (dropped, schedule) = buffer.putBack((0..<RunBuffer.maxPending + 5).map(run))
        #expect(dropped == 5 && schedule)
        #expect(!buffer.add(run(99_999)))
        let kept = buffer.take()
        #expect(kept.count == RunBuffer.maxPending + 1 && kept.first?.id == "run_5" && kept.last?.id == "run_99999")
    }

    @Test("an API key finds its workspace; an unknown key finds nothing; only the hash is stored", arguments: Backend.available)
    func apiKeys(backend: Backend) async throws {
        try await TestStore.with(backend) { test in
            let workspace = try await test.store.makeWorkspace()
            let key = AdminAPIKey.generate()
            try await test.store.workspaces.addAPIKey(workspaceID: workspace.id, key: key)
            #expect(try await test.store.workspaces.workspace(forAPIKey: key)?.id == workspace.id)
            #expect(try await test.store.workspaces.workspace(forAPIKey: key + "x") == nil)
            let stored = try await test.store.database.read { db in
                try await db.select().column("key_hash").from("api_keys").all().map { try $0.decode(column: "key_hash", as: String.self) }
            }
            #expect(stored == [AdminAPIKey.hash(key)])
            #expect(try await test.store.workspaces.workspace(named: workspace.name, createIfMissing: true)?.id == workspace.id, "names are unique")
        }
    }

    @Test("profiles round-trip every field, and other workspaces cannot see them", arguments: Backend.available)
    func profiles(backend: Backend) async throws {
        try await TestStore.with(backend) { test in
            let mine = try await test.store.makeWorkspace(), theirs = try await test.store.makeWorkspace()
            var profile = makeProfile(workspaceID: mine.id)
            try await test.store.profiles.insert(profile)
            #expect(try await test.store.profiles.authProfile(id: profile.id, workspaceID: mine.id) == profile)
            #expect(try await test.store.profiles.authProfile(id: profile.id, workspaceID: theirs.id) == nil)
            #expect(try await test.store.profiles.authProfiles(workspaceID: theirs.id).isEmpty)
            profile.clientSecret = "rotated-secret"
            profile.scopes = []
            profile.refreshTokenURL = "https://idp.example/refresh"
            #expect(try await test.store.profiles.update(profile))
            #expect(try await test.store.profiles.authProfile(id: profile.id, workspaceID: mine.id) == profile)
            var foreign = profile
            foreign.workspaceID = theirs.id
            #expect(try await test.store.profiles.update(foreign) == false, "updating through another workspace changes nothing")
        }
    }

    @Test("a profile in use cannot be deleted; deleting an integration removes its connections and requests", arguments: Backend.available)
    func deletion(backend: Backend) async throws {
        try await TestStore.with(backend) { test in
            let store = test.store
            let workspace = try await store.makeWorkspace()
            let profile = makeProfile(workspaceID: workspace.id)
            try await store.profiles.insert(profile)
            let integration = makeIntegration(workspaceID: workspace.id, profileID: profile.id)
            try await store.integrations.insert(integration)
            _ = try await connect(store, integration, connection: makeConnection(integration))
            #expect(try await store.profiles.deleteAuthProfile(id: profile.id, workspaceID: workspace.id) == .inUse(integrationIDs: [integration.id]))
            #expect(try await store.integrations.deleteIntegration(id: integration.id, workspaceID: "someone-else") == false)
            #expect(try await store.integrations.deleteIntegration(id: integration.id, workspaceID: workspace.id))
            let leftovers = try await store.database.read { db in
                (try await db.select().column("id").from("connections").all().count,
                 try await db.select().column("id").from("authorization_requests").all().count)
            }
            #expect(leftovers == (0, 0))
            #expect(try await store.profiles.deleteAuthProfile(id: profile.id, workspaceID: workspace.id) == .deleted)
            #expect(try await store.profiles.deleteAuthProfile(id: profile.id, workspaceID: workspace.id) == .notFound)
        }
    }

    @Test("a state is accepted once, before it expires", arguments: Backend.available)
    func stateSingleUse(backend: Backend) async throws {
        try await TestStore.with(backend) { test in
            let store = test.store
            let (_, integration) = try await store.insertIntegration()
            let now = Date(unixSeconds: 1_800_000_000)
            let fresh = OAuthState.generate(), stale = OAuthState.generate()
            let request = makeRequest(integration, state: fresh, expiresAt: now.addingTimeInterval(600))
            try await store.authorizations.insert(request)
            try await store.authorizations.insert(makeRequest(integration, state: stale, expiresAt: now.addingTimeInterval(-1)))

            guard case .claimed(let claimed) = try await store.authorizations.claimAuthorization(state: fresh, now: now) else {
                Issue.record("a fresh state must be claimed")
                return
            }
            #expect(claimed.id == request.id)
            #expect(claimed.pkceVerifier == request.pkceVerifier)
            #expect(try await store.authorizations.claimAuthorization(state: fresh, now: now) == .alreadyUsed)
            #expect(try await store.authorizations.claimAuthorization(state: stale, now: now) == .expired)
            #expect(try await store.authorizations.claimAuthorization(state: stale, now: now) == .expired)
            #expect(try await store.authorizations.claimAuthorization(state: OAuthState.generate(), now: now) == .unknown)
        }
    }

    @Test("twenty concurrent callbacks with one state: exactly one claims it", arguments: Backend.available)
    func concurrentClaims(backend: Backend) async throws {
        try await TestStore.with(backend) { test in
            let store = test.store
            let (_, integration) = try await store.insertIntegration()
            let state = OAuthState.generate()
            try await store.authorizations.insert(makeRequest(integration, state: state, expiresAt: Date().addingTimeInterval(600)))
            let claims = try await withThrowingTaskGroup(of: AuthorizationClaim.self) { group in
                for _ in 0..<20 { group.addTask { try await store.authorizations.claimAuthorization(state: state, now: Date()) } }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(claims.filter { if case .claimed = $0 { true } else { false } }.count == 1)
            #expect(claims.filter { $0 == .alreadyUsed }.count == 19)
        }
    }

    @Test("reconnecting replaces the connection in place", arguments: Backend.available)
    func reconnect(backend: Backend) async throws {
        try await TestStore.with(backend) { test in
            let store = test.store
            let (workspace, integration) = try await store.insertIntegration()
            let first = try await connect(store, integration, connection: makeConnection(integration, access: "first"))
            let second = try await connect(store, integration, connection: makeConnection(integration, access: "second", refresh: "r2"))
            #expect(second.id == first.id)
            let all = try await store.connections.connections(integrationID: integration.id, workspaceID: workspace.id)
            #expect(all.count == 1)
            #expect(all.first?.tokens.accessToken == "second")
            #expect(all.first?.tokens.refreshToken == "r2")
            #expect(try await store.integrations.integration(id: integration.id, workspaceID: workspace.id)?.status == .authorized)
        }
    }

    @Test("the refresh lease is exclusive until released or expired; refreshed tokens need the lease", arguments: Backend.available)
    func refreshLease(backend: Backend) async throws {
        try await TestStore.with(backend) { test in
            let store = test.store
            let (_, integration) = try await store.insertIntegration()
            let connection = try await connect(store, integration, connection: makeConnection(integration, refresh: "r1", expiresAt: Date()))
            let now = Date()
            #expect(try await store.connections.acquireRefreshLease(connectionID: connection.id, owner: "A", now: now, duration: 30))
            #expect(try await store.connections.acquireRefreshLease(connectionID: connection.id, owner: "B", now: now, duration: 30) == false)
            // The holder renews its lease while it refreshes; another owner cannot, nor the holder once it lapsed.
            #expect(try await store.connections.renewRefreshLease(connectionID: connection.id, owner: "A", now: now.addingTimeInterval(25), duration: 30))
            #expect(try await store.connections.acquireRefreshLease(connectionID: connection.id, owner: "B", now: now.addingTimeInterval(31), duration: 30) == false,
                    "renewed at 25 s, the lease holds past its first 30 s")
            #expect(try await store.connections.renewRefreshLease(connectionID: connection.id, owner: "B", now: now, duration: 30) == false)
            #expect(try await store.connections.renewRefreshLease(connectionID: connection.id, owner: "A", now: now.addingTimeInterval(60), duration: 30) == false,
                    "a lapsed lease is not renewed: another instance may have taken it")
            let grant = TokenGrant(accessToken: "new", refreshToken: "r2", expiresAt: now.addingTimeInterval(3600))
            #expect(try await store.connections.storeRefreshedTokens(connectionID: connection.id, owner: "B", grant: grant, keepRefreshToken: "r1", now: now) == false)
            #expect(try await store.connections.connection(id: connection.id)?.tokens.accessToken == connection.tokens.accessToken, "B wrote nothing")
            #expect(try await store.connections.acquireRefreshLease(connectionID: connection.id, owner: "B", now: now.addingTimeInterval(56), duration: 30),
                    "an expired lease can be taken over")
            #expect(try await store.connections.storeRefreshedTokens(connectionID: connection.id, owner: "B", grant: grant, keepRefreshToken: "r1", now: now))
            let stored = try #require(try await store.connections.connection(id: connection.id))
            #expect(stored.tokens.accessToken == "new")
            #expect(stored.tokens.refreshToken == "r2")
            #expect(try await store.connections.acquireRefreshLease(connectionID: connection.id, owner: "C", now: now, duration: 30), "storing released the lease")
        }
    }

    @Test("a permanent refresh failure marks the connection and turns the integration to error", arguments: Backend.available)
    func permanentFailure(backend: Backend) async throws {
        try await TestStore.with(backend) { test in
            let store = test.store
            let (workspace, integration) = try await store.insertIntegration(enablement: .enabled)
            let connection = try await connect(store, integration, connection: makeConnection(integration, refresh: "r1", expiresAt: Date()))
            try await store.connections.recordRefreshFailure(connectionID: connection.id, owner: nil, reason: "503 from provider", permanent: false, now: Date())
            #expect(try await store.connections.connection(id: connection.id)?.status == .active, "a transient failure never kills a connection")
            #expect(try await store.connections.connection(id: connection.id)?.lastError == "503 from provider")
            try await store.connections.recordRefreshFailure(connectionID: connection.id, owner: nil, reason: "invalid_grant", permanent: true, now: Date())
            #expect(try await store.connections.connection(id: connection.id)?.status == .needsReauthorization)
            #expect(try await store.integrations.integration(id: integration.id, workspaceID: workspace.id)?.status == .error)
        }
    }

    @Test("the event an authorization reports is stored in its transaction: with the connection, or not at all when the link was used already",
          arguments: Backend.available)
    func eventWithConnection(backend: Backend) async throws {
        try await TestStore.with(backend) { test in
            let store = test.store
            let (workspace, integration) = try await store.insertIntegration(enablement: .enabled)
            @Sendable func event(_ id: String) -> EventRecord {
                EventRecord(id: id, workspaceID: workspace.id, integrationID: integration.id, type: .connectionCreated, endUserID: "u1",
                            payload: .object(["id": .string(id)]), status: .pending, attempts: 0, nextAttemptAt: Date(), lastStatus: nil, lastError: nil,
                            createdAt: Date(), deliveredAt: nil)
            }
            let now = Date()
            let link = ConnectLink(id: "link_1", workspaceID: workspace.id, integrationID: integration.id, endUserID: "u1", conversationID: nil,
                                   tokenHash: "hash-1", reason: .connect, status: .pending, createdAt: now, expiresAt: now.addingTimeInterval(600), completedAt: nil)
            try await store.authorizations.insert(link)
            var first = makeRequest(integration, state: OAuthState.generate(), endUser: "u1", expiresAt: now.addingTimeInterval(600))
            first.connectLinkID = link.id
            try await store.authorizations.insert(first)
            let seen = Counter()
            let completed = try await store.connections.completeAuthorization(
                requestID: first.id, connectLinkID: link.id, connection: makeConnection(integration, endUser: "u1"), now: now,
                report: { previous in _ = seen.next(); return previous == nil ? event("evt_created") : nil })
            #expect(completed.event?.id == "evt_created" && seen.value == 1)
            let stored = try await store.events.events(workspaceID: workspace.id, integrationID: integration.id, limit: 10, before: nil)
            #expect(stored.map(\.id) == ["evt_created"] && stored.first?.status == .pending, "stored, due, for any instance to deliver")

            // The link is used: a second authorization through it stores neither a connection nor its event.
            var second = makeRequest(integration, state: OAuthState.generate(), endUser: "u1", expiresAt: now.addingTimeInterval(600))
            second.connectLinkID = link.id
            try await store.authorizations.insert(second)
            await #expect(throws: ConnectLinkUsed.self) {
                try await store.connections.completeAuthorization(requestID: second.id, connectLinkID: link.id,
                                                                  connection: makeConnection(integration, endUser: "u1"), now: now,
                                                                  report: { _ in event("evt_never") })
            }
            #expect(try await store.events.events(workspaceID: workspace.id, integrationID: integration.id, limit: 10, before: nil).map(\.id) == ["evt_created"])
        }
    }

    @Test("the token version rises with each refresh and each new authorization; a refused token marks the connection only while it still holds that version",
          arguments: Backend.available)
    func tokenVersion(backend: Backend) async throws {
        try await TestStore.with(backend) { test in
            let store = test.store
            let (_, integration) = try await store.insertIntegration(enablement: .enabled)
            let issued = Date(unixSeconds: 1_800_000_000)
            let first = try await connect(store, integration, connection: makeConnection(integration, access: "a1", refresh: "r1", expiresAt: issued.addingTimeInterval(3)))
            #expect(first.tokenVersion == 1)
            #expect(try await store.connections.acquireRefreshLease(connectionID: first.id, owner: "A", now: issued, duration: 30))
            let grant = TokenGrant(accessToken: "a2", refreshToken: "r2", expiresAt: issued.addingTimeInterval(6), issuedAt: issued.addingTimeInterval(3))
            #expect(try await store.connections.storeRefreshedTokens(connectionID: first.id, owner: "A", grant: grant, keepRefreshToken: "r1", now: issued))
            let refreshed = try #require(try await store.connections.connection(id: first.id))
            #expect(refreshed.tokenVersion == 2 && refreshed.tokens.issuedAt == issued.addingTimeInterval(3), "the version and the issue time are stored")

            // A call refused with version 1's token: the connection has moved on, so nothing is marked.
            #expect(try await store.connections.markNeedsReauthorization(connectionID: first.id, tokenVersion: 1, reason: "401", now: issued) == false)
            #expect(try await store.connections.connection(id: first.id)?.status == .active)

            let again = try await connect(store, integration, connection: makeConnection(integration, access: "a3"))
            #expect(again.tokenVersion == 3, "a new authorization of the same connection goes on counting")
            #expect(try await store.connections.connection(id: first.id)?.tokenVersion == 3)
            #expect(try await store.connections.markNeedsReauthorization(connectionID: first.id, tokenVersion: 3, reason: "401", now: issued))
            #expect(try await store.connections.connection(id: first.id)?.status == .needsReauthorization)

            // Releasing a lease leaves the tokens and the version alone.
            let (_, second) = try await store.insertIntegration(enablement: .enabled)
            let other = try await connect(store, second, connection: makeConnection(second, access: "b1"))
            #expect(try await store.connections.acquireRefreshLease(connectionID: other.id, owner: "B", now: issued, duration: 30))
            try await store.connections.releaseRefreshLease(connectionID: other.id, owner: "B")
            #expect(try await store.connections.connection(id: other.id)?.tokenVersion == 1)
            #expect(try await store.connections.acquireRefreshLease(connectionID: other.id, owner: "C", now: issued, duration: 30), "released")
        }
    }

    /// A workspace with a profile (client secret "the-secret") and an integration connected through it ("acc", "ref").
    func seedSecrets(_ store: Store) async throws -> (Workspace, AuthProfile, Integration, Connection) {
        let workspace = try await store.makeWorkspace()
        let profile = makeProfile(workspaceID: workspace.id, secret: "the-secret")
        try await store.profiles.insert(profile)
        let integration = makeIntegration(workspaceID: workspace.id, profileID: profile.id)
        try await store.integrations.insert(integration)
        let connection = try await connect(store, integration, connection: makeConnection(integration, access: "acc", refresh: "ref"))
        return (workspace, profile, integration, connection)
    }

    @Test("rotating the master key re-seals every secret; the old key alone no longer opens them", arguments: Backend.available)
    func masterKeyRotation(backend: Backend) async throws {
        let oldVault = TestStore.vault()
        try await TestStore.with(backend, vault: oldVault) { test in
            let store = test.store
            let (workspace, profile, integration, connection) = try await seedSecrets(store)
            try await store.authorizations.insert(makeRequest(integration, state: OAuthState.generate(), expiresAt: Date().addingTimeInterval(600)))

            let newVault = TestStore.vault()
            #expect(try await store.resealAll(with: newVault) == 5, "secret, access, refresh, and two PKCE verifiers")
            let rotated = Store(database: store.database, vault: newVault, logger: TestStore.logger)
            #expect(try await rotated.profiles.authProfile(id: profile.id, workspaceID: workspace.id)?.clientSecret == "the-secret")
            #expect(try await rotated.connections.connection(id: connection.id)?.tokens.refreshToken == "ref")
            await #expect(throws: TokenVault.VaultError.self) { try await store.connections.connection(id: connection.id) }
        }
    }

    struct Interrupted: Error {}

    @Test("a key-file rotation interrupted after any step leaves every secret readable, and running it again finishes it",
          arguments: MasterKeyFile.Step.allCases)
    func interruptedRotation(step: MasterKeyFile.Step) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("sb-key-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = MasterKeyFile(path: directory.appendingPathComponent("master.key").path)
        let original = TokenVault.generateKeyBase64()
        try file.create(original)
        try await TestStore.with(.sqlite, vault: try file.vault()) { test in
            let store = test.store
            let (workspace, profile, integration, connection) = try await seedSecrets(store)

            /// What the next start reads with: the files as they are now.
            func readable() async throws -> Bool {
                let reader = Store(database: store.database, vault: try file.vault(), logger: TestStore.logger)
                let secret = try await reader.profiles.authProfile(id: profile.id, workspaceID: workspace.id)?.clientSecret
                let refresh = try await reader.connections.connection(id: connection.id)?.tokens.refreshToken
                return secret == "the-secret" && refresh == "ref"
            }
            await #expect(throws: Interrupted.self) {
                try await file.rotate(store: store) { done in if done == step { throw Interrupted() } }
            }
            #expect(try await readable(), "interrupted after \(step)")
            if step != .keyReplaced {
                #expect(file.pending() != nil)
                await #expect(throws: MasterKeyFileError.self, "another new key must wait until the pending one is in place") {
                    try await file.rotate(store: store, newKey: TokenVault.generateKeyBase64())
                }
            }
            // Running it again finishes the rotation (with the same new key when one was pending).
            let pending = file.pending()
            try await file.rotate(store: store)
            #expect(try await readable())
            let current = try file.read()
            #expect(file.pending() == nil && current != original)
            if let pending, step != .keyReplaced { #expect(current == pending) }
            let oldOnly = Store(database: store.database, vault: TokenVault(masterKey: try TokenVault.key(base64: original)), logger: TestStore.logger)
            await #expect(throws: TokenVault.VaultError.self) { try await oldOnly.connections.connection(id: connection.id) }
        }
    }

    @Test("the raw SQLite file holds no plaintext token, refresh token, client secret or verifier")
    func noPlaintextOnDisk() async throws {
        try await TestStore.with(.sqlite) { test in
            let store = test.store
            let workspace = try await store.makeWorkspace()
            let secret = "client-secret-\(UUID().uuidString)", access = "access-\(UUID().uuidString)", refresh = "refresh-\(UUID().uuidString)"
            let profile = makeProfile(workspaceID: workspace.id, secret: secret)
            try await store.profiles.insert(profile)
            let integration = makeIntegration(workspaceID: workspace.id, profileID: profile.id)
            try await store.integrations.insert(integration)
            let request = makeRequest(integration, state: "state-\(UUID().uuidString)", expiresAt: Date().addingTimeInterval(600))
            try await store.authorizations.insert(request)
            _ = try await connect(store, integration, connection: makeConnection(integration, access: access, refresh: refresh))
            // Force the WAL into the main file too, then read every file's bytes.
            try await store.database.write { db in try await db.raw("PRAGMA wal_checkpoint(FULL)").run() }
            let directory = URL(fileURLWithPath: test.sqlitePath!).deletingLastPathComponent()
            var bytes = Data()
            for file in try FileManager.default.contentsOfDirectory(atPath: directory.path) {
                bytes += try Data(contentsOf: directory.appendingPathComponent(file))
            }
            #expect(!bytes.isEmpty)
            for plaintext in [secret, access, refresh, request.pkceVerifier!] {
                #expect(bytes.range(of: Data(plaintext.utf8)) == nil, "found \(plaintext.prefix(12))… in the database file")
            }
            #expect(bytes.range(of: Data("sbv1.".utf8)) != nil, "sealed values are there")
        }
    }
}
