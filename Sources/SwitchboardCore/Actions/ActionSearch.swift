import Foundation

/// Finding actions by words: an action matches when each word is in its name, title, description or group (any case;
/// `_` and `.` in names count as spaces, so "create ticket" finds `intercom.create_ticket`).
public enum ActionSearch {
    public static func words(_ query: String) -> [String] {
        query.lowercased().split(whereSeparator: { $0.isWhitespace || $0 == "_" || $0 == "." }).map(String.init)
    }

    public static func matches(_ action: ActionTemplate, words: [String]) -> Bool {
        guard !words.isEmpty else { return true }
        let text = [action.name.replacingOccurrences(of: "_", with: " ").replacingOccurrences(of: ".", with: " "),
                    action.title, action.description, action.group ?? ""].joined(separator: " ").lowercased()
        return words.allSatisfy { text.contains($0) }
    }

    /// The actions matching `query`, best first: those whose name or title hold every word before those that need the
    /// description, curated before generated, then in catalog order.
    public static func search(_ actions: [ActionTemplate], query: String) -> [ActionTemplate] {
        let words = words(query)
        let found = actions.enumerated().filter { matches($0.element, words: words) }
        func rank(_ action: ActionTemplate) -> Int {
            let head = (action.name.replacingOccurrences(of: "_", with: " ") + " " + action.title).lowercased()
            return (words.allSatisfy { head.contains($0) } ? 0 : 2) + (action.curated ? 0 : 1)
        }
        return found.sorted { (rank($0.element), $0.offset) < (rank($1.element), $1.offset) }.map(\.element)
    }
}

/// An integration's or an agent token's tool allow-list: action names, and groups as `group:NAME` (the description's
/// tag, any case: `group:Articles` allows every action of that group). Nil allows everything.
public enum ToolAllowList {
    public static let groupPrefix = "group:"

    /// The group an entry names (`group:Articles` → "Articles"), or nil for an action name.
    public static func group(in entry: String) -> String? {
        entry.hasPrefix(groupPrefix) ? String(entry.dropFirst(groupPrefix.count)) : nil
    }

    public static func allows(_ list: [String]?, _ action: ActionTemplate) -> Bool {
        guard let list else { return true }
        if list.contains(action.name) { return true }
        guard let actionGroup = action.group else { return false }
        return list.contains { entry in group(in: entry).map { $0.caseInsensitiveCompare(actionGroup) == .orderedSame } ?? false }
    }
}
