import Crypto
public import Foundation

/// What Switchboard tells an assistant, POSTed (signed) to the integration's notify URL.
public enum EventType: String, Sendable, Codable, CaseIterable {
    case connectionCreated = "connection.created"
    case connectionFailed = "connection.failed"
    case connectionRevoked = "connection.revoked"
    case connectionRecovered = "connection.recovered"
    /// The shared connection of a pre-authorized integration was replaced by a new authorization.
    case connectionReplaced = "connection.replaced"
    case actionCompleted = "action.completed"
    case actionFailed = "action.failed"
}

public enum EventStatus: String, Sendable, Codable, CaseIterable {
    case pending
    case delivered
    case failed
}

/// One event and its delivery state. The payload is sealed at rest (an action's result may hold customer data).
public struct EventRecord: Sendable, Equatable {
    public var id: String
    public var workspaceID: String
    public var integrationID: String
    public var type: EventType
    public var endUserID: String?
    public var payload: JSONValue
    public var status: EventStatus
    public var attempts: Int
    public var nextAttemptAt: Date?
    public var lastStatus: Int?
    public var lastError: String?
    public var createdAt: Date
    public var deliveredAt: Date?

    public init(id: String, workspaceID: String, integrationID: String, type: EventType, endUserID: String?, payload: JSONValue,
                status: EventStatus, attempts: Int, nextAttemptAt: Date?, lastStatus: Int?, lastError: String?, createdAt: Date, deliveredAt: Date?) {
        self.id = id
        self.workspaceID = workspaceID
        self.integrationID = integrationID
        self.type = type
        self.endUserID = endUserID
        self.payload = payload
        self.status = status
        self.attempts = attempts
        self.nextAttemptAt = nextAttemptAt
        self.lastStatus = lastStatus
        self.lastError = lastError
        self.createdAt = createdAt
        self.deliveredAt = deliveredAt
    }
}

/// When a failed delivery is tried again: after 5 s, 30 s, 2 min, 10 min, 30 min and 1 h, then given up (about 1 h 45 min in all).
public enum EventRetry {
    public static let delays: [TimeInterval] = [5, 30, 120, 600, 1800, 3600]
    public static var maxAttempts: Int { delays.count + 1 }

    /// The time of the next attempt after `attempts` failed ones, or nil when they are used up.
    public static func nextAttempt(after attempts: Int, at now: Date) -> Date? {
        guard attempts >= 1, attempts <= delays.count else { return nil }
        return now.addingTimeInterval(delays[attempts - 1])
    }
}

/// `Switchboard-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>" keyed by the integration's signing secret>`.
public enum EventSignature {
    public static let header = "Switchboard-Signature"
    /// How old a signed timestamp a receiver should accept.
    public static let tolerance: TimeInterval = 300

    public static func sign(body: Data, secret: String, timestamp: Int64) -> String {
        "t=\(timestamp),v1=\(hmacHex(body: body, secret: secret, timestamp: timestamp))"
    }

    static func hmacHex(body: Data, secret: String, timestamp: Int64) -> String {
        var message = Data("\(timestamp).".utf8)
        message.append(body)
        let code = HMAC<SHA256>.authenticationCode(for: message, using: SymmetricKey(data: Data(secret.utf8)))
        return Hex.encode(code)
    }

    /// Checks a header against the body, as a receiver would; false when tampered, unsigned or older than `tolerance`.
    public static func verify(header: String, body: Data, secret: String, now: Date) -> Bool {
        var timestamp: Int64?
        var signatures: [String] = []
        for part in header.split(separator: ",") {
            let pair = part.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard pair.count == 2 else { continue }
            if pair[0] == "t" { timestamp = Int64(pair[1]) } else if pair[0] == "v1" { signatures.append(pair[1]) }
        }
        guard let timestamp, abs(now.timeIntervalSince1970 - TimeInterval(timestamp)) <= tolerance else { return false }
        let expected = hmacHex(body: body, secret: secret, timestamp: timestamp)
        return signatures.contains { Digest.constantTimeEqual($0, expected) }
    }

    /// A new signing secret: `whsec_` and 256 random bits.
    public static func generateSecret() -> String { "whsec_" + SecureRandom.token(bytes: 32) }
}
