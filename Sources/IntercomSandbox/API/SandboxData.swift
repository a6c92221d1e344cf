public import Foundation
import Hummingbird

/// Every workspace's REST data, in memory. Each OAuth-connected workspace sees only its own.
public actor SandboxData {
    struct Workspace: Codable {
        var contacts: [String: ContactRecord] = [:]
        /// Contact ids by (created_at, id): list order, and the order cursors walk.
        var order: [String] = []
        var byEmail: [String: Set<String>] = [:]
        var byExternalID: [String: String] = [:]
        var tags: [String: TagRecord] = [:]
        var notes: [String: NoteRecord] = [:]
        var conversations: [String: ConversationRecord] = [:]
        var conversationOrder: [String] = []
        var admins: [String: SandboxAdmin] = [:]
        var ticketTypes: [String: TicketTypeRecord] = Dictionary(uniqueKeysWithValues: TicketTypeRecord.seeded.map { ($0.id, $0) })
        var tickets: [String: TicketRecord] = [:]
        var ticketOrder: [String] = []
        var nextTicketNumber = 0
        var companies: [String: CompanyRecord] = [:]
        var events: [EventRecord] = []
        var nextNumericID = 1_000
        var timeZone: TimeZone

        mutating func numericID() -> String {
            nextNumericID += 1
            return String(nextNumericID)
        }
    }

    private var workspaces: [String: Workspace] = [:]
    let now: @Sendable () -> Date

    public init(seed: SandboxSeed, now: @escaping @Sendable () -> Date = { Date() }) {
        self.now = now
        for seeded in seed.workspaces {
            var workspace = Workspace(timeZone: TimeZone(identifier: seeded.timezone) ?? .gmt)
            for admin in seeded.admins { workspace.admins[admin.id] = admin }
            workspaces[seeded.idCode] = workspace
        }
    }

    var timestamp: Int { Int(now().timeIntervalSince1970) }

    /// Runs `body` on a workspace's data in place (no copy of its dictionaries).
    func with<R>(_ workspaceID: String, _ body: (inout Workspace) throws -> R) rethrows -> R {
        try body(&workspaces[workspaceID, default: Workspace(timeZone: .gmt)])
    }

    /// Every workspace's data, for persistence.
    func snapshot() -> [String: Workspace] { workspaces }

    func restore(_ snapshot: [String: Workspace]) {
        for (id, workspace) in snapshot { workspaces[id] = workspace }
    }

    // MARK: Contacts

    public func createContact(_ workspaceID: String, _ body: SJSON) throws -> SJSON {
        let input = try ContactInput(body, creating: true)
        let now = timestamp
        return try with(workspaceID) { ws in
            var contact = ContactRecord(id: IntercomIDs.objectID(now: self.now()), workspaceID: workspaceID, role: input.role ?? "user",
                                        createdAt: now, updatedAt: now)
            input.apply(to: &contact)
            try checkUnique(contact, in: ws)
            insert(contact, into: &ws)
            return render(contact, ws)
        }
    }

    public func contact(_ workspaceID: String, id: String) throws -> SJSON {
        try with(workspaceID) { ws in render(try find(id, ws), ws) }
    }

    public func contact(_ workspaceID: String, externalID: String) throws -> SJSON {
        try with(workspaceID) { ws in
            guard let id = ws.byExternalID[externalID], let contact = ws.contacts[id] else { throw IntercomError.contactNotFound }
            return render(contact, ws)
        }
    }

    public func updateContact(_ workspaceID: String, id: String, _ body: SJSON) throws -> SJSON {
        let input = try ContactInput(body, creating: false)
        let now = timestamp
        return try with(workspaceID) { ws in
            var contact = try find(id, ws)
            let before = contact
            input.apply(to: &contact)
            contact.updatedAt = now
            try checkUnique(contact, in: ws)
            unindex(before, from: &ws)
            ws.contacts[id] = contact
            index(contact, into: &ws)
            return render(contact, ws)
        }
    }

    public func deleteContact(_ workspaceID: String, id: String) throws -> SJSON {
        try with(workspaceID) { ws in
            let contact = try find(id, ws)
            remove(contact, from: &ws)
            return contact.reference("deleted", true)
        }
    }

    public func setArchived(_ workspaceID: String, id: String, _ archived: Bool) throws -> SJSON {
        try with(workspaceID) { ws in
            var contact = try find(id, ws)
            contact.archived = archived
            ws.contacts[id] = contact
            return contact.reference("archived", archived)
        }
    }

    /// Merges a lead into a user: the user keeps its fields and gains the lead's tags, notes and missing values.
    public func mergeContacts(_ workspaceID: String, _ body: SJSON) throws -> SJSON {
        guard let from = body["from"]?.string else { throw IntercomError(.badRequest, code: "parameter_not_found", message: "from is required", field: "from") }
        guard let into = body["into"]?.string else { throw IntercomError(.badRequest, code: "parameter_not_found", message: "into is required", field: "into") }
        return try with(workspaceID) { ws in
            let lead = try find(from, ws)
            var user = try find(into, ws)
            guard lead.role == "lead" else { throw IntercomError.invalid("from must be a lead", field: "from") }
            guard user.role == "user" else { throw IntercomError.invalid("into must be a user", field: "into") }
            guard from != into else { throw IntercomError.invalid("a contact cannot be merged into itself", field: "into") }
            user.tagIDs += lead.tagIDs.filter { !user.tagIDs.contains($0) }
            user.noteIDs += lead.noteIDs
            user.companyIDs += lead.companyIDs.filter { !user.companyIDs.contains($0) }
            user.name = user.name ?? lead.name
            user.phone = user.phone ?? lead.phone
            for (key, value) in lead.customAttributes where user.customAttributes[key] == nil { user.customAttributes[key] = value }
            user.updatedAt = timestamp
            for noteID in lead.noteIDs { ws.notes[noteID]?.contactID = user.id }
            remove(lead, from: &ws)
            unindex(ws.contacts[into]!, from: &ws)
            ws.contacts[into] = user
            index(user, into: &ws)
            return render(user, ws)
        }
    }

    /// `GET /contacts`: merged contacts are gone (as the description says); the sandbox also leaves archived ones out.
    public func listContacts(_ workspaceID: String, perPage: Int, startingAfter: String?) throws -> SJSON {
        try with(workspaceID) { ws in
            let contacts = ws.order.compactMap { ws.contacts[$0] }.filter { !$0.archived }
            let page = try Page.cut(contacts, perPage: perPage, startingAfter: startingAfter,
                                    sortValue: { .int($0.createdAt) }, id: \.id)
            return .object(["type": .string("list"), "data": .array(page.items.map { render($0, ws) }),
                            "total_count": .int(contacts.count), "pages": page.json])
        }
    }

    public func searchContacts(_ workspaceID: String, _ body: SJSON) throws -> SJSON {
        guard body.object != nil else { throw IntercomError.invalid("the body must be a search object", field: nil) }
        guard body["query"] != nil else { throw IntercomError(.badRequest, code: "parameter_not_found", message: "query is required", field: "query") }
        let query = try SearchQuery.parse(body["query"], fields: ContactRecord.searchFields)
        let pagination = body["pagination"]
        let perPage = try IntercomSandbox.perPage(pagination?["per_page"], field: "pagination.per_page")
        var sortField = "created_at", ascending = true
        if let sort = body["sort"], !sort.isNull {
            guard let field = sort["field"]?.string, ContactRecord.searchFields[field] != nil || field.hasPrefix("custom_attributes."), field != "tag_id" else {
                throw IntercomError.invalid("sort.field must be a searchable field", field: "sort.field")
            }
            sortField = field
            let order = sort["order"]?.string ?? "ascending"
            guard order == "ascending" || order == "descending" else { throw IntercomError.invalid("sort.order is ascending or descending", field: "sort.order") }
            ascending = order == "ascending"
        }
        return try with(workspaceID) { ws in
            let candidates = candidateIDs(for: query, in: ws).compactMap { ws.contacts[$0] }
            var matches = candidates.filter { !$0.archived && query.matches($0.searchValue, timeZone: ws.timeZone) }
            let field = sortField
            matches.sort { a, b in
                let order = Page<ContactRecord>.compareSort(a.searchValue(field), b.searchValue(field))
                if order == .orderedSame { return a.id < b.id }
                return ascending ? order == .orderedAscending : order == .orderedDescending
            }
            let page = try Page.cut(matches, perPage: perPage, startingAfter: pagination?["starting_after"]?.string,
                                    sortValue: { $0.searchValue(field) }, id: \.id, ascending: ascending)
            return .object(["type": .string("list"), "data": .array(page.items.map { render($0, ws) }),
                            "total_count": .int(matches.count), "pages": page.json])
        }
    }

    /// The contacts a query can match: an index answers `email =`, `external_id =` and `id =`; anything else scans.
    private func candidateIDs(for query: SearchQuery, in ws: Workspace) -> [String] {
        for (field, value) in query.requiredEqualities {
            switch field {
            case "id": return ws.contacts[value] == nil ? [] : [value]
            case "external_id": return ws.byExternalID[value].map { [$0] } ?? []
            case "email": return Array(ws.byEmail[value.lowercased()] ?? [])
            default: continue
            }
        }
        return ws.order
    }

    // MARK: Tags and notes

    public func tags(_ workspaceID: String) -> SJSON {
        with(workspaceID) { ws in
            .object(["type": .string("list"), "data": .array(ws.tags.values.sorted { $0.id < $1.id }.map(\.json))])
        }
    }

    /// `POST /tags` with a name creates the tag, or returns the one with that name.
    public func createTag(_ workspaceID: String, _ body: SJSON) throws -> SJSON {
        guard let name = body["name"]?.string?.trimmingCharacters(in: .whitespaces), !name.isEmpty else {
            throw IntercomError(.badRequest, code: "parameter_not_found", message: "Name is a required parameter.", field: "name")
        }
        let now = timestamp
        return with(workspaceID) { ws in
            if let existing = ws.tags.values.first(where: { $0.name == name }) { return existing.json }
            let tag = TagRecord(id: ws.numericID(), name: name, appliedAt: now)
            ws.tags[tag.id] = tag
            return tag.json
        }
    }

    public func tag(_ workspaceID: String, id: String) throws -> SJSON {
        try with(workspaceID) { ws in
            guard let tag = ws.tags[id] else { throw IntercomError(.notFound, code: "not_found", message: "Resource Not Found") }
            return tag.json
        }
    }

    /// Deletes a tag that nothing carries any more; a tag still applied is `tag_has_dependent_objects`.
    public func deleteTag(_ workspaceID: String, id: String) throws {
        try with(workspaceID) { ws in
            guard ws.tags[id] != nil else { throw IntercomError(.notFound, code: "not_found", message: "Resource Not Found") }
            let applied = ws.contacts.values.contains { $0.tagIDs.contains(id) } || ws.conversations.values.contains { $0.tags.contains { $0.id == id } }
            guard !applied else {
                throw IntercomError(.badRequest, code: "tag_has_dependent_objects", message: "Unable to delete Tag with dependent objects")
            }
            ws.tags[id] = nil
        }
    }

    public func contactTags(_ workspaceID: String, contactID: String) throws -> SJSON {
        try with(workspaceID) { ws in
            let contact = try find(contactID, ws)
            return .object(["type": .string("list"), "data": .array(contact.tagIDs.compactMap { ws.tags[$0]?.json })])
        }
    }

    public func tagContact(_ workspaceID: String, contactID: String, _ body: SJSON) throws -> SJSON {
        guard let tagID = body["id"]?.string ?? body["id"]?.int.map(String.init) else {
            throw IntercomError(.badRequest, code: "parameter_not_found", message: "id is required", field: "id")
        }
        return try with(workspaceID) { ws in
            var contact = try find(contactID, ws)
            guard let tag = ws.tags[tagID] else { throw IntercomError(.notFound, code: "tag_not_found", message: "Tag not found") }
            if !contact.tagIDs.contains(tagID) { contact.tagIDs.append(tagID) }
            ws.contacts[contactID] = contact
            return tag.json
        }
    }

    public func untagContact(_ workspaceID: String, contactID: String, tagID: String) throws -> SJSON {
        try with(workspaceID) { ws in
            var contact = try find(contactID, ws)
            guard let tag = ws.tags[tagID] else { throw IntercomError(.notFound, code: "tag_not_found", message: "Tag not found") }
            contact.tagIDs.removeAll { $0 == tagID }
            ws.contacts[contactID] = contact
            return tag.json
        }
    }

    public func notes(_ workspaceID: String, contactID: String, perPage: Int, startingAfter: String?) throws -> SJSON {
        try with(workspaceID) { ws in
            let contact = try find(contactID, ws)
            let notes = contact.noteIDs.compactMap { ws.notes[$0] }.sorted { ($0.createdAt, $0.id) > ($1.createdAt, $1.id) }
            let page = try Page.cut(notes, perPage: perPage, startingAfter: startingAfter, sortValue: { .int($0.createdAt) }, id: \.id, ascending: false)
            return .object(["type": .string("list"), "data": .array(page.items.map { noteJSON($0, contact, ws) }),
                            "total_count": .int(notes.count), "pages": page.json])
        }
    }

    public func addNote(_ workspaceID: String, contactID: String, adminID: String, _ body: SJSON) throws -> SJSON {
        guard let text = body["body"]?.string, !text.trimmingCharacters(in: .whitespaces).isEmpty else {
            throw IntercomError(.badRequest, code: "parameter_not_found", message: "Body is required", field: "body")
        }
        let author = body["admin_id"]?.string ?? body["admin_id"]?.int.map(String.init) ?? adminID
        let now = timestamp
        return try with(workspaceID) { ws in
            var contact = try find(contactID, ws)
            let note = NoteRecord(id: ws.numericID(), contactID: contactID, body: "<p>\(text)</p>", createdAt: now, authorID: author)
            ws.notes[note.id] = note
            contact.noteIDs.append(note.id)
            ws.contacts[contactID] = contact
            return noteJSON(note, contact, ws)
        }
    }

    // MARK: Helpers

    func find(_ id: String, _ ws: Workspace) throws -> ContactRecord {
        guard let contact = ws.contacts[id] else { throw IntercomError.contactNotFound }
        return contact
    }

    private func render(_ contact: ContactRecord, _ ws: Workspace) -> SJSON {
        contact.json(tags: contact.tagIDs.compactMap { ws.tags[$0] })
    }

    private func checkUnique(_ contact: ContactRecord, in ws: Workspace) throws {
        if let externalID = contact.externalID, let owner = ws.byExternalID[externalID], owner != contact.id {
            throw IntercomError(.conflict, code: "conflict", message: "A contact matching those details already exists with id=\(owner)", field: "external_id")
        }
        if contact.role == "user", let email = contact.email?.lowercased(),
           let owner = ws.byEmail[email]?.first(where: { $0 != contact.id && ws.contacts[$0]?.role == "user" }) {
            throw IntercomError(.conflict, code: "conflict", message: "A contact matching those details already exists with id=\(owner)", field: "email")
        }
    }

    func insert(_ contact: ContactRecord, into ws: inout Workspace) {
        ws.contacts[contact.id] = contact
        // Keep (created_at, id) order; new contacts almost always go last.
        let key = (contact.createdAt, contact.id)
        var position = ws.order.count
        while position > 0, let previous = ws.contacts[ws.order[position - 1]], (previous.createdAt, previous.id) > key { position -= 1 }
        ws.order.insert(contact.id, at: position)
        index(contact, into: &ws)
    }

    private func remove(_ contact: ContactRecord, from ws: inout Workspace) {
        unindex(contact, from: &ws)
        ws.contacts[contact.id] = nil
        if let position = ws.order.firstIndex(of: contact.id) { ws.order.remove(at: position) }
        for noteID in contact.noteIDs where ws.notes[noteID]?.contactID == contact.id { ws.notes[noteID] = nil }
    }

    private func index(_ contact: ContactRecord, into ws: inout Workspace) {
        if let email = contact.email?.lowercased() { ws.byEmail[email, default: []].insert(contact.id) }
        if let externalID = contact.externalID { ws.byExternalID[externalID] = contact.id }
    }

    private func unindex(_ contact: ContactRecord, from ws: inout Workspace) {
        if let email = contact.email?.lowercased() {
            ws.byEmail[email]?.remove(contact.id)
            if ws.byEmail[email]?.isEmpty == true { ws.byEmail[email] = nil }
        }
        if let externalID = contact.externalID, ws.byExternalID[externalID] == contact.id { ws.byExternalID[externalID] = nil }
    }
}

