import Foundation
import Hummingbird

struct CompanyRecord: Sendable, Codable {
    var id: String
    var companyID: String
    var name: String?
    var plan: String?
    var size: Int?
    var website: String?
    var industry: String?
    var monthlySpend: Int?
    var remoteCreatedAt: Int?
    var customAttributes: [String: SJSON] = [:]
    var createdAt: Int
    var updatedAt: Int

    func json(appID: String, userCount: Int) -> SJSON {
        var object: [String: SJSON] = [
            "type": .string("company"), "id": .string(id), "company_id": .string(companyID), "app_id": .string(appID),
            "name": .string(name ?? ""), "created_at": .int(createdAt), "updated_at": .int(updatedAt), "last_request_at": .int(updatedAt),
            "size": .int(size ?? 0), "website": .string(website ?? ""), "industry": .string(industry ?? ""), "monthly_spend": .int(monthlySpend ?? 0),
            "session_count": .int(0), "user_count": .int(userCount), "custom_attributes": .object(customAttributes),
            "tags": .object(["type": .string("tag.list"), "tags": .array([])]),
            "segments": .object(["type": .string("segment.list"), "segments": .array([])]),
        ]
        if let plan { object["plan"] = .object(["type": .string("plan"), "id": .string(String(plan.utf8.reduce(UInt32(2_166_136_261)) { ($0 ^ UInt32($1)) &* 16_777_619 } % 100_000)), "name": .string(plan)]) }
        if let remoteCreatedAt { object["remote_created_at"] = .int(remoteCreatedAt) }
        return .object(object)
    }
}

struct EventRecord: Sendable, Codable {
    var name: String
    var createdAt: Int
    var contactID: String
}

extension SandboxData {
    /// `POST /companies`: creates the company with that `company_id`, or updates it.
    public func upsertCompany(_ workspaceID: String, _ body: SJSON) throws -> SJSON {
        guard let object = body.object else { throw IntercomError(.badRequest, code: "bad_request", message: "The body must be a JSON object") }
        guard let companyID = object["company_id"]?.string ?? object["company_id"]?.int.map(String.init), !companyID.isEmpty else {
            throw IntercomError.missing("company_id")
        }
        let now = timestamp
        return try with(workspaceID) { ws in
            var company = ws.companies.values.first { $0.companyID == companyID }
                ?? CompanyRecord(id: IntercomIDs.objectID(now: self.now()), companyID: companyID, createdAt: now, updatedAt: now)
            try apply(object.filter { $0.key != "company_id" }, to: &company)
            company.updatedAt = now
            ws.companies[company.id] = company
            return render(company, ws, workspaceID)
        }
    }

    public func updateCompany(_ workspaceID: String, id: String, _ body: SJSON) throws -> SJSON {
        guard let object = body.object else { throw IntercomError(.badRequest, code: "bad_request", message: "The body must be a JSON object") }
        let now = timestamp
        return try with(workspaceID) { ws in
            var company = try findCompany(id, ws)
            try apply(object, to: &company)
            company.updatedAt = now
            ws.companies[id] = company
            return render(company, ws, workspaceID)
        }
    }

    public func company(_ workspaceID: String, id: String) throws -> SJSON {
        try with(workspaceID) { ws in render(try findCompany(id, ws), ws, workspaceID) }
    }

    /// `GET /companies?company_id=…` or `?name=…`: a list holding that company (as the description has it);
    /// without either, the first page of all.
    public func retrieveCompany(_ workspaceID: String, companyID: String?, name: String?) throws -> SJSON {
        if companyID == nil && name == nil { return try listCompanies(workspaceID, page: 1, perPage: 15) }
        return try with(workspaceID) { ws in
            guard let company = ws.companies.values.first(where: { company in
                companyID.map { company.companyID == $0 } ?? (company.name == name)
            }) else { throw IntercomError(.notFound, code: "company_not_found", message: "Company Not Found") }
            return .object(["type": .string("list"), "data": .array([render(company, ws, workspaceID)]), "total_count": .int(1),
                            "pages": .object(["type": .string("pages"), "page": .int(1), "per_page": .int(15), "total_pages": .int(1)])])
        }
    }

