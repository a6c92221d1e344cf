import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import SwitchboardCore
import SwitchboardServer
import SwitchboardStore
import SwitchboardTestSupport
import Testing

@Suite("Security headers and redaction")
struct PageHeadersTests {
    func expectPageHeaders(_ response: TestResponse, hsts: Bool, _ what: String, sourceLocation: SourceLocation = #_sourceLocation) {
        let csp = response.headers[HTTPField.Name("Content-Security-Policy")!] ?? ""
        #expect(csp.contains("default-src 'self'") && csp.contains("frame-ancestors 'none'"), "\(what): \(csp)", sourceLocation: sourceLocation)
        #expect(response.headers[HTTPField.Name("X-Content-Type-Options")!] == "nosniff", "\(what)", sourceLocation: sourceLocation)
        #expect(response.headers[HTTPField.Name("Referrer-Policy")!] == "no-referrer", "\(what)", sourceLocation: sourceLocation)
        #expect((response.headers[HTTPField.Name("Strict-Transport-Security")!] != nil) == hsts, "\(what)", sourceLocation: sourceLocation)
        // The policy allows no inline style or script, so the pages have none.
        let body = text(response)
        // Nothing inline, which the policy would refuse: the one script is the console's own file, and no handler attributes.
        let scripts = body.matches(of: /<script[^>]*>/).map { String($0.0) }
        #expect(!body.contains("<style") && !body.contains(" style=") && scripts.allSatisfy { $0 == #"<script src="/assets/switchboard.js" defer>"# }
                && body.firstMatch(of: /\son[a-z]+="/) == nil, "\(what)", sourceLocation: sourceLocation)
    }

    @Test("every HTML page carries the CSP, nosniff, no-referrer and (for an https public URL) HSTS; the stylesheet is served")
    func headersOnPages() async throws {
        try await Harness.with { harness, client in
            expectPageHeaders(try await client.execute(uri: "/console", method: .get), hsts: true, "sign-in")
            var browser = ConsoleBrowser(client: client)
            #expect(try await browser.signIn(harness.apiKey).status == .seeOther)
            let id = try await harness.perUserIntegration(client)
            expectPageHeaders(try await browser.get("/console/integrations"), hsts: true, "integrations")
            expectPageHeaders(try await browser.get("/console/integrations/\(id)"), hsts: true, "integration")
            expectPageHeaders(try await browser.get("/console/auth-profiles"), hsts: true, "profiles")
            let url = try await harness.connectLink(client, id, user: "user-a")
            let endUser = EndUserBrowser(harness: harness, client: client)
            expectPageHeaders(try await endUser.open(url), hsts: true, "connect page")
            expectPageHeaders(try await client.execute(uri: "/connect/not-a-token", method: .get), hsts: true, "bad link")
            expectPageHeaders(try await client.execute(uri: "/oauth/callback?state=x&code=y", method: .get), hsts: true, "callback")
            let api = try await client.call(.get, "/v1/integrations", harness)
            #expect(api.headers[HTTPField.Name("X-Content-Type-Options")!] == "nosniff" && api.headers[HTTPField.Name("Referrer-Policy")!] == "no-referrer")
            let problem = try await client.call(.get, "/v1/integrations/int_nope", harness)
            #expect(problem.status == .notFound && problem.headers[HTTPField.Name("X-Content-Type-Options")!] == "nosniff")
            let css = try await client.execute(uri: "/assets/switchboard.css", method: .get)
            #expect(css.status == .ok && css.headers[.contentType]?.hasPrefix("text/css") == true && text(css).contains("body{"))
            let script = try await client.execute(uri: "/assets/switchboard.js", method: .get)
            #expect(script.status == .ok && script.headers[.contentType]?.hasPrefix("text/javascript") == true && text(script).contains("navigator.clipboard"))
        }
    }

    @Test("no HSTS when the public URL is plain http")
    func noHSTSOnHTTP() async throws {
        try await Harness.with(configure: { settings, _ in settings.publicURL = URL(string: "http://127.0.0.1:8080")! }) { _, client in
            expectPageHeaders(try await client.execute(uri: "/console", method: .get), hsts: false, "sign-in")
        }
    }

    @Test("a connect token never reaches the logs, however the path is spelled; form actions come from the link, not the request path")
    func redactedByRoute() async throws {
        try await Harness.with { harness, client in
            let id = try await harness.perUserIntegration(client)
            let url = try await harness.connectLink(client, id, user: "user-a")
            let token = String(try #require(url.split(separator: "/").last))
            for path in ["/connect/\(token)", "//connect/\(token)", "/connect/\(token)/x/y"] {
                let page = try await client.execute(uri: path, method: .get)
                let body = text(page)
                if !path.hasSuffix("/x/y") { #expect(page.status == .ok, "\(path) routes to the link's page") }
                if page.status == .ok {
                    #expect(body.contains("action=\"\(url)\""), "\(path): \(body)")
                    #expect(!body.contains("action=\"//"), "\(path)")
                }
            }
            #expect(harness.logs.text.contains("/connect/\(token.prefix(6))…"), "the request was logged, by route")
            #expect(!harness.logs.text.contains(token), "the whole token is in no log line")
        }
    }

    @Test("served below a path, cookies carry that path, so the browser brings them back")
    func cookiePathsUnderPrefix() async throws {
        try await Harness.with(configure: { settings, _ in settings.publicURL = URL(string: "https://switchboard.test/sb")! }) { harness, client in
            let id = try await harness.perUserIntegration(client)
            let url = try await harness.connectLink(client, id, user: "user-a")
            #expect(url.hasPrefix("https://switchboard.test/sb/connect/"))
            let token = String(try #require(url.split(separator: "/").last))
            // The proxy in front strips /sb; the router serves /connect/….
            let pressed = try await client.execute(uri: "/connect/\(token)", method: .post, headers: sameOriginForm)
            #expect(pressed.headers[.setCookie]?.contains("Path=/sb/oauth/callback") == true, "\(pressed.headers[.setCookie] ?? "")")
            var browser = ConsoleBrowser(client: client)
            let signedIn = try await browser.signIn(harness.apiKey)
            #expect(signedIn.headers[.setCookie]?.contains("Path=/sb/console") == true)
        }
    }
}
