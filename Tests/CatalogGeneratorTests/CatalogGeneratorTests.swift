import CatalogGenerator
import Foundation
import Providers
import SwitchboardCore
import Testing

/// The package's root, from this file's place in it.
private let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

private func description(_ version: String) throws -> CatalogGenerator.Description {
    let url = root.appendingPathComponent("Sources/IntercomSandbox/Descriptions/intercom-openapi-\(version).yaml")
    return .init(version: version, yaml: try String(contentsOf: url, encoding: .utf8))
}

/// Made once for the suite: reading two descriptions of a megabyte each is the slow part.
private let generated: Result<JSONValue, any Error> = Result {
    try CatalogGenerator.catalog(provider: "intercom", current: description("2.16"), older: [description("2.14")])
}

@Suite("The generated catalog")
struct CatalogGeneratorTests {
    @Test("the checked-in catalog is what the generator makes now from Intercom's description (run `swift run generate-catalog` after changing either)")
    func noDrift() throws {
        let made = try CatalogGenerator.encode(try generated.get())
        let checkedIn = try Data(contentsOf: root.appendingPathComponent("Sources/Providers/Definitions/intercom-generated.json"))
        if made != checkedIn {
            let madeLines = String(decoding: made, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
            let inLines = String(decoding: checkedIn, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
            let first = zip(madeLines, inLines).enumerated().first { $0.element.0 != $0.element.1 }
            Issue.record("the checked-in catalog differs from the generator's, first at line \(first.map { String($0.offset + 1) } ?? "end"): \(first.map { "made \($0.element.0) / checked in \($0.element.1)" } ?? "lengths \(madeLines.count) and \(inLines.count)")")
        }
    }

    @Test("every operation of 2.16 is an action, named from its operationId in snake case or from its method and path, with its group, operation and versions")
    func everyOperation() throws {
        let catalog = try generated.get()
        let actions = try #require(catalog["actions"]?.arrayValue)
        #expect(actions.count == 231)
        let byName = Dictionary(uniqueKeysWithValues: actions.map { ($0["name"]?.stringValue ?? "", $0) })
        let show = try #require(byName["intercom.show_contact"])
        #expect(show["operation"]?["path"]?.stringValue == "/contacts/{contact_id}" && show["operation"]?["method"]?.stringValue == "GET")
        #expect(show["operation"]?["docsURL"]?.stringValue == "https://developers.intercom.com/docs/references/2.16/rest-api/api.intercom.io/contacts/showcontact")
        #expect(show["group"]?.stringValue == "Contacts" && show["readOnly"] == .bool(true) && show["idempotent"] == .bool(true))
        #expect(show["versions"] == .array([.string("2.14"), .string("2.16")]))
        let unnamed = try #require(byName["intercom.get_export_reporting_data_job_identifier"], "no operationId: method and path")
        #expect(unnamed["operation"]?["operationId"] == .null)
        #expect(byName["intercom.list_macros"]?["versions"] == .array([.string("2.16")]), "Macros are new in 2.16")
        let delete = try #require(byName["intercom.delete_article"])
        #expect(delete["destructive"] == .bool(true) && delete["idempotent"] == .bool(true) && delete["readOnly"] == .bool(false))
        #expect(byName["intercom.update_article"]?["idempotent"] == .bool(true), "PUT is idempotent")
        #expect(byName["intercom.create_article"]?["idempotent"] == .bool(false))

        // Paged by cursor: `limit` replaces the page size and cursor, and the list keeps the description's shape.
        let conversations = try #require(byName["intercom.list_conversations"])
        #expect(conversations["paged"] == .bool(true) && conversations["output"]?["list"]?.stringValue == "conversations")
        #expect(conversations["input"]?["properties"]?["limit"] != nil && conversations["input"]?["properties"]?["starting_after"] == nil)
        #expect(conversations["request"]?["query"]?["starting_after"]?.stringValue == "{{starting_after}}")
        let search = try #require(byName["intercom.search_tickets"])
        #expect(search["readOnly"] == .bool(true), "a POST search only reads")
        #expect(search["request"]?["body"]?["pagination"]?["per_page"]?.stringValue == "{{limit}}")
    }

    @Test("a body's alternatives are kept (its oneOf as anyOf), its properties are inputs, and a $ref is a $defs reference the catalog defines")
    func schemas() throws {
        let catalog = try generated.get()
        let actions = try #require(catalog["actions"]?.arrayValue)
        let defs = try #require(catalog["defs"]?.objectValue)
        let manage = try #require(actions.first { $0["name"]?.stringValue == "intercom.manage_conversation" })
        let forms = try #require(manage["input"]?["anyOf"]?.arrayValue, "the body's oneOf, as anyOf: Intercom's alternatives overlap")
        #expect(forms.count == 4 && forms.allSatisfy { $0["$ref"]?.stringValue?.hasPrefix("#/$defs/") == true })
        #expect(manage["input"]?["properties"]?["message_type"] != nil && manage["input"]?["properties"]?["conversation_id"] != nil)
        #expect(manage["input"]?["required"] == .array([.string("conversation_id")]))
        // Every reference anywhere names a definition the catalog has.
        func refs(_ value: JSONValue) -> [String] {
            switch value {
            case .object(let members): (members["$ref"]?.stringValue.map { [$0] } ?? []) + members.values.flatMap(refs)
            case .array(let items): items.flatMap(refs)
            default: []
            }
        }
        let named = refs(catalog).map { $0.replacingOccurrences(of: "#/$defs/", with: "") }
        #expect(!named.isEmpty && named.allSatisfy { defs[$0] != nil })
        #expect(!String(decoding: try CatalogGenerator.encode(catalog), as: UTF8.self).contains("#/components/"))
    }

    @Test("OpenAPI 3.0 schemas become JSON Schema: nullable as a null type, a $ref with its nullable and description, boolean bounds as numbers, example as examples")
    func conversion() throws {
        var converter = SchemaConverter(components: ["thing": .object(["type": .string("object")])])
        let nullable = try converter.convert(.object(["type": .string("string"), "nullable": .bool(true), "enum": .array([.string("a")]), "example": .string("a")]))
        #expect(nullable == .object(["type": .array([.string("string"), .string("null")]), "enum": .array([.string("a"), .null]), "examples": .array([.string("a")])]))
        let ref = try converter.convert(.object(["$ref": .string("#/components/schemas/thing"), "nullable": .bool(true), "description": .string("d")]))
        #expect(ref == .object(["anyOf": .array([.object(["$ref": .string("#/$defs/thing")]), .object(["type": .string("null")])]), "description": .string("d")]))
        let bound = try converter.convert(.object(["type": .string("integer"), "minimum": .number(0), "exclusiveMinimum": .bool(true), "format": .string("date-time")]))
        #expect(bound == .object(["type": .string("integer"), "exclusiveMinimum": .number(0)]), "a date-time format on an integer says nothing to JSON Schema")
        #expect(try converter.definitions() == ["thing": .object(["type": .string("object")])])
        #expect(throws: GeneratorError.self) { try converter.convert(.object(["$ref": .string("#/components/schemas/missing")])) }
    }

    @Test("names and words: snake case of Intercom's operation ids, the fallback name, a description short enough for a model")
    func naming() {
        #expect(Naming.snakeCase("RetrieveACompanyById") == "retrieve_a_company_by_id")
        #expect(Naming.snakeCase("RetrieveWhatsAppMessageStatus") == "retrieve_whats_app_message_status")
        #expect(Naming.snakeCase("getHTTPStatus") == "get_http_status")
        #expect(Naming.snakeCase("lisDataAttributes") == "lis_data_attributes")
        #expect(Naming.fallbackName(method: "GET", path: "/download/reporting_data/{job_identifier}") == "get_download_reporting_data_job_identifier")
        let long = "You can search for tickets.\n\n{% admonition type=\"warning\" %}\nLimits apply.\n{% /admonition %}\n\n> 🚧 Careful\n\nMore."
        #expect(Naming.modelDescription(long, summary: "Search") == "You can search for tickets.")
        #expect(Naming.modelDescription("You can fetch a list of all tags by making a GET request to `https://api.intercom.io/tags`.", summary: "x") == "You can fetch a list of all tags.")
        #expect(Naming.modelDescription(nil, summary: "Get a thing") == "Get a thing")
        #expect(Naming.modelDescription(String(repeating: "Word ", count: 100), summary: "x").count <= 300)
    }
}

@Suite("The Intercom catalog, curated over generated")
struct CuratedOverGeneratedTests {
    @Test("curated actions take their operation from the generated one; those that replace it hide it, those beside it keep it; every operation is reachable")
    func overlay() throws {
        let catalog = ActionCatalog.intercom
        let getContact = try #require(catalog.action(named: "intercom.get_contact"))
        #expect(getContact.curated && getContact.overlay == .replaces && getContact.group == "Contacts")
        #expect(getContact.operation?.operationId == "ShowContact" && getContact.operation?.path == "/contacts/{contact_id}")
        #expect(catalog.action(named: "intercom.show_contact") == nil, "replaced by get_contact")
        let close = try #require(catalog.action(named: "intercom.close_conversation"))
        #expect(close.overlay == .beside && catalog.action(named: "intercom.manage_conversation") != nil, "the whole operation stays beside the curated part")
        #expect(catalog.action(named: "intercom.list_macros")?.curated == false)
        let operations = Set(catalog.actions.compactMap { $0.operation.map { "\($0.method ?? "") \($0.path ?? "")" } })
        #expect(operations.count == 231, "every operation of 2.16 has an action")
        #expect(catalog.actions.prefix(42).allSatisfy { $0.curated })
    }

    @Test("a generated action's schemas stand alone: the definitions they reach travel with them")
    func standalone() throws {
        let catalog = ActionCatalog.intercom
        let search = try #require(catalog.action(named: "intercom.search_articles"))
        #expect(search.output.schema?["$defs"]?.objectValue?.isEmpty == false)
        let reply = try #require(catalog.action(named: "intercom.reply_conversation"))
        let defs = try #require(reply.input["$defs"]?.objectValue)
        #expect(defs["admin_reply_conversation_request"] != nil)
        // The input check follows the references: a reply in none of its forms is refused, one in a form passes.
        #expect(!InputSchema.violations(of: .object(["conversation_id": .string("1"), "message_type": .string("comment")]), against: reply.input).isEmpty)
        let admin: JSONValue = .object(["conversation_id": .string("1"), "message_type": .string("comment"), "type": .string("admin"),
                                        "admin_id": .string("7"), "body": .string("Hi")])
        #expect(InputSchema.violations(of: admin, against: reply.input) == [])
    }
}
