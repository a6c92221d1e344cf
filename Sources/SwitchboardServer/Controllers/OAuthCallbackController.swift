import Foundation
import Hummingbird
import Mustache
import SwitchboardCore

/// `GET /oauth/callback` (the system app's) and `GET /oauth/callback/{profile}` (each custom profile's): where the
/// provider sends the browser back.
struct OAuthCallbackController: Sendable {
    let authorization: AuthorizationService
    let resumer: ResumeRunner
    let settings: ServerSettings

    func register(on router: Router<AppRequestContext>) {
        router.get("/oauth/callback", use: callback)
        router.get("/oauth/callback/{profile}", use: callback)
    }

    @Sendable func callback(request: Request, context: AppRequestContext) async throws -> Response {
        let arrivedAt = context.parameters.get("profile").map { settings.callbackURL(profileID: $0) } ?? settings.callbackURL
        let query = request.uri.queryParameters
        // Hummingbird's query parser already percent-decodes; a code ending in "=" arrives intact.
        func value(_ name: String) -> String? {
            guard let raw = query[name[...]] else { return nil }
            return String(raw)
        }
        let jar = request.cookies
        let outcome = await authorization.complete(
            state: value("state"), code: value("code"), error: value("error"), errorDescription: value("error_description"), arrivedAt: arrivedAt,
            cookie: { jar[$0]?.value }
        )
        if case .connected(_, _, _, _, let linkID?) = outcome {
            // Calls kept with `resume: true` run now, without holding up the page.
            Task { await resumer.resume(connectLinkID: linkID) }
        }
        switch outcome {
        case .connected(_, let integrationName, let account, true, _):
            return Pages.html(.ok, Pages.render(title: "Connected", heading: "You're connected",
                message: "Your Intercom account (\(account.name)) is connected to \(integrationName). You can return to the conversation.", success: true))
        case .connected(let integrationID, let integrationName, let account, false, _):
            return Pages.html(.ok, Pages.render(title: "Connected", heading: "Intercom workspace \(account.name) connected",
                message: "\(integrationName) can now act in \(account.name)\(account.adminEmail.map { " as \($0)" } ?? ""). You can close this window and return to Switchboard.",
                success: true, link: (href: "/console/integrations/\(integrationID)", text: "Back to the integration")))
        case .failed(let status, let heading, let message):
            return Pages.html(.init(code: status), Pages.render(title: heading, heading: heading, message: message, success: false))
        }
    }
}

/// Small HTML pages shown to people in a browser.
enum Pages {
    static let template = try! MustacheTemplate(string: """
        <!doctype html>
        <html lang="en"><head><meta charset="utf-8"><title>{{title}} · Switchboard</title>
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <link rel="stylesheet" href="/assets/switchboard.css"></head>
        <body class="card"><main><h1 class="{{#success}}ok{{/success}}{{^success}}fail{{/success}}">{{heading}}</h1><p>{{message}}</p>
        {{#form}}<form method="post" action="{{action}}"><button type="submit">{{button}}</button></form>{{/form}}
        {{#link}}<p><a href="{{href}}">{{text}}</a></p>{{/link}}</main></body></html>
        """)

    static func render(title: String, heading: String, message: String, success: Bool, link: (href: String, text: String)? = nil,
                       form: (action: String, button: String)? = nil) -> String {
        var values: [String: Any] = ["title": title, "heading": heading, "message": message, "success": success]
        if let link { values["link"] = ["href": link.href, "text": link.text] }
        if let form { values["form"] = ["action": form.action, "button": form.button] }
        return template.render(values)
    }

    static func html(_ status: HTTPResponse.Status, _ body: String) -> Response {
        Response(status: status, headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store"],
                 body: .init(byteBuffer: ByteBuffer(string: body)))
    }
}
