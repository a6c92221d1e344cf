public import AsyncHTTPClient
import Foundation
public import Logging
import MCP
import NIOCore
import NIOHTTP1
import SwitchboardCore

/// `switchboard mcp`: MCP over stdio for a desktop agent that launches a command, answered by a running Switchboard's
/// `/mcp`. Each JSON-RPC message read from stdin is posted there with the agent token (and the end user and
/// conversation, for a server-side agent's token); each answer is written to stdout, one line each. The session
/// `initialize` opens is kept, reopened when the server has forgotten it, and its `GET /mcp` stream is followed so that
/// the client hears when a user it sent a connect link has connected. stdout carries MCP only: logs go to stderr.
public struct MCPStdioBridge: Sendable {
    public struct Options: Sendable {
        /// Switchboard's base URL, e.g. `http://127.0.0.1:8080`.
        public var url: String
        public var token: String
        public var userID: String?
        public var conversationID: String?

        public init(url: String, token: String, userID: String? = nil, conversationID: String? = nil) {
            self.url = url
            self.token = token
            self.userID = userID
            self.conversationID = conversationID
        }
    }

    let options: Options
    let http: HTTPClient
    let logger: Logger

    public init(options: Options, http: HTTPClient = .shared, logger: Logger) {
        self.options = options
        self.http = http
        self.logger = logger
    }

    var endpoint: String { options.url.hasSuffix("/") ? options.url + "mcp" : options.url + "/mcp" }

    /// Runs until stdin ends, then ends the session.
    public func run() async throws {
        let stdio = StdioTransport(logger: logger)
        try await stdio.connect()
        logger.info("forwarding MCP over stdio", metadata: ["url": "\(endpoint)"])
        let state = BridgeState()
        await withDiscardingTaskGroup { group in
            do {
                for try await message in await stdio.receive() {
                    let envelope = Envelope(message)
                    if envelope.method == "initialize" {
                        // Answered before anything else is read: what follows needs its session.
                        await forward(message, envelope: envelope, state: state, stdio: stdio)
                    } else {
                        group.addTask { await forward(message, envelope: envelope, state: state, stdio: stdio) }
                    }
                }
            } catch {
                logger.error("reading stdin failed", metadata: ["error": "\(error)"])
            }
            await state.stopStream()
            group.cancelAll()
        }
        if let session = await state.session {
            var request = self.request(.DELETE, session: session, protocolVersion: await state.protocolVersion)
            request.body = nil
            _ = try? await http.execute(request, timeout: .seconds(5))
        }
        await stdio.disconnect()
    }

    /// Posts one message and writes its answer; an `initialize` answer's session and version are kept.
    private func forward(_ message: Data, envelope: Envelope, state: BridgeState, stdio: StdioTransport) async {
        if envelope.method == "initialize" { await state.keepInitialize(message) }
        do {
            var (status, answer, response) = try await post(message, state: state)
            if status == .notFound, await state.session != nil, let initialize = await state.initialize, envelope.method != "initialize" {
                // The server forgot the session (pruned, or ended by another client): open a new one and send again.
                logger.notice("the MCP session ended on the server; opening a new one")
                await state.forgetSession()
                let (reopened, reopenedAnswer, reopenedResponse) = try await post(initialize, state: state)
                if reopened == .ok { await state.keep(reopenedResponse, answer: reopenedAnswer.first) }
                (status, answer, response) = try await post(message, state: state)
            }
            if envelope.method == "initialize", status == .ok { await state.keep(response, answer: answer.first) }
            await followStream(state: state, stdio: stdio)
            if status == .accepted { return }
            if (200..<300).contains(Int(status.code)) {
                for line in answer { try await stdio.send(line) }
                return
            }
            let problem = JSONValue.parse(answer.first ?? Data())
            let code = problem?["code"]?.stringValue ?? "http_\(status.code)"
            let detail = problem?["detail"]?.stringValue ?? "HTTP \(status.code)"
            logger.error("Switchboard refused an MCP message", metadata: ["status": "\(status.code)", "code": "\(code)"])
            try await answerError(envelope, message: "Switchboard answered \(status.code) \(code): \(detail)", stdio: stdio)
        } catch {
            logger.error("Switchboard could not be reached", metadata: ["url": "\(options.url)", "error.type": "\(type(of: error))"])
            try? await answerError(envelope, message: "Switchboard at \(options.url) could not be reached: \(error)", stdio: stdio)
        }
    }

    /// Follows the session's event stream, once there is a session (again, after it was reopened).
    private func followStream(state: BridgeState, stdio: StdioTransport) async {
        await state.followIfIdle { session in Task { await follow(session: session, state: state, stdio: stdio) } }
    }

    /// A request gets a JSON-RPC error when its answer could not be had; a notification gets nothing.
    private func answerError(_ envelope: Envelope, message: String, stdio: StdioTransport) async throws {
        guard let id = envelope.id else { return }
        let error = JSONValue.object(["jsonrpc": .string("2.0"), "id": id,
                                      "error": .object(["code": .number(-32603), "message": .string(message)])])
        try await stdio.send(error.jsonData())
    }

