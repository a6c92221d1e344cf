import Foundation
import Mustache

/// The sandbox's HTML, shaped like Intercom's login and consent screens.
enum SandboxPages {
    static let layout = """
        <!doctype html>
        <html lang="en"><head><meta charset="utf-8"><title>{{title}} · Intercom sandbox</title>
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <style>
        body{font-family:system-ui,sans-serif;background:#f5f5f7;margin:0;padding:48px 16px;color:#1a1a1a}
        main{max-width:420px;margin:auto;background:#fff;border-radius:12px;padding:32px;box-shadow:0 1px 4px #0002}
        h1{font-size:20px;margin-top:0} label{display:block;margin:12px 0 4px} input{width:100%;padding:8px;box-sizing:border-box}
        button{margin-top:16px;padding:10px 18px;border:0;border-radius:6px;background:#1f8ded;color:#fff;font-size:15px;cursor:pointer}
        button.secondary{background:#e8e8ec;color:#1a1a1a} .error{color:#b00020} .note{color:#555;font-size:13px}
        </style></head><body><main>
        <p class="note">Intercom sandbox — a local stand-in for app.intercom.com</p>
        {{{content}}}
        </main></body></html>
        """

    static let login = """
        <h1>Log in to Intercom</h1>
        <p><strong>{{appName}}</strong> wants to connect to your Intercom workspace.</p>
        {{#error}}<p class="error" role="alert">{{error}}</p>{{/error}}
        <form method="post" action="/oauth/login">
        <input type="hidden" name="client_id" value="{{clientID}}">
        <input type="hidden" name="redirect_uri" value="{{redirectURL}}">
        {{#state}}<input type="hidden" name="state" value="{{state}}">{{/state}}
        <label for="email">Email</label><input id="email" name="email" type="email" autocomplete="username" value="{{email}}">
        <label for="password">Password</label><input id="password" name="password" type="password" autocomplete="current-password">
        <button type="submit">Log in</button>
        </form>
        """

    static let consent = """
        <h1>Connect {{appName}} to {{workspaceName}}?</h1>
        <p>Signed in as {{adminName}} ({{adminEmail}}).</p>
        <p><strong>{{appName}}</strong> will be able to read and change data in the <strong>{{workspaceName}}</strong> workspace
        with the permissions ticked on the app.</p>
        <form method="post" action="/oauth/authorize">
        <input type="hidden" name="session" value="{{session}}">
        <button type="submit" name="decision" value="allow">Authorize access</button>
        <button type="submit" name="decision" value="deny" class="secondary">Cancel</button>
        </form>
        """

    static let error = """
        <h1>{{heading}}</h1>
        <p class="error" role="alert">{{message}}</p>
        """

    private static let templates: [String: MustacheTemplate] = {
        var result: [String: MustacheTemplate] = [:]
        for (name, text) in ["layout": layout, "login": login, "consent": consent, "error": error] {
            result[name] = try! MustacheTemplate(string: text)
        }
        return result
    }()

    static func render(_ name: String, title: String, _ values: [String: Any]) -> String {
        let content = templates[name]!.render(values)
        return templates["layout"]!.render(["title": title, "content": content])
    }
}
