public import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
public import Musl
#endif

/// Who chose the URL of an outbound request, and so how far it is trusted.
public enum OutboundDestination: Sendable, Equatable {
    /// Set by the operator (Intercom's API bases, the system app's endpoints): trusted as it is.
    case operatorSet
    /// Supplied by a workspace admin (a profile's token and refresh URLs, a notify URL): only `https`, only to public
    /// addresses (checked on the address actually connected to), unless the operator allows private networks.
    case workspaceSupplied(allowPrivateNetwork: Bool)

    /// Whether the request must be held to the public-address and https rules.
    public var isGuarded: Bool {
        if case .workspaceSupplied(allowPrivateNetwork: false) = self { return true }
        return false
    }
}

/// Which IP addresses a workspace-supplied URL may reach: none of loopback, private (RFC 1918), link-local,
/// unique-local, shared (RFC 6598), unspecified, multicast, broadcast or reserved, nor an IPv6 address that embeds one.
public enum AddressPolicy {
    /// Why `bytes` (4 for IPv4, 16 for IPv6) may not be reached, or nil when it is a public address.
    public static func refusal(_ bytes: [UInt8]) -> String? {
        switch bytes.count {
        case 4: return refusal(ipv4: bytes)
        case 16: return refusal(ipv6: bytes)
        default: return "is not an IP address"
        }
    }

    static func refusal(ipv4 b: [UInt8]) -> String? {
        switch (b[0], b[1]) {
        case (0, _): return "is unspecified (0.0.0.0/8)"
        case (10, _): return "is private (10.0.0.0/8)"
        case (127, _): return "is loopback (127.0.0.0/8)"
        case (169, 254): return "is link-local (169.254.0.0/16)"
        case (172, 16...31): return "is private (172.16.0.0/12)"
        case (192, 168): return "is private (192.168.0.0/16)"
        case (100, 64...127): return "is shared address space (100.64.0.0/10)"
        case (192, 0) where b[2] == 0: return "is reserved for protocol assignments (192.0.0.0/24)"
        case (198, 18...19): return "is reserved for benchmarking (198.18.0.0/15)"
        case (224...239, _): return "is multicast (224.0.0.0/4)"
        case (240...255, _): return "is reserved or broadcast (240.0.0.0/4)"
        default: return nil
        }
    }

    static func refusal(ipv6 b: [UInt8]) -> String? {
        if b.allSatisfy({ $0 == 0 }) { return "is unspecified (::)" }
        if b[0..<15].allSatisfy({ $0 == 0 }) && b[15] == 1 { return "is loopback (::1)" }
        if b[0] == 0xFF { return "is multicast (ff00::/8)" }
        if b[0] == 0xFE && b[1] & 0xC0 == 0x80 { return "is link-local (fe80::/10)" }
        if b[0] == 0xFE && b[1] & 0xC0 == 0xC0 { return "is site-local (fec0::/10)" }
        if b[0] & 0xFE == 0xFC { return "is unique-local (fc00::/7)" }
        // IPv4 inside IPv6: mapped (::ffff:a.b.c.d), compatible (::a.b.c.d), NAT64 (64:ff9b::/96), 6to4 (2002::/16).
        if b[0..<10].allSatisfy({ $0 == 0 }) && ((b[10] == 0xFF && b[11] == 0xFF) || (b[10] == 0 && b[11] == 0)) {
            return refusal(ipv4: Array(b[12..<16])).map { "embeds an IPv4 address that " + $0 }
        }
        if b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xFF && b[3] == 0x9B && b[4..<12].allSatisfy({ $0 == 0 }) {
            return refusal(ipv4: Array(b[12..<16])).map { "embeds an IPv4 address that " + $0 }
        }
        if b[0] == 0x20 && b[1] == 0x02 {
            return refusal(ipv4: Array(b[2..<6])).map { "embeds an IPv4 address that " + $0 }
        }
        return nil
    }

    /// The bytes of an IP literal (`10.0.0.1`, `::1`, `[::1]`); nil for a host name.
    public static func literal(_ host: String) -> [UInt8]? {
        let host = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        var v4 = in_addr()
        if inet_pton(AF_INET, host, &v4) == 1 { return withUnsafeBytes(of: &v4) { Array($0) } }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, host, &v6) == 1 { return withUnsafeBytes(of: &v6) { Array($0) } }
        return nil
    }

    /// Why a workspace-supplied URL (possibly with `{placeholders}`) will be refused when called, for the form that
    /// saves it; nil when it may be called (or `allowPrivateNetwork` is on). The call itself checks again.
    public static func savedURLProblem(_ text: String, allowPrivateNetwork: Bool) -> String? {
        guard !allowPrivateNetwork else { return nil }
        let candidate = URLTemplate.placeholderPattern.stringByReplacingMatches(
            in: text, range: NSRange(text.startIndex..., in: text), withTemplate: "x")
        guard let url = URL(string: candidate) else { return nil }
        return preflight(url)
    }

    /// Checks what can be checked before connecting: the scheme, and the host when it is an IP literal. The address
    /// actually connected to is checked again by the transport (a name may resolve anywhere, and again differently).
    public static func preflight(_ url: URL) -> String? {
        guard url.scheme?.lowercased() == "https" else {
            return "only https URLs may be called (allow plain http and private addresses with --allow-private-network)"
        }
        guard let host = url.host, !host.isEmpty else { return "the URL has no host" }
        if let bytes = literal(host), let why = refusal(bytes) {
            return "\(host) \(why) (allow with --allow-private-network)"
        }
        if host.lowercased() == "localhost" || host.lowercased().hasSuffix(".localhost") {
            return "\(host) is loopback (allow with --allow-private-network)"
        }
        return nil
    }
}
