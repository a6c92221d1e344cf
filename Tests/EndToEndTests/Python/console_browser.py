"""The console as a person uses it: headless Chromium (Debian's chromium and chromium-driver, driven by selenium)
against a running `switchboard demo`, clicking and typing, including the sandbox's Intercom login and consent.

Run by Tests/EndToEndTests/ConsoleBrowserTests.swift. Prints one line per check ("ok ..." or "FAIL ...") and exits
non-zero when any failed; a screenshot of each step goes to --out.
"""

import argparse
import json
import os
import re
import sys
import urllib.request

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import Select, WebDriverWait

from checks import check, summary


class Person:
    """One browser, as one person: types into labelled fields, presses buttons by their words, saves screenshots."""

    def __init__(self, chromium: str, chromedriver: str, out: str, name: str):
        options = webdriver.ChromeOptions()
        options.binary_location = chromium
        for argument in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1280,900"]:
            options.add_argument(argument)
        self.driver = webdriver.Chrome(service=Service(chromedriver), options=options)
        self.driver.set_page_load_timeout(30)
        self.out, self.name, self.step = out, name, 0

    def open(self, url: str) -> None:
        self.driver.get(url)

    def field(self, label: str):
        """The control a visible label names (by its `for`)."""
        found = self.driver.find_element(By.XPATH, f"//label[normalize-space(text())={xpath_string(label)} or starts-with(normalize-space(.), {xpath_string(label)})]")
        return self.driver.find_element(By.ID, found.get_attribute("for"))

    def type(self, label: str, text: str) -> None:
        element = self.field(label)
        element.clear()
        element.send_keys(text)

    def choose(self, words: str) -> None:
        """A radio button by the words of its label."""
        self.driver.find_element(By.XPATH, f"//label[contains(normalize-space(.), {xpath_string(words)})]/input").click()

    def select(self, label: str, option: str) -> None:
        Select(self.field(label)).select_by_visible_text(option)

    def press(self, words: str) -> None:
        """A button that sends its form: waits for the next page (the old one gone, the new one loaded)."""
        self.mark_page()
        self.driver.find_element(By.XPATH, f"//button[normalize-space(.)={xpath_string(words)}]").click()
        self.next_page()

    def mark_page(self) -> None:
        """Marks the page shown now, so that `next_page` knows when another has replaced it."""
        self.driver.execute_script("window.__switchboardOld = true")

    def next_page(self) -> None:
        def loaded(driver) -> bool:
            try:
                return driver.execute_script("return window.__switchboardOld === undefined && document.readyState === 'complete'")
            except WebDriverException:  # between two pages
                return False
        WebDriverWait(self.driver, 15).until(loaded)

    def press_and_confirm(self, words: str) -> str:
        """A button behind a confirmation: pressed, the browser's dialog accepted; the dialog's words."""
        self.mark_page()
        self.driver.find_element(By.XPATH, f"//button[normalize-space(.)={xpath_string(words)}]").click()
        alert = WebDriverWait(self.driver, 10).until(expected_conditions.alert_is_present())
        said = alert.text
        alert.accept()
        self.next_page()
        return said

    def keys(self, *keys: str) -> None:
        """Keys pressed on whatever has the focus, as a person at the keyboard presses them."""
        ActionChains(self.driver).send_keys(*keys).perform()

    def tab_to(self, what: str, test: str, limit: int = 120) -> bool:
        """Presses Tab until the focused element passes `test` (JavaScript on `el`); false if it is never reached.
        Once there, the focus must be visible (an outline)."""
        for _ in range(limit):
            self.keys(Keys.TAB)
            if self.driver.execute_script(f"const el = document.activeElement; return !!(el && ({test}));"):
                visible = self.driver.execute_script("return getComputedStyle(document.activeElement).outlineStyle !== 'none'")
                check(f"keyboard: {what} is reached with Tab and shows its focus", visible)
                return True
        check(f"keyboard: {what} is reached with Tab", False, f"not within {limit} presses on {self.driver.current_url}")
        return False

    def enter(self, *typed: str) -> None:
        """Types, then presses Enter, which follows a link or sends a form: waits for the next page."""
        self.mark_page()
        self.keys(*typed, Keys.ENTER)
        self.next_page()

    def follow(self, words: str) -> None:
        self.mark_page()
        self.driver.find_element(By.XPATH, f"//a[contains(normalize-space(.), {xpath_string(words)})]").click()
        self.next_page()

    def text(self) -> str:
        return self.driver.find_element(By.TAG_NAME, "body").text

    def html(self) -> str:
        return self.driver.page_source

    def shot(self, what: str) -> None:
        self.step += 1
        self.driver.save_screenshot(os.path.join(self.out, f"{self.name}-{self.step:02d}-{re.sub(r'[^a-z0-9]+', '-', what.lower())}.png"))

    def fits(self, width: int = 375) -> bool:
        """At this width, nothing scrolls sideways."""
        self.driver.set_window_size(width, 900)
        fits = self.driver.execute_script("return document.documentElement.scrollWidth <= window.innerWidth + 1")
        self.driver.set_window_size(1280, 900)
        return bool(fits)

    def quit(self) -> None:
        self.driver.quit()