    public func deleteCompany(_ workspaceID: String, id: String) throws -> SJSON {
        try with(workspaceID) { ws in
            let company = try findCompany(id, ws)
            ws.companies[id] = nil
            for (contactID, contact) in ws.contacts where contact.companyIDs.contains(id) {
                ws.contacts[contactID]?.companyIDs.removeAll { $0 == id }
            }
            return .object(["id": .string(company.id), "object": .string("company"), "deleted": .bool(true)])
        }
    }

    /// `POST /companies/list?page=&per_page=`: page-numbered, oldest first.
    public func listCompanies(_ workspaceID: String, page: Int, perPage: Int) throws -> SJSON {
        guard page >= 1 else { throw IntercomError.invalid("page must be 1 or more", field: "page") }
        return with(workspaceID) { ws in
            let all = ws.companies.values.sorted { ($0.createdAt, $0.id) < ($1.createdAt, $1.id) }
            let slice = all.dropFirst((page - 1) * perPage).prefix(perPage)
            let totalPages = all.isEmpty ? 0 : (all.count + perPage - 1) / perPage
            return .object(["type": .string("list"), "data": .array(slice.map { render($0, ws, workspaceID) }), "total_count": .int(all.count),
                            "pages": .object(["type": .string("pages"), "page": .int(page), "per_page": .int(perPage), "total_pages": .int(totalPages)])])
        }
    }

    public func attachCompany(_ workspaceID: String, contactID: String, _ body: SJSON) throws -> SJSON {
        guard let companyID = body["id"]?.string else { throw IntercomError.missing("id") }
        return try with(workspaceID) { ws in
            var contact = try find(contactID, ws)
            let company = try findCompany(companyID, ws)
            if !contact.companyIDs.contains(companyID) { contact.companyIDs.append(companyID) }
            ws.contacts[contactID] = contact
            return render(company, ws, workspaceID)
        }
    }

    public func detachCompany(_ workspaceID: String, contactID: String, companyID: String) throws -> SJSON {
        try with(workspaceID) { ws in
            var contact = try find(contactID, ws)
            let company = try findCompany(companyID, ws)
            contact.companyIDs.removeAll { $0 == companyID }
            ws.contacts[contactID] = contact
            return render(company, ws, workspaceID)
        }
    }

    public func contactCompanies(_ workspaceID: String, contactID: String) throws -> SJSON {
        try with(workspaceID) { ws in
            let contact = try find(contactID, ws)
            let companies = contact.companyIDs.compactMap { ws.companies[$0] }
            return .object(["type": .string("list"), "data": .array(companies.map { render($0, ws, workspaceID) }), "total_count": .int(companies.count),
                            "pages": .object(["type": .string("pages"), "page": .int(1), "per_page": .int(50), "total_pages": .int(companies.isEmpty ? 0 : 1)])])
        }
    }

    public func companyContacts(_ workspaceID: String, id: String) throws -> SJSON {
        try with(workspaceID) { ws in
            _ = try findCompany(id, ws)
            let contacts = ws.order.compactMap { ws.contacts[$0] }.filter { $0.companyIDs.contains(id) }
            return .object(["type": .string("list"), "data": .array(contacts.map { $0.json(tags: $0.tagIDs.compactMap { ws.tags[$0] }) }),
                            "total_count": .int(contacts.count),
                            "pages": .object(["type": .string("pages"), "page": .int(1), "per_page": .int(50), "total_pages": .int(contacts.isEmpty ? 0 : 1)])])
        }
    }

    // MARK: Notes, data attributes, events

