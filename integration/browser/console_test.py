"""The console (/admin) in a real browser: Debian's Chromium driven by Playwright for Python.

A scenario for each of the console's promises (issue 27), against a running stack (make test's
or make dev's). Every page load fails its scenario on a console error, an uncaught exception, a
CSP violation or a failed request that the scenario did not expect. axe-core checks every view
(light and dark) for serious or critical violations; screenshots (desktop light and dark, phone)
go to OUT. `--bench` measures instead: the console's asset size and the time to the first
render of a list of an owner's 1,000 links.

Usage: console_test.py --api URL --keys PATH_TO_KEYS_BINARY --axe PATH_TO_AXE_MIN_JS --out DIR [--bench]
(the keys binary reads AWS_ENDPOINT_URL, TABLE_NAME ... from the environment)
"""

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
import traceback
import urllib.error
import urllib.request
from datetime import datetime, timedelta, timezone

from playwright.sync_api import sync_playwright

ARGS = None
RUN = f"{int(time.time() * 1000) % 10**9:09d}"
UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
IPHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1"
PHONE = {"width": 360, "height": 780}
DESKTOP = {"width": 1280, "height": 900}
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]

# A violation is reported to the page's console, where the listeners below see it.
CSP_REPORTER = """
document.addEventListener('securitypolicyviolation', (e) =>
  console.error('CSP violation: ' + e.violatedDirective + ' ' + e.blockedURI));
"""


# ---------------------------------------------------------------- the API, as a test client

def api(method, path, key=None, body=None, content_type=None, raw=False, headers=None):
    data = None
    hdrs = dict(headers or {})
    if body is not None:
        if isinstance(body, (dict, list)):
            data = json.dumps(body).encode()
            hdrs["content-type"] = "application/json"
        else:
            data = body.encode() if isinstance(body, str) else body
            hdrs["content-type"] = content_type or "text/plain"
    if key:
        hdrs["authorization"] = f"Bearer {key}"
    req = urllib.request.Request(ARGS.api + path, data=data, method=method, headers=hdrs)
    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(req, timeout=60) as resp:
            payload = resp.read()
            status, resp_headers = resp.status, resp.headers
    except urllib.error.HTTPError as e:
        payload, status, resp_headers = e.read(), e.code, e.headers
    if raw:
        return status, resp_headers, payload
    try:
        return status, json.loads(payload) if payload else None
    except ValueError:
        return status, payload.decode(errors="replace")


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *a, **k):
        return None


def visit(code, ua=UA, n=1, referer=None, query=""):
    for _ in range(n):
        hdrs = {"user-agent": ua}
        if referer:
            hdrs["referer"] = referer
        status, _, _ = api("GET", f"/{code}{query}", raw=True, headers=hdrs)
        assert status == 302, f"visit of {code}: {status}"


def new_key(name, role="user"):
    out = subprocess.run([ARGS.keys, "create", "--name", name, "--role", role],
                         check=True, capture_output=True, text=True)
    return out.stdout.strip().splitlines()[-1]


def key_id(key):
    status, me = api("GET", "/keys/me", key)
    assert status == 200, me
    return me["id"]


def revoke(key):
    subprocess.run([ARGS.keys, "revoke", key_id(key)], check=True, capture_output=True)


def create(key, **link):
    status, body = api("POST", "/links", key, link)
    assert status in (200, 201), (status, body)
    return body


def wait_until(what, fn, seconds=60):
    deadline = time.time() + seconds
    while True:
        value = fn()
        if value:
            return value
        if time.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.5)


# ---------------------------------------------------------------- the browser harness

class Failed(Exception):
    pass


def until(p, expr, seconds=30):
    """Waits until the JavaScript expression `expr` holds in page `p`. Polled from outside
    the page: Playwright's wait_for_function compiles its expression with eval, which the
    console's CSP forbids (as it should)."""
    deadline = time.time() + seconds
    while not p.evaluate(f"() => Boolean({expr})"):
        if time.time() > deadline:
            raise AssertionError(f"timed out waiting for {expr}")
        time.sleep(0.1)
    return True


