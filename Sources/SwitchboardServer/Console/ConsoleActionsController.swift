import Foundation
import Hummingbird
import Providers
import SwitchboardCore
import SwitchboardStore

/// The console's actions pages: the integration's catalog, searchable, each action with its description and inputs,
/// and a **Try it** form generated from the action's input schema, which runs it through `ActionService` (channel
/// `console`) and shows the message and the result, or the problem by field, or the connect link an end user needs.
struct ConsoleActionsController: Sendable {
    let store: Store
    let actions: ActionService
    let sessions: ConsoleSessionMiddleware

    var routes: RouteCollection<AppRequestContext> {
        let routes = RouteCollection(context: AppRequestContext.self)
        let signedIn = routes.group("/console").add(middleware: sessions).group(context: ConsoleRequestContext.self)
        signedIn.get("integrations/{id}/actions", use: list)
        signedIn.get("integrations/{id}/actions/{name}", use: show)
        signedIn.post("integrations/{id}/actions/{name}", use: run)
        signedIn.get("integrations/{id}/runs", use: runs)
        signedIn.get("integrations/{id}/events", use: events)
        return routes
    }

    @Sendable func list(request: Request, context: ConsoleRequestContext) async throws -> Response {
        let session = context.session
        guard let integration = try await integration(context) else { return notFound(session) }
        let query = Self.formValue(request, "q").trimmingCharacters(in: .whitespaces)
        let catalog = actions.registry[integration.provider]?.catalog.actions ?? []
        let found = query.isEmpty ? catalog : ActionSearch.search(catalog, query: query)
        // Grouped by the description's tag, groups in the order their first action comes (curated ones first).
        var groups: [(name: String, rows: [[String: Any]])] = []
        for action in found {
            let row: [String: Any] = [
                "name": action.name, "title": action.title, "description": action.description, "integrationID": integration.id,
                "kind": action.readOnly ? "reads" : action.destructive ? "deletes" : "writes",
                "inputs": Self.fields(of: action).map(\.name).joined(separator: ", "), "generated": !action.curated,
            ]
            let group = action.group ?? "Other"
            if let index = groups.firstIndex(where: { $0.name == group }) { groups[index].rows.append(row) } else { groups.append((group, [row])) }
        }
        return Self.page("actions", title: "Actions — \(integration.name)", session: session, [
            "id": integration.id, "name": integration.name, "query": query, "hasActions": !found.isEmpty,
            "groups": groups.map { ["group": $0.name, "anchor": "group-" + $0.name.lowercased().replacingOccurrences(of: " ", with: "-"),
                                     "actions": $0.rows, "size": $0.rows.count] as [String: Any] },
            "count": found.count, "total": catalog.count,
        ])
    }

    @Sendable func show(request: Request, context: ConsoleRequestContext) async throws -> Response {
        let session = context.session
        guard let integration = try await integration(context), let action = action(context, of: integration) else { return notFound(session) }
        return actionPage(action, integration: integration, session: session, form: [:])
    }

    @Sendable func run(request: Request, context: ConsoleRequestContext) async throws -> Response {
        let session = context.session, form = context.form
        guard let integration = try await integration(context), let action = action(context, of: integration) else { return notFound(session) }
        let (input, errors) = Self.input(from: form, for: action)
        guard errors.isEmpty else {
            return actionPage(action, integration: integration, session: session, form: form, problem: Problem.validation(errors))
        }
        let user = form["userId"].map { $0.trimmingCharacters(in: .whitespaces) }.flatMap { $0.isEmpty ? nil : $0 }
        do {
            let outcome = try await actions.run(ActionService.Request(
                action: action.name, integrationID: integration.id, workspaceID: session.workspace.id, input: .object(input),
                userID: user, conversationID: nil, channel: .console))
            return actionPage(action, integration: integration, session: session, form: form, outcome: outcome)
        } catch let problem as Problem {
            return actionPage(action, integration: integration, session: session, form: form, problem: problem)
        }
    }

    /// How many runs a page of the audit log shows.
    static let runsPerPage = 50

