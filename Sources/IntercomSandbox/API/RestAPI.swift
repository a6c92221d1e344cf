import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// Intercom's REST API as the sandbox serves it.
struct RestAPI: Sendable {
    let state: SandboxState
    let data: SandboxData
    let limiter: RateLimiter
    let faults: Faults
    let webhooks: Webhooks

    /// Versions the spec's `intercom_version` lists.
    static let versions: Set<String> = Set(["1.0", "1.1", "1.2", "1.3", "1.4"] + (0...16).map { "2.\($0)" })

    typealias Handler = @Sendable (Request, BasicRequestContext, Caller) async throws -> SJSON

    /// Wraps a handler in what every Intercom call does: bearer auth, the version check, the app's rate limit
    /// with its headers, and `error.list` bodies.
    func endpoint(_ handler: @escaping Handler) -> @Sendable (Request, BasicRequestContext) async throws -> Response {
        { request, context in
            let caller = try await state.caller(for: request)
            let decision = await limiter.take(caller.app.clientID)
            var response: Response
            do {
                if let version = request.headers[HTTPField.Name("Intercom-Version")!], !RestAPI.versions.contains(version) {
                    throw IntercomError(.badRequest, code: "intercom_version_invalid",
                                        message: "Requested version '\(version.prefix(20))' is not valid", field: "Intercom-Version")
                }
                guard decision.allowed else { throw IntercomError(.tooManyRequests, code: "rate_limit_exceeded", message: "Rate Limit Exceeded") }
                let injected = await faults.next()
                if injected.latency > 0 { try await Task.sleep(for: .milliseconds(injected.latency)) }
                if let failure = injected.failure { throw failure }
                response = JSONBody.json(try await handler(request, context, caller))
            } catch let error as IntercomError {
                response = try error.response(from: request, context: context)
            }
            response.headers[HTTPField.Name("X-RateLimit-Limit")!] = String(decision.limit)
            response.headers[HTTPField.Name("X-RateLimit-Remaining")!] = String(decision.remaining)
            response.headers[HTTPField.Name("X-RateLimit-Reset")!] = String(decision.reset)
            return response
        }
    }

    /// An endpoint that answers `status` with no body (event submission: 202; tag deletion: 200).
    func bodiless(_ status: HTTPResponse.Status, _ handler: @escaping @Sendable (Request, BasicRequestContext, Caller) async throws -> Void)
        -> @Sendable (Request, BasicRequestContext) async throws -> Response {
        let wrapped = endpoint { request, context, caller in
            try await handler(request, context, caller)
            return .null
        }
        return { request, context in
            var response = try await wrapped(request, context)
            if response.status == .ok {
                response.status = status
                response.body = .init()
                response.headers[.contentType] = nil
            }
            return response
        }
    }

    /// `per_page` and `starting_after` of a list call's query.
    static func paging(_ request: Request) throws -> (perPage: Int, startingAfter: String?) {
        let query = request.uri.queryParameters
        return (try perPage(query["per_page"].map { .string(String($0)) }), query["starting_after"].map(String.init))
    }

    /// The JSON body; an empty body is an empty object.
    static func body(_ request: Request) async throws -> SJSON {
        let buffer = try await request.body.collect(upTo: 1 << 20)
        if buffer.readableBytes == 0 { return .object([:]) }
        guard let json = SJSON.parse(Data(buffer.readableBytesView)) else {
            throw IntercomError(.badRequest, code: "bad_request", message: "The request body is not valid JSON")
        }
        return json
    }

    /// The operations hand-written routes answer (method and path shape, parameters as `{}`); the description-driven
    /// store answers the rest. Kept beside `register`, and checked against it by the sandbox's walk test.
    /// Literal paths of the descriptions that a hand-written route's parameter would take (`GET /admins/{id}` would
    /// answer `GET /admins/activity_logs` with "Admin not found"): answered from the description before the router.
    /// The sandbox's walk test finds any missing here.
    static let describedBesideHandWritten: Set<String> = [
        "GET /admins/activity_logs", "GET /admins/activity_log_event_types", "GET /conversations/attributes",
        "GET /conversations/deleted", "GET /companies/scroll",
    ]