class Page:
    """A page with listeners: what went wrong in the browser, unless expected."""

    def __init__(self, browser, viewport=DESKTOP, scheme="light", allow=()):
        self.context = browser.new_context(viewport=viewport, color_scheme=scheme, accept_downloads=True)
        self.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=ARGS.api)
        self.context.add_init_script(CSP_REPORTER)
        self.page = self.context.new_page()
        self.problems = []
        self.allow = [re.compile(a) for a in allow]
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda e: self.problems.append(f"uncaught: {e}"))
        self.page.on("requestfailed", self._failed)

    def _console(self, msg):
        if msg.type == "error" and not any(a.search(msg.text) for a in self.allow):
            self.problems.append(f"console error: {msg.text}")

    def _failed(self, req):
        # A download's blob URL is revoked after use, and a reload or navigation aborts the
        # page's calls still in flight (net::ERR_ABORTED: the browser's, not an answer);
        # everything else must arrive.
        if not req.url.startswith("blob:") and "ERR_ABORTED" not in (req.failure or ""):
            self.problems.append(f"request failed: {req.method} {req.url} {req.failure}")

    def sign_in(self, key):
        p = self.page
        p.goto(ARGS.api + "/admin")
        p.fill("#key", key)
        p.click("#signin-form button[type=submit]")
        p.wait_for_selector("#who")

    def rendered(self):
        return self.page.evaluate("() => Number(document.getElementById('main')?.dataset.rendered || 0)")

    def after(self, action, ready=None):
        """Runs `action` (a navigation or a reload) and waits until the view it leads to is
        drawn: the render count moved on, or a new document drew its first view."""
        before = self.rendered()
        self.page.evaluate("() => { window.__before = true; }")
        action()
        until(self.page, "(() => { const m = document.getElementById('main'); const n = Number(m?.dataset.rendered || 0);"
                         f" return !m?.hasAttribute('aria-busy') && (window.__before ? n > {before} : n > 0); }})()")
        if ready:
            self.page.wait_for_selector(ready)

    def go(self, fragment, ready):
        here = self.page.url.split("#", 1)
        if here[0] == ARGS.api + "/admin" and "#" + (here[1] if len(here) > 1 else "") == fragment:
            self.after(lambda: self.page.reload(), ready)
        elif here[0] == ARGS.api + "/admin":
            self.after(lambda: self.page.evaluate(f"() => {{ location.hash = {json.dumps(fragment)}; }}"), ready)
        else:
            self.page.goto(ARGS.api + "/admin" + fragment)
            until(self.page, "Number(document.getElementById('main')?.dataset.rendered || 0) > 0 && !document.querySelector('main[aria-busy]')")
            self.page.wait_for_selector(ready)

    def close(self):
        self.context.close()
        if self.problems:
            raise Failed("; ".join(self.problems[:5]))


class Suite:
    def __init__(self):
        self.passed = 0
        self.failed = 0
        self.axe_source = open(ARGS.axe).read()

    def check(self, what, ok, detail=""):
        if ok:
            self.passed += 1
            print(f"ok   {what}")
        else:
            self.failed += 1
            print(f"FAIL {what} {detail}")

    def axe(self, page, view):
        """axe-core's serious and critical violations of the page as it is now."""
        p = page.page
        if not p.evaluate("typeof window.axe !== 'undefined'"):
            p.evaluate(self.axe_source)
        result = p.evaluate(
            "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
            ".filter(v => v.impact === 'serious' || v.impact === 'critical')"
            ".map(v => v.id + ': ' + v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(', '))")
        self.check(f"axe: no serious or critical violation on {view}", not result, "; ".join(result))

    def shot(self, page, name, full=True):
        os.makedirs(ARGS.out, exist_ok=True)
        page.page.screenshot(path=os.path.join(ARGS.out, f"{name}.png"), full_page=full)

    def no_overflow(self, page, view):
        wide = page.page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        self.check(f"{view} fits 360 px without sideways scrolling", wide <= 0, f"{wide} px too wide")


# ---------------------------------------------------------------- the world the scenarios see

class World:
    def __init__(self):
        self.user = new_key(f"console-user-{RUN}")
        self.other = new_key(f"console-other-{RUN}")
        self.admin = new_key(f"console-admin-{RUN}", "admin")
        self.user_id = key_id(self.user)
        tag = f"t{RUN}"
        self.tag = tag
        # 25 plain links, two tags among them, newest last.
        self.plain = []
        for i in range(25):
            tags = [tag] + (["even"] if i % 2 == 0 else []) + (["third"] if i % 3 == 0 else [])
            self.plain.append(create(self.user, url=f"https://example.com/console/{RUN}/{i}",
                                     title=f"Plain link {i}", tags=tags)["code"])
        # One of each badge.
        self.password = create(self.user, url=f"https://example.com/{RUN}/secret",
                               password="team-2026", title="Badge: password")["code"]
        self.rules = create(self.user, url=f"https://example.com/{RUN}/app", title="Badge: rules",
                            rules=[{"url": "https://example.com/ios",
                                    "conditions": [{"type": "os", "value": "ios"}]}])["code"]
        self.forward = create(self.user, url=f"https://example.com/{RUN}/fwd", forward_query=True,
                              title="Badge: forwarding")["code"]
        self.expired = create(self.user, url=f"https://example.com/{RUN}/old", title="Badge: expired")["code"]
        api("PATCH", f"/links/{self.expired}", self.user, {"expires_at": "2020-01-01T00:00:00Z"})
        self.capped = create(self.user, url=f"https://example.com/{RUN}/cap", title="Badge: capped")["code"]
        api("PATCH", f"/links/{self.capped}", self.user, {"max_visits": 2})
        self.disabled = create(self.user, url=f"https://example.com/{RUN}/off", title="Badge: disabled")["code"]
        api("PATCH", f"/links/{self.disabled}", self.user, {"disabled": True})
        self.xss_title = "<img src=x onerror=\"document.title='pwned'\">"
        self.xss = create(self.user, url=f"https://example.com/{RUN}/xss?<script>", title=self.xss_title,
                          tags=["xss"])["code"]
        # The analytics link: people from a referrer and a campaign, a phone, bots.
        self.hot = create(self.user, url=f"https://www.rust-lang.org/{RUN}", alias=f"hot-{RUN}",
                          title="Analytics")["code"]
        visit(self.hot, n=9, referer="https://news.ycombinator.com/", query="?utm_source=hn")
        visit(self.hot, ua=IPHONE, n=4)
        visit(self.hot, ua="curl/8.5.0", n=3)
        visit(self.capped, n=2)
        self.human_visits = 9 + 4 + 2

    def totals_ready(self):
        status, day = api("GET", "/stats?period=day&limit=10", self.user)
        return status == 200 and day["totals"] and day["totals"]["visits"] >= self.human_visits


