import Synchronization

/// Identifiers: a readable prefix and 96 random bits.
public enum Identifier {
    public static func make(_ prefix: String) -> String { "\(prefix)_\(SecureRandom.hexIdentifier(bytes: 12))" }

    /// A prefix, this process's count of ordered identifiers (12 hex digits), then 64 random bits: made one after
    /// another in one process, they sort in the order they were made. Lists ordered by a time and then the identifier
    /// (the audit log) keep the order of records that share a millisecond.
    public static func ordered(_ prefix: String) -> String {
        let count = sequence.withLock { value -> UInt64 in
            value &+= 1
            return value
        }
        let digits = String(count, radix: 16)
        return "\(prefix)_\(String(repeating: "0", count: max(0, 12 - digits.count)))\(digits)\(SecureRandom.hexIdentifier(bytes: 8))"
    }

    private static let sequence = Mutex<UInt64>(0)
}
