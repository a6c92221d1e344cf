import Foundation
import Hummingbird

extension IntercomError {
    static let conversationNotFound = IntercomError(.notFound, code: "not_found", message: "Conversation not found")
    static func missing(_ field: String) -> IntercomError {
        IntercomError(.badRequest, code: "parameter_not_found", message: "\(field) is required", field: field)
    }
}

extension SandboxData {
    /// `POST /conversations`: a contact starts a conversation; Intercom answers with the message it created.
    public func createConversation(_ workspaceID: String, _ body: SJSON) throws -> SJSON {
        guard let from = body["from"], from.object != nil else { throw IntercomError.missing("from") }
        guard let type = from["type"]?.string, ["user", "lead", "contact"].contains(type) else {
            throw IntercomError.invalid("from.type must be user, lead or contact", field: "from.type")
        }
        guard let contactID = from["id"]?.string else { throw IntercomError.missing("from.id") }
        guard let text = body["body"]?.string, !text.trimmingCharacters(in: .whitespaces).isEmpty else { throw IntercomError.missing("body") }
        let subject = body["subject"]?.string ?? ""
        let now = timestamp
        return try with(workspaceID) { ws in
            guard let contact = ws.contacts[contactID] else { throw IntercomError(.notFound, code: "not_found", message: "User Not Found", field: "from.id") }
            let id = ws.numericID()
            let messageID = ws.numericID()
            let author = ConversationRecord.Author(type: contact.role, id: contact.id, name: contact.name, email: contact.email)
            var conversation = ConversationRecord(
                id: id, createdAt: now, updatedAt: now, waitingSince: now, sourceID: messageID, sourceSubject: subject,
                sourceBody: "<p>\(text)</p>", sourceAuthor: author, deliveredAs: "customer_initiated", contactIDs: [contact.id]
            )
            conversation.contactExternalIDs[contact.id] = contact.externalID
            ws.conversations[id] = conversation
            ws.conversationOrder.append(id)
            return .object(["type": .string("user_message"), "id": .string(messageID), "created_at": .int(now), "body": .string(text),
                            "message_type": .string("inapp"), "conversation_id": .string(id)])
        }
    }

    public func conversation(_ workspaceID: String, id: String) throws -> SJSON {
        try with(workspaceID) { ws in render(try findConversation(id, ws), ws, parts: true) }
    }

    public func updateConversation(_ workspaceID: String, id: String, _ body: SJSON) throws -> SJSON {
        guard let object = body.object else { throw IntercomError(.badRequest, code: "bad_request", message: "The body must be a JSON object") }
        let now = timestamp
        return try with(workspaceID) { ws in
            var conversation = try findConversation(id, ws)
            for (key, value) in object {
                switch key {
                case "read":
                    guard let read = value.bool else { throw IntercomError.invalid("read must be a boolean", field: "read") }
                    conversation.read = read
                case "title":
                    guard value.isNull || value.string != nil else { throw IntercomError.invalid("title must be a string", field: "title") }
                    conversation.title = value.string
                case "custom_attributes":
                    guard let attributes = value.object else { throw IntercomError.invalid("custom_attributes must be an object", field: key) }
                    for (name, attribute) in attributes { conversation.customAttributes[name] = attribute.isNull ? nil : attribute }
                default:
                    throw IntercomError.invalid("\(key) is not a conversation attribute you can update", field: key)
                }
            }
            conversation.updatedAt = now
            ws.conversations[id] = conversation
            return render(conversation, ws, parts: true)
        }
    }

    /// `GET /conversations`, newest first.
    public func listConversations(_ workspaceID: String, perPage: Int, startingAfter: String?) throws -> SJSON {
        try with(workspaceID) { ws in
            let all = ws.conversationOrder.reversed().compactMap { ws.conversations[$0] }
            let page = try Page.cut(all, perPage: perPage, startingAfter: startingAfter, sortValue: { .int($0.createdAt) },
                                    id: { String(repeating: "0", count: 20 - $0.id.count) + $0.id }, ascending: false)
            return .object(["type": .string("conversation.list"), "conversations": .array(page.items.map { render($0, ws, parts: false) }),
                            "total_count": .int(all.count), "pages": page.json])
        }
    }