# ---------------------------------------------------------------- the scenarios

def sign_in_and_out(suite, browser, w):
    page = Page(browser, allow=[r"status of 401"])
    p = page.page
    p.goto(ARGS.api + "/admin")
    p.wait_for_selector("#signin-form")
    suite.axe(page, "sign-in")
    suite.shot(page, "signin-light", full=False)
    p.fill("#key", "not-a-key")
    p.click("#signin-form button[type=submit]")
    suite.check("a malformed key is refused in words", "slk_" in p.inner_text("#key-error"))
    p.fill("#key", "slk_" + "A" * 43)
    p.click("#signin-form button[type=submit]")
    until(p, "document.querySelector('#key-error').textContent.includes('revoked')")
    suite.check("an unknown key: unknown or revoked", p.get_attribute("#key", "aria-invalid") == "true")
    revoked = new_key(f"console-revoked-{RUN}")
    revoke(revoked)
    p.fill("#key", revoked)
    p.click("#signin-form button[type=submit]")
    until(p, "document.querySelector('#key-error').textContent.includes('revoked')")
    suite.check("a revoked key: told so", True)
    p.fill("#key", w.user)
    p.click("#signin-form button[type=submit]")
    p.wait_for_selector("#who")
    who = p.inner_text("#who")
    suite.check("the header shows who is signed in and the role", f"console-user-{RUN}" in who and "user" in who, who)
    stored = p.evaluate("[sessionStorage.length, localStorage.length, document.cookie]")
    suite.check("the key lives in sessionStorage only", stored == [1, 0, ""], str(stored))
    p.reload()
    p.wait_for_selector("#who")
    suite.check("a reload keeps the tab signed in", True)
    other_tab = page.context.new_page()
    other_tab.goto(ARGS.api + "/admin")
    other_tab.wait_for_selector("#signin-form")
    suite.check("another tab is not signed in (the key is the tab's)", True)
    other_tab.close()
    p.click("#sign-out")
    p.wait_for_selector("#signin-form")
    suite.check("sign out forgets the key", p.evaluate("sessionStorage.length") == 0)
    # A key revoked while signed in: the next call says so and asks again.
    late = new_key(f"console-late-{RUN}")
    page.sign_in(late)
    revoke(late)
    time.sleep(float(os.environ.get("KEY_CACHE_SECONDS", "1")) + 1.5)
    p.click("nav a[href='#/links']")
    p.wait_for_selector("#signin-form")
    suite.check("a key revoked meanwhile signs the tab out with a message",
                "no longer valid" in p.inner_text("#key-error"))
    page.close()


def dashboard(suite, browser, w):
    wait_until("the aggregator's totals of the seeded visits", w.totals_ready, 90)
    for scheme in ("light", "dark"):
        page = Page(browser, scheme=scheme)
        page.sign_in(w.user)
        page.go("#/", "#today-visits")
        p = page.page
        suite.check(f"dashboard ({scheme}): today's visits", p.inner_text("#today-visits") == str(w.human_visits),
                    p.inner_text("#today-visits"))
        suite.check(f"dashboard ({scheme}): today's bot visits", p.inner_text("#today-bots") == "3")
        suite.check(f"dashboard ({scheme}): top links of the day and of all time",
                    w.hot in p.inner_text("#top-day") and w.hot in p.inner_text("#top-all"))
        suite.check(f"dashboard ({scheme}): this week's risers and top links", w.hot in p.inner_text("#week"))
        suite.axe(page, f"dashboard ({scheme})")
        suite.shot(page, f"dashboard-{scheme}")
        page.close()


