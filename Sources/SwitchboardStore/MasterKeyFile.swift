import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A master key kept in a file (the demo's `--data` folder), and its rotation, which never leaves the database sealed
/// under a key that is not safely on disk:
///
/// 1. the new key is written beside the current one (`master.key.new`, mode 0600) and fsynced;
/// 2. the database is re-sealed under it, in one transaction, reading values sealed under either key;
/// 3. `master.key.new` replaces `master.key` by rename, and the folder is fsynced.
///
/// Interrupted anywhere, every secret stays readable: before step 3 the current file plus `master.key.new` (which
/// readers take as a previous key) open everything, and running the rotation again finishes it with the same new key.
/// The key it replaced is kept as `master.key.old` (also read as a previous key), so that what a process still
/// running with it seals meanwhile stays readable; restart such processes, then a further rotation drops it.
public struct MasterKeyFile: Sendable {
    public let path: String
    public var pendingPath: String { path + ".new" }
    public var oldPath: String { path + ".old" }

    public init(path: String) { self.path = path }

    public enum Step: Sendable, CaseIterable { case newKeyWritten, databaseResealed, keyReplaced }

    public func read() throws -> String { try Self.readKey(path) }

    /// A key left by an interrupted rotation, if any.
    public func pending() -> String? {
        FileManager.default.fileExists(atPath: pendingPath) ? try? Self.readKey(pendingPath) : nil
    }

    /// The keys besides the current one that values may be sealed under: an interrupted rotation's pending key, and
    /// the key the last rotation replaced.
    public func previousKeys() -> [String] {
        [pending(), FileManager.default.fileExists(atPath: oldPath) ? try? Self.readKey(oldPath) : nil].compactMap { $0 }
    }

    /// Every key a reader needs: the current one, then the previous ones.
    public func vault() throws -> TokenVault {
        TokenVault(masterKey: try TokenVault.key(base64: try read()), previousKeys: try previousKeys().map { try TokenVault.key(base64: $0) })
    }

    /// Writes a key that does not exist yet (a new demo folder).
    public func create(_ key: String) throws {
        try Self.writeDurably(key, to: path)
    }

    /// Re-seals the store under a new key (`newKey`, else the pending key of an interrupted rotation, else a fresh one)
    /// and makes it the file's key. `after` is called after each step (tests interrupt there). Returns the new key's
    /// id and how many values were re-sealed.
    @discardableResult
    public func rotate(store: Store, newKey: String? = nil, after: (Step) throws -> Void = { _ in }) async throws -> (keyID: String, resealed: Int) {
        if let pending = pending(), let newKey, newKey != pending {
            throw MasterKeyFileError("an interrupted rotation to the key in \(pendingPath) must finish first: run it again without a new key")
        }
        let key = newKey ?? pending() ?? TokenVault.generateKeyBase64()
        let newVault = TokenVault(masterKey: try TokenVault.key(base64: key))
        if pending() != key { try Self.writeDurably(key, to: pendingPath) }
        try after(.newKeyWritten)
        // Values already sealed under the new key (an earlier, interrupted run) open too.
        let current = try read()
        let reader = Store(database: store.database, vault: TokenVault(masterKey: try TokenVault.key(base64: current),
                                                                       previousKeys: try ([key] + previousKeys()).map { try TokenVault.key(base64: $0) }),
                           logger: store.logger, clock: store.clock)
        let count = try await reader.resealAll(with: newVault)
        try after(.databaseResealed)
        if current != key { try Self.writeDurably(current, to: oldPath) }
        guard rename(pendingPath, path) == 0 else { throw MasterKeyFileError("could not replace \(path): errno \(errno)") }
        Self.syncDirectory(of: path)
        try after(.keyReplaced)
        return (newVault.currentKeyID, count)
    }

    static func readKey(_ path: String) throws -> String {
        try String(contentsOfFile: path, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Writes `key` to a temporary file (0600), fsyncs it, renames it into place, and fsyncs the folder.
    static func writeDurably(_ key: String, to path: String) throws {
        let temporary = path + ".tmp"
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        guard descriptor >= 0 else { throw MasterKeyFileError("could not write \(temporary): errno \(errno)") }
        let bytes = Array((key + "\n").utf8)
        let written = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        let synced = fsync(descriptor)
        close(descriptor)
        guard written == bytes.count, synced == 0 else { throw MasterKeyFileError("could not write \(temporary) completely") }
        guard rename(temporary, path) == 0 else { throw MasterKeyFileError("could not move \(temporary) to \(path): errno \(errno)") }
        syncDirectory(of: path)
    }

    static func syncDirectory(of path: String) {
        let descriptor = open((path as NSString).deletingLastPathComponent, O_RDONLY)
        guard descriptor >= 0 else { return }
        _ = fsync(descriptor)
        close(descriptor)
    }
}

public struct MasterKeyFileError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
