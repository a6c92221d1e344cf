// swift-tools-version:6.0
// A client generated from Switchboard's /openapi.yaml by swift-openapi-generator, with code that uses it as an
// assistant's developer would: Tests/Tools/generate-client.sh writes the description in and builds it. A test tool, not
// a product: nothing of Switchboard depends on it.
import PackageDescription

let package = Package(
    name: "SwitchboardGeneratedClient",
    platforms: [.macOS(.v13)],
    dependencies: [
        .package(url: "https://github.com/apple/swift-openapi-generator", from: "1.14.3"),
        .package(url: "https://github.com/apple/swift-openapi-runtime", from: "1.13.4"),
    ],
    targets: [
        .target(
            name: "SwitchboardClient",
            dependencies: [.product(name: "OpenAPIRuntime", package: "swift-openapi-runtime")],
            plugins: [.plugin(name: "OpenAPIGenerator", package: "swift-openapi-generator")]
        ),
    ]
)
