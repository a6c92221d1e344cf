import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import SwitchboardServer
import SwitchboardTestSupport
import Testing

/// Switchboard's own `/openapi.yaml`, checked strictly: an object answer may carry only the members it describes.
let switchboardContract: OpenAPIContract = {
    do { return try OpenAPIContract(yaml: OpenAPIDocument.text) } catch { fatalError("openapi.yaml does not load: \(error)") }
}()

/// A test client that checks every answer it gets against the description: the status must be listed for the
/// operation, the media type described, the body valid against its schema (a problem's `code` among those the
/// operation lists). Every HTTP test through `Harness` goes through it, so an answer the description does not tell a
/// client about fails the test that saw it.
struct ContractClient: TestClientProtocol {
    let base: any TestClientProtocol

    var port: Int? { base.port }

    func executeRequest(uri: String, method: HTTPRequest.Method, headers: HTTPFields, body: ByteBuffer?) async throws -> TestResponse {
        let response = try await base.executeRequest(uri: uri, method: method, headers: headers, body: body)
        let path = String(uri.split(separator: "?", maxSplits: 1).first ?? "")
        let violations = switchboardContract.violations(path: path, method: method.rawValue, status: Int(response.status.code),
                                                       contentType: response.headers[.contentType], body: Data(response.body.readableBytesView))
        for violation in violations {
            Issue.record("the answer breaks /openapi.yaml: \(violation) — body: \(String(buffer: response.body).prefix(300))")
        }
        return response
    }
}

@Suite("The description's own check")
struct ContractCheckTests {
    @Test("the check refuses an unlisted status, an undescribed member, a code the operation does not list and an undescribed media type; it leaves the console alone")
    func refusesWhatTheDescriptionDoesNotSay() throws {
        let problem = #"{"type":"https://switchboard.dev/problems/not_found","title":"Not found","status":404,"code":"not_found","detail":"No."}"#
        #expect(switchboardContract.violations(path: "/v1/integrations/int_1", method: "GET", status: 404, contentType: "application/problem+json",
                                               body: Data(problem.utf8)) == [])
        #expect(!switchboardContract.violations(path: "/v1/integrations/int_1", method: "GET", status: 418, contentType: "application/problem+json",
                                                body: Data(problem.utf8)).isEmpty, "a status the operation does not list")
        let wrongCode = problem.replacingOccurrences(of: "\"code\":\"not_found\"", with: "\"code\":\"gone_fishing\"")
        #expect(!switchboardContract.violations(path: "/v1/integrations/int_1", method: "GET", status: 404, contentType: "application/problem+json",
                                                body: Data(wrongCode.utf8)).isEmpty, "a code the response does not list")
        let extra = problem.replacingOccurrences(of: "\"detail\":\"No.\"", with: "\"detail\":\"No.\",\"secretSauce\":1")
        #expect(!switchboardContract.violations(path: "/v1/integrations/int_1", method: "GET", status: 404, contentType: "application/problem+json",
                                                body: Data(extra.utf8)).isEmpty, "a member the description does not name")
        #expect(!switchboardContract.violations(path: "/v1/integrations/int_1", method: "GET", status: 404, contentType: "text/html",
                                                body: Data("<p>".utf8)).isEmpty, "a media type the response does not describe")
        #expect(switchboardContract.violations(path: "/console/integrations", method: "GET", status: 200, contentType: "text/html",
                                               body: Data("<p>".utf8)) == [], "the console is not the API's contract")
        #expect(switchboardContract.template(matching: "/v1/integrations/int_1/actions/intercom.who_am_i") == "/v1/integrations/{id}/actions/{name}")
    }

    @Test("every example in the description conforms to its schema")
    func examplesConform() {
        #expect(switchboardContract.exampleCount >= 8, "the description has examples (\(switchboardContract.exampleCount))")
        #expect(switchboardContract.exampleViolations() == [])
    }
}