    /// The integration's audit log, newest first: filtered by action, outcome and end user, a page at a time.
    @Sendable func runs(request: Request, context: ConsoleRequestContext) async throws -> Response {
        let session = context.session
        guard let integration = try await integration(context) else { return notFound(session) }
        let action = Self.formValue(request, "action"), outcome = Self.formValue(request, "outcome")
        let user = Self.formValue(request, "user").trimmingCharacters(in: .whitespaces)
        let cursor = Self.formValue(request, "before").split(separator: ":", maxSplits: 1)
        let before = cursor.count == 2 ? Int64(cursor[0]).map { ($0, String(cursor[1])) } : nil
        let filter = RunFilter(action: action.isEmpty ? nil : action, outcome: outcome.isEmpty ? nil : outcome, endUserID: user.isEmpty ? nil : user)
        let runs = try await store.runs.runs(workspaceID: session.workspace.id, integrationID: integration.id, filter: filter,
                                             limit: Self.runsPerPage, before: before)
        let rows: [[String: Any]] = runs.map { run in
            ["when": Self.time(run.started_at_ms), "action": run.action, "user": run.end_user_id ?? "—", "channel": run.channel ?? "—",
             "outcome": run.outcome, "ok": run.outcome == "ok", "duration": "\(run.duration_ms) ms", "requestID": run.provider_request_id ?? "—"]
        }
        let catalog = actions.registry[integration.provider]?.catalog.actions ?? []
        var values: [String: Any] = [
            "id": integration.id, "name": integration.name, "runs": rows, "hasRuns": !rows.isEmpty, "user": user,
            "actions": catalog.map { ["name": $0.name, "selected": $0.name == action] },
            "outcomes": [("", "any outcome"), ("ok", "ok"), ("failed", "failed")].map { ["value": $0.0, "label": $0.1, "selected": $0.0 == outcome] },
            "filtered": filter != RunFilter(),
        ]
        if runs.count == Self.runsPerPage, let last = runs.last {
            var next = URLComponents()
            next.queryItems = [("action", action), ("outcome", outcome), ("user", user), ("before", "\(last.started_at_ms):\(last.id)")]
                .filter { !$0.1.isEmpty }.map { URLQueryItem(name: $0.0, value: $0.1) }
            values["older"] = "/console/integrations/\(integration.id)/runs" + (next.string ?? "")
        }
        return Self.page("runs", title: "Runs — \(integration.name)", session: session, values)
    }

    /// The integration's delivery log: each event sent to its notify URL, with its status, attempts and last error.
    @Sendable func events(request: Request, context: ConsoleRequestContext) async throws -> Response {
        let session = context.session
        guard let integration = try await integration(context) else { return notFound(session) }
        let cursor = Self.formValue(request, "before").split(separator: ":", maxSplits: 1)
        let before = cursor.count == 2 ? Int64(cursor[0]).map { ($0, String(cursor[1])) } : nil
        let events = try await store.events.events(workspaceID: session.workspace.id, integrationID: integration.id, limit: Self.runsPerPage, before: before)
        let rows: [[String: Any]] = events.map { event in
            ["when": Self.time(event.createdAt), "type": event.type.rawValue, "user": event.endUserID ?? "—",
             "status": event.status.rawValue, "attempts": event.attempts, "lastStatus": event.lastStatus.map(String.init) ?? "—",
             "lastError": event.lastError ?? "—",
             "next": event.status == .pending ? event.nextAttemptAt.map { Self.time($0) } ?? "—" : "—"]
        }
        var values: [String: Any] = ["id": integration.id, "name": integration.name, "events": rows, "hasEvents": !rows.isEmpty,
                                     "notifyURL": integration.notifyURL as Any]
        if events.count == Self.runsPerPage, let last = events.last {
            values["older"] = "/console/integrations/\(integration.id)/events?before=\(last.createdAt.unixSeconds):\(last.id)"
        }
        return Self.page("events", title: "Events — \(integration.name)", session: session, values)
    }

