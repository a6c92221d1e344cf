import Foundation
import Logging
import SQLKit

/// One numbered schema change. Released migrations are never edited: add a new one.
struct Migration: Sendable {
    let version: Int
    let name: String
    let statements: [String]
}

/// The schema, in order. The same SQL serves SQLite and PostgreSQL.
enum Migrations {
    static let all: [Migration] = [
        Migration(version: 1, name: "workspaces, keys, profiles, integrations, connections, authorization requests", statements: [
            """
            CREATE TABLE workspaces (
                id TEXT PRIMARY KEY,
                name TEXT NOT NULL UNIQUE,
                created_at BIGINT NOT NULL
            )
            """,
            """
            CREATE TABLE api_keys (
                id TEXT PRIMARY KEY,
                workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
                key_hash TEXT NOT NULL UNIQUE,
                display_prefix TEXT NOT NULL,
                created_at BIGINT NOT NULL,
                revoked_at BIGINT
            )
            """,
            """
            CREATE TABLE auth_profiles (
                id TEXT PRIMARY KEY,
                workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
                name TEXT NOT NULL,
                description TEXT,
                client_id TEXT NOT NULL,
                client_secret_sealed TEXT NOT NULL,
                authorization_url TEXT NOT NULL,
                token_url TEXT NOT NULL,
                refresh_token_url TEXT,
                scopes TEXT NOT NULL,
                pkce INTEGER NOT NULL,
                token_request_format TEXT NOT NULL,
                exchange_style TEXT NOT NULL,
                authorization_parameters TEXT NOT NULL,
                fields TEXT NOT NULL,
                created_at BIGINT NOT NULL,
                updated_at BIGINT NOT NULL
            )
            """,
            "CREATE INDEX auth_profiles_workspace ON auth_profiles (workspace_id)",
            """
            CREATE TABLE integrations (
                id TEXT PRIMARY KEY,
                workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
                name TEXT NOT NULL,
                provider TEXT NOT NULL,
                app TEXT NOT NULL,
                auth_profile_id TEXT REFERENCES auth_profiles(id) ON DELETE RESTRICT,
                authorization_mode TEXT NOT NULL,
                region TEXT,
                notify_url TEXT,
                enablement TEXT NOT NULL,
                created_at BIGINT NOT NULL,
                updated_at BIGINT NOT NULL
            )
            """,
            "CREATE INDEX integrations_workspace ON integrations (workspace_id)",
            "CREATE INDEX integrations_profile ON integrations (auth_profile_id)",
            """
            CREATE TABLE connections (
                id TEXT PRIMARY KEY,
                workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
                integration_id TEXT NOT NULL REFERENCES integrations(id) ON DELETE CASCADE,
                end_user_id TEXT NOT NULL,
                status TEXT NOT NULL,
                account_id TEXT NOT NULL,
                account_name TEXT NOT NULL,
                account_region TEXT,
                admin_id TEXT,
                admin_email TEXT,
                access_token_sealed TEXT NOT NULL,
                refresh_token_sealed TEXT,
                token_type TEXT NOT NULL,
                scope TEXT,
                expires_at BIGINT,
                last_error TEXT,
                last_refreshed_at BIGINT,
                refresh_lease_owner TEXT,
                refresh_lease_until BIGINT,
                created_at BIGINT NOT NULL,
                updated_at BIGINT NOT NULL,
                UNIQUE (integration_id, end_user_id)
            )
            """,
            """
            CREATE TABLE authorization_requests (
                id TEXT PRIMARY KEY,
                workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
                integration_id TEXT NOT NULL REFERENCES integrations(id) ON DELETE CASCADE,
                end_user_id TEXT NOT NULL,
                state_hash TEXT NOT NULL UNIQUE,
                pkce_verifier_sealed TEXT,
                redirect_uri TEXT NOT NULL,
                status TEXT NOT NULL,
                created_at BIGINT NOT NULL,
                expires_at BIGINT NOT NULL,
                error TEXT
            )
            """,
            "CREATE INDEX authorization_requests_expiry ON authorization_requests (status, expires_at)",
        ]),
        Migration(version: 2, name: "runs: the audit log of action executions", statements: [
            """
            CREATE TABLE runs (
                id TEXT PRIMARY KEY,
                workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
                integration_id TEXT NOT NULL,
                action TEXT NOT NULL,
                end_user_id TEXT,
                started_at_ms BIGINT NOT NULL,
                duration_ms INTEGER NOT NULL,
                outcome TEXT NOT NULL,
                http_status INTEGER NOT NULL,
                provider_request_id TEXT
            )
            """,
            "CREATE INDEX runs_workspace_started ON runs (workspace_id, started_at_ms, id)",
        ]),
        Migration(version: 3, name: "idempotency keys for action writes", statements: [
            """
            CREATE TABLE idempotency_keys (
                id TEXT NOT NULL UNIQUE,
                workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
                integration_id TEXT NOT NULL,
                idempotency_key TEXT NOT NULL,
                request_hash TEXT NOT NULL,
                status TEXT NOT NULL,
                outcome_sealed TEXT,
                created_at BIGINT NOT NULL,
                PRIMARY KEY (workspace_id, integration_id, idempotency_key)
            )
            """,
        ]),
        Migration(version: 4, name: "connect links for end users; authorization requests bound to a link and a browser", statements: [
            """
            CREATE TABLE connect_links (
                id TEXT PRIMARY KEY,
                workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
                integration_id TEXT NOT NULL REFERENCES integrations(id) ON DELETE CASCADE,
                end_user_id TEXT NOT NULL,
                conversation_id TEXT,
                token_hash TEXT NOT NULL UNIQUE,
                reason TEXT NOT NULL,
                status TEXT NOT NULL,
                created_at BIGINT NOT NULL,
                expires_at BIGINT NOT NULL,
                completed_at BIGINT
            )
            """,
            "CREATE INDEX connect_links_user ON connect_links (integration_id, end_user_id)",
            "ALTER TABLE authorization_requests ADD COLUMN connect_link_id TEXT",
            "ALTER TABLE authorization_requests ADD COLUMN browser_binding_hash TEXT",
        ]),
        Migration(version: 5, name: "events for assistants, signing secrets, verify URLs, resumable actions", statements: [
            "ALTER TABLE integrations ADD COLUMN signing_secret_sealed TEXT",
            "ALTER TABLE integrations ADD COLUMN verify_url TEXT",
            """
            CREATE TABLE events (
                id TEXT PRIMARY KEY,
                workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
                integration_id TEXT NOT NULL,
                type TEXT NOT NULL,
                end_user_id TEXT,
                payload_sealed TEXT NOT NULL,
                status TEXT NOT NULL,
                attempts INTEGER NOT NULL,
                next_attempt_at BIGINT,
                lease_until BIGINT,
                last_status INTEGER,
                last_error TEXT,
                created_at BIGINT NOT NULL,
                delivered_at BIGINT
            )
            """,
            "CREATE INDEX events_due ON events (status, next_attempt_at)",
            "CREATE INDEX events_workspace ON events (workspace_id, created_at, id)",
            """
            CREATE TABLE pending_actions (
                id TEXT PRIMARY KEY,
                workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
                integration_id TEXT NOT NULL REFERENCES integrations(id) ON DELETE CASCADE,
                connect_link_id TEXT NOT NULL REFERENCES connect_links(id) ON DELETE CASCADE,
                end_user_id TEXT NOT NULL,
                conversation_id TEXT,
                action TEXT NOT NULL,
                input_sealed TEXT NOT NULL,
                status TEXT NOT NULL,
                created_at BIGINT NOT NULL,
                expires_at BIGINT NOT NULL
            )
            """,
            "CREATE INDEX pending_actions_link ON pending_actions (connect_link_id, status)",
        ]),
        Migration(version: 6, name: "used verifyURL confirmations", statements: [
            "CREATE TABLE used_confirmations (id TEXT PRIMARY KEY, expires_at BIGINT NOT NULL)",
        ]),
        Migration(version: 7, name: "admin API key names, expiry and last use; console sessions kept server-side", statements: [
            "ALTER TABLE api_keys ADD COLUMN name TEXT",
            "ALTER TABLE api_keys ADD COLUMN expires_at BIGINT",
            "ALTER TABLE api_keys ADD COLUMN last_used_at BIGINT",
            "CREATE INDEX api_keys_workspace ON api_keys (workspace_id, created_at)",
            """
            CREATE TABLE console_sessions (
                id TEXT PRIMARY KEY,
                key_id TEXT NOT NULL REFERENCES api_keys(id) ON DELETE CASCADE,
                workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
                created_at BIGINT NOT NULL,
                expires_at BIGINT NOT NULL
            )
            """,
            "CREATE INDEX console_sessions_key ON console_sessions (key_id)",
        ]),
        Migration(version: 8, name: "admin audit log", statements: [
            """
            CREATE TABLE audit_log (
                id TEXT PRIMARY KEY,
                workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
                actor TEXT NOT NULL,
                action TEXT NOT NULL,
                target_type TEXT NOT NULL,
                target_id TEXT,
                detail TEXT NOT NULL,
                created_at_ms BIGINT NOT NULL
            )
            """,
            "CREATE INDEX audit_log_workspace ON audit_log (workspace_id, created_at_ms, id)",
        ]),
        Migration(version: 9, name: "who started an authorization", statements: [
            "ALTER TABLE authorization_requests ADD COLUMN started_by TEXT",
        ]),
        Migration(version: 10, name: "agent tokens, an integration's tool allow-list, a run's channel and agent token", statements: [
            """
            CREATE TABLE agent_tokens (
                id TEXT PRIMARY KEY,
                workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
                integration_id TEXT NOT NULL REFERENCES integrations(id) ON DELETE CASCADE,
                name TEXT NOT NULL,
                token_hash TEXT NOT NULL UNIQUE,
                display_prefix TEXT NOT NULL,
                end_user_id TEXT,
                tools TEXT,
                created_at BIGINT NOT NULL,
                expires_at BIGINT,
                last_used_at BIGINT,
                revoked_at BIGINT
            )
            """,
            "CREATE INDEX agent_tokens_integration ON agent_tokens (integration_id, created_at, id)",
            "ALTER TABLE integrations ADD COLUMN tool_allow_list TEXT",
            "ALTER TABLE runs ADD COLUMN channel TEXT",
            "ALTER TABLE runs ADD COLUMN agent_token_id TEXT",
        ]),
        Migration(version: 11, name: "MCP sessions and the URL elicitations they wait on", statements: [
            """
            CREATE TABLE mcp_sessions (
                id TEXT PRIMARY KEY,
                agent_token_id TEXT NOT NULL REFERENCES agent_tokens(id) ON DELETE CASCADE,
                workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
                protocol_version TEXT NOT NULL,
                elicits_url INTEGER NOT NULL,
                elicits_form INTEGER NOT NULL,
                created_at BIGINT NOT NULL,
                last_seen_at BIGINT NOT NULL
            )
            """,
            "CREATE INDEX mcp_sessions_last_seen ON mcp_sessions (last_seen_at)",
            """
            CREATE TABLE mcp_elicitations (
                id TEXT PRIMARY KEY,
                session_id TEXT NOT NULL REFERENCES mcp_sessions(id) ON DELETE CASCADE,
                integration_id TEXT NOT NULL REFERENCES integrations(id) ON DELETE CASCADE,
                end_user_id TEXT NOT NULL,
                created_at BIGINT NOT NULL
            )
            """,
            "CREATE INDEX mcp_elicitations_session ON mcp_elicitations (session_id, created_at)",
        ]),
        Migration(version: 12, name: "a connection's token version and when its token was issued", statements: [
            "ALTER TABLE connections ADD COLUMN token_version BIGINT NOT NULL DEFAULT 1",
            "ALTER TABLE connections ADD COLUMN token_issued_at BIGINT",
        ]),
        Migration(version: 13, name: "the outbox; an idempotency claim's lease", statements: [
            """
            CREATE TABLE outbox (
                id TEXT PRIMARY KEY,
                kind TEXT NOT NULL,
                subject TEXT NOT NULL,
                due_at BIGINT NOT NULL,
                attempts INTEGER NOT NULL,
                lease_owner TEXT,
                lease_until BIGINT,
                last_error TEXT,
                created_at BIGINT NOT NULL
            )
            """,
            "CREATE INDEX outbox_due ON outbox (due_at)",
            "ALTER TABLE idempotency_keys ADD COLUMN lease_until BIGINT",
        ]),
        Migration(version: 14, name: "bounds per tenant: one elicitation per session and user, one stream per session, reusable connect links", statements: [
            "DELETE FROM mcp_elicitations WHERE id NOT IN (SELECT MIN(id) FROM mcp_elicitations GROUP BY session_id, integration_id, end_user_id)",
            "CREATE UNIQUE INDEX mcp_elicitations_one ON mcp_elicitations (session_id, integration_id, end_user_id)",
            "ALTER TABLE mcp_elicitations ADD COLUMN expires_at BIGINT",
            "ALTER TABLE mcp_sessions ADD COLUMN stream_owner TEXT",
            "ALTER TABLE mcp_sessions ADD COLUMN stream_until BIGINT",
            "CREATE INDEX mcp_sessions_token ON mcp_sessions (agent_token_id, stream_until)",
            "ALTER TABLE connect_links ADD COLUMN token_sealed TEXT",
            "CREATE INDEX connect_links_workspace ON connect_links (workspace_id, status, expires_at)",
            "CREATE INDEX pending_actions_workspace ON pending_actions (workspace_id, status, expires_at)",
            "CREATE INDEX authorization_requests_link ON authorization_requests (connect_link_id)",
        ]),
        Migration(version: 15, name: "the API version an integration speaks", statements: [
            "ALTER TABLE integrations ADD COLUMN api_version TEXT",
        ]),
    ]

