import Crypto
import Foundation
import Testing
import SwitchboardStore

@Suite("Token vault")
struct VaultTests {
    let vault = TokenVault(masterKey: try! TokenVault.key(base64: TokenVault.generateKeyBase64()))

    @Test("seal then open gives the plaintext back; the sealed form names the key and hides the value")
    func roundTrip() throws {
        let sealed = try vault.seal("secret-token-123", context: "connections:c1:access_token")
        #expect(sealed.hasPrefix("sbv1.\(vault.currentKeyID)."))
        #expect(!sealed.contains("secret-token-123"))
        #expect(try vault.open(sealed, context: "connections:c1:access_token") == "secret-token-123")
    }

    @Test("sealing twice gives different ciphertexts (fresh nonces)")
    func nonces() throws {
        #expect(try vault.seal("x", context: "c") != vault.seal("x", context: "c"))
    }

    @Test("a ciphertext moved to another row or column does not open")
    func contextBinding() throws {
        let sealed = try vault.seal("token", context: "connections:c1:access_token")
        #expect(throws: TokenVault.VaultError.authenticationFailed) { try vault.open(sealed, context: "connections:c2:access_token") }
        #expect(throws: TokenVault.VaultError.authenticationFailed) { try vault.open(sealed, context: "connections:c1:refresh_token") }
    }

    @Test("a tampered ciphertext does not open")
    func tampering() throws {
        let sealed = try vault.seal("token", context: "c")
        var bytes = Data(base64Encoded: String(sealed.split(separator: ".")[2]))!
        bytes[bytes.count - 1] ^= 0x01
        let tampered = "sbv1.\(vault.currentKeyID).\(bytes.base64EncodedString())"
        #expect(throws: TokenVault.VaultError.authenticationFailed) { try vault.open(tampered, context: "c") }
        #expect(throws: TokenVault.VaultError.malformedCiphertext) { try vault.open("plaintext", context: "c") }
    }

    @Test("a previous key still opens what it sealed; an unknown key is named")
    func rotation() throws {
        let oldKey = SymmetricKey(size: .bits256), newKey = SymmetricKey(size: .bits256)
        let old = TokenVault(masterKey: oldKey)
        let sealed = try old.seal("v", context: "c")
        #expect(try TokenVault(masterKey: newKey, previousKeys: [oldKey]).open(sealed, context: "c") == "v")
        #expect(throws: TokenVault.VaultError.unknownKey(old.currentKeyID)) { try TokenVault(masterKey: newKey).open(sealed, context: "c") }
    }

    @Test("master keys must be base64 of exactly 32 bytes")
    func keyParsing() {
        #expect(throws: TokenVault.VaultError.self) { try TokenVault.key(base64: "not base64!") }
        #expect(throws: TokenVault.VaultError.malformedKey("it must decode to 32 bytes, not 16")) {
            try TokenVault.key(base64: Data(count: 16).base64EncodedString())
        }
    }
}