def links_list(suite, browser, w):
    page = Page(browser)
    p = page.page
    page.sign_in(w.user)
    # A slow view of an earlier navigation never draws over the current one.
    p.evaluate("() => { location.hash = '#/data'; location.hash = '#/'; location.hash = '#/links?size=20'; }")
    p.wait_for_selector("table.links")
    time.sleep(2)
    suite.check("quick navigations end on the last view", p.inner_text("main h1") == "Links"
                and p.locator("main h1").count() == 1 and p.locator("#today-visits").count() == 0)
    page.go("#/links?size=20", "table.links")
    rows = p.locator("table.links tbody tr")
    suite.check("the list shows a page of 20, newest first", rows.count() == 20
                and rows.first.get_attribute("data-code") == w.hot)
    page.after(lambda: p.click("#next-page"), "table.links")
    suite.check("the cursor is in the page URL", "cursor=" in p.evaluate("location.hash"))
    page2 = p.eval_on_selector_all("table.links tbody tr", "rs => rs.map(r => r.dataset.code)")
    # 33 links: 25 plain, 6 with a badge, the HTML title and the analytics link.
    suite.check("the next page follows the API's cursor", len(page2) == 13 and w.hot not in page2, str(len(page2)))
    # Badges, each on its link.
    page.go("#/links?size=100", "table.links")
    for code, badge in [(w.password, "password"), (w.rules, "rules"), (w.forward, "forwarding"),
                        (w.expired, "expired"), (w.capped, "capped"), (w.disabled, "disabled")]:
        found = p.locator(f"tr[data-code='{code}'] .badge-{badge}").count()
        suite.check(f"the {badge} badge on its link", found == 1)
    suite.check("visits in the row", p.inner_text(f"tr[data-code='{w.hot}'] td[data-label='Visits']") == "13")
    # A title that is HTML stays text.
    cell = p.inner_text(f"tr[data-code='{w.xss}'] td[data-label='Title']")
    suite.check("a title written as HTML is shown as text, never run",
                cell == w.xss_title and p.locator("img[src=x]").count() == 0 and p.title() != "pwned")
    # Copy.
    p.click(f"tr[data-code='{w.hot}'] td.short button")
    suite.check("the copy button puts the short URL on the clipboard",
                p.evaluate("navigator.clipboard.readText()").endswith("/" + w.hot))
    suite.axe(page, "links")
    suite.shot(page, "links-light")
    # Search lives in the URL: reload and back keep it.
    p.keyboard.press("/")
    suite.check("/ focuses the search", p.evaluate("document.activeElement.id") == "search-q")
    p.keyboard.type("Badge: ")
    page.after(lambda: p.keyboard.press("Enter"), "table.links")
    codes = set(p.eval_on_selector_all("table.links tbody tr", "rs => rs.map(r => r.dataset.code)"))
    suite.check("search by text", codes == {w.password, w.rules, w.forward, w.expired, w.capped, w.disabled}, str(codes))
    p.reload()
    until(p, "Number(document.getElementById('main')?.dataset.rendered || 0) > 0 && !document.querySelector('main[aria-busy]')")
    p.wait_for_selector("table.links")
    suite.check("a reload keeps the search", p.input_value("#search-q") == "Badge:"
                and p.locator("table.links tbody tr").count() == 6)
    p.fill("#search-q", "")
    p.fill("#search-tags", "even third")
    p.select_option("#search-mode", "all")
    page.after(lambda: p.click("form.filters button[type=submit]"), "table.links")
    both = p.locator("table.links tbody tr").count()
    suite.check("tags, all of them (every 6th of 25 links)", both == 5, str(both))
    page.after(lambda: p.go_back(), "table.links")
    suite.check("back returns to the earlier filter", p.input_value("#search-q") == "Badge:")
    # A shared URL: a new tab (signed out: the key is the tab's) asks for a key, then shows
    # the list the URL names.
    shared = page.context.new_page()
    shared.goto(ARGS.api + f"/admin#/links?tag=third&tag=even&mode=any&size=100")
    shared.fill("#key", w.user)
    shared.click("#signin-form button[type=submit]")
    shared.wait_for_selector("table.links")
    suite.check("a shared URL keeps the filters (any of two tags: 13 + 9 - 5 = 17 links)",
                shared.locator("table.links tbody tr").count() == 17)
    shared.close()
    page.close()
    # The phone.
    phone = Page(browser, viewport=PHONE)
    phone.sign_in(w.user)
    phone.go("#/links?size=20", "table.links")
    suite.no_overflow(phone, "the links list")
    suite.axe(phone, "links (phone)")
    suite.shot(phone, "links-phone", full=False)
    phone.close()


