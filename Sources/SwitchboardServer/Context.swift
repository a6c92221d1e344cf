import Foundation
import Hummingbird
import Logging
import SwitchboardCore

/// The request context of every route: Hummingbird's core plus the workspace the API key proved.
public struct AppRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    public var workspace: Workspace?
    /// The id of the admin API key that proved it (who did what, for the audit log).
    public var keyID: String?

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
