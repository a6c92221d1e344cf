import Foundation
import Providers
import Hummingbird
import HummingbirdTesting
import IntercomSandbox
import SwitchboardCore
import SwitchboardServer
import SwitchboardStore
import SwitchboardTestSupport
import Testing
import SQLKit

/// A browser session against the in-process console: keeps the cookie, reads the CSRF token from pages.
struct ConsoleBrowser {
    let client: any TestClientProtocol
    var cookie: String?

    static let formType: HTTPFields = [.contentType: "application/x-www-form-urlencoded"]

    func headers(_ extra: HTTPFields = [:]) -> HTTPFields {
        var headers = extra
        if let cookie { headers[.cookie] = "sb_console=\(cookie)" }
        return headers
    }

    func get(_ uri: String) async throws -> TestResponse {
        try await client.execute(uri: uri, method: .get, headers: headers())
    }

    /// A form post as a browser on the console's own page sends it: with the console's `Origin`.
    func post(_ uri: String, _ fields: [(String, String)], origin: String? = "https://switchboard.test") async throws -> TestResponse {
        var extra = Self.formType
        if let origin { extra[.origin] = origin }
        return try await client.execute(uri: uri, method: .post, headers: headers(extra), body: ByteBuffer(string: FormEncoding.encode(fields)))
    }

    mutating func signIn(_ key: String, origin: String? = "https://switchboard.test") async throws -> TestResponse {
        let response = try await post("/console/login", [("apiKey", key)], origin: origin)
        if let setCookie = response.headers[.setCookie], let value = setCookie.firstMatch(of: /sb_console=([^;]*)/)?.1 {
            cookie = String(value)
        }
        return response
    }

