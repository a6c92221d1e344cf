import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import SwitchboardTestSupport
import Testing
@testable import IntercomSandbox

@Suite("Sandbox persistence")
struct PersistenceTests {
    @Test("data, apps and issued tokens survive a restart from the SQLite file")
    func survivesRestart() async throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("sandbox-\(UUID().uuidString).sqlite").path
        defer { try? FileManager.default.removeItem(atPath: file) }
        let logger = Logger(label: "test")

        let state = SandboxState(seed: .standard)
        let data = SandboxData(seed: .standard)
        let app = await state.registerApp(name: "Kept", redirectURLs: ["https://example.test/cb"])
        let token = try #require(await state.issueToken(clientID: app.clientID, workspaceID: "acme7x2k"))
        let first = SandboxPersistence(path: file, state: state, data: data, logger: logger)
        #expect(try await first.load() == false, "a new file holds nothing")
        let contact = try await data.createContact("acme7x2k", .object(["email": .string("kept@example.com")]))
        let id = try #require(contact["id"]?.string)
        _ = try await data.createConversation("acme7x2k", .object(["from": .object(["type": .string("user"), "id": .string(id)]), "body": .string("hello")]))
        try await first.save()

        let restartedState = SandboxState(seed: .standard)
        let restartedData = SandboxData(seed: .standard)
        let second = SandboxPersistence(path: file, state: restartedState, data: restartedData, logger: logger)
        #expect(try await second.load())
        #expect(await restartedState.app(clientID: app.clientID)?.name == "Kept")
        let router = buildSandboxRouter(state: restartedState, data: restartedData)
        try await Application(router: router).test(.router) { client in
            let shown = try await client.execute(uri: "/contacts/\(id)", method: .get, headers: [.authorization: "Bearer \(token)"])
            #expect(shown.status == .ok, "the token and the contact are both still there")
            let conversations = try await client.execute(uri: "/conversations", method: .get, headers: [.authorization: "Bearer \(token)"])
            #expect(JSONNode.parse(Data(conversations.body.readableBytesView))?["total_count"]?.int == 1)
        }
    }

    @Test("writes happen only after changes")
    func savesWhenDirty() async throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("sandbox-\(UUID().uuidString).sqlite").path
        defer { try? FileManager.default.removeItem(atPath: file) }
        let data = SandboxData(seed: .standard)
        let persistence = SandboxPersistence(path: file, state: SandboxState(seed: .standard), data: data, logger: Logger(label: "test"))
        try await persistence.saveIfDirty()
        let reloaded = SandboxData(seed: .standard)
        #expect(try await SandboxPersistence(path: file, state: SandboxState(seed: .standard), data: reloaded, logger: Logger(label: "test")).load() == false)
        _ = try await data.createContact("acme7x2k", .object(["role": .string("lead")]))
        await persistence.markDirty()
        try await persistence.saveIfDirty()
        #expect(try await SandboxPersistence(path: file, state: SandboxState(seed: .standard), data: reloaded, logger: Logger(label: "test")).load())
    }
}

@Suite("Sandbox seed")
struct SeedTests {
    @Test("--seed makes the same realistic workspace every time, and each workspace differs")
    func realisticWorkspace() async throws {
        func summary(_ workspaceID: String) async throws -> [String] {
            let data = SandboxData(seed: .standard, now: { Date(timeIntervalSince1970: 1_800_000_000) })
            try await data.generateWorkspace(workspaceID)
            let contacts = try await data.listContacts(workspaceID, perPage: 150, startingAfter: nil)
            let conversations = try await data.listConversations(workspaceID, perPage: 150, startingAfter: nil)
            let tickets = try await data.searchTickets(workspaceID, .object(["query": .object(["field": .string("open"), "operator": .string("!="), "value": .string("x")])]))
            let companies = try await data.listCompanies(workspaceID, page: 1, perPage: 50)
            #expect(contacts["total_count"]?.int == 300)
            #expect(conversations["total_count"]?.int == 100)
            #expect(tickets["total_count"]?.int == 30)
            #expect(companies["total_count"]?.int == 8)
            let closed = conversations["conversations"]?.array?.filter { $0["state"]?.string == "closed" }.count ?? 0
            #expect(closed > 10, "some conversations are closed")
            return (contacts["data"]?.array ?? []).compactMap { $0["name"]?.string }
        }
        let first = try await summary("acme7x2k"), again = try await summary("acme7x2k"), other = try await summary("glbx4eu9")
        #expect(first == again)
        #expect(first != other)
    }
}