    /// Applies every migration not yet recorded, each in its own transaction; safe to run from several instances at once.
    ///
    /// All on one pooled connection: a SQLite connection keeps the schema it last read, and SQLiteNIO takes a
    /// statement's column names when it prepares it, so a connection that had read the schema between two migrations
    /// would name a `SELECT *`'s columns as they were (a later column missing from its rows) until it next re-read it.
    static func run(on database: Database, logger: Logger) async throws -> [Int] {
        let isPostgres = database.dialect == .postgres
        let applied = try await database.write(limit: nil) { db -> [Int] in
            try await db.raw("""
                CREATE TABLE IF NOT EXISTS schema_migrations (
                    version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)
                """).run()
            var applied: [Int] = []
            for migration in all {
                // IMMEDIATE takes SQLite's write lock up front, so two migrators queue rather than deadlock.
                try await db.raw(SQLQueryString(isPostgres ? "BEGIN" : "BEGIN IMMEDIATE")).run()
                do {
                    if isPostgres {
                        // Serialises migrators across instances; released at COMMIT.
                        try await db.raw("SELECT pg_advisory_xact_lock(7263514)").run()
                    }
                    let done = try await db.select().column("version").from("schema_migrations")
                        .where("version", .equal, migration.version).first()
                    if done == nil {
                        for statement in migration.statements {
                            try await db.raw(SQLQueryString(statement)).run()
                        }
                        try await db.insert(into: "schema_migrations")
                            .columns("version", "name", "applied_at")
                            .values(SQLBind(migration.version), SQLBind(migration.name), SQLBind(Int64(Date().timeIntervalSince1970)))
                            .run()
                        applied.append(migration.version)
                    }
                    try await db.raw("COMMIT").run()
                } catch {
                    try? await db.raw("ROLLBACK").run()
                    throw error
                }
            }
            return applied
        }
        for version in applied {
            logger.info("applied migration", metadata: ["version": "\(version)", "name": "\(all.first { $0.version == version }?.name ?? "")"])
        }
        return applied
    }
}
