public import Foundation

/// Intercom's official OpenAPI descriptions (MIT, `Descriptions/LICENSE.md`), one per API version the sandbox speaks:
/// the sandbox answers as they say, and tests check its answers (and what Switchboard sends) against them.
public enum IntercomDescription {
    /// The versions whose description is bundled, oldest first.
    public static let versions = ["2.14", "2.16"]

    /// The YAML text of a version's description, or nil for a version not bundled.
    public static func url(version: String) -> URL? {
        guard versions.contains(version) else { return nil }
        return Bundle.module.url(forResource: "intercom-openapi-\(version)", withExtension: "yaml", subdirectory: "Descriptions")
    }
}
