import Foundation
import HTTPTypes
import HummingbirdTesting
import Providers
import SwitchboardCore
import SwitchboardTestSupport
import Testing

@Suite("The API version an integration speaks")
struct APIVersionTests {
    @Test("2.16 by default, 2.14 when chosen (create or PATCH), anything else refused naming apiVersion; every request carries it, and checks against that version's description")
    func chosenAndSent() async throws {
        try await Harness.with { harness, client in
            let id = try await harness.enabledIntegration(client)
            #expect(try object(try await client.call(.get, "/v1/integrations/\(id)", harness))["apiVersion"] as? String == "2.16")
            #expect(try await harness.run(client, id, "intercom.who_am_i", "{}").status == .ok)
            let macros = try await harness.run(client, id, "intercom.list_macros", "{}")
            #expect(macros.status == .ok, "a 2.16 operation: \(text(macros))")
            #expect(harness.requests.requests.contains("2.16 GET /me") && harness.requests.requests.contains("2.16 GET /macros"))

            let pinned = try await client.call(.patch, "/v1/integrations/\(id)", harness, json: #"{"apiVersion":"2.14"}"#)
            #expect(try object(pinned)["apiVersion"] as? String == "2.14")
            #expect(try await harness.run(client, id, "intercom.who_am_i", "{}").status == .ok)
            #expect(harness.requests.requests.last == "2.14 GET /me", "\(harness.requests.requests.suffix(3))")
            let missing = try expectProblem(try await harness.run(client, id, "intercom.list_macros", "{}"), 422, code: "action_not_in_version", field: "apiVersion")
            #expect((missing["detail"] as? String)?.contains("2.14") == true)
            #expect(harness.requests.requests.last == "2.14 GET /me", "nothing was sent for an action the version lacks")

            try expectProblem(try await client.call(.patch, "/v1/integrations/\(id)", harness, json: #"{"apiVersion":"2.15"}"#), 422, code: "validation_failed", field: "apiVersion")
            let back = try await client.call(.patch, "/v1/integrations/\(id)", harness, json: #"{"apiVersion":null}"#)
            #expect(try object(back)["apiVersion"] as? String == "2.16", "null: the default again")

            let created = try await client.call(.post, "/v1/integrations", harness, json: #"{"name":"Pinned","app":"system","authorization":"per_user","apiVersion":"2.14"}"#)
            #expect(created.status == .created)
            #expect(try object(created)["apiVersion"] as? String == "2.14")
            try expectProblem(try await client.call(.post, "/v1/integrations", harness, json: #"{"name":"Odd","app":"system","authorization":"per_user","apiVersion":"3"}"#),
                              422, code: "validation_failed", field: "apiVersion")
            #expect(harness.requests.checked >= 4)
        }
    }
}
