public import Foundation

/// Reads a JSON request body field by field, collecting every violation before failing.
///
/// Handlers use it instead of `Decodable` so that each error names its field, unknown fields
/// are refused (a typo in `clientSecret` must not be silently dropped), and lengths are bounded.
public final class InputReader {
    public private(set) var errors: [Problem.FieldError] = []
    private let object: [String: JSONValue]
    private var consumed: Set<String> = []
    private let path: String

    /// Parses `data` as a JSON object; throws a problem when it is not one.
    public convenience init(body data: Data) throws(Problem) {
        if data.isEmpty || data.allSatisfy({ $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }) {
            self.init(object: [:])
            return
        }
        guard let value = JSONValue.parse(data) else {
            throw Problem.invalidJSON("The request body is not valid JSON.")
        }
        guard case .object(let object) = value else {
            throw Problem.invalidJSON("The request body must be a JSON object, not \(value.kindDescription).")
        }
        self.init(object: object)
    }

    public init(object: [String: JSONValue], path: String = "") {
        self.object = object
        self.path = path
    }

    public func has(_ key: String) -> Bool { object[key] != nil }

    /// Whether the body gives `key` a value (null counts as absent).
    public func hasValue(_ key: String) -> Bool { object[key].map { $0 != .null } ?? false }

    /// What counts as blank around and in a text field: JSON Schema's `\s` (ECMA-262's WhiteSpace and LineTerminator),
    /// so a value the description's `\S` pattern calls blank is refused here and no other is. Lengths count Unicode
    /// scalars, as JSON Schema's `maxLength` does.
    public static let blank: CharacterSet = {
        var set = CharacterSet(charactersIn: "\u{09}\u{0A}\u{0B}\u{0C}\u{0D}\u{20}\u{A0}\u{1680}\u{2028}\u{2029}\u{202F}\u{205F}\u{3000}\u{FEFF}")
        set.insert(charactersIn: "\u{2000}"..."\u{200A}")
        return set
    }()

    public func fail(_ key: String, _ detail: String) {
        errors.append(.init(field: path + key, detail: detail))
    }

    private func value(_ key: String, required: Bool) -> JSONValue? {
        consumed.insert(key)
        guard let value = object[key], value != .null else {
            if required { fail(key, "is required") }
            return nil
        }
        return value
    }

    public func string(_ key: String, required: Bool = false, maxLength: Int = 200, allowEmpty: Bool = false) -> String? {
        guard let value = value(key, required: required) else { return nil }
        guard case .string(let string) = value else {
            fail(key, "must be a string, not \(value.kindDescription)")
            return nil
        }
        let trimmed = string.trimmingCharacters(in: Self.blank)
        if trimmed.isEmpty && !allowEmpty {
            fail(key, "must not be empty")
            return nil
        }
        if string.unicodeScalars.count > maxLength {
            fail(key, "must be at most \(maxLength) characters (got \(string.unicodeScalars.count))")
            return nil
        }
        return trimmed
    }

    public func bool(_ key: String, required: Bool = false) -> Bool? {
        guard let value = value(key, required: required) else { return nil }
        guard case .bool(let bool) = value else {
            fail(key, "must be true or false, not \(value.kindDescription)")
            return nil
        }
        return bool
    }

    /// A finite number.
    public func number(_ key: String, required: Bool = false) -> Double? {
        guard let value = value(key, required: required) else { return nil }
        guard case .number(let number) = value, number.isFinite else {
            fail(key, "must be a number, not \(value.kindDescription)")
            return nil
        }
        return number
    }

    /// An absolute http(s) URL; `{placeholders}` are allowed when `allowTemplate` is set.
    public func url(_ key: String, required: Bool = false, allowTemplate: Bool = false) -> String? {
        guard let string = string(key, required: required, maxLength: 2048) else { return nil }
        if let problem = URLRules.problem(with: string, allowTemplate: allowTemplate) {
            fail(key, problem)
            return nil
        }
        return string
    }

    public func oneOf<E: RawRepresentable & CaseIterable>(_ key: String, _ type: E.Type, required: Bool = false) -> E? where E.RawValue == String {
        guard let string = string(key, required: required, maxLength: 64) else { return nil }
        guard let value = E(rawValue: string) else {
            let allowed = E.allCases.map { "'\($0.rawValue)'" }.joined(separator: ", ")
            fail(key, "must be one of \(allowed), not '\(Problem.clip(string, to: 32))'")
            return nil
        }
        return value
    }

    /// A string that must be one of `allowed` (values known only at run time, such as a provider's regions).
    public func oneOf(_ key: String, allowed: [String], required: Bool = false) -> String? {
        guard let string = string(key, required: required, maxLength: 64) else { return nil }
        guard allowed.contains(string) else {
            fail(key, "must be one of \(allowed.map { "'\($0)'" }.joined(separator: ", ")), not '\(Problem.clip(string, to: 32))'")
            return nil
        }
        return string
    }

