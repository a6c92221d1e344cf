import Foundation

/// How the generator names and words an operation.
public enum Naming {
    /// `operationId` in snake case: words split at non-alphanumerics, at a lower-case letter or digit followed by an
    /// upper-case one, and at the last capital of an acronym followed by a word (`RetrieveACompanyById` →
    /// `retrieve_a_company_by_id`, `getHTTPStatus` → `get_http_status`).
    public static func snakeCase(_ identifier: String) -> String {
        var words: [String] = []
        var current = ""
        let characters = Array(identifier)
        for (index, character) in characters.enumerated() {
            guard character.isLetter || character.isNumber else {
                if !current.isEmpty { words.append(current); current = "" }
                continue
            }
            if character.isUppercase, !current.isEmpty {
                let previous = characters[index - 1]
                let next = index + 1 < characters.count ? characters[index + 1] : nil
                if previous.isLowercase || previous.isNumber || (previous.isUppercase && (next?.isLowercase ?? false)) {
                    words.append(current)
                    current = ""
                }
            }
            current.append(character)
        }
        if !current.isEmpty { words.append(current) }
        return words.map { $0.lowercased() }.joined(separator: "_")
    }

    /// The name of an operation without an `operationId`: its method and its path's words, parameters included
    /// without braces (`GET /export/reporting_data/{job_identifier}` → `get_export_reporting_data_job_identifier`).
    public static func fallbackName(method: String, path: String) -> String {
        let words = path.split(separator: "/").map { $0.trimmingCharacters(in: CharacterSet(charactersIn: "{}")) }
        return snakeCase(([method.lowercased()] + words).joined(separator: "_"))
    }

    /// Intercom's reference page for an operation: `…/docs/references/VERSION/rest-api/api.intercom.io/TAG/OPERATIONID`,
    /// the tag and operation id in lower case, the tag's spaces as hyphens; the tag's page when there is no id.
    public static func docsURL(version: String, tag: String, operationID: String?) -> String {
        let tagSlug = tag.lowercased().split(separator: " ").joined(separator: "-")
        let base = "https://developers.intercom.com/docs/references/\(version)/rest-api/api.intercom.io/\(tagSlug)"
        return operationID.map { "\(base)/\($0.lowercased())" } ?? base
    }

    /// A description short enough for a model's tool list: Intercom's Markdoc callouts, block quotes and code fences
    /// left out, links and emphasis as plain words, the first paragraph (and the next, when the first leads into it
    /// with a colon), the clause naming the request dropped, cut at a sentence end within 300 characters. The summary
    /// when nothing is left.
    public static func modelDescription(_ text: String?, summary: String) -> String {
        guard var text, !text.isEmpty else { return summary }
        text = text.replacingOccurrences(of: #"\{%\s*admonition[\s\S]*?\{%\s*/admonition\s*%\}"#, with: "\n\n", options: .regularExpression)
        text = text.replacingOccurrences(of: #"\{%[\s\S]*?%\}"#, with: "", options: .regularExpression)
        text = text.replacingOccurrences(of: #"```[\s\S]*?```"#, with: "\n\n", options: .regularExpression)
        text = text.replacingOccurrences(of: #"</?br\s*/?>"#, with: "\n", options: [.regularExpression, .caseInsensitive])
        let lines = text.components(separatedBy: "\n").filter { !$0.trimmingCharacters(in: .whitespaces).hasPrefix(">") }
        text = lines.joined(separator: "\n")
        text = text.replacingOccurrences(of: #"\[([^\]]+)\]\([^)]+\)"#, with: "$1", options: .regularExpression)
        text = text.replacingOccurrences(of: #"\*\*|__|`"#, with: "", options: .regularExpression)
        text = text.replacingOccurrences(of: #"(?m)^#+\s*"#, with: "", options: .regularExpression)
        text = String(text.unicodeScalars.filter { !($0.properties.isEmojiPresentation || $0.value == 0xFE0F) })
        let paragraphs = text.components(separatedBy: "\n\n")
            .map { $0.split(whereSeparator: \.isWhitespace).joined(separator: " ") }
            .filter { !$0.isEmpty }
        guard var chosen = paragraphs.first else { return summary }
        if chosen.hasSuffix(":"), paragraphs.count > 1 { chosen += " " + paragraphs[1] }
        chosen = chosen.replacingOccurrences(of: #"\s*by making an? (GET|POST|PUT|DELETE|PATCH) request to \S*?(?=[.,;:]?(\s|$))"#, with: "", options: .regularExpression)
        chosen = chosen.trimmingCharacters(in: .whitespaces)
        guard !chosen.isEmpty else { return summary }
        let cap = 300
        guard chosen.count > cap else { return chosen }
        let head = String(chosen.prefix(cap))
        if let end = head.range(of: ". ", options: .backwards), head.distance(from: head.startIndex, to: end.lowerBound) > cap * 2 / 5 {
            return String(head[..<end.lowerBound]) + "."
        }
        return String(head.prefix(cap - 1)) + "…"
    }

    /// An input's name as words (`contact_id` → "contact id").
    public static func words(_ name: String) -> String {
        name.replacingOccurrences(of: "_", with: " ").replacingOccurrences(of: ".", with: " ")
    }
}
