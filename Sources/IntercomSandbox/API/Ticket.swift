import Foundation

struct TicketState: Sendable, Codable {
    var id: String
    var category: String
    var label: String
    var json: SJSON {
        .object(["type": .string("ticket_state"), "id": .string(id), "category": .string(category),
                 "internal_label": .string(label), "external_label": .string(label)])
    }

    static let all = [
        TicketState(id: "1", category: "submitted", label: "Submitted"),
        TicketState(id: "2", category: "in_progress", label: "In progress"),
        TicketState(id: "3", category: "waiting_on_customer", label: "Waiting on customer"),
        TicketState(id: "4", category: "resolved", label: "Resolved"),
    ]
}

struct TicketTypeRecord: Sendable, Codable {
    var id: String
    var name: String
    var icon: String
    var category: String
    var createdAt: Int

    static let attributes: [(id: String, name: String, required: Bool)] = [("1", "_default_title_", true), ("2", "_default_description_", false)]

    static let seeded = [
        TicketTypeRecord(id: "1", name: "Bug report", icon: "🐞", category: "Customer", createdAt: 1_700_000_000),
        TicketTypeRecord(id: "2", name: "Billing question", icon: "💳", category: "Customer", createdAt: 1_700_000_000),
        TicketTypeRecord(id: "3", name: "Escalation", icon: "🚨", category: "Back-office", createdAt: 1_700_000_000),
    ]

    func json(workspaceID: String) -> SJSON {
        .object([
            "type": .string("ticket_type"), "id": .string(id), "name": .string(name), "description": .string(""), "icon": .string(icon),
            "workspace_id": .string(workspaceID), "archived": .bool(false), "created_at": .int(createdAt), "updated_at": .int(createdAt),
            "is_internal": .bool(category != "Customer"), "category": .string(category),
            "ticket_type_attributes": .object(["type": .string("list"), "data": .array(Self.attributes.map { attribute in
                .object([
                    "type": .string("ticket_type_attribute"), "id": .string("\(id)0\(attribute.id)"), "workspace_id": .string(workspaceID),
                    "name": .string(attribute.name), "description": .string(""), "data_type": .string("string"), "input_options": .null, "order": .int(0),
                    "required_to_create": .bool(attribute.required), "required_to_create_for_contacts": .bool(false),
                    "visible_on_create": .bool(true), "visible_to_contacts": .bool(true), "default": .bool(true),
                    "ticket_type_id": .int(Int(id) ?? 0), "archived": .bool(false), "created_at": .int(createdAt), "updated_at": .int(createdAt),
                ])
            })]),
            "ticket_states": .object(["type": .string("list"), "data": .array(TicketState.all.map(\.json))]),
        ])
    }
}

struct TicketRecord: Sendable, Codable {
    var id: String
    var ticketID: String
    var typeID: String
    var stateID: String
    var attributes: [String: SJSON]
    var contactIDs: [String]
    var contactExternalIDs: [String: String] = [:]
    var adminAssigneeID: String = "0"
    var teamAssigneeID: String = "0"
    var createdAt: Int
    var updatedAt: Int
    var snoozedUntil: Int?
    var parts: [SJSON] = []

    var state: TicketState { TicketState.all.first { $0.id == stateID } ?? TicketState.all[0] }
    var open: Bool { state.category != "resolved" }

    func json(type: TicketTypeRecord, workspaceID: String) -> SJSON {
        var object: [String: SJSON] = [
            "type": .string("ticket"), "id": .string(id), "ticket_id": .string(ticketID), "category": .string(type.category),
            "ticket_attributes": .object(attributes), "ticket_state": state.json, "ticket_type": type.json(workspaceID: workspaceID),
            "contacts": .object(["type": .string("contact.list"), "contacts": .array(contactIDs.map {
                .object(["type": .string("contact"), "id": .string($0), "external_id": .optional(contactExternalIDs[$0])])
            })]),
            "admin_assignee_id": .string(adminAssigneeID), "team_assignee_id": .string(teamAssigneeID),
            "created_at": .int(createdAt), "updated_at": .int(updatedAt), "open": .bool(open),
            "linked_objects": .object(["type": .string("list"), "data": .array([]), "total_count": .int(0), "has_more": .bool(false)]),
            "ticket_parts": .object(["type": .string("ticket_part.list"), "ticket_parts": .array(parts), "total_count": .int(parts.count)]),
            "is_shared": .bool(type.category == "Customer"),
        ]
        // The schema's snoozed_until is a non-nullable integer; the description's examples leave it out when unset.
        if let snoozedUntil { object["snoozed_until"] = .int(snoozedUntil) }
        return .object(object)
    }

    static let searchFields: [String: SearchFieldType] = [
        "id": .string, "ticket_id": .string, "title": .string, "description": .string, "_default_title_": .string,
        "_default_description_": .string, "category": .string, "ticket_type_id": .string, "contact_ids": .tag,
        "admin_assignee_id": .string, "team_assignee_id": .string, "open": .boolean, "state": .string, "ticket_state_id": .string,
        "created_at": .date, "updated_at": .date, "snoozed_until": .date,
    ]

    func searchValue(_ field: String, typeCategory: String) -> SJSON {
        switch field {
        case "id": return .string(id)
        case "ticket_id": return .string(ticketID)
        case "title", "_default_title_": return attributes["_default_title_"] ?? .null
        case "description", "_default_description_": return attributes["_default_description_"] ?? .null
        case "category": return .string(typeCategory)
        case "ticket_type_id": return .string(typeID)
        case "contact_ids": return .array(contactIDs.map(SJSON.string))
        case "admin_assignee_id": return .string(adminAssigneeID)
        case "team_assignee_id": return .string(teamAssigneeID)
        case "open": return .bool(open)
        case "state": return .string(state.category)
        case "ticket_state_id": return .string(stateID)
        case "created_at": return .int(createdAt)
        case "updated_at": return .int(updatedAt)
        case "snoozed_until": return .optional(snoozedUntil)
        default: return .null
        }
    }
}
