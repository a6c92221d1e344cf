import Foundation
import SwitchboardTestSupport
import Testing

/// Headless Chromium (Debian's `chromium` and `chromium-driver`) driven by Python's selenium from the test
/// virtual environment, all installed by `.ci/run`.
enum Chromium {
    static let browser = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].first { FileManager.default.isExecutableFile(atPath: $0) }
    static let driver = ["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"].first { FileManager.default.isExecutableFile(atPath: $0) }

    static let python: URL? = {
        guard browser != nil, driver != nil else {
            print("⚠️  SKIPPED: the console browser tests need chromium and chromium-driver (Debian; .ci/run installs them)")
            return nil
        }
        return PythonTools.python(importing: "selenium", for: "the console browser tests")
    }()

    static let script = BuiltBinary.packageRoot.appendingPathComponent("Tests/EndToEndTests/Python/console_browser.py")
}

@Suite("End to end: the console in a real browser", .serialized)
struct ConsoleBrowserTests {
    @Test("headless Chromium through switchboard demo: the guide's four paths (system or custom × pre-authorize or users authorize) with the sandbox's login and consent, each ending with Try it; connections, settings, the signing secret and delete by clicks; a keyboard-only pass; CSRF; secrets; 375 px",
          .enabled(if: Chromium.python != nil, "needs chromium, chromium-driver and selenium (.ci/run installs them)"))
    func guideInABrowser() async throws {
        let python = try #require(Chromium.python)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("sb-console-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let screenshots = BuiltBinary.packageRoot.appendingPathComponent(".build/test-output/console-browser")
        try? FileManager.default.removeItem(at: screenshots)
        let (demo, api) = try await EndToEndTests.startDemo(directory)
        do {
            let browser = try ChildProcess(executable: python, arguments: [
                Chromium.script.path, "--console", api.base, "--sandbox", try #require(demo.stdout.firstMatch(of: /Intercom sandbox: (\S+)/).map { String($0.1) }),
                "--api-key", api.key, "--chromium", try #require(Chromium.browser),
                "--chromedriver", try #require(Chromium.driver), "--out", screenshots.path,
            ])
            let status = try await browser.wait(timeout: .seconds(300))
            print(browser.stdout)
            #expect(status == 0, "the browser checks failed:\n\(checkReport(browser.stdout, browser.stderr))")
            for path in ["system × pre-authorize", "system × users authorize", "custom × pre-authorize", "custom × users authorize"] {
                #expect(browser.stdout.contains("ok \(path): the action runs from the Try it form") || browser.stdout.contains("ok \(path): then the action runs from the Try it form"),
                        "\(path) ends with an action run from Try it: \(browser.stdout)")
            }
            for step in ["connections: the user is disconnected", "settings: a bad notify URL is named beside its field, what was typed kept",
                         "delete: the confirmation names what will be lost", "delete: the integration is gone",
                         "keyboard: Try it runs and shows the connect link"] {
                #expect(browser.stdout.contains("ok \(step)"), "\(step): \(browser.stdout)")
            }
            #expect(!browser.stdout.contains("FAIL"))
            let shots = (try? FileManager.default.contentsOfDirectory(atPath: screenshots.path)) ?? []
            #expect(shots.filter { $0.hasSuffix(".png") }.count >= 8, "a screenshot per step: \(shots)")
        } catch {
            _ = await demo.stop()
            throw error
        }
        #expect(await demo.stop() == 0, "demo exits 0 on SIGTERM; its stderr: \(exitReport(demo.stderr))")
    }
}