    public func note(_ workspaceID: String, id: String) throws -> SJSON {
        try with(workspaceID) { ws in
            guard let note = ws.notes[id], let contact = ws.contacts[note.contactID] else {
                throw IntercomError(.notFound, code: "not_found", message: "Resource Not Found")
            }
            return noteJSON(note, contact, ws)
        }
    }

    func noteJSON(_ note: NoteRecord, _ contact: ContactRecord, _ ws: Workspace) -> SJSON {
        let author = ws.admins[note.authorID].map(RestAPI.adminJSON) ?? .object(["type": .string("admin"), "id": .string(note.authorID)])
        return .object([
            "type": .string("note"), "id": .string(note.id), "created_at": .int(note.createdAt),
            "contact": .object(["type": .string("contact"), "id": .string(contact.id)]), "author": author, "body": .string(note.body),
        ])
    }

    /// `GET /data_attributes?model=contact|company|conversation`: the built-in attributes, then the custom ones in use.
    public func dataAttributes(_ workspaceID: String, model: String?) throws -> SJSON {
        let models = model.map { [$0] } ?? ["contact", "company"]
        for name in models where !["contact", "company", "conversation"].contains(name) {
            throw IntercomError.invalid("model must be contact, company or conversation", field: "model")
        }
        return with(workspaceID) { ws in
            var items: [SJSON] = []
            var nextID = 1
            func add(_ model: String, _ name: String, _ type: String, custom: Bool) {
                items.append(.object([
                    "type": .string("data_attribute"), "id": .int(nextID), "model": .string(model), "name": .string(name),
                    "full_name": .string(custom ? "custom_attributes.\(name)" : name), "label": .string(name.replacingOccurrences(of: "_", with: " ").capitalized),
                    "description": .string(""), "data_type": .string(type), "api_writable": .bool(custom || ["name", "email", "phone"].contains(name)),
                    "messenger_writable": .bool(false), "ui_writable": .bool(true), "custom": .bool(custom), "archived": .bool(false),
                    "created_at": .int(1_700_000_000), "updated_at": .int(1_700_000_000),
                ]))
                nextID += 1
            }
            for model in models {
                switch model {
                case "contact":
                    for (name, type) in [("name", "string"), ("email", "string"), ("phone", "string"), ("external_id", "string"),
                                         ("role", "string"), ("created_at", "date"), ("signed_up_at", "date"), ("last_seen_at", "date"), ("owner_id", "integer")] {
                        add("contact", name, type, custom: false)
                    }
                    var custom: [String: SJSON] = [:]
                    for contact in ws.contacts.values { for (key, value) in contact.customAttributes where custom[key] == nil { custom[key] = value } }
                    for (name, value) in custom.sorted(by: { $0.key < $1.key }) { add("contact", name, Self.dataType(value), custom: true) }
                case "company":
                    for (name, type) in [("name", "string"), ("company_id", "string"), ("plan", "string"), ("size", "integer"),
                                         ("website", "string"), ("industry", "string"), ("monthly_spend", "float")] {
                        add("company", name, type, custom: false)
                    }
                default:
                    for (name, type) in [("title", "string"), ("state", "string"), ("priority", "string")] { add("conversation", name, type, custom: false) }
                }
            }
            return .object(["type": .string("list"), "data": .array(items)])
        }
    }

    static func dataType(_ value: SJSON) -> String {
        switch value {
        case .int: "integer"
        case .double: "float"
        case .bool: "boolean"
        default: "string"
        }
    }

