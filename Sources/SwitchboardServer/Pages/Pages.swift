import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// Small HTML pages shown to people in a browser.
enum Pages {
    static func render(title: String, heading: String, message: String, success: Bool, link: (href: String, text: String)? = nil,
                       form: (action: String, button: String)? = nil) -> String {
        var values: [String: Any] = ["title": title, "heading": heading, "message": message, "success": success]
        if let link { values["link"] = ["href": link.href, "text": link.text] }
        if let form { values["form"] = ["action": form.action, "button": form.button] }
        return Templates.render("page", values)
    }

    /// A console page: the page's own template rendered into the console layout, with the frame's values (session,
    /// notice, errors) available to both.
    static func console(_ name: String, title: String, frame: [String: Any], _ values: [String: Any]) -> String {
        var merged = frame
        for (key, value) in values { merged[key] = value }
        merged["content"] = Templates.render(name, merged)
        merged["title"] = title
        return Templates.render("console-layout", merged)
    }

    /// The answer to a browser form posted from another site (`ConsoleSession.isSameOrigin` said no): nothing was done.
    static func crossOrigin(_ settings: ServerSettings) -> Response {
        html(.forbidden, render(title: "Not allowed", heading: "This button must be pressed on Switchboard's own page",
                                message: "The form was sent from another site, so nothing was done. Open the link you were given and press the button there.",
                                success: false))
    }

    static func html(_ status: HTTPResponse.Status, _ body: String) -> Response {
        Response(status: status, headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store"],
                 body: .init(byteBuffer: ByteBuffer(string: body)))
    }
}
