import Foundation
public import Logging

/// How log lines are written: `text` (swift-log's stream format, for a terminal) or `json` (one object a line, for a
/// log shipper).
public enum LogFormat: String, Sendable, CaseIterable {
    case text, json

    /// A logger writing to standard error in this format (standard output stays for what a command prints).
    public func logger(label: String, level: Logger.Level) -> Logger {
        var logger: Logger
        switch self {
        case .text: logger = Logger(label: label) { StreamLogHandler.standardError(label: $0) }
        case .json: logger = Logger(label: label) { JSONLogHandler(label: $0, output: .standardError) }
        }
        logger.logLevel = level
        return logger
    }
}

/// Writes each log event as one JSON object on one line: `time` (ISO 8601, milliseconds, UTC), `level`, `logger`,
/// `message`, then the metadata as members. Hummingbird's `hb.request.id` is written as `request_id`; numbers and
/// booleans logged as such stay JSON numbers and booleans; nested metadata become objects and arrays.
///
/// It writes what the code logs and nothing else: what must never be logged (secrets, connect tokens, query strings)
/// is kept out where the line is made, and the JSON logs test checks it.
public struct JSONLogHandler: LogHandler {
    /// Where lines go: a file handle (one `write` per line, so lines from concurrent requests never interleave) or,
    /// for tests, a closure.
    public struct Output: Sendable {
        let write: @Sendable (String) -> Void
        public static let standardOutput = Output { line in FileHandle.standardOutput.write(Data(line.utf8)) }
        public static let standardError = Output { line in FileHandle.standardError.write(Data(line.utf8)) }
        public static func custom(_ write: @escaping @Sendable (String) -> Void) -> Output { Output(write: write) }
    }

    let label: String
    let output: Output
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level = .info
    public var metadataProvider: Logger.MetadataProvider?

    public init(label: String, output: Output, metadataProvider: Logger.MetadataProvider? = LoggingSystem.metadataProvider) {
        self.label = label
        self.output = output
        self.metadataProvider = metadataProvider
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    /// The members every line has; metadata never overwrites them.
    static let ownMembers: Set<String> = ["time", "level", "logger", "message"]

    /// Metadata keys written under another name.
    static let renamed = ["hb.request.id": "request_id"]  // boundary: Switchboard's own log field, not the provider's

    public func log(event: LogEvent) {
        var all = metadata
        if let provided = metadataProvider?.get() { all.merge(provided) { $1 } }
        if let own = event.metadata { all.merge(own) { $1 } }
        var line = "{\"time\":"
        Self.appendString(Self.timestamp(Date()), to: &line)
        line += ",\"level\":"
        Self.appendString(event.level.rawValue, to: &line)
        line += ",\"logger\":"
        Self.appendString(label, to: &line)
        line += ",\"message\":"
        Self.appendString(event.message.description, to: &line)
        for key in all.keys.sorted() where !Self.ownMembers.contains(Self.renamed[key] ?? key) {
            line += ","
            Self.appendString(Self.renamed[key] ?? key, to: &line)
            line += ":"
            Self.append(all[key]!, to: &line)
        }
        line += "}\n"
        output.write(line)
    }

    static func append(_ value: Logger.MetadataValue, to line: inout String) {
        switch value {
        case .string(let string):
            appendString(string, to: &line)
        case .stringConvertible(let convertible):
            switch convertible {
            case let bool as Bool: line += bool ? "true" : "false"
            case let int as Int: line += String(int)
            case let int as Int64: line += String(int)
            case let double as Double where double.isFinite: line += String(double)
            default: appendString(convertible.description, to: &line)
            }
        case .dictionary(let dictionary):
            line += "{"
            for (index, key) in dictionary.keys.sorted().enumerated() {
                if index > 0 { line += "," }
                appendString(key, to: &line)
                line += ":"
                append(dictionary[key]!, to: &line)
            }
            line += "}"
        case .array(let array):
            line += "["
            for (index, element) in array.enumerated() {
                if index > 0 { line += "," }
                append(element, to: &line)
            }
            line += "]"
        }
    }

    /// A JSON string literal (RFC 8259 §7): quotes, backslashes and control characters escaped.
    static func appendString(_ string: String, to line: inout String) {
        line += "\""
        for scalar in string.unicodeScalars {
            switch scalar {
            case "\"": line += "\\\""
            case "\\": line += "\\\\"
            case "\n": line += "\\n"
            case "\r": line += "\\r"
            case "\t": line += "\\t"
            case _ where scalar.value < 0x20 || scalar.value == 0x2028 || scalar.value == 0x2029:
                line += "\\u" + String(repeating: "0", count: 4 - String(scalar.value, radix: 16).count) + String(scalar.value, radix: 16)
            default: line.unicodeScalars.append(scalar)
            }
        }
        line += "\""
    }

    static let timeStyle = Date.ISO8601FormatStyle(includingFractionalSeconds: true)

    static func timestamp(_ date: Date) -> String { date.formatted(timeStyle) }
}
