import Foundation

/// Fills `{placeholders}` in a profile URL from the profile's `fields` (a tenant, a region).
public enum URLTemplate {
    static let placeholderPattern = try! NSRegularExpression(pattern: "\\{([A-Za-z_][A-Za-z0-9_.-]*)\\}")

    /// The placeholder names in `template`, in order of appearance.
    public static func placeholders(in template: String) -> [String] {
        placeholderPattern.matches(in: template, range: NSRange(template.startIndex..., in: template)).compactMap {
            Range($0.range(at: 1), in: template).map { String(template[$0]) }
        }
    }

    public struct MissingField: Error, Equatable, Sendable {
        public let names: [String]
    }

    /// Replaces each `{name}` by the percent-encoded value of `fields[name]`.
    public static func expand(_ template: String, fields: [String: String]) throws(MissingField) -> String {
        let names = placeholders(in: template)
        let missing = names.filter { fields[$0] == nil }
        if !missing.isEmpty { throw MissingField(names: Array(Set(missing)).sorted()) }
        var result = template
        for name in Set(names) {
            let value = fields[name]!.addingPercentEncoding(withAllowedCharacters: .urlHostAllowed.intersection(.urlPathAllowed)) ?? ""
            result = result.replacingOccurrences(of: "{\(name)}", with: value)
        }
        return result
    }
}
