public import Crypto
import Foundation
import SwitchboardCore

/// Encrypts tokens and client secrets with AES-256-GCM under the master key.
///
/// A sealed value reads `sbv1.<keyID>.<base64(nonce|ciphertext|tag)>`: the key id lets
/// `keys rotate-master` find what an old key sealed, and the associated data (the row and
/// column it belongs to) stops a ciphertext from being moved to another row.
public struct TokenVault: Sendable {
    public enum VaultError: Error, CustomStringConvertible, Equatable {
        case malformedKey(String)
        case unknownKey(String)
        case malformedCiphertext
        case authenticationFailed

        public var description: String {
            switch self {
            case .malformedKey(let why): "master key is malformed: \(why)"
            case .unknownKey(let id): "a value is sealed under master key \(id), which this instance does not have"
            case .malformedCiphertext: "a sealed value is malformed"
            case .authenticationFailed: "a sealed value failed authentication (wrong key or tampered data)"
            }
        }
    }

    private let current: (id: String, key: SymmetricKey)
    private let keys: [String: SymmetricKey]

    /// `masterKey` seals new values; `previousKeys` can still open old ones during a rotation.
    public init(masterKey: SymmetricKey, previousKeys: [SymmetricKey] = []) {
        let id = TokenVault.keyID(of: masterKey)
        self.current = (id, masterKey)
        var keys = [id: masterKey]
        for key in previousKeys { keys[TokenVault.keyID(of: key)] = key }
        self.keys = keys
    }

    /// Parses a base64 master key of exactly 32 bytes.
    public static func key(base64 string: String) throws(VaultError) -> SymmetricKey {
        guard let data = Data(base64Encoded: string.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            throw .malformedKey("it is not base64")
        }
        guard data.count == 32 else { throw .malformedKey("it must decode to 32 bytes, not \(data.count)") }
        return SymmetricKey(data: data)
    }

    /// A new random master key, base64.
    public static func generateKeyBase64() -> String {
        SymmetricKey(size: .bits256).withUnsafeBytes { Data($0).base64EncodedString() }
    }

    /// A short public fingerprint of a key: safe to store and log.
    public static func keyID(of key: SymmetricKey) -> String {
        let digest = key.withUnsafeBytes { SHA256.hash(data: Data("switchboard-key-id".utf8) + Data($0)) }
        return Hex.encode(digest.prefix(6))
    }

    public var currentKeyID: String { current.id }

    public func seal(_ plaintext: String, context: String) throws -> String {
        let box = try AES.GCM.seal(Data(plaintext.utf8), using: current.key, authenticating: Data(context.utf8))
        guard let combined = box.combined else { throw VaultError.malformedCiphertext }
        return "sbv1.\(current.id).\(combined.base64EncodedString())"
    }

    public func open(_ sealed: String, context: String) throws -> String {
        let parts = sealed.split(separator: ".", maxSplits: 2).map(String.init)
        guard parts.count == 3, parts[0] == "sbv1", let combined = Data(base64Encoded: parts[2]) else {
            throw VaultError.malformedCiphertext
        }
        guard let key = keys[parts[1]] else { throw VaultError.unknownKey(parts[1]) }
        do {
            let box = try AES.GCM.SealedBox(combined: combined)
            let data = try AES.GCM.open(box, using: key, authenticating: Data(context.utf8))
            return String(decoding: data, as: UTF8.self)
        } catch {
            throw VaultError.authenticationFailed
        }
    }

}
