import Foundation

/// A contact (user or lead) as the sandbox stores it.
struct ContactRecord: Sendable, Codable {
    var id: String
    var workspaceID: String
    var externalID: String?
    var role: String
    var email: String?
    var phone: String?
    var name: String?
    var avatar: String?
    var ownerID: Int?
    var hasHardBounced = false
    var markedEmailAsSpam = false
    var unsubscribedFromEmails = false
    var createdAt: Int
    var updatedAt: Int
    var signedUpAt: Int?
    var lastSeenAt: Int?
    var lastRepliedAt: Int?
    var lastContactedAt: Int?
    var lastEmailOpenedAt: Int?
    var lastEmailClickedAt: Int?
    var languageOverride: String?
    var browser: String?
    var browserLanguage: String?
    var os: String?
    var country: String?
    var region: String?
    var city: String?
    var customAttributes: [String: SJSON] = [:]
    var tagIDs: [String] = []
    var companyIDs: [String] = []
    var noteIDs: [String] = []
    var archived = false

    var emailDomain: String? { email.flatMap { $0.split(separator: "@").last.map(String.init) } }

    /// The spec's `contact` object.
    func json(tags: [TagRecord]) -> SJSON {
        func list(_ path: String, _ data: [SJSON]) -> SJSON {
            .object(["type": .string("list"), "data": .array(data), "url": .string("/contacts/\(id)/\(path)"),
                     "total_count": .int(data.count), "has_more": .bool(false)])
        }
        return .object([
            "type": .string("contact"), "id": .string(id), "workspace_id": .string(workspaceID), "external_id": .optional(externalID),
            "role": .string(role), "email": .string(email ?? ""), "email_domain": .string(emailDomain ?? ""),
            "phone": .optional(phone), "name": .optional(name),
            "avatar": avatar.map { .object(["type": .string("avatar"), "image_url": .string($0)]) } ?? .null,
            "owner_id": .optional(ownerID), "social_profiles": .object(["type": .string("list"), "data": .array([])]),
            "has_hard_bounced": .bool(hasHardBounced), "marked_email_as_spam": .bool(markedEmailAsSpam),
            "unsubscribed_from_emails": .bool(unsubscribedFromEmails),
            "created_at": .int(createdAt), "updated_at": .int(updatedAt), "signed_up_at": .optional(signedUpAt),
            "last_seen_at": .optional(lastSeenAt), "last_replied_at": .optional(lastRepliedAt), "last_contacted_at": .optional(lastContactedAt),
            "last_email_opened_at": .optional(lastEmailOpenedAt), "last_email_clicked_at": .optional(lastEmailClickedAt),
            "language_override": .optional(languageOverride), "browser": .optional(browser), "browser_version": .null,
            "browser_language": .optional(browserLanguage), "os": .optional(os),
            "location": .object(["type": .string("location"), "country": .optional(country), "region": .optional(region), "city": .optional(city),
                                 "country_code": .null, "continent_code": .null]),
            "android_app_name": .null, "android_app_version": .null, "android_device": .null, "android_os_version": .null,
            "android_sdk_version": .null, "android_last_seen_at": .null, "ios_app_name": .null, "ios_app_version": .null,
            "ios_device": .null, "ios_os_version": .null, "ios_sdk_version": .null, "ios_last_seen_at": .null,
            "custom_attributes": .object(customAttributes),
            "tags": list("tags", tags.map { .object(["type": .string("tag"), "id": .string($0.id), "url": .string("/tags/\($0.id)")]) }),
            "notes": list("notes", noteIDs.map { .object(["type": .string("note"), "id": .string($0), "url": .string("/notes/\($0)")]) }),
            "companies": list("companies", companyIDs.map { .object(["type": .string("company"), "id": .string($0), "url": .string("/companies/\($0)")]) }),
            "opted_out_subscription_types": list("subscriptions", []), "opted_in_subscription_types": list("subscriptions", []),
            "utm_campaign": .null, "utm_content": .null, "utm_medium": .null, "utm_source": .null, "utm_term": .null, "referrer": .null,
        ])
    }

    /// A `contact_reference` with one extra flag (`deleted`, `archived`).
    func reference(_ flag: String, _ value: Bool) -> SJSON {
        .object(["type": .string("contact"), "id": .string(id), "external_id": .optional(externalID), flag: .bool(value)])
    }

    /// Search fields and their types, as the spec's "Accepted Fields" table lists them.
    static let searchFields: [String: SearchFieldType] = {
        var fields: [String: SearchFieldType] = [
            "id": .string, "role": .string, "name": .string, "avatar": .string, "owner_id": .integer, "email": .string,
            "email_domain": .string, "phone": .string, "external_id": .string, "language_override": .string, "browser": .string,
            "browser_language": .string, "os": .string, "location.country": .string, "location.region": .string, "location.city": .string,
            "unsubscribed_from_emails": .boolean, "marked_email_as_spam": .boolean, "has_hard_bounced": .boolean, "tag_id": .tag,
        ]
        for date in ["created_at", "signed_up_at", "updated_at", "last_seen_at", "last_contacted_at", "last_replied_at",
                     "last_email_opened_at", "last_email_clicked_at"] { fields[date] = .date }
        return fields
    }()

    /// The value of a search field (`custom_attributes.x` included).
    func searchValue(_ field: String) -> SJSON {
        if field.hasPrefix("custom_attributes.") { return customAttributes[String(field.dropFirst("custom_attributes.".count))] ?? .null }
        switch field {
        case "id": return .string(id)
        case "role": return .string(role)
        case "name": return .optional(name)
        case "avatar": return .optional(avatar)
        case "owner_id": return .optional(ownerID)
        case "email": return .optional(email)
        case "email_domain": return .optional(emailDomain)
        case "phone": return .optional(phone)
        case "external_id": return .optional(externalID)
        case "language_override": return .optional(languageOverride)
        case "browser": return .optional(browser)
        case "browser_language": return .optional(browserLanguage)
        case "os": return .optional(os)
        case "location.country": return .optional(country)
        case "location.region": return .optional(region)
        case "location.city": return .optional(city)
        case "unsubscribed_from_emails": return .bool(unsubscribedFromEmails)
        case "marked_email_as_spam": return .bool(markedEmailAsSpam)
        case "has_hard_bounced": return .bool(hasHardBounced)
        case "created_at": return .int(createdAt)
        case "updated_at": return .int(updatedAt)
        case "signed_up_at": return .optional(signedUpAt)
        case "last_seen_at": return .optional(lastSeenAt)
        case "last_contacted_at": return .optional(lastContactedAt)
        case "last_replied_at": return .optional(lastRepliedAt)
        case "last_email_opened_at": return .optional(lastEmailOpenedAt)
        case "last_email_clicked_at": return .optional(lastEmailClickedAt)
        case "tag_id": return .array(tagIDs.map(SJSON.string))
        default: return .null
        }
    }
}

struct TagRecord: Sendable, Codable {
    var id: String
    var name: String
    var appliedAt: Int
    var json: SJSON { .object(["type": .string("tag"), "id": .string(id), "name": .string(name)]) }
}

struct NoteRecord: Sendable, Codable {
    var id: String
    var contactID: String
    var body: String
    var createdAt: Int
    var authorID: String
}
