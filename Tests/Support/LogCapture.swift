import Foundation
public import Logging

/// Keeps every log line (message and metadata) so a test can search them for secrets.
public final class LogCapture: @unchecked Sendable {
    private let lock = NSLock()
    private var kept: [String] = []

    private let makeHandler: (@Sendable (_ label: String, _ capture: LogCapture) -> any LogHandler)?

    /// - Parameter handler: writes the lines instead of the capture's own format (it keeps them with `append`).
    public init(handler: (@Sendable (_ label: String, _ capture: LogCapture) -> any LogHandler)? = nil) {
        self.makeHandler = handler
    }

    public func logger(label: String = "capture", level: Logger.Level = .trace) -> Logger {
        var logger = Logger(label: label) { label in self.makeHandler?(label, self) ?? Handler(capture: self, label: label) }
        logger.logLevel = level
        return logger
    }

    /// Keeps a line another handler wrote (e.g. Switchboard's JSON handler).
    public func append(_ line: String) { lock.withLock { kept.append(line) } }

    public var lines: [String] { lock.withLock { kept } }

    public var text: String { lock.withLock { kept.joined(separator: "\n") } }
    public var count: Int { lock.withLock { kept.count } }

    struct Handler: LogHandler {
        let capture: LogCapture
        let label: String
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            var all = metadata
            all.merge(event.metadata ?? [:]) { $1 }
            capture.append("\(event.level) \(label) \(event.message) \(all.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " "))")
        }
    }
}
