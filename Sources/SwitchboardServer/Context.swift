import Foundation
import Synchronization
public import Hummingbird
import Logging
public import SwitchboardCore

/// The request context of every route: Hummingbird's core plus the workspace the API key proved.
public struct AppRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    public var workspace: Workspace?
    /// The id of the admin API key that proved it (who did what, for the audit log).
    public var keyID: String?
    /// The console session the console's middleware found, and the form of a POST it checked.
    var console: ConsoleSignIn?
    /// The agent token `/mcp`'s middleware accepted.
    var agentToken: AgentToken?
    /// What the request log says about whom the request was for, learnt by the middleware inside it.
    let facts = RequestFacts()

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.workspace = nil
        self.keyID = nil
    }

    /// Admin bodies are small; this bounds what a request may make the server buffer.
    public var maxUploadSize: Int { 256 * 1024 }
}

/// The context of `/v1` routes: it cannot exist without an authenticated workspace.
public struct WorkspaceRequestContext: ChildRequestContext {
    public typealias ParentContext = AppRequestContext
    public var coreContext: CoreRequestContextStorage
    public let workspace: Workspace
    public let keyID: String

    public init(context: AppRequestContext) throws {
        guard let workspace = context.workspace, let keyID = context.keyID else { throw Problem.unauthenticated }
        self.coreContext = context.coreContext
        self.workspace = workspace
        self.keyID = keyID
    }

    public var maxUploadSize: Int { 256 * 1024 }
}

/// A signed-in console admin: the workspace, the key that opened the session, its CSRF token, and for a POST the form
/// whose CSRF token was checked.
struct ConsoleSignIn: Sendable {
    let workspace: Workspace
    let keyID: String
    let csrf: String
    let cookie: String
    var form: [String: String] = [:]
    var principal: Principal { Principal(workspace: workspace, keyID: keyID) }
}

/// The context of the console's signed-in pages: it cannot exist without a session (`ConsoleSessionMiddleware`).
struct ConsoleRequestContext: ChildRequestContext {
    typealias ParentContext = AppRequestContext
    var coreContext: CoreRequestContextStorage
    let session: ConsoleSignIn

    init(context: AppRequestContext) throws {
        guard let session = context.console else { throw Problem.unauthenticated }
        self.coreContext = context.coreContext
        self.session = session
    }

    var form: [String: String] { session.form }
    var maxUploadSize: Int { 256 * 1024 }
}

/// The workspace and integration a request turned out to be for: the authenticating middleware learns them after the
/// request log's middleware has passed the request on, so they travel back in this box (contexts are values).
final class RequestFacts: Sendable {
    private let state = Mutex<(workspaceID: String?, integrationID: String?)>((nil, nil))

    func note(workspaceID: String?, integrationID: String? = nil) {
        state.withLock { state in
            if let workspaceID { state.workspaceID = workspaceID }
            if let integrationID { state.integrationID = integrationID }
        }
    }

    var workspaceID: String? { state.withLock { $0.workspaceID } }
    var integrationID: String? { state.withLock { $0.integrationID } }
}
