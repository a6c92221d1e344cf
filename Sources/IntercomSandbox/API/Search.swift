import Foundation
import Hummingbird

enum SearchFieldType: Sendable {
    case string, integer, boolean, date, tag
}

/// A parsed search query: filters combined by AND / OR groups.
indirect enum SearchQuery: Sendable {
    case filter(field: String, op: String, value: SJSON, type: SearchFieldType)
    case group(op: String, [SearchQuery])

    static let operators: Set<String> = ["=", "!=", "IN", "NIN", "<", "<=", ">", ">=", "~", "!~", "^", "$"]

    /// Parses and checks a query as Intercom does: known fields, operators valid for the field's type,
    /// values of the right type, at most two levels of nesting and 15 filters a group.
    static func parse(_ json: SJSON?, fields: [String: SearchFieldType], depth: Int = 0) throws -> SearchQuery {
        guard let json, let object = json.object else { throw IntercomError.invalid("query must be an object", field: "query") }
        guard let op = object["operator"]?.string else { throw IntercomError.invalid("operator is required", field: "query.operator") }
        if op == "AND" || op == "OR" {
            guard let items = object["value"]?.array else { throw IntercomError.invalid("value must be an array for \(op)", field: "query.value") }
            guard depth < 2 else { throw IntercomError.invalid("Nesting is limited to 2 levels of AND/OR groups", field: "query") }
            guard !items.isEmpty else { throw IntercomError.invalid("\(op) needs at least one filter", field: "query.value") }
            guard items.count <= 15 else { throw IntercomError.invalid("A group holds at most 15 filters; this one has \(items.count)", field: "query.value") }
            return .group(op: op, try items.map { try parse($0, fields: fields, depth: depth + 1) })
        }
        guard operators.contains(op) else { throw IntercomError.invalid("'\(op)' is not a search operator", field: "query.operator") }
        guard let field = object["field"]?.string, !field.isEmpty else { throw IntercomError.invalid("field is required", field: "query.field") }
        let value = object["value"] ?? .null
        let type: SearchFieldType
        if let known = fields[field] {
            type = known
        } else if field.hasPrefix("custom_attributes."), field.count > "custom_attributes.".count {
            type = switch value { case .int, .double: .integer; case .bool: .boolean; default: .string }
        } else {
            throw IntercomError(.badRequest, code: "parameter_invalid", message: "'\(field)' is not a searchable field", field: "query.field")
        }
        try check(op: op, value: value, type: type, field: field)
        return .filter(field: field, op: op, value: value, type: type)
    }

    private static func check(op: String, value: SJSON, type: SearchFieldType, field: String) throws {
        func refuse(_ why: String) -> IntercomError { .invalid("\(why) (field \(field))", field: "query.operator") }
        switch type {
        case .date:
            guard ["=", ">", "<"].contains(op) else { throw refuse("'\(op)' is not supported on Date fields") }
            guard dateValue(value) != nil else { throw IntercomError.invalid("\(field) takes a Unix timestamp", field: "query.value") }
        case .tag:
            guard ["=", "!="].contains(op) else { throw refuse("tag_id supports only = and !=") }
        case .boolean:
            guard ["=", "!="].contains(op) else { throw refuse("'\(op)' is not supported on Boolean fields") }
        case .integer:
            guard !["~", "!~", "^", "$"].contains(op) else { throw refuse("'\(op)' works on String fields only") }
        case .string:
            guard !["<", "<=", ">", ">="].contains(op) else { throw refuse("'\(op)' works on Integer and Date fields only") }
        }
        if op == "IN" || op == "NIN" {
            guard value.array != nil else { throw IntercomError.invalid("\(op) takes an array of values", field: "query.value") }
        } else if value.array != nil || value.object != nil {
            throw IntercomError.invalid("'\(op)' takes a single value", field: "query.value")
        }
    }

    static func dateValue(_ value: SJSON) -> Int? {
        value.int ?? value.string.flatMap { Int($0) }
    }

    /// Whether `candidate` matches; `value(field)` reads a field of the candidate.
    func matches(_ value: (String) -> SJSON, timeZone: TimeZone) -> Bool {
        switch self {
        case .group(let op, let items):
            return op == "AND" ? items.allSatisfy { $0.matches(value, timeZone: timeZone) } : items.contains { $0.matches(value, timeZone: timeZone) }
        case .filter(let field, let op, let wanted, let type):
            return Self.compare(value(field), op, wanted, type, timeZone)
        }
    }

    private static func compare(_ actual: SJSON, _ op: String, _ wanted: SJSON, _ type: SearchFieldType, _ timeZone: TimeZone) -> Bool {
        switch type {
        case .tag:
            let tags = actual.array?.compactMap(\.string) ?? []
            let wantedID = wanted.string ?? wanted.int.map(String.init) ?? ""
            return op == "=" ? tags.contains(wantedID) : !tags.contains(wantedID)
        case .date:
            guard let stamp = actual.int, let target = dateValue(wanted) else { return false }
            // Dates match by calendar day in the workspace's time zone.
            let start = dayStart(target, timeZone)
            switch op {
            case "=": return stamp >= start && stamp < start + 86_400
            case ">": return stamp >= start + 86_400
            case "<": return stamp < start
            default: return false
            }
        default:
            switch op {
            case "=": return equal(actual, wanted)
            case "!=": return !equal(actual, wanted)
            case "IN": return wanted.array?.contains { equal(actual, $0) } ?? false
            case "NIN": return !(wanted.array?.contains { equal(actual, $0) } ?? false)
            case ">", "<", ">=", "<=":
                guard let a = actual.number, let b = wanted.number ?? wanted.string.flatMap(Double.init) else { return false }
                return op == ">" ? a > b : op == "<" ? a < b : op == ">=" ? a >= b : a <= b
            default:
                guard let a = actual.string?.lowercased(), let b = wanted.string?.lowercased() else { return op == "!~" }
                switch op {
                case "~": return a.contains(b)
                case "!~": return !a.contains(b)
                case "^": return a.hasPrefix(b)
                case "$": return a.hasSuffix(b)
                default: return false
                }
            }
        }
    }

    private static func equal(_ actual: SJSON, _ wanted: SJSON) -> Bool {
        switch (actual, wanted) {
        case (.null, .null): return true
        case (.string(let a), .string(let b)): return a.caseInsensitiveCompare(b) == .orderedSame
        case (.bool(let a), .string(let b)): return String(a) == b.lowercased()
        case (.int, .string(let b)): return actual.number == Double(b)
        default:
            if let a = actual.number, let b = wanted.number { return a == b }
            return actual == wanted
        }
    }

    static func dayStart(_ stamp: Int, _ timeZone: TimeZone) -> Int {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        return Int(calendar.startOfDay(for: Date(timeIntervalSince1970: TimeInterval(stamp))).timeIntervalSince1970)
    }

    /// `field = value` filters that an index can answer, when the whole query requires them.
    var requiredEqualities: [(field: String, value: String)] {
        switch self {
        case .filter(let field, "=", .string(let value), _): return [(field, value)]
        case .group("AND", let items): return items.flatMap(\.requiredEqualities)
        default: return []
        }
    }
}

