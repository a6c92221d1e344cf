import Foundation
import Hummingbird
import HummingbirdTesting
import SwitchboardCore
import SwitchboardStore
import Testing

/// The form controls of a page that no label names: not a `<label for>` its id, not inside a `<label>`, no
/// `aria-label`. Hidden inputs are not controls a person sees.
func unlabelledControls(_ page: String) -> [String] {
    var missing: [String] = []
    for match in page.matches(of: /<(input|select|textarea)\b[^>]*>/) {
        let tag = String(match.output.0)
        if tag.contains(#"type="hidden""#) || tag.contains("aria-label=") { continue }
        if let id = tag.firstMatch(of: /\bid="([^"]+)"/)?.1, page.contains(#"<label for="\#(id)""#) { continue }
        // Inside a label: the nearest <label before the control is not closed yet.
        let before = page[..<match.range.lowerBound]
        if let open = before.range(of: "<label", options: .backwards), !before[open.upperBound...].contains("</label>") { continue }
        missing.append(tag)
    }
    return missing
}

@Suite("Web console: settings and deletion")
struct ConsoleSettingsTests {
    /// Signed in, with a per-user integration "Bot" whose notify URL is set: the browser, its CSRF token, the id.
    static func signedInWithPerUserBot(_ harness: Harness, _ client: any TestClientProtocol) async throws -> (ConsoleBrowser, String, String) {
        var browser = ConsoleBrowser(client: client)
        _ = try await browser.signIn(harness.apiKey)
        let csrf = try await browser.csrf()
        let (_, id) = try await browser.addIntegration([("csrf", csrf), ("name", "Bot"), ("authorization", "per_user"), ("app", "system"),
                                                        ("notifyURL", "https://assistant.example/events")])
        return (browser, csrf, id)
    }

