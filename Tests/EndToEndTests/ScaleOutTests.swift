import Foundation
import SwitchboardTestSupport
import Testing

/// The scale-out harness (`Benchmarks/scaleout/harness.py`), its short version: three `serve` instances on one
/// PostgreSQL behind nginx, a standards-following OAuth 2.0 provider (Authlib, from the test venv) with 3-second
/// access tokens and rotating refresh tokens, the guide's flow across instances, one refresh burst, one kill -9.
enum ScaleOut {
    static let nginx = ["/usr/sbin/nginx", "/usr/bin/nginx"].first { FileManager.default.isExecutableFile(atPath: $0) }

    static let python: URL? = {
        guard Backend.postgresURL != nil else {
            print("⚠️  SKIPPED: the scale-out harness needs PostgreSQL (SWITCHBOARD_TEST_POSTGRES_URL; .ci/run sets it)")
            return nil
        }
        guard nginx != nil else {
            print("⚠️  SKIPPED: the scale-out harness needs nginx (Debian's nginx-light; .ci/run installs it)")
            return nil
        }
        return PythonTools.python(importing: "authlib, flask", for: "the scale-out harness")
    }()

    static let script = BuiltBinary.packageRoot.appendingPathComponent("Benchmarks/scaleout/harness.py")
}

@Suite("End to end: several instances behind nginx", .serialized)
struct ScaleOutTests {
    @Test("three instances on one PostgreSQL behind nginx: the guide's flow across instances, 300 calls on an expired token (one refresh, none failing, no refresh token reused), kill -9 mid-burst (survivors answer all, no acknowledged run lost beyond the buffer window, no half-stored connection)",
          .enabled(if: ScaleOut.python != nil, "needs PostgreSQL, nginx, and Authlib and Flask in the test venv (.ci/run provides them)"))
    func shortHarness() async throws {
        let python = try #require(ScaleOut.python)
        let harness = try ChildProcess(executable: python, arguments: [
            ScaleOut.script.path, try BuiltBinary.url().path, try #require(Backend.postgresURL), "--python", python.path,
            "--instances", "3", "--burst", "300", "--bursts", "1",
        ])
        let status = try await harness.wait(timeout: .seconds(300))
        print(harness.stdout)
        #expect(status == 0, "the harness failed:\n\(harness.stdout)\n\(harness.stderr.suffix(3000))")
        for check in ["refresh burst 1: 300 concurrent calls on an expired token all succeed", "one refresh per expiry across 3 instances",
                      "no refresh token used twice", "kill -9 of an instance mid-burst: the other instances answer every call",
                      "no half-stored connection: active and refreshable after the kill"] {
            #expect(harness.stdout.contains("ok \(check)"), "\(check): \(harness.stdout)")
        }
        #expect(!harness.stdout.contains("FAIL"))
    }
}