/// Sorting and paging for lists and searches: a stable order by (sort value, id), pages cut by cursor.
struct Page<Item> {
    let items: [Item]
    let json: SJSON

    static func cut(_ sorted: [Item], perPage: Int, startingAfter: String?, sortValue: (Item) -> SJSON, id: (Item) -> String,
                    ascending: Bool = true) throws -> Page<Item> {
        var start = 0
        var page = 1
        if let startingAfter, !startingAfter.isEmpty {
            guard let position = Cursor.decode(startingAfter) else {
                throw IntercomError.invalid("starting_after is not a cursor this API returned", field: "starting_after")
            }
            page = position.page + 1
            // The first item strictly after the cursor's (value, id): nothing is repeated or skipped when items change between pages.
            start = sorted.firstIndex { item in
                let order = compareSort(sortValue(item), position.sortValue)
                let after = ascending ? order == .orderedDescending : order == .orderedAscending
                return after || (order == .orderedSame && id(item) > position.id)
            } ?? sorted.count
        }
        let slice = Array(sorted[start..<min(sorted.count, start + perPage)])
        let totalPages = sorted.isEmpty ? 0 : (sorted.count + perPage - 1) / perPage
        var pages: [String: SJSON] = ["type": .string("pages"), "page": .int(page), "per_page": .int(perPage), "total_pages": .int(totalPages)]
        if start + perPage < sorted.count, let last = slice.last {
            pages["next"] = .object(["per_page": .int(perPage),
                                     "starting_after": .string(Cursor.encode(.init(sortValue: sortValue(last), id: id(last), page: page)))])
        }
        return Page(items: slice, json: .object(pages))
    }

    static func compareSort(_ a: SJSON, _ b: SJSON) -> ComparisonResult {
        switch (a, b) {
        case (.null, .null): return .orderedSame
        case (.null, _): return .orderedAscending
        case (_, .null): return .orderedDescending
        default:
            if let x = a.number, let y = b.number { return x < y ? .orderedAscending : x > y ? .orderedDescending : .orderedSame }
            let x = a.string ?? String(decoding: a.encoded(), as: UTF8.self), y = b.string ?? String(decoding: b.encoded(), as: UTF8.self)
            return x < y ? .orderedAscending : x > y ? .orderedDescending : .orderedSame
        }
    }
}

/// Reads `per_page`: Intercom's default is 50 and its maximum 150.
func perPage(_ value: SJSON?, field: String = "per_page") throws -> Int {
    guard let value, !value.isNull else { return 50 }
    guard let number = value.int ?? value.string.flatMap({ Int($0) }), (1...150).contains(number) else {
        throw IntercomError.invalid("per_page must be an integer from 1 to 150", field: field)
    }
    return number
}

extension IntercomError {
    static func invalid(_ message: String, field: String? = nil) -> IntercomError {
        IntercomError(.badRequest, code: "parameter_invalid", message: message, field: field)
    }
}
