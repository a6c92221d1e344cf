import Mustache

/// The console's HTML. Mustache escapes every `{{value}}`; only `{{{content}}}` (our own rendered HTML) is raw.
enum ConsoleTemplates {
    static let layout = """
        <!doctype html>
        <html lang="en"><head><meta charset="utf-8"><title>{{title}} · Switchboard</title>
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <link rel="stylesheet" href="/assets/switchboard.css"></head><body>
        <header><strong>Switchboard</strong>
        {{#signedIn}}<a href="/console/integrations">Integrations</a><a href="/console/auth-profiles">Authorization profiles</a>
        <span class="hint workspace">{{workspaceName}}</span>
        <form method="post" action="/console/logout"><input type="hidden" name="csrf" value="{{csrf}}"><button class="secondary">Sign out</button></form>{{/signedIn}}
        </header>
        <main>
        {{#notice}}<div class="notice" role="status">{{notice}}</div>{{/notice}}
        {{#error}}<div class="error" role="alert">{{error}}{{#hasErrors}}<ul>{{#errors}}<li><strong>{{field}}</strong> {{detail}}</li>{{/errors}}</ul>{{/hasErrors}}</div>{{/error}}
        {{{content}}}
        </main></body></html>
        """

    static let login = """
        <section><h1>Sign in to the console</h1>
        <form method="post" action="/console/login">
        <label for="apiKey">Admin API key <span class="hint">from <code>switchboard keys create --workspace NAME</code> (the demo prints one)</span></label>
        <input id="apiKey" name="apiKey" type="password" autocomplete="off" required>
        <p><button>Sign in</button></p></form></section>
        """

    static let integrations = """
        <section><h1>Integrations</h1>
        {{^integrations}}<p>No integrations yet. Add Intercom below.</p>{{/integrations}}
        {{#hasIntegrations}}<table><thead><tr><th>Name</th><th>App</th><th>Authorization</th><th>Status</th><th>Intercom workspace</th></tr></thead><tbody>
        {{#integrations}}<tr><td><a href="/console/integrations/{{id}}">{{name}}</a></td><td>{{appLabel}}</td><td>{{modeLabel}}</td>
        <td><span class="status status-{{status}}">{{status}}</span></td><td>{{account}}</td></tr>{{/integrations}}
        </tbody></table>{{/hasIntegrations}}</section>
        <section><h2>Add Intercom</h2>
        <form method="post" action="/console/integrations">
        <input type="hidden" name="csrf" value="{{csrf}}">
        <label for="name">Name</label><input id="name" name="name" type="text" value="{{form.name}}" required maxlength="200">
        <label>Authorization type</label>
        <label class="hint"><input type="radio" name="authorization" value="preauthorized" {{^form.perUser}}checked{{/form.perUser}}> Pre-authorize the integration (an admin authorizes once)</label>
        <label class="hint"><input type="radio" name="authorization" value="per_user" {{#form.perUser}}checked{{/form.perUser}}> Allow users to authorize the integration (each end user, through a link in the conversation)</label>
        <label>OAuth app</label>
        {{#systemAppConfigured}}<label class="hint"><input type="radio" name="app" value="system" {{^form.custom}}checked{{/form.custom}}> System: this deployment's Intercom app</label>{{/systemAppConfigured}}
        <label class="hint"><input type="radio" name="app" value="custom" {{#form.custom}}checked{{/form.custom}}{{^systemAppConfigured}}checked{{/systemAppConfigured}}> Custom: an authorization profile of your own</label>
        <label for="authProfileId">Authorization profile <span class="hint">(custom only; <a href="/console/auth-profiles">create new</a>)</span></label>
        <select id="authProfileId" name="authProfileId"><option value="">—</option>{{#profiles}}<option value="{{id}}" {{#selected}}selected{{/selected}}>{{name}}</option>{{/profiles}}</select>
        <label for="notifyURL">Notify URL <span class="hint">optional: where Switchboard POSTs signed events (a user connected, an action kept with resume ran)</span></label>
        <input id="notifyURL" name="notifyURL" type="text" value="{{form.notifyURL}}">
        <label for="verifyURL">Verify URL <span class="hint">optional, per-user only: where the browser confirms who opened a connect link, against forwarded links</span></label>
        <input id="verifyURL" name="verifyURL" type="text" value="{{form.verifyURL}}">
        <p><button>Add integration</button></p></form></section>
        """

