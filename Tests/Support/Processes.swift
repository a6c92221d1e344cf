import AsyncHTTPClient
public import Foundation
import NIOCore
import NIOHTTP1
#if canImport(Glibc)
import Glibc
#endif

/// The built `switchboard` executable, found beside the test bundle.
public enum BuiltBinary {
    public static func url() throws -> URL {
        let candidates = [
            URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("switchboard"),
            URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("switchboard"),
            packageRoot.appendingPathComponent(".build/debug/switchboard"),
        ]
        guard let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0.path) }) else {
            throw TestSupportError("the switchboard executable was not built; looked in \(candidates.map(\.path))")
        }
        return found
    }

    public static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
}

/// A child process whose output goes to files the test can read.
public final class ChildProcess: @unchecked Sendable {
    public let process = Process()
    public let stdoutPath: String
    public let stderrPath: String

    /// Runs `switchboard` (or another executable) with the environment, minus Switchboard's own settings; stdin is
    /// empty unless a pipe is given.
    public init(executable: URL? = nil, arguments: [String], environment: [String: String] = [:], stdin: Pipe? = nil) throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("sb-proc-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        stdoutPath = directory.appendingPathComponent("stdout").path
        stderrPath = directory.appendingPathComponent("stderr").path
        FileManager.default.createFile(atPath: stdoutPath, contents: nil)
        FileManager.default.createFile(atPath: stderrPath, contents: nil)
        process.executableURL = try executable ?? BuiltBinary.url()
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("SWITCHBOARD_") }
        for (key, value) in environment { env[key] = value }
        process.environment = env
        process.standardOutput = FileHandle(forWritingAtPath: stdoutPath)
        process.standardError = FileHandle(forWritingAtPath: stderrPath)
        if let stdin { process.standardInput = stdin } else { process.standardInput = FileHandle.nullDevice }
        try process.run()
    }

    public var stdout: String { (try? String(contentsOfFile: stdoutPath, encoding: .utf8)) ?? "" }
    public var stderr: String { (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "" }

    /// Runs a command to completion (bounded) and returns its exit status and output.
    public static func run(_ arguments: [String], environment: [String: String] = [:], timeout: Duration = .seconds(60)) async throws
        -> (status: Int32, stdout: String, stderr: String) {
        let child = try ChildProcess(arguments: arguments, environment: environment)
        let status = try await child.wait(timeout: timeout)
        return (status, child.stdout, child.stderr)
    }

    /// Waits for exit, killing the process if it outlives `timeout`.
    public func wait(timeout: Duration = .seconds(30)) async throws -> Int32 {
        let deadline = ContinuousClock.now.advanced(by: timeout)
        while process.isRunning {
            if ContinuousClock.now > deadline {
                process.terminate()
                throw TestSupportError("\(process.arguments ?? []) did not exit in time")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        return process.terminationStatus
    }

    /// SIGTERM, then waits.
    public func stop() async -> Int32? {
        guard process.isRunning else { return process.terminationStatus }
        process.terminate()
        return try? await wait(timeout: .seconds(15))
    }

    /// Polls `url` until it answers 200, or fails with the process's stderr.
    public func waitUntilServing(_ url: String, timeout: Duration = .seconds(30)) async throws {
        let deadline = ContinuousClock.now.advanced(by: timeout)
        while ContinuousClock.now < deadline {
            if !process.isRunning { throw TestSupportError("the process exited (\(process.terminationStatus)): \(stderr.suffix(2000))") }
            if let response = try? await HTTPClient.shared.execute(HTTPClientRequest(url: url), timeout: .seconds(2)), response.status == .ok {
                return
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw TestSupportError("\(url) did not answer in time: \(stderr.suffix(2000))")
    }
}

/// A loopback port nobody listens on right now.
public func freePort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw TestSupportError("socket() failed") }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = 0
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let bound = withUnsafePointer(to: &address) { pointer in
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard bound == 0 else { throw TestSupportError("bind() failed") }
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let named = withUnsafeMutablePointer(to: &address) { pointer in
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
    }
    guard named == 0 else { throw TestSupportError("getsockname() failed") }
    return Int(UInt16(bigEndian: address.sin_port))
}

/// Counts calls, across tasks.
public final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    public init() {}
    public func next() -> Int { lock.withLock { count += 1; return count } }
    public var value: Int { lock.withLock { count } }
}

/// What a test's failure message says of a checking script's output (the Python peers, the scale-out harness): each
/// failed check with its detail first, then the output's end and the error output's end.
public func checkReport(_ stdout: String, _ stderr: String) -> String {
    let failed = stdout.split(separator: "\n").filter { $0.hasPrefix("FAILED ") || $0.hasPrefix("FAIL ") }
    let summary = failed.isEmpty ? "no failed check was printed" : failed.joined(separator: "\n")
    return "\(summary)\n--- output (end) ---\n\(stdout.suffix(4000))\n--- errors (end) ---\n\(stderr.suffix(3000))"
}

/// What a test's failure message says of a process's error output: from where a crash begins (Swift's backtracer
/// prints "Program crashed", the runtime "Fatal error"), its first lines, which name the cause; otherwise the end.
public func exitReport(_ stderr: String) -> String {
    for marker in ["Fatal error", "Program crashed", "Crashed:"] {
        if let start = stderr.range(of: marker)?.lowerBound {
            let from = stderr.index(start, offsetBy: -min(500, stderr.distance(from: stderr.startIndex, to: start)))
            return String(stderr[from...].prefix(5000))
        }
    }
    return String(stderr.suffix(1500))
}
