import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import SwitchboardTestSupport
import Testing
@testable import IntercomSandbox

@Suite("Sandbox REST: pagination, search, rate limits")
struct PagingSearchRateTests {
    @Test("walking list pages with starting_after loses and repeats nothing, even while contacts come and go")
    func listPagination() async throws {
        try await RestHarness.with { api in
            var ids: [String] = []
            for index in 0..<23 {
                ids.append(try await api.contact("{\"email\":\"p\(index)@example.com\"}"))
                if index % 5 == 0 { api.time.advance(1) }
            }
            var seen: [String] = []
            var cursor: String?
            var pages = 0
            repeat {
                let uri = "/contacts?per_page=5" + (cursor.map { "&starting_after=\($0.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!)" } ?? "")
                let page = try await api.call(.get, uri, contract: "/contacts")
                let data = try #require(page.json["data"]?.array)
                seen += data.compactMap { $0["id"]?.string }
                pages += 1
                #expect(page.json["pages"]?["per_page"]?.int == 5)
                cursor = page.json["pages"]?["next"]?["starting_after"]?.string
                if pages == 2 {
                    // A contact already seen is deleted and a new one arrives: neither shifts what is still to come.
                    try await api.call(.delete, "/contacts/\(seen[0])")
                    api.time.advance(5)
                    ids.append(try await api.contact(#"{"email":"late@example.com"}"#))
                }
                if cursor == nil { #expect(page.json["pages"]?["next"] == nil, "the last page has no next") }
            } while cursor != nil && pages < 20
            #expect(seen == ids, "creation order, each contact once, the late one last")
            #expect(Set(seen).count == seen.count, "nothing repeated")
            #expect(Set(ids).subtracting(seen).isEmpty, "nothing lost")
        }
    }

    @Test("per_page is bounded by 150 and a foreign cursor is refused")
    func pagingBounds() async throws {
        try await RestHarness.with { api in
            for bad in ["0", "151", "abc"] {
                let response = try await api.call(.get, "/contacts?per_page=\(bad)")
                #expect(response.status == 400)
                #expect(errorField(response.json) == "per_page")
            }
            #expect(try await api.call(.get, "/contacts?per_page=150").status == 200)
            #expect(try await api.call(.get, "/contacts?starting_after=garbage").status == 400)
        }
    }

    /// Four contacts with varied fields, for the operator table.
    func seedFour(_ api: RestHarness) async throws -> [String: String] {
        var ids: [String: String] = [:]
        ids["ann"] = try await api.contact(#"{"email":"ann@alpha.com","name":"Ann Archer","owner_id":1,"external_id":"u-1","custom_attributes":{"plan":"pro","seats":5}}"#)
        ids["bob"] = try await api.contact(#"{"email":"bob@beta.org","name":"Bob Baker","owner_id":2,"external_id":"u-2","custom_attributes":{"plan":"free","seats":1}}"#)
        ids["cy"] = try await api.contact(#"{"email":"cy@alpha.com","name":"Cy Cole","owner_id":3,"role":"lead"}"#)
        ids["di"] = try await api.contact(#"{"external_id":"u-4","name":"Di Dunn","owner_id":4,"unsubscribed_from_emails":true}"#)
        return ids
    }

    func search(_ api: RestHarness, _ query: String, extra: String = "") async throws -> (status: Int, names: Set<String>, json: JSONNode) {
        let response = try await api.call(.post, "/contacts/search", "{\"query\":\(query)\(extra)}")
        let names = Set(response.json["data"]?.array?.compactMap { $0["name"]?.string?.split(separator: " ").first.map(String.init) } ?? [])
        return (response.status, names, response.json)
    }

    @Test("every search operator, on the field types it supports")
    func operators() async throws {
        try await RestHarness.with { api in
            _ = try await seedFour(api)
            let cases: [(String, Set<String>)] = [
                (#"{"field":"email","operator":"=","value":"ann@alpha.com"}"#, ["Ann"]),
                (#"{"field":"email","operator":"!=","value":"ann@alpha.com"}"#, ["Bob", "Cy", "Di"]),
                (#"{"field":"external_id","operator":"IN","value":["u-1","u-4"]}"#, ["Ann", "Di"]),
                (#"{"field":"external_id","operator":"NIN","value":["u-1","u-4"]}"#, ["Bob", "Cy"]),
                (#"{"field":"owner_id","operator":">","value":2}"#, ["Cy", "Di"]),
                (#"{"field":"owner_id","operator":">=","value":2}"#, ["Bob", "Cy", "Di"]),
                (#"{"field":"owner_id","operator":"<","value":2}"#, ["Ann"]),
                (#"{"field":"owner_id","operator":"<=","value":2}"#, ["Ann", "Bob"]),
                (#"{"field":"name","operator":"~","value":"ba"}"#, ["Bob"]),
                (#"{"field":"name","operator":"!~","value":"a"}"#, ["Cy", "Di"]),
                (#"{"field":"email","operator":"^","value":"cy@"}"#, ["Cy"]),
                (#"{"field":"email","operator":"$","value":"alpha.com"}"#, ["Ann", "Cy"]),
                (#"{"field":"role","operator":"=","value":"lead"}"#, ["Cy"]),
                (#"{"field":"email_domain","operator":"=","value":"beta.org"}"#, ["Bob"]),
                (#"{"field":"unsubscribed_from_emails","operator":"=","value":true}"#, ["Di"]),
                (#"{"field":"custom_attributes.plan","operator":"=","value":"pro"}"#, ["Ann"]),
                (#"{"field":"custom_attributes.seats","operator":">","value":2}"#, ["Ann"]),
            ]
            for (query, expected) in cases {
                let result = try await search(api, query)
                #expect(result.status == 200, "\(query) → \(result.json)")
                #expect(result.names == expected, "\(query)")
            }
        }
    }

    @Test("nested AND/OR: two levels work; a third level, or 16 filters in a group, is refused")
    func nesting() async throws {
        try await RestHarness.with { api in
            _ = try await seedFour(api)
            let twoLevels = #"{"operator":"AND","value":[{"operator":"OR","value":[{"field":"owner_id","operator":"=","value":1},{"field":"owner_id","operator":"=","value":3}]},{"field":"email","operator":"$","value":"alpha.com"}]}"#
            #expect(try await search(api, twoLevels).names == ["Ann", "Cy"])
            let threeLevels = #"{"operator":"AND","value":[{"operator":"OR","value":[{"operator":"AND","value":[{"field":"owner_id","operator":"=","value":1}]}]}]}"#
            let refused = try await search(api, threeLevels)
            #expect(refused.status == 400)
            #expect(errorCode(refused.json) == "parameter_invalid")
            let sixteen = "{\"operator\":\"OR\",\"value\":[" + (0..<16).map { "{\"field\":\"owner_id\",\"operator\":\"=\",\"value\":\($0)}" }.joined(separator: ",") + "]}"
            #expect(try await search(api, sixteen).status == 400)
            let fifteen = "{\"operator\":\"OR\",\"value\":[" + (0..<15).map { "{\"field\":\"owner_id\",\"operator\":\"=\",\"value\":\($0)}" }.joined(separator: ",") + "]}"
            #expect(try await search(api, fifteen).status == 200)
        }
    }

    @Test("bad queries are 400s naming the problem", arguments: [
        #"{"field":"shoe_size","operator":"=","value":1}"#,
        #"{"field":"email","operator":"LIKE","value":"x"}"#,
        #"{"field":"created_at","operator":"!=","value":1700000000}"#,
        #"{"field":"created_at","operator":">=","value":1700000000}"#,
        #"{"field":"created_at","operator":"=","value":"yesterday"}"#,
        #"{"field":"name","operator":">","value":"a"}"#,
        #"{"field":"owner_id","operator":"~","value":"1"}"#,
        #"{"field":"email","operator":"IN","value":"a@b.c"}"#,
        #"{"field":"tag_id","operator":"IN","value":["1"]}"#,
        #"{"operator":"AND","value":[]}"#,
        #""just a string""#,
    ])
    func badQueries(query: String) async throws {
        try await RestHarness.with { api in
            let result = try await search(api, query)
            #expect(result.status == 400, "\(query)")
            #expect(result.json["type"]?.string == "error.list")
        }
    }

    @Test("dates match by calendar day in the workspace's time zone")
    func dateDays() async throws {
        try await RestHarness.with { api in
            // Acme's time zone is America/New_York. 1_800_000_000 is 2027-01-15 08:00 UTC = 03:00 in New York.
            let id = try await api.contact(#"{"email":"day@example.com"}"#)
            let createdAt = try #require(try await api.call(.get, "/contacts/\(id)").json["created_at"]?.int)
            var newYork = Calendar(identifier: .gregorian)
            newYork.timeZone = TimeZone(identifier: "America/New_York")!
            let dayStart = Int(newYork.startOfDay(for: Date(timeIntervalSince1970: TimeInterval(createdAt))).timeIntervalSince1970)
            func count(_ op: String, _ value: Int) async throws -> Int? {
                try await search(api, "{\"field\":\"created_at\",\"operator\":\"\(op)\",\"value\":\(value)}").json["total_count"]?.int
            }
            #expect(try await count("=", dayStart + 86_399) == 1, "any instant of the same local day matches =")
            #expect(try await count("=", dayStart - 1) == 0, "the previous local day does not")
            #expect(try await count(">", dayStart - 1) == 1, "> starts at the next day after the value's day")
            #expect(try await count(">", createdAt) == 0, "> the same day excludes that day")
            #expect(try await count("<", createdAt) == 0, "< ends before the start of that day")
            #expect(try await count("<", dayStart + 86_400) == 1)
            let asString = try await search(api, "{\"field\":\"created_at\",\"operator\":\"=\",\"value\":\"\(createdAt)\"}")
            #expect(asString.json["total_count"]?.int == 1, "the spec's example passes timestamps as strings")
        }
    }

    @Test("search sorts, paginates in the body, and tags can be searched")
    func sortPageAndTags() async throws {
        try await RestHarness.with { api in
            let ids = try await seedFour(api)
            let tag = try #require(try await api.call(.post, "/tags", #"{"name":"vip"}"#).json["id"]?.string)
            try await api.call(.post, "/contacts/\(ids["bob"]!)/tags", "{\"id\":\"\(tag)\"}")
            #expect(try await search(api, "{\"field\":\"tag_id\",\"operator\":\"=\",\"value\":\"\(tag)\"}").names == ["Bob"])

            let all = #"{"field":"owner_id","operator":">","value":0}"#
            var order: [String] = []
            var cursor: String?
            repeat {
                let pagination = ",\"pagination\":{\"per_page\":3" + (cursor.map { ",\"starting_after\":\"\($0)\"" } ?? "") + "}"
                let page = try await search(api, all, extra: #","sort":{"field":"name","order":"descending"}"# + pagination)
                order += page.json["data"]?.array?.compactMap { $0["name"]?.string } ?? []
                cursor = page.json["pages"]?["next"]?["starting_after"]?.string
            } while cursor != nil
            #expect(order == ["Di Dunn", "Cy Cole", "Bob Baker", "Ann Archer"])
            #expect(try await search(api, all, extra: #","sort":{"field":"name","order":"sideways"}"#).status == 400)
        }
    }

    @Test("rate limit: headers on every authenticated answer, 429 past the window's allowance, reset at the next window")
    func rateLimit() async throws {
        try await RestHarness.with(perMinute: 60) { api in
            // 60 a minute is 10 per 10-second window.
            for expected in (0..<10).reversed() {
                let response = try await api.call(.get, "/contacts")
                #expect(response.status == 200)
                #expect(response.headers[HTTPField.Name("X-RateLimit-Limit")!] == "60")
                #expect(response.headers[HTTPField.Name("X-RateLimit-Remaining")!] == String(expected))
            }
            let limited = try await api.call(.get, "/contacts", contract: "/contacts")
            #expect(limited.status == 429)
            #expect(errorCode(limited.json) == "rate_limit_exceeded")
            let reset = try #require(limited.headers[HTTPField.Name("X-RateLimit-Reset")!].flatMap(Int.init))
            #expect(reset > Int(api.time.now().timeIntervalSince1970))
            #expect(try await api.call(.get, "/contacts", token: api.globex).status == 429, "the limit is per app, across workspaces")
            api.time.advance(10)
            #expect(try await api.call(.get, "/contacts").status == 200)
        }
    }
}
