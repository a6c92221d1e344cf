import Crypto
public import Foundation

/// A JSON payload with an HMAC-SHA256 signature, for values that travel through a browser to another party and back:
/// `base64url(JSON).base64url(HMAC-SHA256(secret, base64url(JSON)))`. Anyone holding the secret can read, make and check one.
public enum SignedToken {
    public static func make(_ payload: JSONValue, secret: String) -> String {
        let body = Base64URL.encode((try? JSONEncoder().encode(payload)) ?? Data("null".utf8))
        return body + "." + Base64URL.encode(HMAC<SHA256>.authenticationCode(for: Data(body.utf8), using: SymmetricKey(data: Data(secret.utf8))))
    }

    /// The payload when the signature is right and its `exp` (Unix seconds) has not passed; nil otherwise.
    public static func open(_ token: String, secret: String, now: Date) -> JSONValue? {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 2, parts[0].count <= 4096, let mac = Base64URL.decode(String(parts[1])),
              HMAC<SHA256>.isValidAuthenticationCode(mac, authenticating: Data(parts[0].utf8), using: SymmetricKey(data: Data(secret.utf8))),
              let data = Base64URL.decode(String(parts[0])), let payload = JSONValue.parse(data),
              let expiry = payload["exp"]?.numberValue, expiry > now.timeIntervalSince1970
        else { return nil }
        return payload
    }
}
