import Foundation
@testable import Providers
import SwitchboardCore
import Testing

@Suite("Catalog messages")
struct CatalogMessageTests {
    @Test("the members a message reads: every name its tags mention; unknown when a tag can reach the whole value")
    func membersRead() {
        #expect(ActionCatalog.membersRead(by: "Ticket #{{ticket_id}} is open: {{ticket_attributes._default_title_}}.")
            == ["ticket_id", "ticket_attributes", "_default_title_"])
        #expect(ActionCatalog.membersRead(by: "{{#name}}{{name}}{{/name}}{{^name}}Contact {{ id }}{{/name}} <{{{email}}}>, {{&role}}.{{! note }}")
            == ["name", "id", "email", "role"])
        #expect(ActionCatalog.membersRead(by: "{{#companies}}{{name}} {{uppercased(plan)}}{{/companies}}") == ["companies", "name", "uppercased", "plan"])
        #expect(ActionCatalog.membersRead(by: "Note added.") == [])
        for whole in ["{{#.}}{{id}}{{/.}}", "{{.}}", "{{=<% %>=}}<% id %>", "{{> partial}}", "{{id", "{{first(.)}}"] {
            #expect(ActionCatalog.membersRead(by: whole) == nil, "\(whole)")
        }
    }

    @Test("every action's message renders the same from the members it reads as from the whole output")
    func sameMessage() throws {
        let catalog = ActionCatalog.intercom
        for action in catalog.actions {
            guard let members = catalog.membersReadByMessage(of: action.name) else { continue }
            // An output with the read members and others besides, nested and null ones among them.
            var output: [String: JSONValue] = ["unread": .string("ignored"), "also": .object(["id": .string("inner")]), "nothing": .null]
            for (index, name) in members.sorted().enumerated() {
                output[name] = index % 3 == 2 ? .object(["external_label": .string("Open"), "_default_title_": .string("T\(index)")]) : .string("v\(index)")
            }
            let read = output.filter { members.contains($0.key) }
            #expect(catalog.message(for: action.name, output: .object(read)) == catalog.message(for: action.name, output: .object(output)), "\(action.name)")
        }
    }
}
