import Foundation
import Synchronization

/// Id formats as Intercom issues them.
enum IntercomIDs {
    /// 24 hex characters, as a MongoDB ObjectId: 4 bytes of time, 5 bytes fixed per process, a 3-byte counter.
    /// Like Intercom's ids, they sort in creation order.
    static func objectID(now: Date) -> String {
        let seconds = UInt32(truncatingIfNeeded: Int(now.timeIntervalSince1970))
        let count = counter.withLock { value -> UInt32 in
            value = (value + 1) & 0xFFFFFF
            return value
        }
        return String(format: "%08x", seconds) + processPart + String(format: "%06x", count)
    }

    private static let processPart = SandboxRandom.bytes(5).map { String(format: "%02x", $0) }.joined()
    private static let counter = Mutex<UInt32>(UInt32.random(in: 0..<0x800000))

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