def xpath_string(text: str) -> str:
    if "'" not in text:
        return f"'{text}'"
    return "concat('" + text.replace("'", "',\"'\",'") + "')"


def no_nil(person: Person, page: str) -> None:
    html = person.html()
    check(f"{page}: no nil, Optional( or {{{{ on the page", re.search(r"\bnil\b", person.text()) is None and "Optional(" not in html
          and "{{" not in html, person.text()[:300])


def sign_in(person: Person, console: str, key: str) -> None:
    person.open(console + "/console")
    person.shot("sign in")
    person.type("Admin API key", key)
    person.press("Sign in")
    check("signed in with the demo's API key", "Integrations" in person.text(), person.text()[:200])


def intercom_login(person: Person) -> None:
    """The sandbox's Intercom: log in, then authorize access."""
    WebDriverWait(person.driver, 15).until(expected_conditions.presence_of_element_located((By.ID, "email")))
    person.shot("intercom login")
    person.type("Email", "ada@acme.test")
    person.type("Password", "sandbox-password")
    person.press("Log in")
    person.shot("intercom consent")
    person.press("Authorize access")


def system_preauthorized(person: Person, console: str) -> None:
    """The guide with the system app, pre-authorized: add, Authorize, Enable, then an action from Try it."""
    person.open(console + "/console/integrations")
    no_nil(person, "integrations")
    person.type("Name", "Support bot")
    person.choose("Pre-authorize the integration")
    person.choose("System")
    person.shot("add intercom")
    person.press("Add integration")
    check("system × pre-authorize: the integration is added", "Integration added." in person.text(), person.text()[:300])
    no_nil(person, "a new integration")
    check("the callback URL is shown with a copy button", len(person.driver.find_elements(By.CSS_SELECTOR, "code.copy")) > 0)
    person.shot("integration added")
    person.press("Authorize")
    intercom_login(person)
    person.shot("back from intercom")
    check("system × pre-authorize: Intercom sent the browser back connected", "connected" in person.text(), person.text()[:300])
    person.follow("Back to the integration")
    person.press("Enable")
    person.shot("enabled")
    check("system × pre-authorize: Enable ends on Integration successful", "Integration successful" in person.text(), person.text()[:300])
    no_nil(person, "an enabled integration")
    person.follow("Actions")
    person.type("Search the actions", "who am i")
    person.press("Search")
    person.shot("actions search")
    person.follow("Who am I")
    person.shot("try it")
    person.press(person.driver.find_element(By.XPATH, "//button[starts-with(normalize-space(.), 'Run ')]").text)
    person.shot("result")
    check("system × pre-authorize: the action runs from the Try it form", "Connected as" in person.text(), person.text()[:400])


def system_per_user(person: Person, console: str, args) -> None:
    """The guide with the system app, users authorize: add, Enable, Try it for an end user who has not connected,
    the connect link opened in a second browser (the end user's), then the action succeeds."""
    person.open(console + "/console/integrations")
    person.type("Name", "Per-user bot")
    person.choose("Allow users to authorize")
    person.choose("System")
    person.press("Add integration")
    check("system × users authorize: the integration is added", "Integration added." in person.text(), person.text()[:300])
    person.press("Enable")
    check("system × users authorize: Enable ends on Integration successful", "Integration successful" in person.text(), person.text()[:300])
    connect_then_run(person, args, "system × users authorize", "user-b")


