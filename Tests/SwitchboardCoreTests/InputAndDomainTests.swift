import Foundation
import Testing
@testable import SwitchboardCore

@Suite("Input reader")
struct InputReaderTests {
    func reader(_ json: String) throws -> InputReader { try InputReader(body: Data(json.utf8)) }

    @Test("collects every violation, by field, then refuses unknown fields")
    func collectsAll() throws {
        let input = try reader(#"{"name":5,"pkce":"yes","scopes":["a",""],"extra":1,"url":"ftp://x"}"#)
        _ = input.string("name", required: true)
        _ = input.string("clientId", required: true)
        _ = input.bool("pkce")
        _ = input.stringArray("scopes")
        _ = input.url("url")
        do {
            try input.finish()
            Issue.record("finish must throw")
        } catch {
            #expect(error.httpStatus == 422)
            #expect(error.code == "validation_failed")
            #expect(error.errors?.map(\.field) == ["name", "clientId", "pkce", "scopes[1]", "url", "extra"])
            #expect(error.field == "name")
        }
    }

    @Test("over-long strings are refused with the limit named")
    func tooLong() throws {
        let input = try reader("{\"name\":\"\(String(repeating: "x", count: 201))\"}")
        #expect(input.string("name", maxLength: 200) == nil)
        #expect(input.errors.first?.detail.contains("at most 200") == true)
    }

    @Test("non-JSON and non-object bodies are a 400 problem")
    func malformed() {
        #expect(throws: Problem.self) { try InputReader(body: Data("{\"a\":".utf8)) }
        do { _ = try InputReader(body: Data("[1,2]".utf8)) } catch {
            #expect(error.code == "invalid_json")
            #expect(error.detail.contains("an array"))
        }
    }

    @Test("an empty body reads as an empty object")
    func empty() throws {
        let input = try reader("  ")
        try input.finish()
    }

    @Test("URL rules: absolute http(s), templates only where allowed")
    func urls() {
        #expect(URLRules.problem(with: "https://{tenant}.example.com/x", allowTemplate: true) == nil)
        #expect(URLRules.problem(with: "https://{tenant}.example.com/x", allowTemplate: false) != nil)
        #expect(URLRules.problem(with: "javascript:alert(1)", allowTemplate: false) != nil)
        #expect(URLRules.problem(with: "https://user:pw@example.com", allowTemplate: false) != nil)
        #expect(URLRules.problem(with: "http://127.0.0.1:8081/oauth", allowTemplate: false) == nil)
    }
}

@Suite("Problems")
struct ProblemTests {
    @Test("the body is problem+json with code, detail, field and each error")
    func body() throws {
        let problem = Problem.validation([.init(field: "a", detail: "is required"), .init(field: "b", detail: "must be a string")])
        let object = try #require(JSONValue.parse(problem.jsonBody())?.objectValue)
        #expect(object["status"] == .number(422))
        #expect(object["code"] == .string("validation_failed"))
        #expect(object["field"] == .string("a"))
        #expect(object["errors"]?.arrayValue?.count == 2)
        #expect(object["type"] == .string("https://switchboard.dev/problems/validation_failed"))
    }
}

@Suite("Integration status")
struct IntegrationStatusTests {
    func integration(_ mode: AuthorizationMode, _ enablement: Enablement) -> Integration {
        Integration(id: "i", workspaceID: "w", name: "n", provider: Provider("intercom"), app: .system, authProfileID: nil, authorization: mode,
                    region: nil, notifyURL: nil, enablement: enablement, createdAt: Date(), updatedAt: Date())
    }

    @Test("pre-authorized: configured → authorized → enabled ⇄ disabled; a dead connection is an error")
    func preauthorized() {
        #expect(integration(.preauthorized, .never).status(sharedConnection: nil) == .configured)
        #expect(integration(.preauthorized, .never).status(sharedConnection: .active) == .authorized)
        #expect(integration(.preauthorized, .enabled).status(sharedConnection: .active) == .enabled)
        #expect(integration(.preauthorized, .disabled).status(sharedConnection: .active) == .disabled)
        #expect(integration(.preauthorized, .enabled).status(sharedConnection: .needsReauthorization) == .error)
        #expect(integration(.preauthorized, .never).status(sharedConnection: .revoked) == .configured)
    }

    @Test("per-user: enablement alone decides")
    func perUser() {
        #expect(integration(.perUser, .never).status(sharedConnection: nil) == .configured)
        #expect(integration(.perUser, .enabled).status(sharedConnection: nil) == .enabled)
        #expect(integration(.perUser, .disabled).status(sharedConnection: nil) == .disabled)
    }

    @Test("refresh is due only for expiring, refreshable tokens")
    func refreshDue() {
        let now = Date(timeIntervalSince1970: 1_000_000)
        func connection(expiresIn: TimeInterval?, refresh: String?) -> Connection {
            Connection(id: "c", workspaceID: "w", integrationID: "i", endUserID: "", status: .active, account: .init(id: "a", name: "A"),
                       tokens: TokenGrant(accessToken: "t", refreshToken: refresh, expiresAt: expiresIn.map { now.addingTimeInterval($0) }),
                       lastError: nil, lastRefreshedAt: nil, createdAt: now, updatedAt: now)
        }
        #expect(!connection(expiresIn: nil, refresh: nil).refreshDue(at: now))
        #expect(!connection(expiresIn: 3600, refresh: "r").refreshDue(at: now))
        #expect(connection(expiresIn: 60, refresh: "r").refreshDue(at: now))
        #expect(connection(expiresIn: -5, refresh: "r").refreshDue(at: now))
        #expect(!connection(expiresIn: 60, refresh: nil).refreshDue(at: now), "nothing to refresh with")
    }

