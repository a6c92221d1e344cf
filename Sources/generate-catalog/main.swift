import CatalogGenerator
import Foundation
import SwitchboardCore

// Regenerates Sources/Providers/Definitions/intercom-generated.json from Intercom's description of 2.16 (2.14 says
// which operations it has too). Run from the package's root: `swift run generate-catalog`.
let descriptions = "Sources/IntercomSandbox/Descriptions"
let target = "Sources/Providers/Definitions/intercom-generated.json"
do {
    func description(_ version: String) throws -> CatalogGenerator.Description {
        .init(version: version, yaml: try String(contentsOfFile: "\(descriptions)/intercom-openapi-\(version).yaml", encoding: .utf8))
    }
    let catalog = try CatalogGenerator.catalog(provider: "intercom", current: description("2.16"), older: [description("2.14")])
    let data = try CatalogGenerator.encode(catalog)
    try data.write(to: URL(fileURLWithPath: target))
    print("wrote \(target): \(catalog["actions"]?.arrayValue?.count ?? 0) actions, \(data.count) bytes")
} catch {
    FileHandle.standardError.write(Data("generate-catalog: \(error)\n".utf8))
    exit(1)
}
