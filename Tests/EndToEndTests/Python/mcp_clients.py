"""Switchboard's MCP server as a third-party client sees it: the Python `mcp` SDK over streamable HTTP (against
`serve`) and over stdio (launching `switchboard mcp`).

Run by Tests/EndToEndTests/MCPEndToEndTests.swift, which starts the binaries, makes the tokens, and completes the
connect link in the sandbox when this script writes it to the handshake folder. Prints one line per check
("ok ..." or "FAIL ...") and exits non-zero when any check failed.
"""

import argparse
import asyncio
import json
import os
import re
import sys
import time
import uuid

import httpx2
import jsonschema
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

from checks import check, summary


def text_of(result) -> str:
    return "\n".join(getattr(block, "text", "") for block in result.content)


def http_client(url: str, token: str, **options) -> Client:
    http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=60)
    return Client(streamable_http_client(url + "/mcp", http_client=http), **options)


def stdio_client(binary: str, url: str, token: str, *extra: str) -> Client:
    env = {"SWITCHBOARD_AGENT_TOKEN": token, "PATH": os.environ.get("PATH", "")}
    return Client(StdioServerParameters(command=binary, args=["mcp", "--url", url, *extra], env=env))


def conforms(result, tool) -> tuple[bool, str]:
    """structuredContent validates against the tool's output schema."""
    if result.structured_content is None:
        return False, "no structuredContent"
    try:
        jsonschema.validate(result.structured_content, tool.output_schema)
        return True, ""
    except jsonschema.ValidationError as error:
        return False, error.message


async def tools_and_calls(client: Client, label: str, expect_tools: int) -> None:
    check(f"{label}: initialize agrees 2025-11-25 with Switchboard",
          client.protocol_version == "2025-11-25" and client.server_info.name == "switchboard",
          (client.protocol_version, client.server_info))
    listed = (await client.list_tools()).tools
    by_name = {tool.name: tool for tool in listed}
    check(f"{label}: tools/list has every tool the integration exposes", len(listed) == expect_tools, len(listed))
    bad_names = [t.name for t in listed if not re.fullmatch(r"[a-zA-Z0-9_-]{1,64}", t.name)]
    check(f"{label}: every tool name is one every client accepts", not bad_names, bad_names)
    check(f"{label}: every tool has object input and output schemas, a title and a description",
          all(t.input_schema.get("type") == "object" and (t.output_schema or {}).get("type") == "object"
              and t.title and t.description for t in listed))
    get_contact, delete_contact = by_name["intercom_get_contact"], by_name["intercom_delete_contact"]
    check(f"{label}: annotations come from the catalog's flags",
          get_contact.annotations.read_only_hint is True and get_contact.annotations.open_world_hint is True
          and delete_contact.annotations.destructive_hint is True and delete_contact.annotations.read_only_hint is False,
          (get_contact.annotations, delete_contact.annotations))

    email = f"py-{uuid.uuid4().hex[:8]}@example.com"
    created = await client.call_tool("intercom_create_contact", {"email": email, "name": "Py Thon"})
    check(f"{label}: create_contact works", not created.is_error and email in text_of(created), text_of(created))
    ok, why = conforms(created, by_name["intercom_create_contact"])
    check(f"{label}: create_contact's structuredContent conforms to its output schema", ok, why)
    contact_id = (created.structured_content or {}).get("id", "")
    fetched = await client.call_tool("intercom_get_contact", {"contact_id": contact_id})
    ok, why = conforms(fetched, get_contact)
    check(f"{label}: get_contact finds it and conforms", not fetched.is_error and ok
          and fetched.structured_content.get("email") == email, why or text_of(fetched))
    listed_contacts = await client.call_tool("intercom_list_contacts", {"limit": 2})
    ok, why = conforms(listed_contacts, by_name["intercom_list_contacts"])
    check(f"{label}: list_contacts (a list, wrapped as result) conforms", not listed_contacts.is_error and ok, why)
    admins = await client.call_tool("intercom_list_admins", {})
    ok, why = conforms(admins, by_name["intercom_list_admins"])
    check(f"{label}: list_admins conforms", not admins.is_error and ok, why)

    bad = await client.call_tool("intercom_create_ticket", {"email": "not-an-email", "ticket_type_id": "1"})
    words = text_of(bad)
    check(f"{label}: bad arguments are a tool error naming each field", bad.is_error and "email: must be an email address" in words, words)
    check(f"{label}: a missing input asks the catalog's question",
          "title is missing: ask the user 'What is the subject of your ticket?'" in words, words)