    /// Posts a message; the answer's JSON-RPC messages, one line each (a JSON body, or each event of an event stream).
    private func post(_ message: Data, state: BridgeState) async throws -> (HTTPResponseStatus, [Data], HTTPClientResponse) {
        var request = self.request(.POST, session: await state.session, protocolVersion: await state.protocolVersion)
        request.body = .bytes(ByteBuffer(bytes: message))
        let response = try await http.execute(request, timeout: .seconds(120))
        let body = Data(try await response.body.collect(upTo: 32 << 20).readableBytesView)
        if response.headers.first(name: "Content-Type")?.hasPrefix("text/event-stream") == true {
            var parser = ServerSentEvents()
            return (response.status, parser.feed(body), response)
        }
        return (response.status, body.isEmpty ? [] : [Self.oneLine(body)], response)
    }

    /// Follows the session's `GET /mcp` stream, writing each message it carries, reconnecting when the server closes it.
    private func follow(session: String, state: BridgeState, stdio: StdioTransport) async {
        while !Task.isCancelled {
            do {
                let request = self.request(.GET, session: session, protocolVersion: await state.protocolVersion)
                let response = try await http.execute(request, timeout: .seconds(Int64(MCPController.streamLifetime) + 60))
                guard response.status == .ok else {
                    logger.notice("the MCP session's event stream is not available", metadata: ["status": "\(response.status.code)"])
                    return
                }
                var parser = ServerSentEvents()
                for try await chunk in response.body {
                    for message in parser.feed(Data(chunk.readableBytesView)) { try await stdio.send(message) }
                }
            } catch is CancellationError {
                return
            } catch {
                if Task.isCancelled { return }
                logger.notice("the MCP session's event stream broke; reconnecting", metadata: ["error.type": "\(type(of: error))"])
            }
            try? await Task.sleep(for: .seconds(1))
        }
    }

    private func request(_ method: HTTPMethod, session: String?, protocolVersion: String?) -> HTTPClientRequest {
        var request = HTTPClientRequest(url: endpoint)
        request.method = method
        request.headers.add(name: "Authorization", value: "Bearer \(options.token)")
        request.headers.add(name: "Accept", value: method == .GET ? "text/event-stream" : "application/json, text/event-stream")
        if method == .POST { request.headers.add(name: "Content-Type", value: "application/json") }
        if let session { request.headers.add(name: "Mcp-Session-Id", value: session) }
        if let protocolVersion { request.headers.add(name: "MCP-Protocol-Version", value: protocolVersion) }
        if let user = options.userID { request.headers.add(name: "Switchboard-User-Id", value: user) }
        if let conversation = options.conversationID { request.headers.add(name: "Switchboard-Conversation-Id", value: conversation) }
        return request
    }

    /// stdio frames messages by newline: a raw newline in JSON can only be whitespace between tokens (one inside a
    /// string is escaped), so it becomes a space.
    static func oneLine(_ json: Data) -> Data {
        Data(json.map { $0 == UInt8(ascii: "\n") || $0 == UInt8(ascii: "\r") ? UInt8(ascii: " ") : $0 })
    }

    /// A JSON-RPC message's id and method, read without decoding the rest.
    struct Envelope: Sendable {
        var id: JSONValue?
        var method: String?

        init(_ message: Data) {
            let parsed = JSONValue.parse(message)
            id = parsed?["id"]
            method = parsed?["method"]?.stringValue
        }
    }
}

/// What the bridge remembers between messages: the session, the negotiated version, the initialize to reopen with,
/// and the stream it follows.
private actor BridgeState {
    private(set) var session: String?
    private(set) var protocolVersion: String?
    private(set) var initialize: Data?
    private var stream: Task<Void, Never>?


    func keepInitialize(_ message: Data) { initialize = message }

    func keep(_ response: HTTPClientResponse, answer: Data?) {
        if let id = response.headers.first(name: "Mcp-Session-Id") { session = id }
        if let version = MCPController.protocolVersion(in: answer) { protocolVersion = version }
    }

    func forgetSession() {
        session = nil
        stream?.cancel()
        stream = nil
    }

    /// Starts following the session's stream unless it is followed already (or there is no session).
    func followIfIdle(_ start: @Sendable (String) -> Task<Void, Never>) {
        guard let session, stream == nil else { return }
        stream = start(session)
    }

    func stopStream() {
        stream?.cancel()
        stream = nil
    }
}

/// Server-sent events as they arrive: each event's data, joined as the standard says, once a blank line ends it.
struct ServerSentEvents {
    private var line = Data()
    private var data: [Data] = []

    mutating func feed(_ bytes: Data) -> [Data] {
        var messages: [Data] = []
        for byte in bytes {
            guard byte == UInt8(ascii: "\n") else {
                line.append(byte)
                continue
            }
            if line.last == UInt8(ascii: "\r") { line.removeLast() }
            if line.isEmpty {
                if !data.isEmpty { messages.append(MCPStdioBridge.oneLine(Data(data.joined(separator: Data("\n".utf8))))) }
                data = []
            } else if line.starts(with: Data("data:".utf8)) {
                var value = line.dropFirst(5)
                if value.first == UInt8(ascii: " ") { value = value.dropFirst() }
                data.append(Data(value))
            }
            line = Data()
        }
        return messages
    }
}
