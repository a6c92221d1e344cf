import Foundation
import Hummingbird

extension IntercomError {
    static let ticketNotFound = IntercomError(.notFound, code: "ticket_not_found", message: "Ticket not found")
}

extension SandboxData {
    public func ticketTypes(_ workspaceID: String) -> SJSON {
        with(workspaceID) { ws in
            .object(["type": .string("list"), "data": .array(ws.ticketTypes.values.sorted { $0.id < $1.id }.map { $0.json(workspaceID: workspaceID) })])
        }
    }

    public func ticketType(_ workspaceID: String, id: String) throws -> SJSON {
        try with(workspaceID) { ws in
            guard let type = ws.ticketTypes[id] else { throw IntercomError(.notFound, code: "not_found", message: "Resource Not Found") }
            return type.json(workspaceID: workspaceID)
        }
    }

    /// `POST /tickets`: a ticket of a type, for contacts found by id, external_id or email.
    public func createTicket(_ workspaceID: String, adminID: String, _ body: SJSON) throws -> SJSON {
        guard body.object != nil else { throw IntercomError(.badRequest, code: "bad_request", message: "The body must be a JSON object") }
        guard let typeID = body["ticket_type_id"]?.string ?? body["ticket_type_id"]?.int.map(String.init) else { throw IntercomError.missing("ticket_type_id") }
        guard let references = body["contacts"]?.array, !references.isEmpty else { throw IntercomError.missing("contacts") }
        let attributes = body["ticket_attributes"]?.object ?? [:]
        if let given = body["ticket_attributes"], given.object == nil {
            throw IntercomError.invalid("ticket_attributes must be an object", field: "ticket_attributes")
        }
        let now = timestamp
        return try with(workspaceID) { ws in
            guard let type = ws.ticketTypes[typeID] else { throw IntercomError(.notFound, code: "not_found", message: "Ticket type not found", field: "ticket_type_id") }
            for attribute in TicketTypeRecord.attributes where attribute.required && (attributes[attribute.name]?.string ?? "").isEmpty {
                throw IntercomError(.badRequest, code: "parameter_invalid", message: "Missing required ticket attributes", field: "ticket_attributes.\(attribute.name)")
            }
            var contacts: [ContactRecord] = []
            for (index, reference) in references.enumerated() {
                var match: ContactRecord?
                if let id = reference["id"]?.string { match = ws.contacts[id] }
                else if let externalID = reference["external_id"]?.string { match = ws.byExternalID[externalID].flatMap { ws.contacts[$0] } }
                else if let email = reference["email"]?.string {
                    match = ws.byEmail[email.lowercased()]?.compactMap { ws.contacts[$0] }.first
                    // "If a contact with this email does not exist, one will be created." (create_ticket_request)
                    if match == nil, email.contains("@") {
                        var created = ContactRecord(id: IntercomIDs.objectID(now: self.now()), workspaceID: workspaceID, role: "user", createdAt: now, updatedAt: now)
                        created.email = email
                        insert(created, into: &ws)
                        match = created
                    }
                }
                else { throw IntercomError.invalid("each contact needs an id, an external_id or an email", field: "contacts[\(index)]") }
                guard let match else {
                    throw IntercomError(.notFound, code: "not_found", message: "Contact not found or could not be created", field: "contacts[\(index)]")
                }
                contacts.append(match)
            }
            ws.nextTicketNumber += 1
            var ticket = TicketRecord(id: ws.numericID(), ticketID: String(ws.nextTicketNumber), typeID: typeID, stateID: "1",
                                      attributes: attributes, contactIDs: contacts.map(\.id), createdAt: now, updatedAt: now)
            for contact in contacts { ticket.contactExternalIDs[contact.id] = contact.externalID }
            if let assignee = body["assignment"]?["admin_assignee_id"]?.string ?? body["assignment"]?["admin_assignee_id"]?.int.map(String.init) {
                guard ws.admins[assignee] != nil else { throw IntercomError(.notFound, code: "assignee_not_found", message: "Assignee not found") }
                ticket.adminAssigneeID = assignee
            }
            ws.tickets[ticket.id] = ticket
            ws.ticketOrder.append(ticket.id)
            return ticket.json(type: type, workspaceID: workspaceID)
        }
    }

