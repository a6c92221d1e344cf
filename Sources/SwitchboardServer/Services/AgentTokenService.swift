import Foundation
import Providers
import SwitchboardCore
import SwitchboardStore

/// Agent tokens: what an admin hands an AI agent for one integration's MCP tools — optionally for one end user and a
/// subset of the tools. The token is shown once; only its hash is stored.
struct AgentTokenService: Sendable {
    let store: Store
    let integrations: IntegrationService
    let clock: any WallClock
    let audit: AuditLog

    /// At most this many usable tokens per integration (revoked and expired ones stay listed for the audit trail until
    /// deleted, and do not count).
    static let maxPerIntegration = 1_000

    /// Creates a token from checked input: `name`, optional `userId`, `tools` (action names, within the integration's
    /// allow-list) and `expiresIn` (seconds, a minute to ten years). Returns the token and its secret.
    func create(integrationID: String, _ input: InputReader, by principal: Principal) async throws -> (token: AgentToken, secret: String) {
        let record = try await integrations.load(id: integrationID, workspace: principal.workspace)
        let integration = record.integration
        let name = input.string("name", required: true, maxLength: 200)
        let userID = input.string("userId", maxLength: 200)
        let tools = input.has("tools") ? input.stringArray("tools", maxCount: 500, maxLength: 200) : nil
        if let tools { integrations.checkTools(tools, for: integration, input: input) }
        var expiresAt: Date?
        if input.has("expiresIn") {
            if let seconds = input.number("expiresIn") {
                if (60...(10 * 365 * 86_400)).contains(seconds) { expiresAt = clock.now().addingTimeInterval(seconds.rounded(.down)) } else {
                    input.fail("expiresIn", "must be a number of seconds from 60 (a minute) to 315360000 (ten years)")
                }
            }
        }
        try input.finish()
        guard let name else { throw Problem.validation(input.errors) }
        if userID != nil, integration.authorization == .preauthorized {
            throw IntegrationService.perUserOnly("userId", "a pre-authorized integration acts with its one shared connection")
        }
        if let tools, let catalog = integrations.providers.registry[integration.provider]?.catalog,
           let outside = IntegrationService.toolsOutsideAllowList(tools, allowed: integration.toolAllowList, catalog: catalog) { throw outside }
        if try await store.agentTokens.usableAgentTokenCount(integrationID: integration.id, workspaceID: principal.workspace.id, now: clock.now())
            >= Self.maxPerIntegration {
            throw WorkspaceLimits.reached("usable agent tokens for this integration", limit: Self.maxPerIntegration,
                                          advice: "Revoke tokens no longer used, or use another integration.")
        }
        let secret = AgentToken.generate()
        let token = AgentToken(id: Identifier.make("atok"), workspaceID: principal.workspace.id, integrationID: integration.id, name: name,
                               displayPrefix: String(secret.prefix(12)), endUserID: userID, tools: tools, createdAt: clock.now(), expiresAt: expiresAt)
        try await store.agentTokens.insert(token, secret: secret)
        await audit.record(principal, "agent_token.created", "integration", integration.id,
                           ["agentTokenId": .string(token.id), "forEndUser": .bool(userID != nil), "tools": tools.map(JSONValue.strings) ?? .null])
        return (token, secret)
    }

    func list(integrationID: String, by principal: Principal) async throws -> [AgentToken] {
        let record = try await integrations.load(id: integrationID, workspace: principal.workspace)
        return try await store.agentTokens.agentTokens(integrationID: record.integration.id, workspaceID: principal.workspace.id)
    }

    /// Revokes a token: `/mcp` refuses it at once in this instance, and within a second everywhere.
    func revoke(id: String, integrationID: String, by principal: Principal) async throws -> AgentToken {
        let record = try await integrations.load(id: integrationID, workspace: principal.workspace)
        guard let token = try await store.agentTokens.revokeAgentToken(id: id, integrationID: record.integration.id, workspaceID: principal.workspace.id,
                                                                       now: clock.now()) else {
            throw Problem.notFound("agent token", id: id)
        }
        await audit.record(principal, "agent_token.revoked", "integration", record.integration.id, ["agentTokenId": .string(id)])
        return token
    }

    /// Deletes a token that no longer works (revoked or expired); a working one must be revoked first.
    func delete(id: String, integrationID: String, by principal: Principal) async throws {
        let record = try await integrations.load(id: integrationID, workspace: principal.workspace)
        switch try await store.agentTokens.deleteAgentToken(id: id, integrationID: record.integration.id, workspaceID: principal.workspace.id, now: clock.now()) {
        case .notFound: throw Problem.notFound("agent token", id: id)
        case .stillWorks:
            throw Problem.conflict("agent_token_active", "The agent token still works; revoke it first (DELETE without purge), then delete it.", field: "purge")
        case .deleted:
            await audit.record(principal, "agent_token.deleted", "integration", record.integration.id, ["agentTokenId": .string(id)])
        }
    }
}