    @Test("the refresh margin is the smaller of 120 s and a quarter of the token's lifetime")
    func refreshMargin() {
        let issued = Date(timeIntervalSince1970: 1_000_000)
        func connection(lifetime: TimeInterval, issuedKnown: Bool = true) -> Connection {
            Connection(id: "c", workspaceID: "w", integrationID: "i", endUserID: "", status: .active, account: .init(id: "a", name: "A"),
                       tokens: TokenGrant(accessToken: "t", refreshToken: "r", expiresAt: issued.addingTimeInterval(lifetime),
                                          issuedAt: issuedKnown ? issued : nil),
                       lastError: nil, lastRefreshedAt: nil, createdAt: issued, updatedAt: issued)
        }
        // A 3-second token (the harness's provider): due in its last 0.75 s, not the moment it is issued.
        let short = connection(lifetime: 3)
        #expect(RefreshPolicy.margin(for: short.tokens) == 0.75)
        #expect(!short.refreshDue(at: issued))
        #expect(!short.refreshDue(at: issued.addingTimeInterval(2.2)))
        #expect(short.refreshDue(at: issued.addingTimeInterval(2.25)))
        // Eight minutes: two of them. An hour: the 120-second cap.
        #expect(RefreshPolicy.margin(for: connection(lifetime: 480).tokens) == 120)
        #expect(RefreshPolicy.margin(for: connection(lifetime: 400).tokens) == 100)
        let hour = connection(lifetime: 3600)
        #expect(!hour.refreshDue(at: issued.addingTimeInterval(3479)) && hour.refreshDue(at: issued.addingTimeInterval(3480)))
        // A token stored before issue times were kept gets the full margin.
        #expect(RefreshPolicy.margin(for: connection(lifetime: 3, issuedKnown: false).tokens) == 120)
        #expect(connection(lifetime: 3, issuedKnown: false).refreshDue(at: issued))
    }
}

@Suite("JSON values")
struct JSONValueTests {
    @Test("every JSON type reads as itself: booleans stay booleans, numbers numbers, nesting kept")
    func types() throws {
        let value = try #require(JSONValue.parse(Data(#"{"t":true,"f":false,"n":0,"d":-1.5,"s":"1","z":null,"a":[1,"x",[],{}],"o":{"k":{"b":true}}}"#.utf8)))
        #expect(value == .object([
            "t": .bool(true), "f": .bool(false), "n": .number(0), "d": .number(-1.5), "s": .string("1"), "z": .null,
            "a": .array([.number(1), .string("x"), .array([]), .object([:])]), "o": .object(["k": .object(["b": .bool(true)])]),
        ]))
        #expect(JSONValue.parse(Data("[true, 2]".utf8)) == .array([.bool(true), .number(2)]))
        #expect(JSONValue.parse(Data(#""just a string""#.utf8)) == .string("just a string"))
        #expect(JSONValue.parse(Data("{\"a\":".utf8)) == nil)
        // Written back with sorted keys and unescaped slashes.
        #expect(String(decoding: value["o"]!.jsonData(), as: UTF8.self) == #"{"k":{"b":true}}"#)
        #expect(String(decoding: JSONValue.string("a/b").jsonData(), as: UTF8.self) == #""a/b""#)
    }

    @Test("reading some members of an object: only those, whole; null and missing ones left out; anything else is nil")
    func someMembers() throws {
        let text = Data(#"{"id":"7","name":null,"tags":{"data":[{"id":"1"}]},"big":[1,2,3],"n":3}"#.utf8)
        let read = try #require(JSONValue.parseMembers(text, keys: ["id", "name", "tags", "missing"]))
        #expect(read == ["id": .string("7"), "tags": .object(["data": .array([.object(["id": .string("1")])])])])
        // The whole text is still checked: broken JSON after the wanted members is refused.
        #expect(JSONValue.parseMembers(Data(#"{"id":"7","rest":[1,}"#.utf8), keys: ["id"]) == nil)
        #expect(JSONValue.parseMembers(Data("[1,2]".utf8), keys: ["id"]) == nil)
        #expect(JSONValue.parseMembers(Data("".utf8), keys: ["id"]) == nil)
    }
}

@Suite("Identifiers")
struct IdentifierTests {
    @Test("ordered identifiers sort in the order one process made them, past the digits' carries, and never repeat")
    func ordered() {
        let made = (0..<5000).map { _ in Identifier.ordered("run") }
        #expect(made == made.sorted(), "made one after another, they sort in that order")
        #expect(Set(made).count == made.count)
        #expect(made.allSatisfy { $0.hasPrefix("run_") && $0.count == 4 + 12 + 16 })
    }
}