    @Test("settings: name and URLs edited, each problem beside its field with what was typed kept and nothing stored; the signing secret renewed and shown once; disable")
    func settings() async throws {
        try await Harness.with { harness, client in
            let (browser, csrf, id) = try await Self.signedInWithPerUserBot(harness, client)
            #expect(text(try await browser.get("/console/integrations/\(id)")).contains(#"href="/console/integrations/\#(id)/settings""#))
            let shown = text(try await browser.get("/console/integrations/\(id)/settings"))
            #expect(shown.contains(#"<label for="name">Name</label>"#) && shown.contains(#"value="Bot""#))
            #expect(shown.contains(#"<input id="notifyURL" name="notifyURL" type="text" value="https://assistant.example/events">"#))
            #expect(shown.contains(#"<label for="verifyURL">Verify URL"#), "a per-user integration has a verify URL")
            #expect(!shown.contains("whsec_"), "the signing secret is not shown again")
            #expect(unlabelledControls(shown).isEmpty, "\(unlabelledControls(shown))")

            let refused = try await browser.post("/console/integrations/\(id)/settings",
                                                 [("csrf", csrf), ("name", "Renamed"), ("notifyURL", "not a url"), ("verifyURL", "")])
            #expect(refused.status == .unprocessableContent)
            let again = text(refused)
            #expect(again.contains(#"<p class="field-error" id="notifyURL-error" role="alert">Notify URL "#), "the message is beside its field")
            #expect(again.contains(#"value="not a url""#) && again.contains(#"value="Renamed""#), "what was typed is kept")
            let before = try #require(try await harness.store.integrations.integration(id: id, workspaceID: harness.workspace.id)).integration
            #expect(before.name == "Bot" && before.notifyURL == "https://assistant.example/events", "nothing is stored")

            let saved = try await browser.post("/console/integrations/\(id)/settings",
                                               [("csrf", csrf), ("name", "Renamed"), ("notifyURL", ""), ("verifyURL", "https://assistant.example/verify")])
            #expect(saved.headers[.location] == "/console/integrations/\(id)/settings?notice=settings_saved")
            let after = try #require(try await harness.store.integrations.integration(id: id, workspaceID: harness.workspace.id)).integration
            #expect(after.name == "Renamed" && after.notifyURL == nil && after.verifyURL == "https://assistant.example/verify")
            #expect(text(try await browser.get("/console/integrations/\(id)/settings?notice=settings_saved")).contains("Settings saved."))
            // The API version: the default chosen until another is saved.
            #expect(shown.contains(#"<select id="apiVersion" name="apiVersion"><option value="2.14">2.14</option><option value="2.16" selected>2.16 (default)</option></select>"#), "\(shown)")
            let pinned = try await browser.post("/console/integrations/\(id)/settings", [("csrf", csrf), ("name", "Renamed"), ("notifyURL", ""), ("apiVersion", "2.14")])
            #expect(pinned.headers[.location] == "/console/integrations/\(id)/settings?notice=settings_saved")
            #expect(try #require(try await harness.store.integrations.integration(id: id, workspaceID: harness.workspace.id)).integration.apiVersion == "2.14")
            #expect(text(try await browser.get("/console/integrations/\(id)/settings")).contains(#"<option value="2.14" selected>2.14</option>"#))
            let odd = try await browser.post("/console/integrations/\(id)/settings", [("csrf", csrf), ("name", "Renamed"), ("notifyURL", ""), ("apiVersion", "9.9")])
            #expect(odd.status == .unprocessableContent && text(odd).contains(#"id="apiVersion-error" role="alert">"#), "the problem beside the select")
            let empty = try await browser.post("/console/integrations/\(id)/settings", [("csrf", csrf), ("name", " "), ("notifyURL", "")])
            #expect(empty.status == .unprocessableContent && text(empty).contains(#"id="name-error" role="alert">Name must not be empty"#))

            let renewed = text(try await browser.post("/console/integrations/\(id)/signing-secret", [("csrf", csrf)]))
            let secret = String(try #require(renewed.firstMatch(of: /whsec_[A-Za-z0-9_-]+/)?.0))
            #expect(renewed.contains("New signing secret made."))
            #expect(try await harness.store.integrations.signingSecret(integrationID: id) == secret)
            #expect(!text(try await browser.get("/console/integrations/\(id)/settings")).contains(secret), "shown once")

            _ = try await browser.post("/console/integrations/\(id)/enable", [("csrf", csrf)])
            #expect(text(try await browser.get("/console/integrations/\(id)/settings")).contains(">Disable</button>"))
            let disabled = try await browser.post("/console/integrations/\(id)/disable", [("csrf", csrf)])
            #expect(disabled.headers[.location] == "/console/integrations/\(id)/settings?notice=disabled")
            #expect(try await harness.store.integrations.integration(id: id, workspaceID: harness.workspace.id)?.status == .disabled)
            let off = text(try await browser.get("/console/integrations/\(id)/settings?notice=disabled"))
            #expect(off.contains("refused until it is enabled again") && !off.contains(">Disable</button>"))
        }
    }

    @Test("delete: a confirmation page counts the connections, agent tokens and kept calls it loses, and deletes only when the name is typed")
    func delete() async throws {
        try await Harness.with { harness, client in
            let (browser, csrf, id) = try await Self.signedInWithPerUserBot(harness, client)
            _ = try await browser.post("/console/integrations/\(id)/enable", [("csrf", csrf)])
            let nothing = text(try await browser.get("/console/integrations/\(id)/delete"))
            #expect(nothing.contains("<strong>No end-user connection</strong>") && nothing.contains("<strong>No agent token</strong>")
                    && nothing.contains("<strong>No kept call</strong>"))

            let url = try await harness.connectLink(client, id, user: "user-1")
            #expect(try await EndUserBrowser(harness: harness, client: client).connect(url).status == .ok)
            _ = try await harness.connectLink(client, id, user: "user-2")
            for name in ["one", "two"] { _ = try await browser.post("/console/integrations/\(id)/agent-tokens", [("csrf", csrf), ("name", name)]) }
            let kept = try await client.call(.post, "/v1/integrations/\(id)/actions/intercom.who_am_i", harness,
                                             json: #"{"input":{},"user":{"id":"user-3"},"resume":true}"#)
            _ = try expectProblem(kept, 409, code: "authorization_required")

            let confirm = text(try await browser.get("/console/integrations/\(id)/delete"))
            #expect(confirm.contains("<h1>Delete Bot?</h1>"))
            #expect(confirm.contains("<strong>1 end-user connection</strong>"), "user-2 only has a link, not a connection")
            #expect(confirm.contains("<strong>2 agent tokens</strong>") && confirm.contains("<strong>1 kept call</strong>"))
            #expect(unlabelledControls(confirm).isEmpty)

            let wrong = try await browser.post("/console/integrations/\(id)/delete", [("csrf", csrf), ("confirmName", "bot")])
            #expect(wrong.status == .unprocessableContent)
            #expect(text(wrong).contains(#"id="confirmName-error" role="alert">"#))
            #expect(try await harness.store.integrations.integration(id: id, workspaceID: harness.workspace.id) != nil, "nothing is deleted")

            let deleted = try await browser.post("/console/integrations/\(id)/delete", [("csrf", csrf), ("confirmName", "Bot")])
            #expect(deleted.headers[.location] == "/console/integrations?notice=integration_deleted")
            #expect(try await harness.store.integrations.integration(id: id, workspaceID: harness.workspace.id) == nil)
            #expect(try await harness.store.connections.connection(integrationID: id, endUserID: "user-1") == nil)
            #expect(try await browser.get("/console/integrations/\(id)/delete").status == .notFound)
        }
    }
}