def editor(suite, browser, w):
    page = Page(browser, allow=[r"status of 40[09]"])
    p = page.page
    page.sign_in(w.user)
    page.go("#/links", "table.links")
    p.keyboard.press("c")
    p.wait_for_selector("dialog[open]")
    suite.axe(page, "the create dialog")
    p.keyboard.press("Escape")
    p.wait_for_selector("dialog", state="detached")
    suite.check("c opens the create dialog and Esc closes it", True)
    # Every option at once.
    alias = f"made-{RUN}"
    p.keyboard.press("c")
    d = p.locator("dialog[open]")
    d.locator("input[name=url]").fill(f"https://example.com/{RUN}/made")
    d.locator("input[name=alias]").fill(alias)
    d.locator("input[name=title]").fill("Made in the console")
    d.locator("input[name=tags]").fill("console, made")
    d.locator("input[name=expires_at]").fill("2030-01-31T12:30")
    d.locator("input[name=max_visits]").fill("500")
    d.locator("input[name=password]").fill("open-sesame")
    d.locator("input[name=forward_query]").check()
    d.get_by_role("button", name="Add rule").click()
    d.locator("[data-rule='0'] input[type=url]").fill("https://example.com/first")
    d.locator("[data-rule='0'] select").first.select_option("country")
    d.locator("[data-rule='0'] .condition input").fill("de")
    d.get_by_role("button", name="Add rule").click()
    d.locator("[data-rule='1'] input[type=url]").fill("https://example.com/second")
    d.locator("[data-rule='1'] select").first.select_option("query")
    d.locator("[data-rule='1'] .condition input").first.fill("c")
    d.locator("[data-rule='1'] .condition input").nth(1).fill("spring")
    d.get_by_role("button", name="Move rule 2 up").click()
    suite.shot(page, "editor-light", full=False)
    d.locator("button[type=submit]").click()
    p.wait_for_selector("dialog", state="detached")
    status, made = api("GET", f"/links/{alias}", w.user)
    expect_rules = [{"url": "https://example.com/second", "conditions": [{"type": "query", "key": "c", "value": "spring"}]},
                    {"url": "https://example.com/first", "conditions": [{"type": "country", "value": "DE"}]}]
    suite.check("create with every option: the API has each", status == 200 and made["title"] == "Made in the console"
                and made["tags"] == ["console", "made"] and made["max_visits"] == 500 and made["forward_query"]
                and made["password_protected"] and made["expires_at"].startswith("2030-01-31")
                and made["rules"] == expect_rules, json.dumps(made))
    # Errors at their fields.
    p.keyboard.press("c")
    d = p.locator("dialog[open]")
    d.locator("input[name=url]").fill(f"https://example.com/{RUN}/another")
    d.locator("input[name=alias]").fill(alias)
    d.locator("button[type=submit]").click()
    alias_input = d.locator("input[name=alias]")
    until(p, "document.querySelector('dialog[open] input[name=alias]').getAttribute('aria-invalid') === 'true'")
    err = d.locator("input[name=alias] ~ .field-error").inner_text()
    suite.check("a taken alias is shown at the alias field", "alias" in err.lower() and "{" not in err, err)
    suite.check("and the alias field has the focus", alias_input.evaluate("e => e === document.activeElement"))
    d.locator("input[name=alias]").fill("")
    d.locator("input[name=url]").fill("http://10.1.2.3/admin")
    d.locator("button[type=submit]").click()
    until(p, "document.querySelector('dialog[open] input[name=url]').getAttribute('aria-invalid') === 'true'")
    suite.check("a private target is shown at the URL field",
                d.locator("input[name=url] ~ .field-error").inner_text() != "")
    d.locator("input[name=url]").fill(f"https://example.com/{RUN}/rules-error")
    d.get_by_role("button", name="Add rule").click()
    d.locator("[data-rule='0'] input[type=url]").fill("http://192.168.0.1/")
    d.locator("button[type=submit]").click()
    until(p, "document.querySelector('dialog[open] [data-rule=\"0\"] .rule-error').textContent !== ''")
    suite.check("a rule's private URL is shown at that rule", True)
    suite.axe(page, "the editor with errors")
    p.keyboard.press("Escape")
    # Edit: change, then remove the password; a cap and title change.
    page.go(f"#/links/{alias}", "#edit-link")
    p.click("#edit-link")
    d = p.locator("dialog[open]")
    d.locator("input[name=password]").fill("new-secret-1")
    d.locator("input[name=title]").fill("Renamed")
    d.locator("button[type=submit]").click()
    p.wait_for_selector("dialog", state="detached")
    _, edited = api("GET", f"/links/{alias}", w.user)
    suite.check("edit changes the title and keeps the password", edited["title"] == "Renamed" and edited["password_protected"])
    p.wait_for_selector("#edit-link")
    p.click("#edit-link")
    d = p.locator("dialog[open]")
    d.locator("input[name=remove_password]").check()
    d.locator("button[type=submit]").click()
    p.wait_for_selector("dialog", state="detached")
    _, edited = api("GET", f"/links/{alias}", w.user)
    suite.check("edit removes the password", not edited["password_protected"])
    page.close()
    # An admin takes a user's link down.
    admin = Page(browser)
    admin.sign_in(w.admin)
    who = admin.page.inner_text("#who")
    suite.check("an admin is shown as admin", "admin" in who)
    admin.go(f"#/links/{alias}", "#edit-link")
    admin.page.click("#edit-link")
    d = admin.page.locator("dialog[open]")
    d.locator("input[name=disabled]").check()
    d.locator("button[type=submit]").click()
    admin.page.wait_for_selector("dialog", state="detached")
    _, edited = api("GET", f"/links/{alias}", w.user)
    suite.check("an admin disables a link from the editor", edited["disabled"])
    admin.close()


