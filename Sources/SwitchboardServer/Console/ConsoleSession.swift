import Crypto
import Foundation
import SwitchboardCore

/// The console's sign-in cookie: workspace, the API key's hash, expiry, and an HMAC over them.
///
/// Keeping the key's hash (never the key) means revoking the key ends its sessions; the HMAC key
/// is derived from the master key, so sessions survive restarts and fail after a key rotation.
struct ConsoleSession: Sendable {
    static let cookieName = "sb_console"
    static let lifetime: TimeInterval = 12 * 3600

    let workspaceID: String
    let keyHash: String
    let expiresAt: Int64

    struct Signer: Sendable {
        let key: SymmetricKey

        init(masterKey: SymmetricKey) {
            key = HKDF<SHA256>.deriveKey(inputKeyMaterial: masterKey, info: Data("switchboard console session v1".utf8), outputByteCount: 32)
        }

        func cookieValue(for session: ConsoleSession) -> String {
            let payload = "\(session.workspaceID).\(session.keyHash).\(session.expiresAt)"
            return payload + "." + Base64URL.encode(HMAC<SHA256>.authenticationCode(for: Data(payload.utf8), using: key))
        }

        /// The session in a cookie value, if it is authentic and unexpired.
        func session(from value: String, now: Date) -> ConsoleSession? {
            let parts = value.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
            guard parts.count == 4, let expiry = Int64(parts[2]), let mac = Base64URL.decode(parts[3]) else { return nil }
            let payload = parts[0...2].joined(separator: ".")
            guard HMAC<SHA256>.isValidAuthenticationCode(mac, authenticating: Data(payload.utf8), using: key) else { return nil }
            guard expiry > now.unixSeconds else { return nil }
            return ConsoleSession(workspaceID: parts[0], keyHash: parts[1], expiresAt: expiry)
        }

        /// A per-session token every console form carries, so another site cannot post on the admin's behalf.
        func csrfToken(forCookie value: String) -> String {
            Base64URL.encode(HMAC<SHA256>.authenticationCode(for: Data("csrf.\(value)".utf8), using: key).prefix(18))
        }

        func isValidCSRF(_ token: String?, cookie value: String) -> Bool {
            guard let token else { return false }
            let expected = Array(csrfToken(forCookie: value).utf8), given = Array(token.utf8)
            guard expected.count == given.count else { return false }
            return zip(expected, given).reduce(0) { $0 | ($1.0 ^ $1.1) } == 0
        }
    }
}