    public func stringArray(_ key: String, maxCount: Int = 100, maxLength: Int = 200) -> [String]? {
        guard let value = value(key, required: false) else { return nil }
        guard case .array(let items) = value else {
            fail(key, "must be an array of strings, not \(value.kindDescription)")
            return nil
        }
        if items.count > maxCount {
            fail(key, "must hold at most \(maxCount) items (got \(items.count))")
            return nil
        }
        var result: [String] = []
        for (index, item) in items.enumerated() {
            guard case .string(let string) = item, !string.trimmingCharacters(in: Self.blank).isEmpty else {
                fail("\(key)[\(index)]", "must be a non-empty string, not \(item.kindDescription)")
                continue
            }
            guard string.unicodeScalars.count <= maxLength else {
                fail("\(key)[\(index)]", "must be at most \(maxLength) characters")
                continue
            }
            result.append(string.trimmingCharacters(in: Self.blank))
        }
        return result
    }

    /// A flat object of string values (extra authorization parameters, template fields).
    public func stringMap(_ key: String, maxCount: Int = 50, maxLength: Int = 1000) -> [String: String]? {
        guard let value = value(key, required: false) else { return nil }
        guard case .object(let members) = value else {
            fail(key, "must be an object of strings, not \(value.kindDescription)")
            return nil
        }
        if members.count > maxCount {
            fail(key, "must hold at most \(maxCount) entries (got \(members.count))")
            return nil
        }
        var result: [String: String] = [:]
        for (name, item) in members.sorted(by: { $0.key < $1.key }) {
            guard name.unicodeScalars.count <= 100, !name.isEmpty else {
                fail("\(key).\(Problem.clip(name, to: 32))", "names must be 1 to 100 characters")
                continue
            }
            guard case .string(let string) = item else {
                fail("\(key).\(name)", "must be a string, not \(item.kindDescription)")
                continue
            }
            guard string.unicodeScalars.count <= maxLength else {
                fail("\(key).\(name)", "must be at most \(maxLength) characters")
                continue
            }
            result[name] = string
        }
        return result
    }

    /// A field's raw JSON, for values checked elsewhere (an action's input against its schema).
    public func raw(_ key: String) -> JSONValue? {
        consumed.insert(key)
        return object[key]
    }

    /// A reader over a nested object; nil (with an error) when the field is not an object.
    public func nested(_ key: String) -> InputReader? {
        guard let value = value(key, required: false) else { return nil }
        guard case .object(let members) = value else {
            fail(key, "must be an object, not \(value.kindDescription)")
            return nil
        }
        return InputReader(object: members, path: path + key + ".")
    }

    /// Refuses fields nobody read, then throws every collected error as one problem.
    public func finish() throws(Problem) {
        for key in object.keys.sorted() where !consumed.contains(key) {
            fail(key, "is not a known field")
        }
        if !errors.isEmpty { throw Problem.validation(errors) }
    }
}

/// What Switchboard accepts as a provider URL.
public enum URLRules {
    /// The shape the OpenAPI description gives a URL: a lowercase http(s) scheme, a host (a name or an IPv4
    /// address), an optional port, then a path and a query of URI characters, percent-encoded where
    /// they must be; no credentials, no fragment.
    nonisolated(unsafe) static let shape = try! NSRegularExpression(pattern:
        #"^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/([A-Za-z0-9._~!$&'()*+,;=:@/-]|%[0-9A-Fa-f]{2})*)?(\?([A-Za-z0-9._~!$&'()*+,;=:@/?-]|%[0-9A-Fa-f]{2})*)?$"#)

    /// Nil when `string` is an acceptable absolute http(s) URL, else why not.
    public static func problem(with string: String, allowTemplate: Bool) -> String? {
        var candidate = string
        if allowTemplate {
            candidate = URLTemplate.placeholderPattern.stringByReplacingMatches(
                in: string, range: NSRange(string.startIndex..., in: string), withTemplate: "x")
        } else if string.contains("{") || string.contains("}") {
            return "must not contain {placeholders}"
        }
        guard shape.firstMatch(in: candidate, range: NSRange(candidate.startIndex..., in: candidate)) != nil else {
            return "must be an absolute http(s) URL such as https://example.com/path, with any other character percent-encoded"
        }
        guard let components = URLComponents(string: candidate), let scheme = components.scheme?.lowercased(),
              let host = components.host, !host.isEmpty
        else { return "must be an absolute URL such as https://example.com/path" }
        guard scheme == "https" || scheme == "http" else { return "must use https (or http for local testing), not '\(scheme)'" }
        if components.user != nil || components.password != nil { return "must not carry credentials" }
        if components.fragment != nil { return "must not have a #fragment" }
        return nil
    }
}