def bulk_and_delete(suite, browser, w):
    page = Page(browser)
    p = page.page
    page.sign_in(w.user)
    chosen = w.plain[:3]
    page.go(f"#/links?tag={w.tag}&size=100", "table.links")
    for code in chosen:
        p.check(f"tr[data-code='{code}'] input.select")
    suite.check("the bulk bar counts the selection", p.inner_text("#bulk .bulk-count") == "3 selected")
    p.fill("#bulk-tag", "bulk")
    p.click("#bulk-add-tag")
    until(p, "document.querySelectorAll('#bulk-result-list li').length === 3")
    ok = p.locator("#bulk-result-list li.ok").count()
    suite.check("bulk add tag: a result per link", ok == 3)
    suite.check("bulk add tag: the API has the tag", all("bulk" in api("GET", f"/links/{c}", w.user)[1]["tags"] for c in chosen))
    suite.shot(page, "bulk-light")
    p.click("#bulk-disable")
    until(p, "document.querySelector('#bulk-results [role=status]').textContent.startsWith('Finished')")
    suite.check("bulk disable", all(api("GET", f"/links/{c}", w.user)[1]["disabled"] for c in chosen))
    p.click("#bulk-enable")
    until(p, "document.querySelectorAll('#bulk-result-list li').length === 3 && document.querySelector('#bulk-results [role=status]').textContent.startsWith('Finished')")
    suite.check("bulk enable", not any(api("GET", f"/links/{c}", w.user)[1]["disabled"] for c in chosen))
    p.fill("#bulk-tag", "bulk")
    p.click("#bulk-remove-tag")
    until(p, "document.querySelector('#bulk-results [role=status]').textContent.startsWith('Finished')")
    suite.check("bulk remove tag", not any("bulk" in api("GET", f"/links/{c}", w.user)[1]["tags"] for c in chosen))
    p.click("#bulk-delete")
    p.wait_for_selector("dialog[open]")
    suite.axe(page, "the delete confirmation")
    p.click("dialog[open] button.danger")
    until(p, "document.querySelector('#bulk-results [role=status]')?.textContent.startsWith('Finished: 3 of 3')")
    suite.check("bulk delete with confirmation", all(api("GET", f"/links/{c}", w.user)[0] == 404 for c in chosen))
    # One delete: cancel keeps it, confirm removes it.
    one = w.plain[3]
    page.go(f"#/links?tag={w.tag}&size=100", "table.links")
    p.click(f"tr[data-code='{one}'] button.danger")
    p.wait_for_selector("dialog[open]")
    p.keyboard.press("Escape")
    p.wait_for_selector("dialog", state="detached")
    suite.check("Esc cancels a delete", api("GET", f"/links/{one}", w.user)[0] == 200)
    p.click(f"tr[data-code='{one}'] button.danger")
    p.click("dialog[open] button.danger")
    until(p, f"!document.querySelector(\"tr[data-code='{one}']\")")
    suite.check("a confirmed delete removes the link", api("GET", f"/links/{one}", w.user)[0] == 404)
    page.close()


def analytics(suite, browser, w):
    for scheme in ("light", "dark"):
        page = Page(browser, scheme=scheme)
        p = page.page
        page.sign_in(w.user)
        page.go(f"#/links/{w.hot}", "svg.chart")
        suite.check(f"analytics ({scheme}): all-time visits and bot visits",
                    p.inner_text("#total-visits") == "13" and p.inner_text("#bot-visits") == "3")
        days = p.locator("svg.chart g.day").count()
        suite.check(f"analytics ({scheme}): a bar a day over the 30 days shown (from creation: 1)", days == 1, str(days))
        today = datetime.now(timezone.utc).strftime("%Y-%m-%d")
        suite.check(f"analytics ({scheme}): the bar says its figures",
                    p.locator("svg.chart g.day title").first.text_content() == f"{today}: 13 visits, 3 bot visits")
        suite.check(f"analytics ({scheme}): breakdowns", "news.ycombinator.com" in p.inner_text("#bd-referrers")
                    and "hn" in p.inner_text("#bd-sources") and "smartphone" in p.inner_text("#bd-devices"))
        suite.check(f"analytics ({scheme}): insights shown", "new referrer" in p.inner_text("#insights"))
        loaded = until(p, "document.querySelector('img.qr').complete && document.querySelector('img.qr').naturalWidth > 0")
        suite.check(f"analytics ({scheme}): the QR code is shown", bool(loaded))
        suite.axe(page, f"analytics ({scheme})")
        suite.shot(page, f"analytics-{scheme}")
        if scheme == "light":
            with p.expect_download() as dl:
                p.click("#stats-csv")
            csv = open(dl.value.path()).read()
            suite.check("stats.csv downloads with its rows", csv.startswith("date,dimension,key,visits")
                        and f"{today},total,visits,13" in csv, csv[:200])
            with p.expect_download() as dl:
                p.click("#qr-download")
            svg = open(dl.value.path()).read()
            suite.check("the QR code downloads as SVG", "<svg" in svg[:200] and dl.value.suggested_filename == f"{w.hot}-qr.svg",
                        f"{dl.value.suggested_filename} {svg[:80]!r}")
            p.fill("#range-from", "2026-01-10")
            p.fill("#range-to", "2026-01-01")
            p.click("form.filters button[type=submit]")
            suite.check("a range that ends before it starts is refused at the field",
                        "after" in p.inner_text("#range-error"))
            p.fill("#range-from", "2026-01-01")
            p.fill("#range-to", today)
            page.after(lambda: p.click("form.filters button[type=submit]"), "svg.chart")
            suite.check("the range lives in the URL", "to=" + today in p.evaluate("location.hash"))
        page.close()
    phone = Page(browser, viewport=PHONE)
    phone.sign_in(w.user)
    phone.go(f"#/links/{w.hot}", "svg.chart")
    suite.no_overflow(phone, "a link's analytics")
    suite.shot(phone, "analytics-phone")
    phone.close()


