public import Foundation
public import SwitchboardCore

/// Asks the provider who a fresh token belongs to (its definition's `identity` call), and revokes tokens.
public struct AccountIdentifier: Sendable {
    public enum Failure: Error, Sendable, Equatable {
        /// The provider refused the token (401): the grant is dead.
        case unauthorized(code: String, message: String)
        /// The account may not be connected (an unverified Intercom admin email).
        case refused(String)
        /// The provider failed or could not be reached.
        case unavailable(String)
    }

    let definition: ProviderDefinition
    let transport: any HTTPTransport
    /// The API version the integration speaks (nil: the definition's default).
    let apiVersion: String?

    public init(definition: ProviderDefinition, transport: any HTTPTransport, apiVersion: String? = nil) {
        self.definition = definition
        self.transport = transport
        self.apiVersion = apiVersion
    }

    public func identify(accessToken: String, apiBase: URL) async throws(Failure) -> ProviderAccount {
        let identity = definition.identity
        let headers = [("Authorization", "Bearer \(accessToken)")] + definition.apiHeaders(version: apiVersion)
        let request = OutboundRequest(method: identity.method, url: apiBase.appendingPathComponent(identity.path), headers: headers, timeout: 15)
        let response: OutboundResponse
        do {
            response = try await transport.send(request)
        } catch {
            throw .unavailable("\(definition.title) could not be reached: \(error)")
        }
        let body = JSONValue.parse(response.body)
        guard (200..<300).contains(response.status) else {
            let first = definition.firstError(in: body)
            let code = first.code ?? "http_\(response.status)"
            let message = first.message ?? "HTTP \(response.status)"
            if response.status == 401 { throw .unauthorized(code: code, message: Problem.clip(message, to: 200)) }
            throw .unavailable("\(definition.title) answered \(response.status) to \(identity.path): \(Problem.clip(message, to: 200))")
        }
        guard let body, let accountID = body.value(at: identity.accountID)?.stringValue else {
            throw .unavailable("\(definition.title)'s \(identity.path) answer has no \(identity.accountID)")
        }
        if let path = identity.emailVerified, body.value(at: path)?.boolValue == false {
            throw .refused("the \(definition.title) admin's email address is not verified; verify it in \(definition.title) and connect again")
        }
        return ProviderAccount(
            id: accountID,
            name: identity.accountName.isEmpty ? accountID : body.value(at: identity.accountName)?.stringValue ?? accountID,
            region: identity.region.flatMap { body.value(at: $0)?.stringValue },
            adminID: identity.adminID.flatMap { body.value(at: $0)?.stringValue },
            adminEmail: identity.adminEmail.flatMap { body.value(at: $0)?.stringValue }
        )
    }

    /// Revokes the token at the provider (its definition's `revoke` call). Best effort: false when it did not work.
    public func revoke(accessToken: String, apiBase: URL) async -> Bool {
        guard let revoke = definition.revoke else { return false }
        let request = OutboundRequest(method: revoke.method, url: apiBase.appendingPathComponent(revoke.path),
                                      headers: [("Authorization", "Bearer \(accessToken)")] + definition.apiHeaders(version: apiVersion), timeout: 15)
        guard let response = try? await transport.send(request) else { return false }
        return (200..<300).contains(response.status)
    }
}
