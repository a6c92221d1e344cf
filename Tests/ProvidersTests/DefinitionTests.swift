import Foundation
import Providers
import SwitchboardCore
import Testing

@Suite("Provider definitions")
struct DefinitionTests {
    let registry = ProviderRegistry.bundled

    @Test("the exchange style follows the token URL's path as a definition names it, unless set")
    func inferredStyle() {
        #expect(registry.exchangeStyle(forTokenURL: "https://api.intercom.io/auth/eagle/token") == .intercom)
        #expect(registry.exchangeStyle(forTokenURL: "http://127.0.0.1:8081/auth/eagle/token") == .intercom)
        #expect(registry.exchangeStyle(forTokenURL: "https://idp.example/oauth/token") == .standard)
        #expect(registry.exchangeStyle(forTokenURL: "https://idp.example/") == .standard)
    }

    @Test("Intercom's token answers: `token` stands for access_token, errors come as a list of code and message")
    func intercomTokenAnswer() throws {
        let shape = try #require(ProviderDefinition.intercom.oauth.tokenAnswer)
        #expect(shape == TokenAnswerShape(accessToken: ["access_token", "token"], errorList: "errors", errorCode: "code", errorMessage: "message"))
        let granted = TokenResponse.parse(OutboundResponse(status: 200, body: Data(#"{"token":"T2"}"#.utf8)), now: Date(), shape: shape)
        #expect(try granted.get().accessToken == "T2")
        // Without the definition's shape, only RFC 6749's members count.
        guard case .failure = TokenResponse.parse(OutboundResponse(status: 200, body: Data(#"{"token":"T2"}"#.utf8)), now: Date()) else {
            Issue.record("`token` is not an RFC 6749 member")
            return
        }
    }

    @Test("regions: the identity answer's words map to the definition's regions")
    func regions() {
        let intercom = ProviderDefinition.intercom
        #expect(intercom.region(named: "Europe") == "EU")
        #expect(intercom.region(named: "eu") == "EU")
        #expect(intercom.region(named: "Australia") == "AU")
        #expect(intercom.region(named: "US") == "US")
        #expect(intercom.region(named: "Mars") == nil)
        #expect(intercom.api.defaultRegion == "US")
    }

    @Test("errors: a list of objects, or one object, or a bare code beside its description")
    func errorEnvelopes() throws {
        let intercom = ProviderDefinition.intercom
        let listed = JSONValue.parse(Data(#"{"type":"error.list","errors":[{"code":"parameter_invalid","message":"bad email","field":"email"},{"code":"x","message":"y"}]}"#.utf8))
        #expect(intercom.errorList(in: listed).count == 2)
        #expect(intercom.firstError(in: listed).code == "parameter_invalid")
        #expect(intercom.firstError(in: listed).field == "email")

        var standard = intercom
        standard.errors = .init(path: "error", code: "code", message: "error_description", field: nil)
        let bare = JSONValue.parse(Data(#"{"error":"not_found","error_description":"no such widget"}"#.utf8))
        #expect(standard.firstError(in: bare).code == "not_found")
        #expect(standard.firstError(in: bare).message == "no such widget")
        standard.errors = .init(path: "error", code: "code", message: "message", field: "param")
        let single = JSONValue.parse(Data(#"{"error":{"code":"invalid","message":"too long","param":"title"}}"#.utf8))
        #expect(standard.firstError(in: single).field == "title")
    }

    @Test("every action says whether it reads, destroys and may be repeated, and no rule reads its name")
    func flags() throws {
        for action in ActionCatalog.intercom.actions {
            if action.readOnly { #expect(action.idempotent && !action.destructive, "\(action.name): a read is idempotent and destroys nothing") }
            if action.request.method == "GET" { #expect(action.readOnly, "\(action.name)") }
            if action.request.method == "DELETE" { #expect(action.destructive && !action.readOnly, "\(action.name)") }
            #expect(action.generic == (action.request.method == "{{method}}"), "\(action.name)")
            for source in action.inputDefaults.values {
                let fact = source.hasSuffix(":integer") ? String(source.dropLast(":integer".count)) : source
                #expect(["account.id", "account.adminID", "account.adminEmail"].contains(fact), "\(action.name): \(source)")
            }
        }
        let generic = try #require(ActionCatalog.intercom.actions.first { $0.generic })
        #expect(generic.isRetrySafe(input: ["method": .string("GET")]))
        #expect(!generic.isRetrySafe(input: ["method": .string("POST")]))
        #expect(ActionCatalog.intercom.actions.filter { $0.paged && $0.curated }.count == 6)
        // Generated: the lists Intercom's description pages by a `starting_after` cursor, answered whole.
        let generatedPaged = ActionCatalog.intercom.actions.filter { $0.paged && !$0.curated }
        #expect(generatedPaged.map(\.name).sorted() == ["intercom.get_whats_app_message_status", "intercom.list_data_connector_execution_results",
                                                         "intercom.list_data_connectors", "intercom.list_macros"])
        #expect(generatedPaged.allSatisfy { $0.output.list != nil && $0.output.pick == nil })
    }
}