    /// `POST /events`: records an event for a contact found by id, user_id (external id) or email.
    public func submitEvent(_ workspaceID: String, _ body: SJSON) throws {
        guard let name = body["event_name"]?.string, !name.isEmpty else { throw IntercomError.missing("event_name") }
        guard let createdAt = body["created_at"]?.int else { throw IntercomError.missing("created_at") }
        if let metadata = body["metadata"], metadata.object == nil { throw IntercomError.invalid("metadata must be an object", field: "metadata") }
        if (body["metadata"]?.object?.count ?? 0) > 10 { throw IntercomError.invalid("metadata holds at most 10 keys", field: "metadata") }
        try with(workspaceID) { ws in
            let contact = try eventContact(body["id"]?.string, body["user_id"]?.string, body["email"]?.string, ws)
            ws.events.append(EventRecord(name: name, createdAt: createdAt, contactID: contact.id))
        }
    }

    /// `GET /events?type=user&intercom_user_id|user_id|email=…&summary=true`.
    public func eventSummaries(_ workspaceID: String, intercomUserID: String?, userID: String?, email: String?) throws -> SJSON {
        try with(workspaceID) { ws in
            let contact = try eventContact(intercomUserID, userID, email, ws)
            let events = ws.events.filter { $0.contactID == contact.id }
            let formatter = ISO8601DateFormatter()
            let summaries = Dictionary(grouping: events, by: \.name).sorted { $0.key < $1.key }.map { name, items -> SJSON in
                let times = items.map(\.createdAt)
                return .object(["name": .string(name), "first": .string(formatter.string(from: Date(timeIntervalSince1970: TimeInterval(times.min()!)))),
                                "last": .string(formatter.string(from: Date(timeIntervalSince1970: TimeInterval(times.max()!)))),
                                "count": .int(items.count), "description": .string("")])
            }
            return .object(["type": .string("event.summary"), "email": .string(contact.email ?? ""), "intercom_user_id": .string(contact.id),
                            "user_id": .string(contact.externalID ?? ""), "events": .array(summaries)])
        }
    }

    private func eventContact(_ id: String?, _ userID: String?, _ email: String?, _ ws: Workspace) throws -> ContactRecord {
        let found: ContactRecord?
        if let id { found = ws.contacts[id] }
        else if let userID { found = ws.byExternalID[userID].flatMap { ws.contacts[$0] } }
        else if let email { found = ws.byEmail[email.lowercased()]?.compactMap { ws.contacts[$0] }.first }
        else { throw IntercomError(.badRequest, code: "parameter_not_found", message: "id, user_id or email is required", field: "user_id") }
        guard let found else { throw IntercomError(.notFound, code: "not_found", message: "User Not Found") }
        return found
    }

    private func apply(_ object: [String: SJSON], to company: inout CompanyRecord) throws {
        for (key, value) in object {
            func string() throws -> String? {
                guard value.isNull || value.string != nil else { throw IntercomError.invalid("\(key) must be a string", field: key) }
                return value.string
            }
            func integer() throws -> Int? {
                guard value.isNull || value.int != nil else { throw IntercomError.invalid("\(key) must be an integer", field: key) }
                return value.int
            }
            switch key {
            case "name": company.name = try string()
            case "plan": company.plan = try string()
            case "website": company.website = try string()
            case "industry": company.industry = try string()
            case "size": company.size = try integer()
            case "monthly_spend": company.monthlySpend = try integer()
            case "remote_created_at": company.remoteCreatedAt = try integer()
            case "custom_attributes":
                guard let attributes = value.object else { throw IntercomError.invalid("custom_attributes must be an object", field: key) }
                for (name, attribute) in attributes { company.customAttributes[name] = attribute.isNull ? nil : attribute }
            default:
                throw IntercomError.invalid("\(key) is not a company attribute", field: key)
            }
        }
    }

    private func findCompany(_ id: String, _ ws: Workspace) throws -> CompanyRecord {
        guard let company = ws.companies[id] else { throw IntercomError(.notFound, code: "company_not_found", message: "Company Not Found") }
        return company
    }

    private func render(_ company: CompanyRecord, _ ws: Workspace, _ workspaceID: String) -> SJSON {
        company.json(appID: workspaceID, userCount: ws.contacts.values.filter { $0.companyIDs.contains(company.id) }.count)
    }
}