    /// A moment as the console shows it, to the second, in UTC.
    static func time(_ date: Date) -> String {
        time(Int64((date.timeIntervalSince1970 * 1000).rounded(.down)))
    }

    /// A run's start as the console shows it, to the second, in UTC.
    static func time(_ milliseconds: Int64) -> String {
        Date(timeIntervalSince1970: Double(milliseconds) / 1000).formatted(Date.ISO8601FormatStyle(timeZone: .gmt))
            .replacingOccurrences(of: "T", with: " ").replacingOccurrences(of: "Z", with: " UTC")
    }

    // MARK: The Try it form

    /// One input of an action as its form shows it.
    struct Field {
        enum Kind: String { case text, email, number, boolean, choice, list, json }
        var name: String
        var kind: Kind
        var required: Bool
        var description: String
        var prompt: String?
        var choices: [String]
    }

    /// How many values an array input offers in the form.
    static let listSlots = 3

    static func fields(of action: ActionTemplate) -> [Field] {
        let required = Set(action.input["required"]?.arrayValue?.compactMap(\.stringValue) ?? [])
        return (action.input["properties"]?.objectValue ?? [:]).sorted { lhs, rhs in
            // Required inputs first, then by name.
            (required.contains(lhs.key) ? 0 : 1, lhs.key) < (required.contains(rhs.key) ? 0 : 1, rhs.key)
        }.map { name, schema in
            let choices = schema["enum"]?.arrayValue?.compactMap(\.stringValue) ?? []
            // A type list (`["string", "null"]`) reads as its first non-null type; a schema of alternatives or a
            // reference, and a list of anything but text, is typed as JSON.
            let type = schema["type"]?.stringValue ?? schema["type"]?.arrayValue?.compactMap(\.stringValue).first { $0 != "null" }
            let itemType = schema["items"]?["type"]?.stringValue
            let kind: Field.Kind = switch type {
            case "integer", "number": .number
            case "boolean": .boolean
            case "array": itemType == "string" || (itemType == nil && schema["items"] == nil) ? .list : .json
            case "object": .json
            case nil where schema["anyOf"] != nil || schema["oneOf"] != nil || schema["$ref"] != nil: .json
            default: !choices.isEmpty ? .choice : schema["format"]?.stringValue == "email" ? .email : .text
            }
            return Field(name: name, kind: kind, required: required.contains(name), description: schema["description"]?.stringValue ?? "",
                         prompt: action.prompts[name], choices: choices)
        }
    }