    public func searchConversations(_ workspaceID: String, _ body: SJSON) throws -> SJSON {
        guard body.object != nil, body["query"] != nil else { throw IntercomError.missing("query") }
        let query = try SearchQuery.parse(body["query"], fields: ConversationRecord.searchFields)
        let perPage = try IntercomSandbox.perPage(body["pagination"]?["per_page"], field: "pagination.per_page")
        var field = "created_at", ascending = false
        if let sort = body["sort"], !sort.isNull {
            guard let name = sort["field"]?.string, ConversationRecord.searchFields[name] != nil else {
                throw IntercomError.invalid("sort.field must be a searchable field", field: "sort.field")
            }
            field = name
            ascending = (sort["order"]?.string ?? "descending") == "ascending"
        }
        let sortField = field, up = ascending
        return try with(workspaceID) { ws in
            var matches = ws.conversations.values.filter { query.matches($0.searchValue, timeZone: ws.timeZone) }
            matches.sort { a, b in
                let order = Page<ConversationRecord>.compareSort(a.searchValue(sortField), b.searchValue(sortField))
                if order == .orderedSame { return up ? a.paddedID < b.paddedID : a.paddedID > b.paddedID }
                return up ? order == .orderedAscending : order == .orderedDescending
            }
            let page = try Page.cut(matches, perPage: perPage, startingAfter: body["pagination"]?["starting_after"]?.string,
                                    sortValue: { $0.searchValue(sortField) }, id: \.paddedID, ascending: up)
            return .object(["type": .string("conversation.list"), "conversations": .array(page.items.map { render($0, ws, parts: false) }),
                            "total_count": .int(matches.count), "pages": page.json])
        }
    }

    /// `POST /conversations/{id}/reply`, as an admin (comment or note) or as the contact (comment).
    public func reply(_ workspaceID: String, id: String, _ body: SJSON) throws -> SJSON {
        guard let messageType = body["message_type"]?.string else { throw IntercomError.missing("message_type") }
        guard let type = body["type"]?.string else { throw IntercomError.missing("type") }
        let text = body["body"]?.string ?? ""
        let now = timestamp
        return try with(workspaceID) { ws in
            var conversation = try findConversation(id, ws)
            let author: ConversationRecord.Author
            switch type {
            case "admin":
                guard ["comment", "note", "quick_reply"].contains(messageType) else {
                    throw IntercomError.invalid("message_type must be comment, note or quick_reply for an admin", field: "message_type")
                }
                author = try adminAuthor(body["admin_id"], ws)
                guard !text.isEmpty || messageType == "quick_reply" else { throw IntercomError.missing("body") }
                if messageType == "comment" { conversation.waitingSince = nil }
            case "user", "contact", "lead":
                guard messageType == "comment" else { throw IntercomError.invalid("a contact can only reply with a comment", field: "message_type") }
                guard !text.isEmpty else { throw IntercomError.missing("body") }
                let contactID = body["intercom_user_id"]?.string ?? conversation.contactIDs.first ?? ""
                guard let contact = ws.contacts[contactID] else { throw IntercomError(.notFound, code: "not_found", message: "User Not Found") }
                guard conversation.contactIDs.contains(contactID) else {
                    throw IntercomError.invalid("the contact is not part of this conversation", field: "intercom_user_id")
                }
                author = .init(type: contact.role, id: contact.id, name: contact.name, email: contact.email)
                // A customer's reply reopens the conversation and starts the wait.
                conversation.state = "open"
                conversation.snoozedUntil = nil
                conversation.waitingSince = conversation.waitingSince ?? now
            default:
                throw IntercomError.invalid("type must be admin or user", field: "type")
            }
            conversation.parts.append(.init(id: ws.numericID(), partType: messageType == "note" ? "note" : "comment",
                                            body: "<p>\(text)</p>", createdAt: now, author: author))
            conversation.updatedAt = now
            ws.conversations[id] = conversation
            return render(conversation, ws, parts: true)
        }
    }