extension IntercomError {
    static let contactNotFound = IntercomError(.notFound, code: "not_found", message: "User Not Found")
}

/// The writable fields of `create_contact_request` / `update_contact_request`, checked by type.
struct ContactInput {
    var role: String?
    var values: [String: SJSON] = [:]

    static let strings: Set<String> = ["external_id", "email", "phone", "name", "avatar"]
    static let integers: Set<String> = ["signed_up_at", "last_seen_at", "owner_id"]

    init(_ body: SJSON, creating: Bool) throws {
        guard let object = body.object else { throw IntercomError(.badRequest, code: "bad_request", message: "The body must be a JSON object") }
        for (key, value) in object {
            switch key {
            case "role":
                guard let role = value.string, role == "user" || role == "lead" else {
                    throw IntercomError(.badRequest, code: "parameter_invalid", message: "role must be 'user' or 'lead'", field: "role")
                }
                self.role = role
            case _ where Self.strings.contains(key):
                guard value.isNull || value.string != nil else {
                    throw IntercomError(.badRequest, code: "parameter_invalid", message: "\(key) must be a string", field: key)
                }
                if key == "email", let email = value.string, !email.isEmpty, !Self.looksLikeEmail(email) {
                    throw IntercomError(.badRequest, code: "data_invalid", message: "The email address '\(email.prefix(100))' is invalid", field: "email")
                }
                values[key] = value
            case _ where Self.integers.contains(key):
                guard value.isNull || value.int != nil else {
                    throw IntercomError(.badRequest, code: "parameter_invalid", message: "\(key) must be an integer", field: key)
                }
                values[key] = value
            case "unsubscribed_from_emails":
                guard value.isNull || value.bool != nil else {
                    throw IntercomError(.badRequest, code: "parameter_invalid", message: "\(key) must be a boolean", field: key)
                }
                values[key] = value
            case "custom_attributes":
                guard value.isNull || value.object != nil else {
                    throw IntercomError(.badRequest, code: "parameter_invalid", message: "custom_attributes must be an object", field: key)
                }
                values[key] = value
            default:
                throw IntercomError(.badRequest, code: "parameter_invalid", message: "\(key) is not a contact attribute", field: key)
            }
        }
        if creating && role == nil && (values["email"]?.string ?? "").isEmpty && (values["external_id"]?.string ?? "").isEmpty {
            throw IntercomError(.badRequest, code: "parameter_not_found", message: "A contact needs an email, an external_id or a role", field: "email")
        }
    }

    static func looksLikeEmail(_ email: String) -> Bool {
        let parts = email.split(separator: "@", omittingEmptySubsequences: false)
        return parts.count == 2 && !parts[0].isEmpty && parts[1].contains(".") && !email.contains(" ")
    }

    func apply(to contact: inout ContactRecord) {
        if let role { contact.role = role }
        for (key, value) in values {
            switch key {
            case "external_id": contact.externalID = value.string
            case "email": contact.email = value.string.flatMap { $0.isEmpty ? nil : $0 }
            case "phone": contact.phone = value.string
            case "name": contact.name = value.string
            case "avatar": contact.avatar = value.string
            case "signed_up_at": contact.signedUpAt = value.int
            case "last_seen_at": contact.lastSeenAt = value.int
            case "owner_id": contact.ownerID = value.int
            case "unsubscribed_from_emails": contact.unsubscribedFromEmails = value.bool ?? false
            case "custom_attributes":
                for (name, attribute) in value.object ?? [:] { contact.customAttributes[name] = attribute.isNull ? nil : attribute }
            default: break
            }
        }
    }
}
