import Foundation
import HTTPTypes
import Hummingbird
import SwitchboardCore

/// How every console page is rendered: the page's template inside the console layout, with the session (workspace,
/// CSRF token), a notice, and a problem. A problem's field errors are listed at the top, by the field's label, and
/// each is also handed to the page as `fieldError.NAME`, so a form shows it beside its field.
enum ConsolePage {
    static func render(_ name: String, title: String, session: ConsoleSignIn?, _ values: [String: Any], status: HTTPResponse.Status = .ok,
                       notice: String? = nil, error: String? = nil, problem: Problem? = nil,
                       label: (String) -> String = ConsoleController.label) -> Response {
        var frame: [String: Any] = ["signedIn": session != nil]
        if let session { frame["workspaceName"] = session.workspace.name; frame["csrf"] = session.csrf }
        if let notice { frame["notice"] = notice }
        if let problem {
            let errors = problem.errors ?? []
            frame["error"] = errors.isEmpty ? problem.detail : "Please correct these fields:"
            frame["errors"] = errors.map { ["field": label($0.field), "detail": $0.detail] }
            frame["hasErrors"] = !errors.isEmpty
            frame["fieldError"] = fieldErrors(problem)
        } else if let error {
            frame["error"] = error
        }
        return Pages.html(status, Pages.console(name, title: title, frame: frame, values))
    }

    /// Each field's first problem, by the form field it belongs to (`tools[1]` → `tools`), as "Label detail".
    static func fieldErrors(_ problem: Problem) -> [String: String] {
        var byField: [String: String] = [:]
        for error in problem.errors ?? [] {
            let field = String(error.field.prefix { $0 != "[" })
            if byField[field] == nil { byField[field] = "\(ConsoleController.label(of: field)) \(error.detail)" }
        }
        return byField
    }

    static func notFound(_ session: ConsoleSignIn) -> Response {
        render("message", title: "Not found", session: session, ["heading": "Not found", "message": "Nothing with that id exists in this workspace."],
               status: .notFound)
    }

    static func redirect(_ location: String) -> Response {
        Response(status: .seeOther, headers: [.location: location, .cacheControl: "no-store"])
    }
}