    /// `POST /conversations/{id}/parts`: close, open, snooze or assign, as an admin.
    public func managePart(_ workspaceID: String, id: String, _ body: SJSON) throws -> SJSON {
        guard let messageType = body["message_type"]?.string else { throw IntercomError.missing("message_type") }
        let now = timestamp
        return try with(workspaceID) { ws in
            var conversation = try findConversation(id, ws)
            let author = try adminAuthor(body["admin_id"], ws)
            var part = ConversationRecord.Part(id: ws.numericID(), partType: messageType, body: body["body"]?.string.map { "<p>\($0)</p>" },
                                               createdAt: now, author: author)
            switch messageType {
            case "close":
                conversation.state = "closed"
                conversation.snoozedUntil = nil
                conversation.waitingSince = nil
            case "open":
                conversation.state = "open"
                conversation.snoozedUntil = nil
            case "snoozed":
                guard let until = body["snoozed_until"]?.int else { throw IntercomError.missing("snoozed_until") }
                guard until > now else { throw IntercomError.invalid("snoozed_until must be in the future", field: "snoozed_until") }
                conversation.state = "snoozed"
                conversation.snoozedUntil = until
            case "assignment":
                guard let assignee = body["assignee_id"]?.string ?? body["assignee_id"]?.int.map(String.init) else { throw IntercomError.missing("assignee_id") }
                if assignee == "0" {
                    conversation.adminAssigneeID = nil
                } else if ws.admins[assignee] != nil {
                    conversation.adminAssigneeID = Int(assignee)
                    part.assignedTo = .init(type: "admin", id: assignee)
                } else {
                    throw IntercomError(.notFound, code: "assignee_not_found", message: "Assignee not found", field: "assignee_id")
                }
                part.partType = "assignment"
            default:
                throw IntercomError.invalid("message_type must be close, open, snoozed or assignment", field: "message_type")
            }
            conversation.parts.append(part)
            conversation.updatedAt = now
            ws.conversations[id] = conversation
            return render(conversation, ws, parts: true)
        }
    }

    public func tagConversation(_ workspaceID: String, id: String, _ body: SJSON) throws -> SJSON {
        guard let tagID = body["id"]?.string ?? body["id"]?.int.map(String.init) else { throw IntercomError.missing("id") }
        let now = timestamp
        return try with(workspaceID) { ws in
            var conversation = try findConversation(id, ws)
            let admin = try adminAuthor(body["admin_id"], ws)
            guard let tag = ws.tags[tagID] else { throw IntercomError(.notFound, code: "tag_not_found", message: "Tag not found") }
            if !conversation.tags.contains(where: { $0.id == tagID }) { conversation.tags.append(.init(id: tagID, appliedAt: now, by: admin.id)) }
            ws.conversations[id] = conversation
            return tag.json
        }
    }

    public func untagConversation(_ workspaceID: String, id: String, tagID: String, _ body: SJSON) throws -> SJSON {
        try with(workspaceID) { ws in
            var conversation = try findConversation(id, ws)
            _ = try adminAuthor(body["admin_id"], ws)
            guard let tag = ws.tags[tagID] else { throw IntercomError(.notFound, code: "tag_not_found", message: "Tag not found") }
            conversation.tags.removeAll { $0.id == tagID }
            ws.conversations[id] = conversation
            return tag.json
        }
    }

    private func findConversation(_ id: String, _ ws: Workspace) throws -> ConversationRecord {
        guard let conversation = ws.conversations[id] else { throw IntercomError.conversationNotFound }
        return conversation
    }

    private func adminAuthor(_ value: SJSON?, _ ws: Workspace) throws -> ConversationRecord.Author {
        guard let id = value?.string ?? value?.int.map(String.init) else { throw IntercomError.missing("admin_id") }
        guard let admin = ws.admins[id] else { throw IntercomError(.notFound, code: "admin_not_found", message: "Admin not found", field: "admin_id") }
        return .init(type: "admin", id: admin.id, name: admin.name, email: admin.email)
    }

    private func render(_ conversation: ConversationRecord, _ ws: Workspace, parts: Bool) -> SJSON {
        conversation.json(tagNames: ws.tags.mapValues(\.name), withParts: parts)
    }
}

extension ConversationRecord {
    /// Numeric ids compare as numbers once padded.
    var paddedID: String { String(repeating: "0", count: max(0, 20 - id.count)) + id }
}
