import Foundation
import Mustache

/// The HTML templates under `Resources/templates/`, read once at start. Mustache escapes every `{{value}}`; only
/// `{{{content}}}` (a page Switchboard rendered itself) is raw. All pages share `/assets/switchboard.css`.
enum Templates {
    static let library: MustacheLibrary = {
        guard let folder = Bundle.module.url(forResource: "templates", withExtension: nil, subdirectory: "Resources"),
              let files = try? FileManager.default.contentsOfDirectory(at: folder, includingPropertiesForKeys: nil)
        else { fatalError("the page templates are missing from the server's bundle") }
        var library = MustacheLibrary()
        for file in files where file.pathExtension == "mustache" {
            do {
                try library.register(String(contentsOf: file, encoding: .utf8), named: file.deletingPathExtension().lastPathComponent)
            } catch {
                fatalError("the page template \(file.lastPathComponent) is malformed: \(error)")
            }
        }
        return library
    }()

    static func render(_ name: String, _ values: Any) -> String {
        guard let page = library.render(presentable(values) ?? [String: Any](), withTemplate: name) else { fatalError("no page template is named \(name)") }
        return page
    }

    /// Values as a page shows them: an unset optional is absent, so that its section is left out and `{{^value}}`
    /// shows the dash; Mustache would otherwise print Swift's `nil` for it.
    static func presentable(_ value: Any) -> Any? {
        let mirror = Mirror(reflecting: value)
        if mirror.displayStyle == .optional {
            guard let wrapped = mirror.children.first?.value else { return nil }
            return presentable(wrapped)
        }
        if let dictionary = value as? [String: Any] { return dictionary.compactMapValues(presentable) }
        if let array = value as? [Any] { return array.compactMap(presentable) }
        return value
    }
}