    static let handWritten: Set<String> = [
        "GET /me", "POST /contacts", "GET /contacts", "POST /contacts/search", "POST /contacts/merge",
        "GET /contacts/find_by_external_id/{}", "GET /contacts/{}", "PUT /contacts/{}", "DELETE /contacts/{}",
        "POST /contacts/{}/archive", "POST /contacts/{}/unarchive", "GET /contacts/{}/tags", "POST /contacts/{}/tags",
        "DELETE /contacts/{}/tags/{}", "GET /contacts/{}/notes", "POST /contacts/{}/notes", "POST /conversations",
        "GET /conversations", "POST /conversations/search", "GET /conversations/{}", "PUT /conversations/{}",
        "POST /conversations/{}/reply", "POST /conversations/{}/parts", "POST /conversations/{}/tags",
        "DELETE /conversations/{}/tags/{}", "GET /ticket_types", "GET /ticket_types/{}", "POST /tickets",
        "POST /tickets/search", "GET /tickets/{}", "PUT /tickets/{}", "POST /tickets/{}/reply", "POST /companies",
        "GET /companies", "POST /companies/list", "GET /companies/{}", "PUT /companies/{}", "DELETE /companies/{}",
        "GET /companies/{}/contacts", "GET /contacts/{}/companies", "POST /contacts/{}/companies",
        "DELETE /contacts/{}/companies/{}", "GET /notes/{}", "GET /data_attributes", "POST /events", "GET /events",
        "GET /tags", "POST /tags", "GET /tags/{}", "DELETE /tags/{}", "GET /admins", "GET /admins/{}",
    ]