async def http_checks(args) -> None:
    async with http_client(args.url, args.token) as client:
        await tools_and_calls(client, "http", args.expect_tools)

    async with http_client(args.url, args.narrow_token) as client:
        names = {tool.name for tool in (await client.list_tools()).tools}
        check("http: a narrowed token lists only its tools", names == set(args.narrow_tools.split(",")), names)
        outside = await client.call_tool("intercom_create_contact", {"email": "outside@example.com"})
        check("http: a tool outside the allow-list is not callable", outside.is_error, text_of(outside))

    try:
        async with http_client(args.url, args.revoked_token) as client:
            await client.list_tools()
        check("http: the client refuses to go on with a revoked token", False, "the session opened")
    except Exception as error:  # noqa: BLE001 - the SDK reports the refusal in its own words
        check("http: the client refuses to go on with a revoked token", True, repr(error))
    async with httpx2.AsyncClient() as raw:
        answer = await raw.post(args.url + "/mcp", headers={"Authorization": f"Bearer {args.revoked_token}",
                                                           "Accept": "application/json, text/event-stream"},
                                json={"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}})
        check("http: a revoked token is 401 with WWW-Authenticate: Bearer",
              answer.status_code == 401 and answer.headers.get("www-authenticate", "").startswith("Bearer"),
              (answer.status_code, dict(answer.headers)))


async def http_user_authorizes(args) -> None:
    """A client that declared URL elicitation: -32042 with the link, the completion notification, then success."""
    completed: list[str] = []

    async def on_message(message) -> None:
        root = getattr(message, "root", message)
        if getattr(root, "method", "") == "notifications/elicitation/complete":
            params = getattr(root, "params", None)
            completed.append(getattr(params, "elicitation_id", None) or getattr(params, "elicitationId", ""))

    async def on_elicitation(context, params):  # declares elicitation (form and URL) to the server
        raise RuntimeError("Switchboard asks through -32042 and tool errors, not elicitation/create")

    async with http_client(args.url, args.user_token, message_handler=on_message, elicitation_callback=on_elicitation) as client:
        try:
            await client.call_tool("intercom_who_am_i", {})
            check("http: an unconnected user gets URL elicitation (-32042)", False, "the call succeeded")
            return
        except MCPError as error:
            elicitations = (error.data or {}).get("elicitations", [])
            check("http: an unconnected user gets URL elicitation (-32042) with the connect link",
                  error.code == -32042 and elicitations and elicitations[0].get("url", "").startswith(args.url + "/connect/"),
                  (error.code, error.data))
            if not elicitations:
                return
        elicitation = elicitations[0]
        with open(os.path.join(args.handshake, "link-http.txt"), "w") as file:
            file.write(elicitation["url"])
        deadline = time.monotonic() + 60
        while not os.path.exists(os.path.join(args.handshake, "connected-http.txt")) and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        connected = os.path.exists(os.path.join(args.handshake, "connected-http.txt"))
        check("http: the test connected the user within 60 s", connected, "connected-http.txt never appeared")
        if not connected:
            return
        deadline = time.monotonic() + 20
        while elicitation["elicitationId"] not in completed and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        check("http: notifications/elicitation/complete arrives once the user connected",
              elicitation["elicitationId"] in completed, completed)
        after = await client.call_tool("intercom_who_am_i", {})
        check("http: after connecting, the call works", not after.is_error and "@" in text_of(after), text_of(after))


async def stdio_checks(args) -> None:
    async with stdio_client(args.switchboard, args.url, args.token) as client:
        await tools_and_calls(client, "stdio", args.expect_tools)

    async with stdio_client(args.switchboard, args.url, args.stdio_user_token) as client:
        first = await client.call_tool("intercom_who_am_i", {})
        words = text_of(first)
        meta = first.meta or {}
        check("stdio: without URL elicitation, the link is a tool error telling the model what to do",
              first.is_error and words.startswith("Ask the user to open this link to connect their Intercom account: ")
              and words.endswith("Then call the tool again.") and meta.get("authorizationURL", "") in words
              and meta.get("reason") == "connect", (words, meta))

    try:
        async with stdio_client(args.switchboard, args.url, args.revoked_token) as client:
            await client.list_tools()
        check("stdio: a revoked token is refused", False, "the session opened")
    except Exception as error:  # noqa: BLE001 - the SDK wraps it in its task group's exception group
        check("stdio: a revoked token is refused with Switchboard's 401", "401 unauthenticated" in repr(error), repr(error))


async def main() -> int:
    parser = argparse.ArgumentParser()
    for name in ["url", "token", "narrow-token", "narrow-tools", "revoked-token", "user-token", "stdio-user-token",
                 "switchboard", "handshake"]:
        parser.add_argument("--" + name, required=True)
    parser.add_argument("--expect-tools", type=int, required=True)
    args = parser.parse_args()
    for phase in (http_checks, http_user_authorizes, stdio_checks):
        try:
            await asyncio.wait_for(phase(args), timeout=120)
        except Exception as error:  # noqa: BLE001 - a phase that breaks is a failure, reported with its cause
            check(f"{phase.__name__} ran to the end", False, repr(error))
    return summary("mcp clients")


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