def import_export(suite, browser, w):
    page = Page(browser)
    p = page.page
    page.sign_in(w.other)
    page.go("#/data", "#drop")
    suite.axe(page, "import and export")
    csv_path = os.path.join(ARGS.out, "import.csv")
    with open(csv_path, "w") as f:
        f.write("Long URL,Short code,Title,Tags\n")
        f.write(f"https://example.com/{RUN}/imported,imp-{RUN},Imported,a|b\n")
        f.write("javascript:alert(1),,Evil,\n")
        f.write(f"https://example.com/{RUN}/dup,{w.hot},Taken,\n")
    p.set_input_files("#import-file", csv_path)
    p.wait_for_selector("#import-table")
    rows = p.eval_on_selector_all("#import-table tbody tr", "rs => rs.map(r => r.innerText)")
    suite.check("import: a result per row in words", len(rows) == 3 and "Created" in rows[0]
                and "javascript" in rows[1].lower() and "another url" in rows[2].lower() and "{" not in "".join(rows), str(rows))
    suite.shot(page, "import-light")
    # Drag and drop: a file dropped on the zone.
    p.evaluate("""(csv) => {
        const dt = new DataTransfer();
        dt.items.add(new File([csv], 'dropped.csv', {type: 'text/csv'}));
        document.getElementById('drop').dispatchEvent(new DragEvent('drop', {dataTransfer: dt, bubbles: true, cancelable: true}));
    }""", f"Long URL\nhttps://example.com/{RUN}/dropped\n")
    until(p, "document.getElementById('import-status').textContent.includes('dropped.csv: 1 created')")
    suite.check("import by drag and drop", True)
    page.close()
    # Export: an owner with more than one page (1,001 links) gets every page in one file.
    bulky = w.bulky
    page = Page(browser)
    p = page.page
    page.sign_in(bulky)
    page.go("#/data", "#export")
    with p.expect_download(timeout=120000) as dl:
        p.click("#export")
    lines = open(dl.value.path()).read().splitlines()
    suite.check("export CSV follows every page (1 header + 1,001 links)", len(lines) == 1002, str(len(lines)))
    p.select_option("#export-format", "json")
    with p.expect_download(timeout=120000) as dl:
        p.click("#export")
    links = json.load(open(dl.value.path()))["links"]
    suite.check("export JSON follows every page", len(links) == 1001 and len({l["code"] for l in links}) == 1001)
    page.close()


def keyboard_and_focus(suite, browser, w):
    page = Page(browser)
    p = page.page
    page.sign_in(w.user)
    page.go("#/", "#today-visits")
    page.after(lambda: p.reload(), "#today-visits")
    p.keyboard.press("Tab")
    suite.check("the first Tab reaches the skip link", p.evaluate("document.activeElement.className") == "skip")
    order = []
    for _ in range(6):
        p.keyboard.press("Tab")
        order.append(p.evaluate("document.activeElement.textContent.trim()"))
    suite.check("focus follows the header's reading order",
                order[:6] == ["Short links", "Dashboard", "Links", "Import & export", "New link", "Sign out"], str(order))
    page.close()


