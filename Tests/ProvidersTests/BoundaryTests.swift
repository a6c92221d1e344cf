import Foundation
import Testing

/// Provider mechanics live in `Sources/Providers` (Swift and definition files); the domain, the store and the server
/// read them from there. User-facing words ("Intercom") may appear elsewhere; Intercom's headers, paths, fields and
/// URLs may not.
@Suite("Where provider knowledge lives")
struct BoundaryTests {
    static let forbidden = [
        "intercom.io", "intercom.com", "X-RateLimit", "Intercom-Version", "/auth/eagle", "/auth/uninstall", "id_code", "pages.next",
        "\"request_id\"", "intercom.search_", "intercom.find_", "intercom.api_request", "IntercomRegion", "\"/me\"", "email_verified",
    ]

    @Test("no file in SwitchboardCore, SwitchboardStore or SwitchboardServer names an Intercom header, path, field or URL")
    func noProviderMechanicsOutsideProviders() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        var found: [String] = []
        var scanned = 0
        for target in ["SwitchboardCore", "SwitchboardStore", "SwitchboardServer"] {
            let folder = root.appendingPathComponent("Sources/\(target)")
            let files = FileManager.default.enumerator(at: folder, includingPropertiesForKeys: nil)?.compactMap { $0 as? URL } ?? []
            for file in files where ["swift", "mustache", "html", "css", "json"].contains(file.pathExtension) {
                scanned += 1
                let text = try String(contentsOf: file, encoding: .utf8)
                // A line may say why a word that looks like the provider's is its own: "boundary: … not the provider's".
                for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated()
                    where !line.contains("// boundary:") || !line.contains("not the provider's") {
                    for word in Self.forbidden where line.contains(word) {
                        found.append("\(file.path.replacingOccurrences(of: root.path + "/", with: "")):\(number + 1): \(word)")
                    }
                }
            }
        }
        #expect(scanned > 40, "the sources were found (\(scanned) files)")
        #expect(found.isEmpty, "\(found.joined(separator: "\n"))")
    }
}