    /// Adds an integration by the form; the page shown (with the signing secret, once) and the new integration's id.
    func addIntegration(_ fields: [(String, String)]) async throws -> (page: String, id: String) {
        let response = try await post("/console/integrations", fields)
        #expect(response.status == .ok, "\(text(response))")
        let page = text(response)
        return (page, String(try #require(page.firstMatch(of: /\/console\/integrations\/(int_[0-9a-f]+)\//)?.1)))
    }

    /// The CSRF token embedded in a console page.
    func csrf() async throws -> String {
        let page = text(try await get("/console/integrations"))
        return String(try #require(page.firstMatch(of: /name="csrf" value="([^"]+)"/)?.1))
    }
}

@Suite("Web console")
struct ConsoleTests {
    @Test("sign-in with an API key sets an HttpOnly, SameSite session cookie; a wrong key is refused")
    func signIn() async throws {
        try await Harness.with { harness, client in
            var browser = ConsoleBrowser(client: client)
            #expect(try await browser.get("/console/integrations").headers[.location] == "/console", "signed-out pages send you to sign in")
            let wrong = try await browser.signIn("sbk_wrong")
            #expect(wrong.status == .unauthorized)
            #expect(text(wrong).contains("unknown, revoked or expired"))
            let ok = try await browser.signIn(harness.apiKey)
            #expect(ok.status == .seeOther)
            let setCookie = try #require(ok.headers[.setCookie])
            #expect(setCookie.contains("HttpOnly") && setCookie.contains("SameSite=Lax") && setCookie.contains("Path=/console"))
            #expect(setCookie.contains("Secure"), "the public URL is https")
            #expect(!setCookie.contains(harness.apiKey), "the cookie never carries the key")
            let page = try await browser.get("/console/integrations")
            #expect(page.status == .ok)
            #expect(text(page).contains(harness.workspace.name))
        }
    }

    @Test("the guide's custom steps by form: create a profile, add Intercom, Authorize, Enable")
    func guideStepsInConsole() async throws {
        try await Harness.with { harness, client in
            var browser = ConsoleBrowser(client: client)
            _ = try await browser.signIn(harness.apiKey)

            let app = await harness.sandbox.state.registerApp(name: "Acme", redirectURLs: ["https://switchboard.test/oauth/callback"])
            let csrf = try await browser.csrf()
            let saved = try await browser.post("/console/auth-profiles", [
                ("csrf", csrf), ("name", "Intercom (Acme)"), ("clientId", app.clientID), ("clientSecret", app.clientSecret),
                ("authorizationURL", harness.sandbox.url + "/oauth?client_id=****&state=xyz"), ("tokenURL", harness.sandbox.url + "/auth/eagle/token"),
                ("refreshTokenURL", ""), ("scopes", ""), ("tokenRequestFormat", "form"),
            ])
            #expect(saved.status == .seeOther, "\(text(saved))")
            let profile = try #require(try await harness.store.profiles.authProfiles(workspaceID: harness.workspace.id).first)
            #expect(profile.clientSecret == app.clientSecret)
            let profilesPage = text(try await browser.get("/console/auth-profiles"))
            #expect(profilesPage.contains("https://switchboard.test/oauth/callback/\(profile.id)"), "the profile's callback URL to paste into Intercom is shown")
            await harness.sandbox.state.setRedirectURLs(clientID: app.clientID, ["https://switchboard.test/oauth/callback/\(profile.id)"])
            #expect(!text(try await browser.get("/console/auth-profiles")).contains(app.clientSecret), "the secret is never shown")

            let (added, id) = try await browser.addIntegration([
                ("csrf", csrf), ("name", "Support bot"), ("authorization", "preauthorized"), ("app", "custom"), ("authProfileId", profile.id),
            ])
            #expect(added.contains("Integration added.") && added.contains("whsec_"), "the signing secret is shown once")
            let detail = text(try await browser.get("/console/integrations/\(id)"))
            #expect(detail.contains("configured") && detail.contains(">Authorize<"))
            #expect(!detail.contains("whsec_"), "and never again")

            let authorize = try await browser.post("/console/integrations/\(id)/authorize", [("csrf", csrf)])
            #expect(authorize.status == .seeOther)
            let providerURL = try #require(authorize.headers[.location])
            #expect(providerURL.hasPrefix(harness.sandbox.url + "/oauth?"))
            let binding = String(try #require(authorize.headers[.setCookie]).split(separator: ";")[0])
            #expect(binding.hasPrefix("sb_bind_"), "the authorization is bound to this browser")
            let location = try await SandboxBrowser.authorize(providerURL)
            #expect(try await client.execute(uri: try callbackURI(location), method: .get).status == .badRequest, "not from another browser")
            let callback = try await client.execute(uri: try callbackURI(location), method: .get, headers: [.cookie: binding])
            #expect(text(callback).contains("/console/integrations/\(id)"), "the page links back to the console")

            let authorized = text(try await browser.get("/console/integrations/\(id)"))
            #expect(authorized.contains("authorized") && authorized.contains("Acme Support"))
            let enabled = try await browser.post("/console/integrations/\(id)/enable", [("csrf", csrf)])
            #expect(enabled.headers[.location]?.contains("notice=") == true)
            #expect(try await harness.store.integrations.integration(id: id, workspaceID: harness.workspace.id)?.status == .enabled)
        }
    }

    @Test("the system app steps by form: Select System, Authorize, Enable")
    func systemStepsInConsole() async throws {
        try await Harness.with { harness, client in
            var browser = ConsoleBrowser(client: client)
            _ = try await browser.signIn(harness.apiKey)
            let csrf = try await browser.csrf()
            let (_, id) = try await browser.addIntegration([("csrf", csrf), ("name", "Bot"), ("authorization", "preauthorized"), ("app", "system")])
            let authorize = try await browser.post("/console/integrations/\(id)/authorize", [("csrf", csrf)])
            let providerURL = try #require(authorize.headers[.location])
            let binding = String(try #require(authorize.headers[.setCookie]).split(separator: ";")[0])
            _ = try await client.execute(uri: try callbackURI(try await SandboxBrowser.authorize(providerURL)), method: .get, headers: [.cookie: binding])
            _ = try await browser.post("/console/integrations/\(id)/enable", [("csrf", csrf)])
            #expect(text(try await browser.get("/console/integrations/\(id)")).contains("status-enabled"))
        }
    }

    @Test("the guide's per-user steps by form: add with a notify URL, Enable; connected end users are counted, listed on the connections page with their workspace, since and status, and can be disconnected")
    func perUserInConsole() async throws {
        try await Harness.with { harness, client in
            var browser = ConsoleBrowser(client: client)
            _ = try await browser.signIn(harness.apiKey)
            let csrf = try await browser.csrf()
            let refused = try await browser.post("/console/integrations", [("csrf", csrf), ("name", "Bot"), ("authorization", "per_user"), ("app", "system"),
                                                                          ("notifyURL", "not a url")])
            #expect(refused.status == .unprocessableContent && text(refused).contains("<strong>Notify URL</strong>"))
            #expect(text(refused).contains(#"<p class="field-error" id="notifyURL-error" role="alert">Notify URL "#), "the message is beside its field")
            #expect(text(refused).contains(#"value="not a url""#), "what was typed is kept")
            let (page, id) = try await browser.addIntegration([("csrf", csrf), ("name", "Bot"), ("authorization", "per_user"), ("app", "system"),
                                                              ("notifyURL", "https://assistant.example/events"), ("verifyURL", "")])
            #expect(page.contains("https://assistant.example/events") && page.contains("whsec_"))
            _ = try await browser.post("/console/integrations/\(id)/enable", [("csrf", csrf)])
            #expect(text(try await browser.get("/console/integrations/\(id)")).contains("No end user has connected yet."))
            #expect(text(try await browser.get("/console/integrations/\(id)/connections")).contains("No connection yet."))

            let url = try await harness.connectLink(client, id, user: "user-7")
            #expect(try await EndUserBrowser(harness: harness, client: client).connect(url).status == .ok)
            let summary = text(try await browser.get("/console/integrations/\(id)"))
            #expect(summary.contains("1 end user has connected.") && summary.contains("/console/integrations/\(id)/connections"))
            let connection = try #require(try await harness.store.connections.connection(integrationID: id, endUserID: "user-7"))
            let listed = text(try await browser.get("/console/integrations/\(id)/connections"))
            #expect(listed.contains("<code>user-7</code>") && listed.contains("Acme Support") && listed.contains("ada@acme.test"))
            let since = connection.createdAt.formatted(Date.ISO8601FormatStyle(timeZone: .gmt)).replacingOccurrences(of: "T", with: " ")
                .replacingOccurrences(of: "Z", with: " UTC")
            #expect(listed.contains("<td>\(since)</td>"), "since when")
            #expect(listed.contains(#"<span class="status status-active">active</span>"#))
            #expect(listed.contains(#"aria-label="Disconnect user-7""#), "the button names whom it disconnects")
            let found = text(try await browser.get("/console/integrations/\(id)/connections?user=user-7"))
            #expect(found.contains("<code>user-7</code>"))
            #expect(text(try await browser.get("/console/integrations/\(id)/connections?user=user-8")).contains("No connection for that end user."))

            let disconnected = try await browser.post("/console/integrations/\(id)/disconnect", [("csrf", csrf), ("userId", "user-7")])
            #expect(disconnected.headers[.location] == "/console/integrations/\(id)/connections?notice=disconnected")
            #expect(try await harness.store.connections.connection(integrationID: id, endUserID: "user-7") == nil)
            let again = try await browser.post("/console/integrations/\(id)/disconnect", [("csrf", csrf), ("userId", "user-7")])
            #expect(again.headers[.location] == "/console/integrations/\(id)/connections?error=no_connection")
            #expect(text(try await browser.get("/console/integrations/\(id)/connections?error=no_connection")).contains("That user has no connection."))
        }
    }

    @Test("agent tokens in the console: made with an end user, tools and a lifetime, shown once, listed by prefix, revoked; /mcp follows")
    func agentTokensInConsole() async throws {
        try await Harness.with { harness, client in
            var browser = ConsoleBrowser(client: client)
            _ = try await browser.signIn(harness.apiKey)
            let csrf = try await browser.csrf()
            let (_, id) = try await browser.addIntegration([("csrf", csrf), ("name", "Bot"), ("authorization", "per_user"), ("app", "system")])
            let empty = text(try await browser.get("/console/integrations/\(id)"))
            #expect(empty.contains("No agent token yet.") && empty.contains("https://switchboard.test/mcp"))
            #expect(empty.contains(#"<label for="token-name">Name</label>"#) && empty.contains(#"<label for="token-expiry">Expires</label>"#))

            let refused = try await browser.post("/console/integrations/\(id)/agent-tokens", [("csrf", csrf), ("name", "Ada's agent"), ("tools", "intercom.nope")])
            #expect(refused.status == .unprocessableContent)
            #expect(text(refused).contains("<strong>Tools</strong>") && text(refused).contains(#"value="intercom.nope""#), "the field named, what was typed kept")

            let made = try await browser.post("/console/integrations/\(id)/agent-tokens",
                                              [("csrf", csrf), ("name", "Ada's agent"), ("userId", "user-a"), ("tools", "intercom.who_am_i intercom.get_contact"),
                                               ("expiresInDays", "30")])
            #expect(made.status == .ok, "\(text(made))")
            let secret = String(try #require(text(made).firstMatch(of: /sbat_[A-Za-z0-9_-]+/)?.0))
            #expect(text(made).contains("Shown this once"))
            let listed = text(try await browser.get("/console/integrations/\(id)"))
            #expect(!listed.contains(secret), "never shown again")
            #expect(listed.contains(String(secret.prefix(12)) + "…") && listed.contains("user-a") && listed.contains("intercom.who_am_i, intercom.get_contact"))
            #expect(!listed.contains("never</td>"), "it expires")
            let stored = try #require(try await harness.store.agentTokens.agentTokens(integrationID: id, workspaceID: harness.workspace.id).first)
            #expect(stored.endUserID == "user-a" && stored.tools == ["intercom.who_am_i", "intercom.get_contact"] && stored.expiresAt != nil)

            let mcp = MCPClient(harness: harness, client: client, token: secret)
            #expect(try await mcp.post("tools/list").status == .ok)
            let revoked = try await browser.post("/console/integrations/\(id)/agent-tokens/\(stored.id)/revoke", [("csrf", csrf)])
            #expect(revoked.status == .seeOther && revoked.headers[.location]?.contains("notice=agent_token_revoked") == true)
            #expect(text(try await browser.get("/console/integrations/\(id)")).contains("status-revoked"))
            #expect(try await mcp.post("tools/list").status == .unauthorized)
            let forged = try await browser.post("/console/integrations/\(id)/agent-tokens", [("name", "no csrf")])
            #expect(forged.status == .forbidden, "a form without its CSRF token is refused")
        }
    }

    @Test("every page with every optional value unset shows no nil, no Optional( and no unrendered {{")
    func noNil() async throws {
        try await Harness.with { harness, client in
            var browser = ConsoleBrowser(client: client)
            var pages: [(String, String)] = [("login", text(try await browser.get("/console")))]
            _ = try await browser.signIn(harness.apiKey)
            pages.append(("no integrations", text(try await browser.get("/console/integrations"))))
            pages.append(("no profiles", text(try await browser.get("/console/auth-profiles"))))
            let csrf = try await browser.csrf()
            let (shownOnce, shared) = try await browser.addIntegration([("csrf", csrf), ("name", "Shared"), ("authorization", "preauthorized"), ("app", "system")])
            pages.append(("added", shownOnce))
            let (_, perUser) = try await browser.addIntegration([("csrf", csrf), ("name", "Per user"), ("authorization", "per_user"), ("app", "system")])
            pages.append(("integrations", text(try await browser.get("/console/integrations"))))
            pages.append(("pre-authorized, no connection", text(try await browser.get("/console/integrations/\(shared)"))))
            pages.append(("per user, nobody connected", text(try await browser.get("/console/integrations/\(perUser)"))))
            _ = try await browser.post("/console/integrations/\(perUser)/enable", [("csrf", csrf)])
            _ = try await browser.post("/console/integrations/\(perUser)/agent-tokens", [("csrf", csrf), ("name", "agent")])
            let link = try await harness.connectLink(client, perUser, user: "user-9")
            pages.append(("connect link", text(try await EndUserBrowser(harness: harness, client: client).open(link))))
            #expect(try await EndUserBrowser(harness: harness, client: client).connect(link).status == .ok)
            pages.append(("per user, connected, a token", text(try await browser.get("/console/integrations/\(perUser)"))))
            for integration in [shared, perUser] {
                for page in ["settings", "connections", "delete", "actions", "actions/intercom.create_ticket", "runs", "events"] {
                    pages.append(("\(integration == shared ? "pre-authorized" : "per user") \(page)",
                                  text(try await browser.get("/console/integrations/\(integration)/\(page)"))))
                }
            }
            pages.append(("not found", text(try await browser.get("/console/integrations/int_nope"))))
            for (name, page) in pages {
                #expect(unlabelledControls(page).isEmpty, "\(name): controls without a label: \(unlabelledControls(page))")
                #expect(page.firstMatch(of: /\bnil\b/) == nil, "\(name) shows nil")
                #expect(!page.contains("Optional("), "\(name) shows Optional(")
                #expect(!page.contains("{{"), "\(name) shows an unrendered tag")
            }
            let unset = try #require(pages.first { $0.0 == "pre-authorized, no connection" }?.1)
            #expect(!unset.contains("Signing secret"), "a secret not shown this time leaves its row out")
            #expect(unset.contains("<tr><th>Notify URL</th><td>—</td></tr>"), "an unset value is a dash")
        }
    }

    @Test("actions: the catalog, searchable; Try it runs an action from a form built from its schema, shows the result, names a bad field and keeps what was typed; the run says console")
    func actionsAndTryIt() async throws {
        try await Harness.with { harness, client in
            var browser = ConsoleBrowser(client: client)
            _ = try await browser.signIn(harness.apiKey)
            let id = try await harness.enabledIntegration(client)
            #expect(text(try await browser.get("/console/integrations/\(id)")).contains("/console/integrations/\(id)/actions"))
            let all = text(try await browser.get("/console/integrations/\(id)/actions"))
            let total = ActionCatalog.intercom.actions.count
            #expect(all.contains("\(total) of \(total) actions") && all.contains(#"<label for="q">Search the actions</label>"#))
            #expect(all.contains(#"<h2 id="group-tickets">Tickets"#) && all.contains(#"<h2 id="group-help-center">Help Center"#), "grouped by the description's tags")
            let macros = text(try await browser.get("/console/integrations/\(id)/actions?q=macro"))
            #expect(macros.contains("intercom.list_macros") && macros.contains("from Intercom's API description") && macros.contains("2 of \(total) actions"), "\(macros)")
            // Try it for a generated action whose input holds objects: a JSON field for each.
            let noteForm = text(try await browser.get("/console/integrations/\(id)/actions/intercom.create_message"))
            #expect(noteForm.contains(#"<textarea id="field-from""#), "an object input is typed as JSON: \(noteForm.prefix(2000))")
            let listed = try await browser.post("/console/integrations/\(id)/actions/intercom.list_macros", [("csrf", try await browser.csrf())])
            #expect(listed.status == .ok && text(listed).contains("<h2>Result</h2>") && text(listed).contains("macro"), "Try it runs a generated action")
            let tickets = text(try await browser.get("/console/integrations/\(id)/actions?q=create+ticket"))
            #expect(tickets.contains("Create a ticket") && !tickets.contains("Delete a contact"), "\(tickets)")

            let form = text(try await browser.get("/console/integrations/\(id)/actions/intercom.create_ticket"))
            #expect(form.contains(#"<label for="field-title">title <span class="hint">(required)</span></label>"#))
            #expect(form.contains(#"type="email" id="field-email" name="input.email""#), "an email input for an email")
            #expect(form.contains("An assistant asks: “What is the subject of your ticket?”"))
            let listForm = text(try await browser.get("/console/integrations/\(id)/actions/intercom.list_contacts"))
            #expect(listForm.contains(#"type="number" step="any" id="field-limit""#), "a number input for an integer")

            let csrf = try await browser.csrf()
            let bad = try await browser.post("/console/integrations/\(id)/actions/intercom.create_ticket",
                                             [("csrf", csrf), ("input.ticket_type_id", "1"), ("input.email", "not-an-email"), ("input.title", ""), ("input.description", "It broke")])
            #expect(bad.status == .unprocessableContent)
            let badPage = text(bad)
            #expect(badPage.contains(#"<p class="field-error" role="alert">email must be an email address</p>"#), "\(badPage)")
            #expect(badPage.contains(#"<p class="field-error" role="alert">title is required</p>"#))
            #expect(badPage.contains(#"value="not-an-email""#) && badPage.contains(#"value="It broke""#), "what was typed is kept")
            let notNumber = try await browser.post("/console/integrations/\(id)/actions/intercom.list_contacts", [("csrf", csrf), ("input.limit", "many")])
            #expect(notNumber.status == .unprocessableContent && text(notNumber).contains("limit must be a number"))

            let ran = try await browser.post("/console/integrations/\(id)/actions/intercom.create_contact",
                                             [("csrf", csrf), ("input.email", "console@example.com"), ("input.name", "Con Sole")])
            #expect(ran.status == .ok)
            let result = text(ran)
            #expect(result.contains("<h2>Result</h2>") && result.contains("&quot;email&quot; : &quot;console@example.com&quot;"), "the result, formatted: \(result)")
            let runs = try object(try await client.call(.get, "/v1/runs?limit=1", harness))
            #expect((runs["data"] as? [[String: Any]])?.first?["channel"] as? String == "console")

            let perUser = try await harness.perUserIntegration(client)
            _ = try await client.call(.post, "/v1/integrations/\(perUser)/enable", harness)
            let who = text(try await browser.post("/console/integrations/\(perUser)/actions/intercom.who_am_i", [("csrf", csrf), ("userId", "user-c")]))
            #expect(who.contains("The user must connect first") && who.contains("https://switchboard.test/connect/"), "\(who)")
        }
    }

    @Test("the guide's Custom words: Select Authorization, Create New, oAuth v2; saved, the browser is back at Add Intercom with Custom and the profile selected, its callback URL shown")
    func createNewRoundTrip() async throws {
        try await Harness.with { harness, client in
            var browser = ConsoleBrowser(client: client)
            _ = try await browser.signIn(harness.apiKey)
            let page = text(try await browser.get("/console/integrations"))
            #expect(page.contains(#"<label for="authProfileId">Select Authorization"#) && page.contains(#"href="/console/auth-profiles?then=integration#create-new">Create New</a>"#))
            let form = text(try await browser.get("/console/auth-profiles?then=integration"))
            #expect(form.contains(#"<option value="oauth2" selected>oAuth v2</option>"#) && form.contains(#"<input type="hidden" name="then" value="integration">"#))
            for label in ["Identity provider name", "Description", "Client ID", "Client secret", "Authorization URL", "Token Request URL", "Refresh Token URL", "Scopes"] {
                #expect(form.contains(">\(label)"), "the guide's field \(label)")
            }
            let csrf = try await browser.csrf()
            let saved = try await browser.post("/console/auth-profiles", [
                ("csrf", csrf), ("then", "integration"), ("mechanism", "oauth2"), ("name", "Acme app"), ("clientId", "acme-id"), ("clientSecret", "acme-secret"),
                ("authorizationURL", harness.sandbox.url + "/oauth?client_id=****&state=abc"), ("tokenURL", harness.sandbox.url + "/auth/eagle/token"),
            ])
            let location = try #require(saved.headers[.location])
            let profile = try #require(try await harness.store.profiles.authProfiles(workspaceID: harness.workspace.id).first)
            #expect(location == "/console/integrations?notice=profile_saved&profile=\(profile.id)#add-intercom")
            let back = text(try await browser.get("/console/integrations?notice=profile_saved&profile=\(profile.id)"))
            #expect(back.contains(#"<option value="\#(profile.id)" selected>Acme app</option>"#) && back.contains(#"value="custom" checked"#))
            #expect(back.contains("https://switchboard.test/oauth/callback/\(profile.id)") && !back.contains("acme-secret"))
        }
    }

    @Test("runs: the audit log filtered by action, outcome and end user, paged; the API takes the same filters")
    func runsPage() async throws {
        try await Harness.with { harness, client in
            var browser = ConsoleBrowser(client: client)
            _ = try await browser.signIn(harness.apiKey)
            let id = try await harness.enabledIntegration(client)
            #expect(text(try await browser.get("/console/integrations/\(id)/runs")).contains("No run yet."))
            for _ in 0..<50 { #expect(try await harness.run(client, id, "intercom.who_am_i", "{}").status == .ok) }
            _ = try await harness.run(client, id, "intercom.get_contact", #"{"contact_id":"nope"}"#)
            let csrf = try await browser.csrf()
            _ = try await browser.post("/console/integrations/\(id)/actions/intercom.list_admins", [("csrf", csrf)])

            let first = text(try await browser.get("/console/integrations/\(id)/runs"))
            #expect(first.matches(of: /<tr><td>/).count == 50, "a page of 50")
            // All 52 runs share the test clock's millisecond: the last one recorded still comes first.
            let newest = try #require(first.firstMatch(of: /<tr><td>.*?<\/tr>/.dotMatchesNewlines())).output
            #expect(newest.contains("<td>console</td>") && newest.contains("intercom.list_admins"), "\(newest)")
            let older = try #require(first.firstMatch(of: /<a href="([^"]+)">Older runs/)?.1).replacingOccurrences(of: "&amp;", with: "&")
            let second = text(try await browser.get(older))
            #expect(second.matches(of: /<tr><td>/).count == 2 && !second.contains("Older runs"), "the rest on the next page")

            let failed = text(try await browser.get("/console/integrations/\(id)/runs?outcome=failed"))
            #expect(failed.matches(of: /<tr><td>/).count == 1 && failed.contains("not_found"))
            let byAction = text(try await browser.get("/console/integrations/\(id)/runs?action=intercom.list_admins"))
            #expect(byAction.matches(of: /<tr><td>/).count == 1 && byAction.contains(#"<option value="intercom.list_admins" selected>"#))
            #expect(text(try await browser.get("/console/integrations/\(id)/runs?user=somebody")).contains("No run matches."))

            let api = try object(try await client.call(.get, "/v1/runs?integration=\(id)&outcome=failed", harness))
            #expect((api["data"] as? [[String: Any]])?.map { $0["outcome"] as? String } == ["not_found"])
            let ok = try object(try await client.call(.get, "/v1/runs?integration=\(id)&action=intercom.who_am_i&outcome=ok&limit=200", harness))
            #expect((ok["data"] as? [Any])?.count == 50)
        }
    }

    @Test("events: the delivery log with each event's type, end user, status, attempts and last answer; without a notify URL the page says none are sent")
    func eventsPage() async throws {
        try await Harness.withNotifyingIntegration { harness, client, receiver, id, _ in
            var browser = ConsoleBrowser(client: client)
            _ = try await browser.signIn(harness.apiKey)
            #expect(text(try await browser.get("/console/integrations/\(id)/events")).contains("No event yet."))
            let url = try await harness.connectLink(client, id, user: "user-e")
            #expect(try await EndUserBrowser(harness: harness, client: client).connect(url).status == .ok)
            _ = try await receiver.wait(for: 1)
            await harness.events.drain()  // the attempt is recorded once the delivery's task ends
            let page = text(try await browser.get("/console/integrations/\(id)/events"))
            #expect(page.contains("<code>connection.created</code>") && page.contains("<td>user-e</td>"), "\(page)")
            #expect(page.contains(#"<span class="status status-delivered">delivered</span>"#) && page.contains("<td>1</td><td>200</td>"), "\(page)")
            #expect(page.contains(receiver.url))
            let quiet = try await harness.enabledIntegration(client)
            #expect(text(try await browser.get("/console/integrations/\(quiet)/events")).contains("no notify URL, so no event is sent"))
        }
    }

    @Test("a form with errors is shown again with each field named; nothing is stored")
    func formErrors() async throws {
        try await Harness.with { harness, client in
            var browser = ConsoleBrowser(client: client)
            _ = try await browser.signIn(harness.apiKey)
            let csrf = try await browser.csrf()
            let response = try await browser.post("/console/auth-profiles", [("csrf", csrf), ("name", "X"), ("authorizationURL", "ftp://nope")])
            #expect(response.status == .unprocessableContent)
            let page = text(response)
            for field in ["Client ID", "Client secret", "Authorization URL", "Token request URL"] { #expect(page.contains("<strong>\(field)</strong>")) }
            #expect(page.contains("value=\"X\""), "what was typed is kept")
            #expect(try await harness.store.profiles.authProfiles(workspaceID: harness.workspace.id).isEmpty)

            let (_, id) = try await browser.addIntegration([("csrf", csrf), ("name", "Bot"), ("authorization", "preauthorized"), ("app", "system")])
            let refused = try await browser.post("/console/integrations/\(id)/enable", [("csrf", csrf)])
            #expect(refused.status == .conflict && text(refused).contains("class=\"error\""), "enabling before authorizing is refused with a message")
        }
    }

    @Test("posts without the session's CSRF token, with a tampered cookie, or after the key is gone are refused")
    func forgery() async throws {
        try await Harness.with { harness, client in
            var browser = ConsoleBrowser(client: client)
            _ = try await browser.signIn(harness.apiKey)
            let noToken = try await browser.post("/console/integrations", [("name", "Bot"), ("authorization", "preauthorized"), ("app", "system")])
            #expect(noToken.status == .forbidden)
            let wrongToken = try await browser.post("/console/integrations", [("csrf", "AAAAAAAAAAAAAAAAAAAAAAAA"), ("name", "Bot"), ("app", "system")])
            #expect(wrongToken.status == .forbidden)
            #expect(try await harness.store.integrations.integrations(workspaceID: harness.workspace.id).isEmpty)

            var tampered = browser
            tampered.cookie = String(browser.cookie!.dropLast()) + (browser.cookie!.hasSuffix("A") ? "B" : "A")
            #expect(try await tampered.get("/console/integrations").headers[.location] == "/console")

            try await harness.store.database.write { db in try await db.raw("UPDATE api_keys SET revoked_at = 1").run() }
            #expect(try await browser.get("/console/integrations").headers[.location] == "/console", "revoking the key ends the session")
        }
    }

    @Test("names are escaped in pages")
    func escaping() async throws {
        try await Harness.with { harness, client in
            _ = try await client.call(.post, "/v1/integrations", harness, json: #"{"name":"<script>alert(1)</script>","app":"system","authorization":"per_user"}"#)
            var browser = ConsoleBrowser(client: client)
            _ = try await browser.signIn(harness.apiKey)
            let page = text(try await browser.get("/console/integrations"))
            #expect(!page.contains("<script>alert(1)</script>"))
            #expect(page.contains("&lt;script&gt;"))
        }
    }
}