    static let integration = """
        <section><h1>{{name}} <span class="status status-{{status}}">{{status}}</span></h1>
        <table>
        <tr><th>Provider</th><td>Intercom</td></tr>
        <tr><th>OAuth app</th><td>{{appLabel}}{{#profileName}} — {{profileName}}{{/profileName}}</td></tr>
        <tr><th>Authorization</th><td>{{modeLabel}}</td></tr>
        <tr><th>Callback URL</th><td><code class="copy">{{callbackURL}}</code><br><span class="hint">Intercom's Redirect URL for the app must include it.</span></td></tr>
        <tr><th>Notify URL</th><td>{{#notifyURL}}<code>{{notifyURL}}</code>{{/notifyURL}}{{^notifyURL}}—{{/notifyURL}}</td></tr>
        {{#perUser}}<tr><th>Verify URL</th><td>{{#verifyURL}}<code>{{verifyURL}}</code>{{/verifyURL}}{{^verifyURL}}—{{/verifyURL}}</td></tr>{{/perUser}}
        {{#signingSecret}}<tr><th>Signing secret</th><td><code class="copy">{{signingSecret}}</code><br><span class="hint">Shown this once: events carry <code>Switchboard-Signature</code>, an HMAC-SHA256 with this secret. Keep it with the assistant.</span></td></tr>{{/signingSecret}}
        {{#connection}}<tr><th>Connection</th><td><span class="status status-{{status}}">{{status}}</span> {{accountName}} ({{accountID}}{{#region}}, {{region}}{{/region}}){{#adminEmail}} as {{adminEmail}}{{/adminEmail}}
        {{#lastError}}<br><span class="hint">Last error: {{lastError}}</span>{{/lastError}}</td></tr>{{/connection}}
        </table>
        <div class="actions spaced">
        {{#canAuthorize}}<form method="post" action="/console/integrations/{{id}}/authorize"><input type="hidden" name="csrf" value="{{csrf}}"><button>{{authorizeLabel}}</button></form>{{/canAuthorize}}
        {{#canEnable}}<form method="post" action="/console/integrations/{{id}}/enable"><input type="hidden" name="csrf" value="{{csrf}}"><button>Enable</button></form>{{/canEnable}}
        {{#canDisable}}<form method="post" action="/console/integrations/{{id}}/disable"><input type="hidden" name="csrf" value="{{csrf}}"><button class="secondary">Disable</button></form>{{/canDisable}}
        <form method="post" action="/console/integrations/{{id}}/signing-secret" onsubmit="return confirm('Replace the signing secret? The old one stops working at once.')"><input type="hidden" name="csrf" value="{{csrf}}"><button class="secondary">New signing secret</button></form>
        <form method="post" action="/console/integrations/{{id}}/delete" onsubmit="return confirm('Delete this integration and every credential under it?')"><input type="hidden" name="csrf" value="{{csrf}}"><button class="danger">Delete</button></form>
        </div>
        {{#perUser}}<h2>End users</h2><p class="hint">End users connect their own Intercom accounts through a link the assistant sends in the conversation.</p>
        {{^users}}<p>No end user has connected yet.</p>{{/users}}
        {{#hasUsers}}<table><thead><tr><th>User</th><th>Intercom workspace</th><th>As</th><th>Status</th><th></th></tr></thead><tbody>
        {{#users}}<tr><td><code>{{userID}}</code></td><td>{{accountName}}</td><td>{{adminEmail}}</td><td><span class="status status-{{status}}">{{status}}</span></td>
        <td><form method="post" action="/console/integrations/{{integrationID}}/disconnect"><input type="hidden" name="csrf" value="{{csrf}}"><input type="hidden" name="userId" value="{{userID}}"><button class="secondary">Disconnect</button></form></td></tr>{{/users}}
        </tbody></table>{{/hasUsers}}{{/perUser}}
        </section>
        """

