import Foundation

/// Waits until `condition` holds, checking every `every`; throws, naming `what`, when `within` runs out. For what the
/// test cannot be told directly (a request arriving at a test server, a child process writing a file). A wait for
/// Switchboard's own work awaits the signal the code gives instead (`EventDispatcher.drain`, `Outbox.drain`,
/// `RunRepository.flushRuns`).
public func eventually(_ what: @autoclosure () -> String, within: Duration = .seconds(20), every: Duration = .milliseconds(10),
                       isolation: isolated (any Actor)? = #isolation, _ condition: () async throws -> Bool) async throws {
    let deadline = ContinuousClock.now.advanced(by: within)
    while true {
        if try await condition() { return }
        guard ContinuousClock.now < deadline else { throw TestSupportError("waited \(within) for \(what())") }
        try await Task.sleep(for: every)
    }
}
