import Foundation
import SwitchboardCore
import Testing

@Suite("Outbound address rules")
struct OutboundPolicyTests {
    @Test("loopback, private, link-local, unique-local, shared, unspecified, multicast and embedded forms are refused", arguments: [
        "127.0.0.1", "127.255.0.9", "10.0.0.1", "172.16.0.1", "172.31.255.255", "192.168.1.1", "169.254.169.254", "100.64.0.1",
        "100.127.255.255", "0.0.0.0", "224.0.0.1", "239.1.1.1", "255.255.255.255", "240.0.0.1",
        "::", "::1", "fe80::1", "febf::1", "fc00::1", "fd12:3456::1", "ff02::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1",
        "::127.0.0.1", "64:ff9b::a9fe:a9fe", "2002:7f00:1::1", "[::1]",
    ])
    func refused(address: String) throws {
        let bytes = try #require(AddressPolicy.literal(address), "\(address) parses")
        #expect(AddressPolicy.refusal(bytes) != nil, "\(address)")
    }

    @Test("public addresses pass", arguments: [
        "8.8.8.8", "1.1.1.1", "172.15.255.255", "172.32.0.1", "100.63.255.255", "100.128.0.1", "192.169.0.1", "169.253.1.1",
        "11.0.0.1", "2606:4700:4700::1111", "2001:db9::1", "::ffff:8.8.8.8", "64:ff9b::808:808", "2002:808:808::1",
    ])
    func allowed(address: String) throws {
        let bytes = try #require(AddressPolicy.literal(address), "\(address) parses")
        #expect(AddressPolicy.refusal(bytes) == nil, "\(address)")
    }

    @Test("before connecting: only https, and no private IP literal or localhost")
    func preflight() {
        #expect(AddressPolicy.preflight(URL(string: "https://idp.example.com/token")!) == nil)
        #expect(AddressPolicy.preflight(URL(string: "https://8.8.8.8/token")!) == nil)
        for refused in ["http://idp.example.com/token", "ftp://idp.example.com/", "https://127.0.0.1/token", "https://[::1]:8443/",
                        "https://169.254.169.254/latest/meta-data", "https://localhost/x", "https://a.localhost/x", "HTTPS://10.0.0.1/"] {
            #expect(AddressPolicy.preflight(URL(string: refused)!) != nil, "\(refused)")
        }
        #expect(AddressPolicy.preflight(URL(string: "http://idp.example.com/token")!)?.contains("--allow-private-network") == true)
    }

    @Test("only a workspace-supplied destination without the operator's permission is guarded")
    func guarded() {
        #expect(OutboundDestination.workspaceSupplied(allowPrivateNetwork: false).isGuarded)
        #expect(!OutboundDestination.workspaceSupplied(allowPrivateNetwork: true).isGuarded)
        #expect(!OutboundDestination.operatorSet.isGuarded)
    }

    @Test("a token endpoint that redirects fails naming the status, and is not a dead grant")
    func tokenRedirect() {
        let response = OutboundResponse(status: 302, headers: [("Location", "http://169.254.169.254/")], body: Data(#"{"error":"invalid_grant"}"#.utf8))
        guard case .failure(let failure) = TokenResponse.parse(response, now: Date()) else { Issue.record("a redirect is not a grant"); return }
        guard case .misconfigured(let code, let description) = failure else { Issue.record("\(failure)"); return }
        #expect(code == "http_302" && description.contains("302"))
    }
}
