import Foundation
import SQLKit
import SwitchboardCore

/// What an idempotency key already stands for.
public enum IdempotencyClaim: Sendable, Equatable {
    /// New: this caller runs the action and then records its outcome.
    case claimed
    /// Done before: the stored outcome (JSON), to answer again without calling the provider.
    case completed(String)
    /// Another call with this key is running now.
    case inProgress
    /// The key was used for a different action or input.
    case mismatch
}

extension SQLRepository {
    static func outcomeContext(_ id: String) -> String { "idempotency_keys:\(id):outcome" }
}