    func register(on router: Router<BasicRequestContext>) {
        router.get("/me", use: endpoint { _, _, caller in OAuthRoutes.me(caller) })
        router.post("/contacts", use: endpoint { request, _, caller in
            let contact = try await data.createContact(caller.workspace.idCode, try await Self.body(request))
            await webhooks.emit(workspaceID: caller.workspace.idCode, topic: "contact.\(contact["role"]?.string ?? "user").created", item: contact)
            return contact
        })
        router.get("/contacts", use: endpoint { request, _, caller in
            let paging = try Self.paging(request)
            return try await data.listContacts(caller.workspace.idCode, perPage: paging.perPage, startingAfter: paging.startingAfter)
        })
        router.post("/contacts/search", use: endpoint { request, _, caller in try await data.searchContacts(caller.workspace.idCode, try await Self.body(request)) })
        router.post("/contacts/merge", use: endpoint { request, _, caller in try await data.mergeContacts(caller.workspace.idCode, try await Self.body(request)) })
        router.get("/contacts/find_by_external_id/{external_id}", use: endpoint { _, context, caller in
            try await data.contact(caller.workspace.idCode, externalID: try context.parameters.require("external_id"))
        })
        router.get("/contacts/{id}", use: endpoint { _, context, caller in
            try await data.contact(caller.workspace.idCode, id: try context.parameters.require("id"))
        })
        router.put("/contacts/{id}", use: endpoint { request, context, caller in
            try await data.updateContact(caller.workspace.idCode, id: try context.parameters.require("id"), try await Self.body(request))
        })
        router.delete("/contacts/{id}", use: endpoint { _, context, caller in
            let deleted = try await data.deleteContact(caller.workspace.idCode, id: try context.parameters.require("id"))
            await webhooks.emit(workspaceID: caller.workspace.idCode, topic: "contact.deleted", item: deleted)
            return deleted
        })
        router.post("/contacts/{id}/archive", use: endpoint { _, context, caller in
            try await data.setArchived(caller.workspace.idCode, id: try context.parameters.require("id"), true)
        })
        router.post("/contacts/{id}/unarchive", use: endpoint { _, context, caller in
            try await data.setArchived(caller.workspace.idCode, id: try context.parameters.require("id"), false)
        })
        router.get("/contacts/{id}/tags", use: endpoint { _, context, caller in
            try await data.contactTags(caller.workspace.idCode, contactID: try context.parameters.require("id"))
        })
        router.post("/contacts/{id}/tags", use: endpoint { request, context, caller in
            let id = try context.parameters.require("id")
            let tag = try await data.tagContact(caller.workspace.idCode, contactID: id, try await Self.body(request))
            let contact = try await data.contact(caller.workspace.idCode, id: id)
            await webhooks.emit(workspaceID: caller.workspace.idCode, topic: "contact.\(contact["role"]?.string ?? "user").tag.created",
                                item: .object(["type": .string("contact_tag"), "tag": tag, "contact": contact]))
            return tag
        })
        router.delete("/contacts/{id}/tags/{tag_id}", use: endpoint { _, context, caller in
            try await data.untagContact(caller.workspace.idCode, contactID: try context.parameters.require("id"), tagID: try context.parameters.require("tag_id"))
        })
        router.get("/contacts/{id}/notes", use: endpoint { request, context, caller in
            let paging = try Self.paging(request)
            return try await data.notes(caller.workspace.idCode, contactID: try context.parameters.require("id"),
                                        perPage: paging.perPage, startingAfter: paging.startingAfter)
        })
        router.post("/contacts/{id}/notes", use: endpoint { request, context, caller in
            try await data.addNote(caller.workspace.idCode, contactID: try context.parameters.require("id"), adminID: caller.admin.id, try await Self.body(request))
        })
        router.post("/conversations", use: endpoint { request, _, caller in
            let message = try await data.createConversation(caller.workspace.idCode, try await Self.body(request))
            if let id = message["conversation_id"]?.string {
                await webhooks.emit(workspaceID: caller.workspace.idCode, topic: "conversation.user.created",
                                    item: try await data.conversation(caller.workspace.idCode, id: id))
            }
            return message
        })
        router.get("/conversations", use: endpoint { request, _, caller in
            let paging = try Self.paging(request)
            return try await data.listConversations(caller.workspace.idCode, perPage: paging.perPage, startingAfter: paging.startingAfter)
        })
        router.post("/conversations/search", use: endpoint { request, _, caller in try await data.searchConversations(caller.workspace.idCode, try await Self.body(request)) })
        router.get("/conversations/{id}", use: endpoint { _, context, caller in
            try await data.conversation(caller.workspace.idCode, id: try context.parameters.require("id"))
        })
        router.put("/conversations/{id}", use: endpoint { request, context, caller in
            try await data.updateConversation(caller.workspace.idCode, id: try context.parameters.require("id"), try await Self.body(request))
        })
        router.post("/conversations/{id}/reply", use: endpoint { request, context, caller in
            let body = try await Self.body(request)
            let conversation = try await data.reply(caller.workspace.idCode, id: try context.parameters.require("id"), body)
            let topic = body["type"]?.string != "admin" ? "conversation.user.replied"
                : body["message_type"]?.string == "note" ? "conversation.admin.noted" : "conversation.admin.replied"
            await webhooks.emit(workspaceID: caller.workspace.idCode, topic: topic, item: conversation)
            return conversation
        })
        router.post("/conversations/{id}/parts", use: endpoint { request, context, caller in
            let body = try await Self.body(request)
            let conversation = try await data.managePart(caller.workspace.idCode, id: try context.parameters.require("id"), body)
            let topics = ["close": "conversation.admin.closed", "open": "conversation.admin.opened", "snoozed": "conversation.admin.snoozed",
                          "assignment": "conversation.admin.assigned"]
            if let topic = body["message_type"]?.string.flatMap({ topics[$0] }) {
                await webhooks.emit(workspaceID: caller.workspace.idCode, topic: topic, item: conversation)
            }
            return conversation
        })
        router.post("/conversations/{id}/tags", use: endpoint { request, context, caller in
            try await data.tagConversation(caller.workspace.idCode, id: try context.parameters.require("id"), try await Self.body(request))
        })
        router.delete("/conversations/{id}/tags/{tag_id}", use: endpoint { request, context, caller in
            try await data.untagConversation(caller.workspace.idCode, id: try context.parameters.require("id"),
                                             tagID: try context.parameters.require("tag_id"), try await Self.body(request))
        })
        router.get("/ticket_types", use: endpoint { _, _, caller in await data.ticketTypes(caller.workspace.idCode) })
        router.get("/ticket_types/{id}", use: endpoint { _, context, caller in
            try await data.ticketType(caller.workspace.idCode, id: try context.parameters.require("id"))
        })
        router.post("/tickets", use: endpoint { request, _, caller in
            let ticket = try await data.createTicket(caller.workspace.idCode, adminID: caller.admin.id, try await Self.body(request))
            await webhooks.emit(workspaceID: caller.workspace.idCode, topic: "ticket.created", item: ticket)
            return ticket
        })
        router.post("/tickets/search", use: endpoint { request, _, caller in try await data.searchTickets(caller.workspace.idCode, try await Self.body(request)) })
        router.get("/tickets/{id}", use: endpoint { _, context, caller in
            try await data.ticket(caller.workspace.idCode, id: try context.parameters.require("id"))
        })
        router.put("/tickets/{id}", use: endpoint { request, context, caller in
            let id = try context.parameters.require("id")
            let before = try await data.ticket(caller.workspace.idCode, id: id)
            let ticket = try await data.updateTicket(caller.workspace.idCode, id: id, try await Self.body(request))
            if before["ticket_state"]?["id"] != ticket["ticket_state"]?["id"] {
                await webhooks.emit(workspaceID: caller.workspace.idCode, topic: "ticket.state.updated", item: ticket)
            }
            return ticket
        })
        router.post("/tickets/{id}/reply", use: endpoint { request, context, caller in
            let body = try await Self.body(request)
            let id = try context.parameters.require("id")
            let part = try await data.replyToTicket(caller.workspace.idCode, id: id, body)
            let topic = body["type"]?.string != "admin" ? "ticket.contact.replied"
                : body["message_type"]?.string == "note" ? "ticket.note.created" : "ticket.admin.replied"
            await webhooks.emit(workspaceID: caller.workspace.idCode, topic: topic, item: try await data.ticket(caller.workspace.idCode, id: id))
            return part
        })
        router.post("/companies", use: endpoint { request, _, caller in try await data.upsertCompany(caller.workspace.idCode, try await Self.body(request)) })
        router.get("/companies", use: endpoint { request, _, caller in
            let query = request.uri.queryParameters
            return try await data.retrieveCompany(caller.workspace.idCode, companyID: query["company_id"].map(String.init), name: query["name"].map(String.init))
        })
        router.post("/companies/list", use: endpoint { request, _, caller in
            let query = request.uri.queryParameters
            guard let page = Int(query["page"].map(String.init) ?? "1") else { throw IntercomError.invalid("page must be an integer", field: "page") }
            return try await data.listCompanies(caller.workspace.idCode, page: page, perPage: try perPage(query["per_page"].map { .string(String($0)) }))
        })
        router.get("/companies/{id}", use: endpoint { _, context, caller in try await data.company(caller.workspace.idCode, id: try context.parameters.require("id")) })
        router.put("/companies/{id}", use: endpoint { request, context, caller in
            try await data.updateCompany(caller.workspace.idCode, id: try context.parameters.require("id"), try await Self.body(request))
        })
        router.delete("/companies/{id}", use: endpoint { _, context, caller in try await data.deleteCompany(caller.workspace.idCode, id: try context.parameters.require("id")) })
        router.get("/companies/{id}/contacts", use: endpoint { _, context, caller in
            try await data.companyContacts(caller.workspace.idCode, id: try context.parameters.require("id"))
        })
        router.get("/contacts/{id}/companies", use: endpoint { _, context, caller in
            try await data.contactCompanies(caller.workspace.idCode, contactID: try context.parameters.require("id"))
        })
        router.post("/contacts/{id}/companies", use: endpoint { request, context, caller in
            try await data.attachCompany(caller.workspace.idCode, contactID: try context.parameters.require("id"), try await Self.body(request))
        })
        router.delete("/contacts/{id}/companies/{company_id}", use: endpoint { _, context, caller in
            try await data.detachCompany(caller.workspace.idCode, contactID: try context.parameters.require("id"), companyID: try context.parameters.require("company_id"))
        })
        router.get("/notes/{id}", use: endpoint { _, context, caller in try await data.note(caller.workspace.idCode, id: try context.parameters.require("id")) })
        router.get("/data_attributes", use: endpoint { request, _, caller in
            try await data.dataAttributes(caller.workspace.idCode, model: request.uri.queryParameters["model"].map(String.init))
        })
        router.post("/events", use: bodiless(.accepted) { request, _, caller in try await data.submitEvent(caller.workspace.idCode, try await Self.body(request)) })
        router.get("/events", use: endpoint { request, _, caller in
            let query = request.uri.queryParameters
            guard query["type"] == "user" else { throw IntercomError.invalid("type must be user", field: "type") }
            return try await data.eventSummaries(caller.workspace.idCode, intercomUserID: query["intercom_user_id"].map(String.init),
                                                 userID: query["user_id"].map(String.init), email: query["email"].map(String.init))
        })
        router.get("/tags", use: endpoint { _, _, caller in await data.tags(caller.workspace.idCode) })
        router.post("/tags", use: endpoint { request, _, caller in try await data.createTag(caller.workspace.idCode, try await Self.body(request)) })
        router.get("/tags/{id}", use: endpoint { _, context, caller in try await data.tag(caller.workspace.idCode, id: try context.parameters.require("id")) })
        router.delete("/tags/{id}", use: bodiless(.ok) { _, context, caller in
            try await data.deleteTag(caller.workspace.idCode, id: try context.parameters.require("id"))
        })
        router.get("/admins", use: endpoint { _, _, caller in
            .object(["type": .string("admin.list"), "admins": .array(await state.admins(workspaceID: caller.workspace.idCode).map(Self.adminJSON))])
        })
        router.get("/admins/{id}", use: endpoint { _, context, caller in
            let id = try context.parameters.require("id")
            guard let admin = await state.admins(workspaceID: caller.workspace.idCode).first(where: { $0.id == id }) else {
                throw IntercomError(.notFound, code: "admin_not_found", message: "Admin not found")
            }
            return Self.adminJSON(admin)
        })
    }

    static func adminJSON(_ admin: SandboxAdmin) -> SJSON {
        .object([
            "type": .string("admin"), "id": .string(admin.id), "name": .string(admin.name), "email": .string(admin.email),
            "job_title": .string(""), "away_mode_enabled": .bool(false), "away_mode_reassign": .bool(false), "away_status_reason_id": .null,
            "has_inbox_seat": .bool(true), "team_ids": .array([]),
            // Unlike /me's admin_with_app, the admin schema's avatar is a URI string.
            "avatar": .string("https://static.intercomassets.com/assets/default-avatars/admins/128.png"),
        ])
    }
}