def headers(suite, browser, w):
    status, hdrs, body = api("GET", "/admin", raw=True)
    csp = hdrs.get("content-security-policy", "")
    need = ["default-src 'none'", "script-src 'self'", "style-src 'self'", "connect-src 'self'",
            "frame-ancestors 'none'", "base-uri 'none'", "form-action 'self'"]
    suite.check("/admin: the strict CSP", status == 200 and all(n in csp for n in need)
                and "unsafe" not in csp, csp)
    suite.check("/admin: nosniff, no referrer, never stored",
                hdrs.get("x-content-type-options") == "nosniff" and hdrs.get("referrer-policy") == "no-referrer"
                and "no-store" in hdrs.get("cache-control", ""))
    asset = re.search(rb'src="(/assets/[^"]+/main\.js)"', body).group(1).decode()
    status, ahdrs, _ = api("GET", asset, raw=True)
    suite.check("an asset: cached a year, under the same CSP", status == 200
                and "immutable" in ahdrs.get("cache-control", "") and ahdrs.get("content-security-policy") == csp
                and ahdrs.get("x-content-type-options") == "nosniff")
    status, _, _ = api("GET", asset, raw=True, headers={"if-none-match": ahdrs.get("etag")})
    suite.check("an asset the browser has: 304", status == 304)
    status, _, _ = api("GET", re.sub(r"/assets/[^/]+/", "/assets/0ld/", asset), raw=True)
    suite.check("an asset of another version: 404", status == 404)
    for path in (f"/links/{w.hot}/page", f"/{w.password}"):
        status, h, _ = api("GET", path, w.user if "page" in path else None, raw=True, headers={"accept": "text/html"})
        c = h.get("content-security-policy", "")
        suite.check(f"{path.split('/')[-1]} page: CSP, nosniff, no referrer", status == 200 and "default-src 'none'" in c
                    and "frame-ancestors 'none'" in c and h.get("x-content-type-options") == "nosniff"
                    and h.get("referrer-policy") == "no-referrer", f"{status} {c}")
    # The server-made pages render under their CSP (their one style block allowed by hash).
    page = Page(browser)
    page.page.goto(ARGS.api + f"/{w.password}")
    page.page.wait_for_selector("form input[type=password]")
    color = page.page.evaluate("getComputedStyle(document.body).maxWidth")
    suite.check("the password form's style applies under its CSP", color == "384px", color)
    page.close()


SCENARIOS = [headers, sign_in_and_out, links_list, editor, bulk_and_delete, analytics, dashboard,
             import_export, keyboard_and_focus]


def seed_bulky(w):
    """An owner with 1,001 links (two imports): the export's second page, and the benchmark."""
    w.bulky = new_key(f"console-bulky-{RUN}")
    rows = "Long URL,Title,Tags\n" + "".join(
        f"https://example.com/bulky/{RUN}/{i},Bulk link {i},bulk|n{i % 7}\n" for i in range(1000))
    status, body = api("POST", "/links/import", w.bulky, rows, "text/csv")
    assert status == 200 and all(r["status"] == 201 for r in body["results"]), status
    create(w.bulky, url=f"https://example.com/bulky/{RUN}/last")


def bench(browser):
    """Asset size and the time to the first render of 100 rows of an owner's 1,000+ links."""
    w = World.__new__(World)
    seed_bulky(w)
    _, _, page_html = api("GET", "/admin", raw=True)
    version = re.search(rb'/assets/([^/]+)/main\.js', page_html).group(1).decode()
    names = re.findall(r'"([a-z-]+\.(?:js|css|svg))"', open(os.path.join(os.path.dirname(__file__), "../../functions/pages/src/console.rs")).read())
    total = len(page_html)
    for n in set(names):
        _, _, b = api("GET", f"/assets/{version}/{n}", raw=True)
        total += len(b)
    times = {}
    for size in (20, 100):
        runs = []
        for _ in range(7):
            page = Page(browser)
            page.sign_in(w.bulky)
            p = page.page
            t0 = time.perf_counter()
            p.goto(ARGS.api + f"/admin#/links?size={size}")
            until(p, f"document.querySelectorAll('table.links tbody tr').length === {size}")
            runs.append((time.perf_counter() - t0) * 1000)
            nav = p.evaluate(
                "(() => { const n = performance.getEntriesByType('navigation')[0];"
                " const t = performance.now(); return t; })()")
            page.close()
        times[size] = {"median_ms": round(statistics.median(runs), 1), "min_ms": round(min(runs), 1),
                       "max_ms": round(max(runs), 1)}
    report = {"assets_bytes": total, "asset_files": len(set(names)) + 1, "first_render": times,
              "links_of_owner": 1001}
    print(json.dumps(report, indent=2))
    os.makedirs(ARGS.out, exist_ok=True)
    with open(os.path.join(ARGS.out, "console-bench.json"), "w") as f:
        json.dump(report, f, indent=2)


def main():
    global ARGS
    ap = argparse.ArgumentParser()
    ap.add_argument("--api", required=True)
    ap.add_argument("--keys", required=True)
    ap.add_argument("--axe", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--bench", action="store_true")
    ap.add_argument("--only", default="")
    ARGS = ap.parse_args()
    os.makedirs(ARGS.out, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=shutil.which("chromium"), args=CHROMIUM_ARGS)
        if ARGS.bench:
            bench(browser)
            browser.close()
            return 0
        started = time.time()
        world = World()
        seed_bulky(world)
        print(f"seeded in {time.time() - started:.1f} s")
        suite = Suite()
        for scenario in SCENARIOS:
            if ARGS.only and scenario.__name__ not in ARGS.only.split(","):
                continue
            t = time.time()
            try:
                scenario(suite, browser, world)
            except Exception as e:  # a scenario that broke off counts as one failure
                suite.failed += 1
                print(f"FAIL {scenario.__name__}: {e}")
                traceback.print_exc()
            print(f"---- {scenario.__name__}: {time.time() - t:.1f} s")
        browser.close()
    print(f"console: {suite.passed} passed, {suite.failed} failed")
    return 0 if suite.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
