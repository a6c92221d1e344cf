import Foundation

/// A conversation as the sandbox stores it.
struct ConversationRecord: Sendable, Codable {
    struct Reference: Sendable, Codable {
        var type: String
        var id: String
    }

    struct AppliedTag: Sendable, Codable {
        var id: String
        var appliedAt: Int
        var by: String
    }

    struct Part: Sendable, Codable {
        var id: String
        var partType: String
        var body: String?
        var createdAt: Int
        var author: Author
        var assignedTo: Reference?
    }

    struct Author: Sendable, Codable {
        var type: String
        var id: String
        var name: String?
        var email: String?

        var json: SJSON {
            .object(["type": .string(type), "id": .string(id), "name": .optional(name), "email": .optional(email)])
        }
    }

    var id: String
    var createdAt: Int
    var updatedAt: Int
    var waitingSince: Int?
    var snoozedUntil: Int?
    var state = "open"
    var read = false
    var priority = "not_priority"
    var title: String?
    var adminAssigneeID: Int?
    var teamAssigneeID: Int?
    var sourceID: String
    var sourceSubject: String
    var sourceBody: String
    var sourceAuthor: Author
    var deliveredAs: String
    var contactIDs: [String]
    var contactExternalIDs: [String: String] = [:]
    var tags: [AppliedTag] = []
    var parts: [Part] = []
    var customAttributes: [String: SJSON] = [:]

    func json(tagNames: [String: String], withParts: Bool) -> SJSON {
        var object: [String: SJSON] = [
            "type": .string("conversation"), "id": .string(id), "created_at": .int(createdAt), "updated_at": .int(updatedAt),
            "waiting_since": .optional(waitingSince), "snoozed_until": .optional(snoozedUntil),
            "source": .object([
                "type": .string("conversation"), "id": .string(sourceID), "delivered_as": .string(deliveredAs), "subject": .string(sourceSubject),
                "body": .string(sourceBody), "author": sourceAuthor.json, "attachments": .array([]), "url": .null, "redacted": .bool(false),
            ]),
            "contacts": .object(["type": .string("contact.list"), "contacts": .array(contactIDs.map {
                .object(["type": .string("contact"), "id": .string($0), "external_id": .optional(contactExternalIDs[$0])])
            })]),
            "first_contact_reply": .null, "admin_assignee_id": .optional(adminAssigneeID), "team_assignee_id": .optional(teamAssigneeID),
            "open": .bool(state != "closed"), "state": .string(state), "read": .bool(read),
            "tags": .object(["type": .string("tag.list"), "tags": .array(tags.map {
                .object(["type": .string("tag"), "id": .string($0.id), "name": .string(tagNames[$0.id] ?? ""), "applied_at": .int($0.appliedAt),
                         "applied_by": .object(["type": .string("admin"), "id": .string($0.by)])])
            })]),
            "priority": .string(priority), "sla_applied": .null, "statistics": .null, "conversation_rating": .null, "teammates": .null,
            "title": .optional(title), "custom_attributes": .object(customAttributes), "topics": .object([:]), "ticket": .null,
            "linked_objects": .object(["type": .string("list"), "data": .array([]), "total_count": .int(0), "has_more": .bool(false)]),
            "ai_agent": .null, "ai_agent_participated": .bool(false),
        ]
        if withParts {
            // Intercom returns at most the 500 most recent parts.
            let shown = parts.suffix(500)
            object["conversation_parts"] = .object([
                "type": .string("conversation_part.list"),
                "conversation_parts": .array(shown.map { part in
                    .object([
                        "type": .string("conversation_part"), "id": .string(part.id), "part_type": .string(part.partType),
                        "body": .optional(part.body), "created_at": .int(part.createdAt), "updated_at": .int(part.createdAt),
                        "notified_at": .int(part.createdAt),
                        "assigned_to": part.assignedTo.map { .object(["type": .string($0.type), "id": .string($0.id)]) } ?? .null,
                        "author": part.author.json, "attachments": .array([]), "external_id": .null, "redacted": .bool(false),
                    ])
                }),
                "total_count": .int(shown.count),
            ])
        }
        return .object(object)
    }

    static let searchFields: [String: SearchFieldType] = {
        var fields: [String: SearchFieldType] = [
            "id": .string, "source.type": .string, "source.id": .string, "source.delivered_as": .string, "source.subject": .string,
            "source.body": .string, "source.author.id": .string, "source.author.type": .string, "source.author.name": .string,
            "source.author.email": .string, "contact_ids": .tag, "admin_assignee_id": .integer, "team_assignee_id": .integer,
            "open": .boolean, "read": .boolean, "state": .string, "priority": .string, "title": .string, "tag_ids": .tag,
        ]
        for date in ["created_at", "updated_at", "waiting_since", "snoozed_until"] { fields[date] = .date }
        return fields
    }()

    func searchValue(_ field: String) -> SJSON {
        if field.hasPrefix("custom_attributes.") { return customAttributes[String(field.dropFirst("custom_attributes.".count))] ?? .null }
        switch field {
        case "id": return .string(id)
        case "created_at": return .int(createdAt)
        case "updated_at": return .int(updatedAt)
        case "waiting_since": return .optional(waitingSince)
        case "snoozed_until": return .optional(snoozedUntil)
        case "source.type": return .string("conversation")
        case "source.id": return .string(sourceID)
        case "source.delivered_as": return .string(deliveredAs)
        case "source.subject": return .string(sourceSubject)
        case "source.body": return .string(sourceBody)
        case "source.author.id": return .string(sourceAuthor.id)
        case "source.author.type": return .string(sourceAuthor.type)
        case "source.author.name": return .optional(sourceAuthor.name)
        case "source.author.email": return .optional(sourceAuthor.email)
        case "contact_ids": return .array(contactIDs.map(SJSON.string))
        case "admin_assignee_id": return .optional(adminAssigneeID)
        case "team_assignee_id": return .optional(teamAssigneeID)
        case "open": return .bool(state != "closed")
        case "read": return .bool(read)
        case "state": return .string(state)
        case "priority": return .string(priority)
        case "title": return .optional(title)
        case "tag_ids": return .array(tags.map { .string($0.id) })
        default: return .null
        }
    }
}
