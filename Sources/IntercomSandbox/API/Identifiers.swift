import Foundation

/// Id formats as Intercom issues them.
enum IntercomIDs {
    /// 24 hex characters, like a MongoDB ObjectId: 4 bytes of time, then 8 random bytes.
    static func objectID(now: Date) -> String {
        let seconds = UInt32(truncatingIfNeeded: Int(now.timeIntervalSince1970))
        return String(format: "%08x", seconds) + SandboxRandom.bytes(8).map { String(format: "%02x", $0) }.joined()
    }

    static func isObjectID(_ id: String) -> Bool {
        id.count == 24 && id.allSatisfy(\.isHexDigit)
    }
}

/// Intercom's `starting_after` cursors: opaque base64 over the position after which the next page starts.
enum Cursor {
    /// The last item of a page: its sort value and id (ties broken by id), and the page number.
    struct Position: Equatable {
        var sortValue: SJSON
        var id: String
        var page: Int
    }

    static func encode(_ position: Position) -> String {
        SJSON.array([position.sortValue, .string(position.id), .int(position.page)]).encoded().base64EncodedString()
    }

    static func decode(_ cursor: String) -> Position? {
        guard let data = Data(base64Encoded: cursor), let array = SJSON.parse(data)?.array, array.count == 3,
              let id = array[1].string, let page = array[2].int
        else { return nil }
        return Position(sortValue: array[0], id: id, page: page)
    }
}