    public func ticket(_ workspaceID: String, id: String) throws -> SJSON {
        try with(workspaceID) { ws in
            let ticket = try findTicket(id, ws)
            return ticket.json(type: ws.ticketTypes[ticket.typeID]!, workspaceID: workspaceID)
        }
    }

    /// `PUT /tickets/{id}`: attributes, state, open/closed, snooze, assignment.
    public func updateTicket(_ workspaceID: String, id: String, _ body: SJSON) throws -> SJSON {
        guard let object = body.object else { throw IntercomError(.badRequest, code: "bad_request", message: "The body must be a JSON object") }
        let now = timestamp
        return try with(workspaceID) { ws in
            var ticket = try findTicket(id, ws)
            let admin = object["admin_id"].flatMap { $0.string ?? $0.int.map(String.init) } ?? ws.admins.keys.sorted().first ?? "0"
            guard ws.admins[admin] != nil else { throw IntercomError(.notFound, code: "admin_not_found", message: "Admin not found", field: "admin_id") }
            for (key, value) in object {
                switch key {
                case "admin_id": continue
                case "ticket_attributes":
                    guard let attributes = value.object else { throw IntercomError.invalid("ticket_attributes must be an object", field: key) }
                    for (name, attribute) in attributes { ticket.attributes[name] = attribute.isNull ? nil : attribute }
                case "ticket_state_id":
                    guard let stateID = value.string ?? value.int.map(String.init), TicketState.all.contains(where: { $0.id == stateID }) else {
                        throw IntercomError(.badRequest, code: "ticket_state_id_invalid", message: "Ticket state id is invalid", field: key)
                    }
                    let previous = ticket.state.category
                    ticket.stateID = stateID
                    ticket.parts.append(statePart(ws: &ws, admin: admin, from: previous, to: ticket.state.category, at: now))
                case "open":
                    guard let open = value.bool else { throw IntercomError.invalid("open must be a boolean", field: key) }
                    let previous = ticket.state.category
                    ticket.stateID = open ? (ticket.open ? ticket.stateID : "1") : "4"
                    ticket.parts.append(statePart(ws: &ws, admin: admin, from: previous, to: ticket.state.category, at: now))
                case "snoozed_until":
                    guard let until = value.int else { throw IntercomError.invalid("snoozed_until must be a Unix timestamp", field: key) }
                    ticket.snoozedUntil = until
                case "assignee_id":
                    guard let assignee = value.string ?? value.int.map(String.init) else { throw IntercomError.invalid("assignee_id must be an id", field: key) }
                    guard assignee == "0" || ws.admins[assignee] != nil else {
                        throw IntercomError(.notFound, code: "assignee_not_found", message: "Assignee not found", field: key)
                    }
                    ticket.adminAssigneeID = assignee
                case "is_shared", "company_id":
                    continue
                default:
                    throw IntercomError.invalid("\(key) is not a ticket field you can update", field: key)
                }
            }
            ticket.updatedAt = now
            ws.tickets[id] = ticket
            return ticket.json(type: ws.ticketTypes[ticket.typeID]!, workspaceID: workspaceID)
        }
    }

