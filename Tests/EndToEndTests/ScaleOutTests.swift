import Foundation
import SwitchboardTestSupport
import Testing

/// The scale-out harness (`Benchmarks/scaleout/harness.py`), its short version: three `serve` instances on one
/// PostgreSQL behind nginx, a standards-following OAuth 2.0 provider (Authlib, from the test venv) with 3-second
/// access tokens and rotating refresh tokens, the guide's flows across instances, one refresh burst, one kill -9, one
/// SIGTERM. `Benchmarks/scaleout.sh` runs the full version (faults, callbacks and deliveries under a kill, PostgreSQL
/// restarted, a soak).
enum ScaleOut {
    static let nginx = ["/usr/sbin/nginx", "/usr/bin/nginx"].first { FileManager.default.isExecutableFile(atPath: $0) }

    static let python: URL? = {
        guard ProcessInfo.processInfo.environment["SWITCHBOARD_TEST_SCALEOUT"] == "1" else {
            print("⚠️  SKIPPED: the scale-out harness loads both cores for half a minute, so it runs alone: SWITCHBOARD_TEST_SCALEOUT=1 swift test --filter ScaleOutTests (.ci/run does, after the suite)")
            return nil
        }
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
    @Test("three instances on one PostgreSQL behind nginx: the guide's flows across instances, 300 calls on an expired token (one refresh, none failing, no refresh token reused), kill -9 mid-burst (survivors answer all, no acknowledged run lost beyond the buffer window, no half-stored connection), SIGTERM mid-burst (every accepted call answered, exit 0, its runs written)",
          .enabled(if: ScaleOut.python != nil, "needs SWITCHBOARD_TEST_SCALEOUT=1, PostgreSQL, nginx, and Authlib and Flask in the test venv (.ci/run provides them)"))
    func shortHarness() async throws {
        let python = try #require(ScaleOut.python)
        let harness = try ChildProcess(executable: python, arguments: [
            ScaleOut.script.path, try BuiltBinary.url().path, try #require(Backend.postgresURL), "--python", python.path,
            "--instances", "3", "--burst", "300", "--bursts", "1", "--scenarios", "flows,burst,kill,sigterm",
        ])
        let status = try await harness.wait(timeout: .seconds(300))
        print(harness.stdout)
        #expect(status == 0, "the harness failed:\n\(checkReport(harness.stdout, harness.stderr))")
        for check in ["flows: start page (another instance) → provider → callback (through nginx): connected",
                      "flows: 6 end users connect, each step on another instance, and act",
                      "burst 1: 300 concurrent calls through nginx on an expired token all succeed", "burst: one refresh per expiry across 3 instances",
                      "burst: no refresh token used twice", "kill: the other instances answer every call of the burst",
                      "kill: no half-stored connection (active and refreshable)", "sigterm: the instance exits 0",
                      "sigterm: every acknowledged run is in the audit log, the stopping instance's included"] {
            #expect(harness.stdout.contains("ok \(check)"), "\(check): \(checkReport(harness.stdout, harness.stderr))")
        }
        #expect(!harness.stdout.contains("FAIL"))
    }
}
