import Crypto
public import Foundation

/// Unguessable values: OAuth `state`, PKCE verifiers, API keys, connect-link tokens.
public enum SecureRandom {
    /// `byteCount` random bytes from the system CSPRNG.
    public static func bytes(_ byteCount: Int) -> [UInt8] {
        // Eight bytes per draw: each draw is a system call.
        var generator = SystemRandomNumberGenerator()
        var bytes: [UInt8] = []
        bytes.reserveCapacity(byteCount + 7)
        while bytes.count < byteCount {
            withUnsafeBytes(of: generator.next() as UInt64) { bytes.append(contentsOf: $0) }
        }
        return Array(bytes.prefix(byteCount))
    }

    /// A base64url string (no padding) carrying `byteCount` random bytes; 32 bytes = 256 bits.
    public static func token(bytes byteCount: Int = 32) -> String {
        Base64URL.encode(bytes(byteCount))
    }

    /// A lowercase hex identifier of `byteCount` random bytes.
    public static func hexIdentifier(bytes byteCount: Int = 12) -> String {
        Hex.encode(bytes(byteCount))
    }
}

/// Lowercase hex. (`String(format: "%02x")` per byte costs microseconds each on Linux, and this runs on every request.)
public enum Hex {
    private static let digits = Array("0123456789abcdef".utf8)

    public static func encode<D: Sequence>(_ bytes: D) -> String where D.Element == UInt8 {
        var characters: [UInt8] = []
        characters.reserveCapacity(bytes.underestimatedCount * 2)
        for byte in bytes {
            characters.append(digits[Int(byte >> 4)])
            characters.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: characters, as: UTF8.self)
    }
}

/// base64url without padding (RFC 4648 §5), as PKCE and URL-borne tokens need.
public enum Base64URL {
    public static func encode<D: Sequence>(_ bytes: D) -> String where D.Element == UInt8 {
        Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    public static func decode(_ string: String) -> Data? {
        var base64 = string.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.count % 4 != 0 { base64 += "=" }
        return Data(base64Encoded: base64)
    }
}

/// SHA-256 hex digests, used to store look-up-only secrets (API keys, `state`) as hashes.
public enum Digest {
    public static func sha256Hex(_ string: String) -> String {
        Hex.encode(SHA256.hash(data: Data(string.utf8)))
    }

    /// Compares two strings in time that depends only on their lengths (for secrets and signatures).
    public static func constantTimeEqual(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        guard x.count == y.count else { return false }
        var difference: UInt8 = 0
        for index in x.indices { difference |= x[index] ^ y[index] }
        return difference == 0
    }
}