    public func searchTickets(_ workspaceID: String, _ body: SJSON) throws -> SJSON {
        guard body.object != nil, body["query"] != nil else { throw IntercomError.missing("query") }
        let query = try SearchQuery.parse(body["query"], fields: TicketRecord.searchFields)
        let perPage = try IntercomSandbox.perPage(body["pagination"]?["per_page"], field: "pagination.per_page")
        return try with(workspaceID) { ws in
            let matches = ws.ticketOrder.reversed().compactMap { ws.tickets[$0] }.filter { ticket in
                let category = ws.ticketTypes[ticket.typeID]?.category ?? ""
                return query.matches({ ticket.searchValue($0, typeCategory: category) }, timeZone: ws.timeZone)
            }
            let page = try Page.cut(matches, perPage: perPage, startingAfter: body["pagination"]?["starting_after"]?.string,
                                    sortValue: { .int($0.createdAt) }, id: { String(repeating: "0", count: max(0, 20 - $0.id.count)) + $0.id }, ascending: false)
            return .object(["type": .string("ticket.list"),
                            "tickets": .array(page.items.map { $0.json(type: ws.ticketTypes[$0.typeID]!, workspaceID: workspaceID) }),
                            "total_count": .int(matches.count), "pages": page.json])
        }
    }

    /// `POST /tickets/{id}/reply` → the new ticket part.
    public func replyToTicket(_ workspaceID: String, id: String, _ body: SJSON) throws -> SJSON {
        guard let messageType = body["message_type"]?.string else { throw IntercomError.missing("message_type") }
        guard let type = body["type"]?.string else { throw IntercomError.missing("type") }
        guard let text = body["body"]?.string, !text.isEmpty else { throw IntercomError.missing("body") }
        let now = timestamp
        return try with(workspaceID) { ws in
            var ticket = try findTicket(id, ws)
            let author: SJSON
            switch type {
            case "admin":
                guard ["comment", "note", "quick_reply"].contains(messageType) else { throw IntercomError.invalid("message_type must be comment, note or quick_reply", field: "message_type") }
                guard let adminID = body["admin_id"]?.string ?? body["admin_id"]?.int.map(String.init) else { throw IntercomError.missing("admin_id") }
                guard let admin = ws.admins[adminID] else { throw IntercomError(.notFound, code: "admin_not_found", message: "Admin not found", field: "admin_id") }
                author = .object(["type": .string("admin"), "id": .string(admin.id), "name": .string(admin.name), "email": .string(admin.email)])
            case "user", "contact", "lead":
                guard messageType == "comment" else { throw IntercomError.invalid("a contact can only reply with a comment", field: "message_type") }
                let contactID = body["intercom_user_id"]?.string ?? ticket.contactIDs.first ?? ""
                guard let contact = ws.contacts[contactID], ticket.contactIDs.contains(contactID) else {
                    throw IntercomError(.notFound, code: "not_found", message: "User Not Found", field: "intercom_user_id")
                }
                author = .object(["type": .string("user"), "id": .string(contact.id), "name": .optional(contact.name), "email": .string(contact.email ?? "")])
            default:
                throw IntercomError.invalid("type must be admin or user", field: "type")
            }
            let part: SJSON = .object([
                "type": .string("ticket_part"), "id": .string(ws.numericID()), "part_type": .string(messageType), "body": .string("<p>\(text)</p>"),
                "created_at": .int(now), "updated_at": .int(now), "author": author, "attachments": .array([]), "redacted": .bool(false),
            ])
            ticket.parts.append(part)
            ticket.updatedAt = now
            ws.tickets[id] = ticket
            return part
        }
    }

    private func statePart(ws: inout Workspace, admin: String, from: String, to: String, at now: Int) -> SJSON {
        let author = ws.admins[admin]
        return .object([
            "type": .string("ticket_part"), "id": .string(ws.numericID()), "part_type": .string("ticket_state_updated_by_admin"),
            "ticket_state": .string(to), "previous_ticket_state": .string(from), "created_at": .int(now), "updated_at": .int(now),
            "author": .object(["type": .string("admin"), "id": .string(admin), "name": .optional(author?.name), "email": .optional(author?.email)]),
            "attachments": .array([]), "redacted": .bool(false),
        ])
    }

    private func findTicket(_ id: String, _ ws: Workspace) throws -> TicketRecord {
        guard let ticket = ws.tickets[id] else { throw IntercomError.ticketNotFound }
        return ticket
    }
}