    /// The action's input from the form's `input.NAME` fields (`input.NAME.0`, `.1`, … for a list): an empty field is
    /// left out, for the action's own checks to name what is missing; a number or JSON that does not parse is named here.
    static func input(from form: [String: String], for action: ActionTemplate) -> ([String: JSONValue], [Problem.FieldError]) {
        var input: [String: JSONValue] = [:]
        var errors: [Problem.FieldError] = []
        for field in fields(of: action) {
            let key = "input." + field.name
            if field.kind == .list {
                let values = (0..<listSlots).compactMap { form["\(key).\($0)"]?.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
                if !values.isEmpty { input[field.name] = .array(values.map(JSONValue.string)) }
                continue
            }
            guard let raw = form[key]?.trimmingCharacters(in: .whitespacesAndNewlines), !raw.isEmpty else { continue }
            switch field.kind {
            case .number:
                if let number = Double(raw), number.isFinite { input[field.name] = .number(number) } else {
                    errors.append(Problem.FieldError(field: key, detail: "must be a number"))
                }
            case .boolean: input[field.name] = .bool(raw == "true")
            case .json:
                if let value = JSONValue.parse(Data(raw.utf8)) { input[field.name] = value } else {
                    errors.append(Problem.FieldError(field: key, detail: "must be JSON, e.g. {\"key\": \"value\"}"))
                }
            default: input[field.name] = .string(raw)
            }
        }
        return (input, errors)
    }

    // MARK: Pages

    private func actionPage(_ action: ActionTemplate, integration: Integration, session: ConsoleSignIn, form: [String: String],
                            outcome: ActionService.Outcome? = nil, problem: Problem? = nil) -> Response {
        let problemsByField = Dictionary((problem?.errors ?? []).map { (Self.inputName($0.field), $0.detail) }, uniquingKeysWith: { first, _ in first })
        let fields: [[String: Any]] = Self.fields(of: action).map { field in
            let key = "input." + field.name
            var row: [String: Any] = [
                "name": field.name, "key": key, "required": field.required, "description": field.description,
                "value": form[key] ?? "", "fieldID": "field-" + field.name, field.kind.rawValue: true,
            ]
            if let prompt = field.prompt { row["prompt"] = prompt }
            if let error = problemsByField[field.name] { row["error"] = error }
            row["choices"] = field.choices.map { ["value": $0, "selected": form[key] == $0] }
            row["yes"] = form[key] == "true"
            row["no"] = form[key] == "false"
            row["slots"] = (0..<Self.listSlots).map { slot in
                ["key": "\(key).\(slot)", "value": form["\(key).\(slot)"] ?? "", "fieldID": "field-\(field.name)-\(slot)", "number": slot + 1]
            }
            return row
        }
        var values: [String: Any] = [
            "id": integration.id, "integrationName": integration.name, "action": action.name, "title": action.title,
            "description": action.description, "fields": fields, "hasFields": !fields.isEmpty,
            "kind": action.readOnly ? "Reads from Intercom" : action.destructive ? "Deletes in Intercom" : "Writes to Intercom",
            "perUser": integration.authorization == .perUser, "userId": form["userId"] ?? "",
        ]
        if let outcome {
            values["ran"] = ["message": outcome.message, "json": Self.pretty(outcome.resultJSON)]
        }
        var shownProblem = problem
        if let problem, problem.code == "authorization_required", let url = problem.extra?["authorizationURL"]?.stringValue {
            values["connect"] = ["url": url, "reason": problem.extra?["reason"]?.stringValue == "reauthorize"
                ? "Intercom refused this user's stored authorization; they must connect again." : "This user has not connected their Intercom account yet."]
            shownProblem = nil
        }
        return Self.page("action", title: action.title, session: session, values,
                         status: shownProblem.map { .init(code: $0.httpStatus) } ?? .ok, problem: shownProblem)
    }

    /// A query value as an HTML form sends it (`+` for a space, then percent-escapes).
    static func formValue(_ request: Request, _ name: String) -> String {
        for pair in (request.uri.query ?? "").split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1).map { $0.replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? "" }
            if parts.first == name { return parts.count > 1 ? parts[1] : "" }
        }
        return ""
    }

    /// `input.title` (the service's field) → `title`.
    static func inputName(_ field: String) -> String {
        field.hasPrefix("input.") ? String(field.dropFirst("input.".count)) : field
    }

    /// JSON as people read it: indented, keys sorted.
    static func pretty(_ json: Data) -> String {
        guard let object = try? JSONSerialization.jsonObject(with: json, options: [.fragmentsAllowed]),
              let data = try? JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes, .fragmentsAllowed])
        else { return String(decoding: json, as: UTF8.self) }
        return String(decoding: data, as: UTF8.self)
    }

    static func page(_ name: String, title: String, session: ConsoleSignIn, _ values: [String: Any], status: HTTPResponse.Status = .ok,
                     problem: Problem? = nil) -> Response {
        ConsolePage.render(name, title: title, session: session, values, status: status, problem: problem, label: inputName)
    }

    private func notFound(_ session: ConsoleSignIn) -> Response { ConsolePage.notFound(session) }

    private func integration(_ context: ConsoleRequestContext) async throws -> Integration? {
        try await store.integrations.integration(id: try context.parameters.require("id"), workspaceID: context.session.workspace.id)?.integration
    }

    private func action(_ context: ConsoleRequestContext, of integration: Integration) -> ActionTemplate? {
        guard let name = context.parameters.get("name") else { return nil }
        return actions.registry[integration.provider]?.catalog.action(named: name)
    }
}
