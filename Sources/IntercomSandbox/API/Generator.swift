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
