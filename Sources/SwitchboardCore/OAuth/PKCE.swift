import Crypto
import Foundation

/// RFC 7636 proof key: the verifier stays with Switchboard, the S256 challenge goes to the provider.
public struct PKCE: Sendable, Equatable {
    public let verifier: String

    /// A fresh verifier of 32 random bytes (43 base64url characters).
    public init() { self.verifier = SecureRandom.token(bytes: 32) }

    public init(verifier: String) { self.verifier = verifier }

    /// `BASE64URL(SHA256(ASCII(verifier)))`.
    public var challenge: String { PKCE.challenge(for: verifier) }

    public static let method = "S256"

    public static func challenge(for verifier: String) -> String {
        Base64URL.encode(SHA256.hash(data: Data(verifier.utf8)))
    }
}
