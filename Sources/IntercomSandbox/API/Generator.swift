import Foundation

/// A deterministic pseudo-random source (SplitMix64): the same seed makes the same workspace.
struct SeededGenerator: RandomNumberGenerator {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

extension SandboxData {
    static let firstNames = ["Ada", "Grace", "Alan", "Linus", "Ken", "Barbara", "Edsger", "Frances", "John", "Margaret", "Dennis", "Radia",
                             "Tim", "Katherine", "Donald", "Hedy", "Niklaus", "Sophie", "Guido", "Anita"]
    static let lastNames = ["Lovelace", "Hopper", "Turing", "Torvalds", "Thompson", "Liskov", "Dijkstra", "Allen", "McCarthy", "Hamilton",
                            "Ritchie", "Perlman", "Berners-Lee", "Johnson", "Knuth", "Lamarr", "Wirth", "Wilson", "van Rossum", "Borg"]
    static let domains = ["example.com", "acme.test", "globex.test", "initech.test", "umbrella.test", "hooli.test"]
    static let plans = ["free", "starter", "pro", "enterprise"]

    /// Adds `count` contacts to a workspace, the same ones for the same seed: users and leads, with plans, owners and dates.
    public func generateContacts(_ workspaceID: String, count: Int, seed: UInt64 = 42) throws {
        // FNV-1a of the workspace id: each workspace differs, and every run makes the same data.
        let workspaceHash = workspaceID.utf8.reduce(UInt64(0xcbf2_9ce4_8422_2325)) { ($0 ^ UInt64($1)) &* 0x0000_0100_0000_01B3 }
        var random = SeededGenerator(seed: seed ^ workspaceHash)
        let base = Int(now().timeIntervalSince1970) - 400 * 86_400
        for index in 0..<count {
            let first = Self.firstNames.randomElement(using: &random)!, last = Self.lastNames.randomElement(using: &random)!
            let isLead = Int.random(in: 0..<5, using: &random) == 0
            var body: [String: SJSON] = [
                "name": .string("\(first) \(last)"),
                "role": .string(isLead ? "lead" : "user"),
                "signed_up_at": .int(base + Int.random(in: 0..<(400 * 86_400), using: &random)),
                "owner_id": .int(991_267_001),
                "custom_attributes": .object(["plan": .string(Self.plans.randomElement(using: &random)!), "seats": .int(Int.random(in: 1...50, using: &random))]),
            ]
            if !isLead || Bool.random(using: &random) {
                body["email"] = .string("\(first.lowercased()).\(last.lowercased().replacingOccurrences(of: " ", with: ""))\(index)@\(Self.domains.randomElement(using: &random)!)")
            }
            if !isLead { body["external_id"] = .string("user-\(index)") }
            _ = try createContact(workspaceID, .object(body))
        }
    }
}

extension SandboxData {
    static let subjects = ["My order has not arrived", "Can't log in", "Refund request", "How do I export my data?", "Invoice is wrong",
                           "App crashes on start", "Change my plan", "Password reset email missing", "Feature request: dark mode", "Shipping to Canada?"]
    static let replies = ["Thanks for reaching out! Looking into it now.", "Could you send a screenshot?", "That's fixed now — sorry about that.",
                          "I've passed this to our billing team.", "Is there anything else I can help with?"]

    /// A realistic workspace from a fixed seed: contacts (users and leads), companies, tags, conversations with
    /// replies and state changes, and tickets. The same seed makes the same workspace.
    public func generateWorkspace(_ workspaceID: String, contacts count: Int = 300, seed: UInt64 = 7) throws {
        try generateContacts(workspaceID, count: count, seed: seed)
        let workspaceHash = workspaceID.utf8.reduce(UInt64(0xcbf2_9ce4_8422_2325)) { ($0 ^ UInt64($1)) &* 0x0000_0100_0000_01B3 }
        var random = SeededGenerator(seed: seed ^ workspaceHash ^ 0x5EED)
        let (contactIDs, adminIDs) = with(workspaceID) { ws in (ws.order, ws.admins.keys.sorted()) }
        guard !contactIDs.isEmpty, !adminIDs.isEmpty else { return }

        var tagIDs: [String] = []
        for name in ["VIP", "Churn risk", "Beta tester", "Billing", "Bug"] {
            if let id = try createTag(workspaceID, .object(["name": .string(name)]))["id"]?.string { tagIDs.append(id) }
        }
        var companyIDs: [String] = []
        for (index, name) in ["Initech", "Umbrella", "Hooli", "Globex", "Soylent", "Wonka", "Stark", "Wayne"].enumerated() {
            let company = try upsertCompany(workspaceID, .object([
                "company_id": .string("co-\(index + 1)"), "name": .string(name), "plan": .string(Self.plans.randomElement(using: &random)!),
                "size": .int(Int.random(in: 5...5000, using: &random)), "industry": .string(["Software", "Retail", "Health", "Finance"].randomElement(using: &random)!),
            ]))
            if let id = company["id"]?.string { companyIDs.append(id) }
        }
        for contactID in contactIDs {
            if Int.random(in: 0..<3, using: &random) == 0 {
                _ = try attachCompany(workspaceID, contactID: contactID, .object(["id": .string(companyIDs.randomElement(using: &random)!)]))
            }
            if Int.random(in: 0..<4, using: &random) == 0 {
                _ = try tagContact(workspaceID, contactID: contactID, .object(["id": .string(tagIDs.randomElement(using: &random)!)]))
            }
        }
        for index in 0..<max(1, count / 3) {
            let contactID = contactIDs[Int.random(in: 0..<contactIDs.count, using: &random)]
            let message = try createConversation(workspaceID, .object([
                "from": .object(["type": .string("user"), "id": .string(contactID)]), "body": .string(Self.subjects.randomElement(using: &random)!),
            ]))
            guard let id = message["conversation_id"]?.string else { continue }
            let admin = adminIDs.randomElement(using: &random)!
            for _ in 0..<Int.random(in: 0...3, using: &random) {
                _ = try reply(workspaceID, id: id, .object(["message_type": .string("comment"), "type": .string("admin"),
                                                             "admin_id": .string(admin), "body": .string(Self.replies.randomElement(using: &random)!)]))
            }
            switch index % 4 {
            case 0: _ = try managePart(workspaceID, id: id, .object(["message_type": .string("close"), "admin_id": .string(admin)]))
            case 1: _ = try managePart(workspaceID, id: id, .object(["message_type": .string("assignment"), "admin_id": .string(admin), "assignee_id": .string(admin)]))
            default: break
            }
            if index % 5 == 0 {
                _ = try tagConversation(workspaceID, id: id, .object(["id": .string(tagIDs.randomElement(using: &random)!), "admin_id": .string(admin)]))
            }
        }
        for index in 0..<max(1, count / 10) {
            let contactID = contactIDs[Int.random(in: 0..<contactIDs.count, using: &random)]
            let ticket = try createTicket(workspaceID, adminID: adminIDs[0], .object([
                "ticket_type_id": .string(["1", "2", "3"][index % 3]), "contacts": .array([.object(["id": .string(contactID)])]),
                "ticket_attributes": .object(["_default_title_": .string(Self.subjects.randomElement(using: &random)!),
                                              "_default_description_": .string("Reported through the support bot.")]),
            ]))
            if index % 3 == 0, let id = ticket["id"]?.string {
                _ = try updateTicket(workspaceID, id: id, .object(["ticket_state_id": .string(["2", "3", "4"].randomElement(using: &random)!)]))
            }
        }
    }
}