def sandbox_call(sandbox: str, method: str, path: str, body: dict) -> dict:
    """Intercom's Developer Hub, which is Intercom's own UI and not Switchboard's: the sandbox's API stands in for it."""
    request = urllib.request.Request(sandbox + path, data=json.dumps(body).encode(), method=method, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.loads(answer.read() or b"{}")


def custom_profile(person: Person, console: str, sandbox: str, name: str) -> None:
    """Select Custom, Select Authorization, Create New, oAuth v2, the app's credentials, Save; back with it selected,
    and its callback URL pasted into the app's Redirect URLs."""
    app = sandbox_call(sandbox, "POST", "/_sandbox/apps", {"name": name, "redirectURLs": [console + "/oauth/callback"]})
    person.open(console + "/console/integrations")
    person.choose("Custom")
    person.follow("Create New")
    person.select("Authorization mechanism", "oAuth v2")
    person.type("Identity provider name", name)
    person.type("Description", "Our own Intercom app")
    person.type("Client ID", app["clientId"])
    person.type("Token Request URL", sandbox + "/auth/eagle/token")
    person.type("Authorization URL", sandbox + "/oauth?client_id=****&state=abc")
    person.shot(f"{name}: create new, missing secret")
    # The browser itself would not send a form missing a required field; the server's own check is what is tried.
    person.driver.execute_script("document.querySelectorAll('[required]').forEach(e => e.removeAttribute('required'))")
    person.press("Save Authorization Profile")
    check(f"{name}: a profile without its secret is refused, naming the field and keeping what was typed",
          "Please correct these fields" in person.text() and "Client secret" in person.driver.find_element(By.CSS_SELECTOR, ".error").text
          and person.field("Client ID").get_attribute("value") == app["clientId"], person.text()[:300])
    person.type("Client secret", app["clientSecret"])
    person.type("Token Request URL", sandbox + "/auth/eagle/token")
    person.type("Refresh Token URL", sandbox + "/auth/eagle/token")
    person.press("Save Authorization Profile")
    person.shot(f"{name}: profile saved")
    selected = Select(person.field("Select Authorization")).first_selected_option.text
    check(f"{name}: back from Create New, the new profile is selected", selected == name, selected)
    callback = person.driver.find_element(By.XPATH, "//p[contains(., 'Callback URL of')]/code").text
    check(f"{name}: its callback URL is shown with a copy button", callback.startswith(console + "/oauth/callback/")
          and len(person.driver.find_elements(By.XPATH, "//p[contains(., 'Callback URL of')]/button[normalize-space(.)='Copy']")) == 1, callback)
    check(f"{name}: the saved secret is never shown again", app["clientSecret"] not in person.html())
    sandbox_call(sandbox, "PUT", f"/_sandbox/apps/{app['clientId']}/redirect-urls", {"redirectURLs": [callback]})


def custom_preauthorized(person: Person, console: str, args) -> None:
    custom_profile(person, console, args.sandbox, "Acme app")
    person.type("Name", "Custom bot")
    person.choose("Pre-authorize the integration")
    person.press("Add integration")
    check("custom × pre-authorize: the integration is added", "Integration added." in person.text(), person.text()[:300])
    person.press("Authorize")
    intercom_login(person)
    check("custom × pre-authorize: Intercom sent the browser back connected", "connected" in person.text(), person.text()[:300])
    person.follow("Back to the integration")
    person.press("Enable")
    check("custom × pre-authorize: Enable ends on Integration successful", "Integration successful" in person.text(), person.text()[:300])
    person.follow("Actions")
    person.follow("Who am I")
    person.press("Run Who am I")
    person.shot("custom pre-authorized: result")
    check("custom × pre-authorize: the action runs from the Try it form", "Connected as" in person.text(), person.text()[:400])


def custom_per_user(person: Person, console: str, args) -> None:
    custom_profile(person, console, args.sandbox, "Acme users app")
    person.type("Name", "Custom per-user bot")
    person.choose("Allow users to authorize")
    person.press("Add integration")
    check("custom × users authorize: the integration is added", "Integration added." in person.text(), person.text()[:300])
    person.press("Enable")
    connect_then_run(person, args, "custom × users authorize", "user-c")


def connect_then_run(person: Person, args, path: str, user: str) -> None:
    """Try it for an end user who has not connected; the link opened in the end user's own browser; then it runs."""
    person.follow("Actions")
    person.type("Search the actions", "who am i")
    person.press("Search")
    person.follow("Who am I")
    person.type("End user", user)
    person.press("Run Who am I")
    person.shot(f"{path}: must connect")
    check(f"{path}: Try it for a user who has not connected shows the connect link", "The user must connect first" in person.text(),
          person.text()[:400])
    link = person.driver.find_element(By.XPATH, "//h2[normalize-space(.)='The user must connect first']/following::code[1]").text
    end_user = Person(args.chromium, args.chromedriver, args.out, f"end-user-{user}")
    try:
        end_user.open(link)
        end_user.shot("connect page")
        end_user.press("Connect Intercom")
        intercom_login(end_user)
        end_user.shot("connected")
        check(f"{path}: the end user connects through the link in a second browser",
              "You can return to the conversation." in end_user.text(), end_user.text()[:300])
    finally:
        end_user.quit()
    person.press("Run Who am I")
    person.shot(f"{path}: result")
    check(f"{path}: then the action runs from the Try it form", "Connected as" in person.text(), person.text()[:400])


def daily_tasks(person: Person, console: str, args) -> None:
    """Connections, settings, the signing secret, disconnect and delete on the per-user integrations, by clicks."""
    person.open(console + "/console/integrations")
    person.follow("Per-user bot")
    person.follow("Connections")
    person.shot("connections")
    no_nil(person, "connections")
    row = person.driver.find_element(By.XPATH, "//tr[td/code[normalize-space(.)='user-b']]").text
    check("connections: the end user who connected is listed with the Intercom workspace, since when and active",
          "Acme Support" in row and "active" in row and re.search(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} UTC", row) is not None, row)
    said = person.press_and_confirm("Disconnect")
    check("connections: Disconnect asks first, naming the user", "user-b" in said, said)
    check("connections: the user is disconnected", "Disconnected" in person.text() and "No connection yet." in person.text(), person.text()[:300])
    person.follow("Per-user bot")
    person.follow("Settings")
    person.shot("settings")
    no_nil(person, "settings")
    person.type("Notify URL", "not a url")
    person.type("Name", "Per-user bot (renamed)")
    person.press("Save settings")
    person.shot("settings: a bad notify URL")
    beside = person.driver.find_elements(By.ID, "notifyURL-error")
    check("settings: a bad notify URL is named beside its field, what was typed kept",
          len(beside) == 1 and "Notify URL" in beside[0].text and person.field("Notify URL").get_attribute("value") == "not a url"
          and person.field("Name").get_attribute("value") == "Per-user bot (renamed)", person.text()[:300])
    person.type("Notify URL", "")
    person.press("Save settings")
    check("settings: saved", "Settings saved." in person.text() and person.field("Name").get_attribute("value") == "Per-user bot (renamed)",
          person.text()[:300])
    said = person.press_and_confirm("Renew signing secret")
    secret = re.search(r"whsec_[A-Za-z0-9_-]+", person.text())
    check("settings: the signing secret is renewed after a confirmation and shown once", secret is not None and "old one" in said, said)
    person.shot("settings: new signing secret")
    person.open(person.driver.current_url.replace("/signing-secret", "/settings"))
    check("settings: the secret is not shown again", secret is not None and secret.group(0) not in person.html())
    person.press_and_confirm("Disable")
    check("settings: disabled", "refused until it is enabled again" in person.text(), person.text()[:300])
    # Delete the custom per-user integration: its confirmation counts what goes with it.
    person.open(console + "/console/integrations")
    person.follow("Custom per-user bot")
    person.follow("Settings")
    person.follow("Delete Custom per-user bot")
    person.shot("delete: what will be lost")
    no_nil(person, "delete")
    check("delete: the confirmation names what will be lost", "1 end-user connection" in person.text() and "agent token" in person.text()
          and "kept call" in person.text(), person.text()[:500])
    person.type("To confirm, type the integration's name", "Custom per-user bot")
    person.press("Delete Custom per-user bot and all of this")
    check("delete: the integration is gone", "Integration deleted" in person.text() and "Custom per-user bot" not in person.text(), person.text()[:300])


def keyboard_only(console: str, args) -> None:
    """A person without a mouse: signs in, adds Intercom, enables it, opens its settings, and tries an action — Tab,
    arrow keys, typing and Enter only."""
    person = Person(args.chromium, args.chromedriver, args.out, "keyboard")
    try:
        person.open(console + "/console")
        if person.tab_to("the API key field", "el.id === 'apiKey'"):
            person.enter(args.api_key)
        check("keyboard: signed in", "Integrations" in person.text(), person.text()[:200])
        person.tab_to("the Name field of Add Intercom", "el.id === 'name'")
        person.keys("Keyboard bot")
        person.tab_to("the authorization type", "el.name === 'authorization'")
        person.keys(Keys.ARROW_DOWN)  # to "Allow users to authorize"
        person.tab_to("the Add integration button", "el.tagName === 'BUTTON' && el.textContent.trim() === 'Add integration'")
        person.enter()
        check("keyboard: the integration is added, users authorize", "Integration added." in person.text() and "Users authorize" in person.text(),
              person.text()[:300])
        person.tab_to("Enable", "el.tagName === 'BUTTON' && el.textContent.trim() === 'Enable'")
        person.enter()
        check("keyboard: enabled", "Integration successful" in person.text(), person.text()[:300])
        person.tab_to("the Settings link", "el.tagName === 'A' && el.textContent.startsWith('Settings')")
        person.enter()
        person.tab_to("the Notify URL field", "el.id === 'notifyURL'")
        person.enter("not a url")
        check("keyboard: Enter in a field sends its form; the problem is beside the field", len(person.driver.find_elements(By.ID, "notifyURL-error")) == 1,
              person.text()[:300])
        person.tab_to("the link back to the integration", "el.tagName === 'A' && el.textContent.includes('Keyboard bot')")
        person.enter()
        person.tab_to("the Actions link", "el.tagName === 'A' && el.textContent.startsWith('Actions')")
        person.enter()
        person.tab_to("the action search", "el.type === 'search'")
        person.enter("who am i")
        person.tab_to("the Who am I action", "el.tagName === 'A' && el.textContent.includes('Who am I')")
        person.enter()
        person.tab_to("the End user field", "el.id === 'field-user'")
        person.enter("user-k")
        person.shot("keyboard: try it")
        check("keyboard: Try it runs and shows the connect link", "The user must connect first" in person.text(), person.text()[:300])
    finally:
        person.quit()


def forgery_and_widths(person: Person, console: str) -> None:
    person.open(console + "/console/integrations")
    for path in ["/console/integrations", "/console/auth-profiles"]:
        person.open(console + path)
        check(f"{path} has no horizontal scroll at 375 px", person.fits())
    person.open(console + "/console/integrations")
    links = [a.get_attribute("href") for a in person.driver.find_elements(By.XPATH, "//a[contains(@href, '/console/integrations/int_')]")]
    check("the integrations are listed", len(links) >= 2, links)
    for link in links[:2]:
        person.open(link)
        check("an integration page has no horizontal scroll at 375 px", person.fits())
        person.open(link + "/actions")
        check("the actions page has no horizontal scroll at 375 px", person.fits())
        person.open(link + "/actions/intercom.create_ticket")
        check("a Try it form has no horizontal scroll at 375 px", person.fits())
        for page in ["settings", "connections", "runs", "events"]:
            person.open(f"{link}/{page}")
            check(f"the {page} page has no horizontal scroll at 375 px", person.fits())
    # A form posted without its CSRF token (as another site would post it) is refused.
    person.open(console + "/console/integrations")
    person.driver.execute_script("document.querySelectorAll('input[name=csrf]').forEach(e => e.remove())")
    person.type("Name", "Forged")
    person.press("Add integration")
    person.shot("forged form")
    check("a form posted without its CSRF token is refused", "session has expired" in person.text() or "Not allowed" in person.text(), person.text()[:200])


def main() -> int:
    parser = argparse.ArgumentParser()
    for name in ["console", "sandbox", "api-key", "chromium", "chromedriver", "out"]:
        parser.add_argument("--" + name, required=True)
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    person = Person(args.chromium, args.chromedriver, args.out, "admin")
    try:
        sign_in(person, args.console, args.api_key)
        for path in (system_preauthorized, system_per_user, custom_preauthorized, custom_per_user, daily_tasks, forgery_and_widths, keyboard_only):
            try:
                if path is keyboard_only:
                    path(args.console, args)
                elif path in (system_preauthorized, forgery_and_widths):
                    path(person, args.console)
                else:
                    path(person, args.console, args)
            except Exception as error:  # noqa: BLE001 - a path that breaks is a failure, with where it was
                person.shot(f"{path.__name__} broke")
                check(f"{path.__name__} ran to the end", False, f"{type(error).__name__}: {getattr(error, 'msg', None) or error} on {person.driver.current_url}: {person.text()[:300]}")
    finally:
        person.quit()
    print(f"screenshots in {args.out}", flush=True)
    return summary("console browser")


if __name__ == "__main__":
    sys.exit(main())