    static let profiles = """
        <section><h1>Authorization profiles</h1>
        <p>Your own Intercom app ("Custom"). Each profile has a <strong>callback URL</strong> of its own: once saved, paste it into the app's Redirect URLs in Intercom's Developer Hub (Authentication tab, "Use OAuth").</p>
        {{#hasProfiles}}<table><thead><tr><th>Name</th><th>Client ID</th><th>Callback URL</th><th>Token URL</th><th></th></tr></thead><tbody>
        {{#profiles}}<tr><td>{{name}}</td><td>{{clientID}}</td><td><code class="copy">{{callbackURL}}</code></td><td>{{tokenURL}}</td>
        <td><form method="post" action="/console/auth-profiles/{{id}}/delete"><input type="hidden" name="csrf" value="{{csrf}}"><button class="secondary">Delete</button></form></td></tr>{{/profiles}}
        </tbody></table>{{/hasProfiles}}</section>
        <section><h2>Create new (OAuth v2)</h2>
        <form method="post" action="/console/auth-profiles">
        <input type="hidden" name="csrf" value="{{csrf}}">
        <label for="name">Identity provider name</label><input id="name" name="name" type="text" value="{{form.name}}" required maxlength="200">
        <label for="description">Description</label><input id="description" name="description" type="text" value="{{form.description}}">
        <label for="clientId">Client ID <span class="hint">Developer Hub → your app → Basic information</span></label><input id="clientId" name="clientId" type="text" value="{{form.clientId}}" required>
        <label for="clientSecret">Client secret</label><input id="clientSecret" name="clientSecret" type="password" autocomplete="off" required>
        <label for="authorizationURL">Authorization URL <span class="hint">e.g. {{example.authorizationURL}} — Switchboard fills client_id and a fresh, random state itself</span></label>
        <input id="authorizationURL" name="authorizationURL" type="text" value="{{form.authorizationURL}}" required>
        <label for="tokenURL">Token request URL <span class="hint">e.g. {{example.tokenURL}}</span></label><input id="tokenURL" name="tokenURL" type="text" value="{{form.tokenURL}}" required>
        <label for="refreshTokenURL">Refresh token URL <span class="hint">defaults to the token URL</span></label><input id="refreshTokenURL" name="refreshTokenURL" type="text" value="{{form.refreshTokenURL}}">
        <label for="scopes">Scopes <span class="hint">space-separated; Intercom sets permissions on the app instead</span></label><input id="scopes" name="scopes" type="text" value="{{form.scopes}}">
        <label class="hint"><input type="checkbox" name="pkce" value="true" {{#form.pkce}}checked{{/form.pkce}}> Use PKCE (S256)</label>
        <label for="tokenRequestFormat">Token request body</label>
        <select id="tokenRequestFormat" name="tokenRequestFormat"><option value="form">form-encoded</option><option value="json" {{#form.json}}selected{{/form.json}}>JSON</option></select>
        <p><button>Save authorization profile</button></p></form></section>
        """

    static let message = """
        <section><h1>{{heading}}</h1><p>{{message}}</p><p><a href="/console/integrations">Back to integrations</a></p></section>
        """

    static let compiled: [String: MustacheTemplate] = {
        var result: [String: MustacheTemplate] = [:]
        for (name, text) in ["layout": layout, "login": login, "integrations": integrations, "integration": integration, "profiles": profiles, "message": message] {
            result[name] = try! MustacheTemplate(string: text)
        }
        return result
    }()

    static func page(_ name: String, title: String, frame: [String: Any], _ values: [String: Any]) -> String {
        var merged = frame
        for (key, value) in values { merged[key] = value }
        let content = compiled[name]!.render(merged)
        merged["content"] = content
        merged["title"] = title
        return compiled["layout"]!.render(merged)
    }
}
