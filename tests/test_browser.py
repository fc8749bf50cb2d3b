"""In a real browser: every form a person can submit on the example site.

Headless Chromium (Debian's ``chromium`` package, never a downloaded browser)
driven by Playwright, against the example site started by the test on a free
port of 127.0.0.1, with its own SQLite database, key and file outbox in a
temporary directory (``start_example_site`` in conftest). The flows are the ones
a person follows: the sign-in page, the dev outbox, the link, the buttons.

Every browser context listens to every response: a 403 or any 5xx fails the
test. Each page looked at is screenshot under the test's ``tmp_path``, measured
for horizontal overflow at 1280 px and 390 px (the admin lists at 1280 px, cell
by cell), and scanned with axe-core for WCAG 2.1 A/AA violations; a serious or
critical one fails. Nothing is fetched from outside the site: the pages must
work offline.
"""

from __future__ import annotations

import csv
import json
import re
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless=new",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
STAFF = "boss@example.com"
WIDE, NARROW = 1280, 390
WCAG = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
CODE = re.compile(r"\b([A-Z0-9]{4}-[A-Z0-9]{4})\b")
TO_THE_SECOND = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$")
# The time columns of the app's admin lists (list_display names).
TIME_COLUMNS = {
    "issuedtoken": ["issued", "expires"],
    "revokedtoken": ["revoked", "expires"],
    "tokenevent": ["time"],
}

# The page is wider than the window: which elements stick out, for the message.
OVERFLOW_JS = """() => {
  const width = document.documentElement.clientWidth;
  if (document.documentElement.scrollWidth <= width) return [];
  const out = [];
  for (const el of document.body.querySelectorAll('*')) {
    const box = el.getBoundingClientRect();
    if (box.width && box.right > width + 1) {
      out.push(`${el.tagName.toLowerCase()}${el.id ? '#' + el.id : ''}.${el.className}`
               + ` ends at ${Math.round(box.right)}px`);
    }
  }
  return [`page ${document.documentElement.scrollWidth}px wide in ${width}px`,
          ...out.slice(0, 8)];
}"""

# An admin list: the table fits its box (no column hidden to the right), no cell's
# text is cut, and each time cell holds one line, to the second.
ADMIN_LIST_JS = """(timeColumns) => {
  const problems = [];
  const table = document.querySelector('#result_list');
  const box = table.parentElement;
  if (box.scrollWidth > box.clientWidth + 1) {
    problems.push(`table ${box.scrollWidth}px wide in a ${box.clientWidth}px box`);
  }
  for (const cell of table.querySelectorAll('th, td')) {
    if (cell.scrollWidth > cell.clientWidth + 1) {
      problems.push(`cut: ${cell.className} "${cell.textContent.trim()}"`);
    }
  }
  for (const name of timeColumns) {
    const cells = table.querySelectorAll(`tbody .field-${name}`);
    if (!cells.length) problems.push(`no cell of the time column ${name}`);
    for (const cell of cells) {
      const text = cell.textContent.trim();
      const range = document.createRange();
      range.selectNodeContents(cell);
      const lines = new Set([...range.getClientRects()].map(r => Math.round(r.top)));
      if (lines.size > 1) problems.push(`wrapped over ${lines.size} lines: ${name} "${text}"`);
      if (!/^\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d$/.test(text)) {
        problems.push(`not to the second: ${name} "${text}"`);
      }
    }
  }
  return problems;
}"""


@pytest.fixture(scope="module")
def chromium():
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)")
    pytest.importorskip("playwright.sync_api", reason="Playwright is not installed")
    pytest.importorskip("axe_playwright_python", reason="axe-playwright-python is not installed")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


class Person:
    """One browser (a Playwright context: its own cookies) with one tab.

    It records every response that is a 403 or a 5xx, and every request that
    leaves the site (refused: pages must work offline).
    """

    def __init__(self, browser, site_url: str, shots: Path, name: str) -> None:
        self.site_url, self.shots, self.name = site_url, shots, name
        self.context = browser.new_context(
            viewport={"width": WIDE, "height": 900}, accept_downloads=True
        )
        self.bad: list[str] = []
        self.context.on("response", self._response)
        self.context.route("**/*", self._route)
        self.page = self.context.new_page()
        self.page.set_default_timeout(15_000)

    def _response(self, response) -> None:
        if response.status == 403 or response.status >= 500:
            self.bad.append(f"{response.status} {response.request.method} {response.url}")

    def _route(self, route) -> None:
        if route.request.url.startswith(self.site_url):
            route.continue_()
        else:
            self.bad.append(f"fetched from outside the site: {route.request.url}")
            route.abort()

    def goto(self, path: str) -> None:
        self.page.goto(self.site_url + path)
        self.check_responses()

    def check_responses(self) -> None:
        assert not self.bad, f"{self.name}: {self.bad}"

    def look(self, name: str, *, narrow: bool = True, admin_list: str = "") -> None:
        """Screenshot the page at each width, measure it, and scan it with axe-core."""
        from axe_playwright_python.sync_playwright import Axe

        page = self.page
        page.wait_for_load_state()
        self.check_responses()
        for width in (WIDE, NARROW) if narrow else (WIDE,):
            page.set_viewport_size({"width": width, "height": 900})
            page.screenshot(path=str(self.shots / f"{name}-{width}.png"), full_page=True)
            assert page.evaluate(OVERFLOW_JS) == [], f"{name} at {width} px"
        page.set_viewport_size({"width": WIDE, "height": 900})
        if admin_list:
            columns = TIME_COLUMNS[admin_list]
            assert page.evaluate(ADMIN_LIST_JS, columns) == [], f"{name} at {WIDE} px"
        options = {"runOnly": {"type": "tag", "values": WCAG}, "resultTypes": ["violations"]}
        results = Axe().run(page, options=options)
        grave = [
            v for v in results.response["violations"] if v["impact"] in ("serious", "critical")
        ]
        report = [
            f"{v['id']} ({v['impact']}): {[node['target'] for node in v['nodes']]}" for v in grave
        ]
        assert report == [], f"axe-core on {name}: {report}"

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def person(chromium, tmp_path) -> Iterator:
    """``person("laptop")``: a new browser of its own (cookies), on the site under test."""
    people: list[Person] = []

    def make(site, name: str = "browser") -> Person:
        people.append(Person(chromium, site.url, tmp_path, name))
        return people[-1]

    yield make
    try:
        for someone in people:
            someone.check_responses()
    finally:
        for someone in people:
            someone.close()


@pytest.fixture
def site(start_example_site):
    """The example site with a passwordless superuser, STAFF."""
    return start_example_site(superuser=STAFF)


# --- steps a person takes ------------------------------------------------------------


def ask_for_link(someone: Person, email: str, *, look: str = "") -> None:
    """The sign-in page's email form, up to "Check your inbox"."""
    from playwright.sync_api import expect

    someone.goto("/signin/")
    someone.page.fill("#signin-email", email)
    if look:
        someone.look(look)
    someone.page.click("#request-form button[type=submit]")
    expect(someone.page.get_by_role("heading", name="Check your inbox")).to_be_visible()
    someone.check_responses()


def latest_mail(someone: Person, to: str, *, look: str = ""):
    """The newest email to ``to`` on the dev outbox page (a Locator)."""
    someone.goto("/outbox/")
    mail = someone.page.locator("article.mail", has_text=to).first
    mail.wait_for()
    if look:
        someone.look(look)
    return mail


def open_latest_link(someone: Person, to: str, *, look: str = "") -> None:
    """Click the sign-in link of the newest email to ``to`` in the outbox."""
    mail = latest_mail(someone, to, look=look)
    mail.locator("a[href*='/auth/verify/?token=']").first.click()
    someone.page.wait_for_url(re.compile(r"/auth/verify/\?token="))
    someone.check_responses()


def code_in_latest_mail(someone: Person, to: str) -> str:
    return CODE.search(latest_mail(someone, to).inner_text()).group(1)


def press(someone: Person, button: str) -> None:
    someone.page.get_by_role("button", name=button).click()
    someone.page.wait_for_load_state()
    someone.check_responses()


def sign_in_by_link(someone: Person, email: str, *, look: bool = False) -> None:
    ask_for_link(someone, email, look="signin" if look else "")
    if look:
        someone.look("check-your-inbox")
    open_latest_link(someone, email, look="outbox" if look else "")
    if look:
        someone.look("verify")
    press(someone, "Sign in")


def sign_in_to_the_admin(someone: Person, site) -> None:
    """Staff: the admin login page's "Email me a sign-in link", then the link."""
    from playwright.sync_api import expect

    someone.goto("/admin/")
    someone.page.fill("#id_jwt_email_link_email", STAFF)
    press(someone, "Email me a sign-in link")
    expect(someone.page.locator("ul.messagelist")).to_contain_text("a sign-in link is on its way")
    open_latest_link(someone, STAFF)
    press(someone, "Sign in")
    someone.page.wait_for_url(f"{site.url}/admin/")


def api(site, path: str, body: dict | None = None, access: str = "") -> tuple[int, dict]:
    """An API client's POST (JSON in, JSON out): its status and body."""
    request = urllib.request.Request(
        site.url + path,
        data=json.dumps(body or {}).encode(),
        headers={
            "Content-Type": "application/json",
            **({"Authorization": f"Bearer {access}"} if access else {}),
        },
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            raw = response.read()
            return response.status, json.loads(raw) if raw else {}
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def admin_action(someone: Person, action: str) -> None:
    someone.page.select_option("select[name=action]", label=action)
    someone.page.get_by_role("button", name="Run the selected action").or_(
        someone.page.locator("button[name=index]")
    ).first.click()


# --- the site's forms ------------------------------------------------------------------


def test_sign_in_by_link_then_sign_out(site, person):
    from playwright.sync_api import expect

    laptop = person(site, "laptop")
    laptop.goto("/")
    expect(laptop.page.locator("#who")).to_contain_text("not signed in")
    laptop.look("home")
    sign_in_by_link(laptop, "alice@example.com", look=True)
    laptop.page.wait_for_url(f"{site.url}/")
    expect(laptop.page.locator("#user-email")).to_have_text("alice@example.com")
    laptop.look("home-signed-in")

    press(laptop, "Sign out")
    laptop.page.wait_for_url(f"{site.url}/")
    expect(laptop.page.locator("#who")).to_contain_text("not signed in")


def test_sign_in_with_the_code_on_another_device(site, person):
    """Asked on the laptop; the code, read in the email, typed on the phone."""
    from playwright.sync_api import expect

    laptop, phone = person(site, "laptop"), person(site, "phone")
    ask_for_link(laptop, "carol@example.com")
    code = code_in_latest_mail(laptop, "carol@example.com")

    phone.goto("/signin/#code")
    phone.page.fill("#jwt-code-email", "carol@example.com")
    phone.page.fill("#jwt-code", "WRON-GCOD")
    press(phone, "Sign in with the code")
    expect(phone.page.locator("#reason")).to_have_attribute("data-code", "invalid_code")
    phone.look("code-invalid")
    phone.page.fill("#jwt-code", code)
    press(phone, "Sign in with the code")
    phone.page.wait_for_url(f"{site.url}/")
    expect(phone.page.locator("#user-email")).to_have_text("carol@example.com")

    laptop.goto("/")
    expect(laptop.page.locator("#who")).to_contain_text("not signed in")


def test_expired_link_page_emails_a_new_link(start_example_site, person):
    from playwright.sync_api import expect

    site = start_example_site(
        settings="from datetime import timedelta\n"
        "JWT_EMAIL_LOGIN_TOKEN_TTL = timedelta(seconds=1)\n"
        "JWT_EMAIL_LEEWAY = timedelta(0)\n"
    )
    laptop = person(site, "laptop")
    ask_for_link(laptop, "dave@example.com")
    open_latest_link(laptop, "dave@example.com")
    # The link lives one second: reload until the page says so (or fail at the timeout).
    reason = laptop.page.locator("#reason[data-code=token_expired]")
    for _ in range(50):
        if reason.count():
            break
        laptop.page.wait_for_timeout(100)
        laptop.page.reload()
    expect(reason).to_be_visible()
    expect(laptop.page.get_by_role("heading")).to_have_text("This sign-in link cannot be used")
    laptop.look("verify-expired")

    laptop.page.fill("#jwt-email", "dave@example.com")
    press(laptop, "Email me a new link")
    expect(laptop.page.get_by_role("heading", name="Check your inbox")).to_be_visible()
    laptop.goto("/outbox/")
    expect(laptop.page.locator("article.mail", has_text="dave@example.com")).to_have_count(2)


def test_other_browser_with_bind_to_browser(start_example_site, person):
    """A bound link opened elsewhere signs nobody in there; its code, typed in the
    browser that asked, does."""
    from playwright.sync_api import expect

    site = start_example_site(settings="JWT_EMAIL_BIND_TO_BROWSER = True\n")
    laptop, other = person(site, "laptop"), person(site, "other browser")
    ask_for_link(laptop, "erin@example.com")

    open_latest_link(other, "erin@example.com")
    press(other, "Sign in")
    expect(other.page.get_by_role("heading")).to_have_text(
        "Finish signing in on the other browser"
    )
    other.look("other-browser")
    code = other.page.locator("#code").inner_text().strip()
    assert CODE.fullmatch(code)

    laptop.goto("/signin/")
    laptop.page.fill("#jwt-code-email", "erin@example.com")
    laptop.page.fill("#jwt-code", code)
    press(laptop, "Sign in with the code")
    laptop.page.wait_for_url(f"{site.url}/")
    expect(laptop.page.locator("#user-email")).to_have_text("erin@example.com")
    other.goto("/")
    expect(other.page.locator("#who")).to_contain_text("not signed in")


def test_too_many_requests_show_the_rate_limited_page(site, person):
    from playwright.sync_api import expect

    laptop = person(site, "laptop")
    for _ in range(5):  # request_email: 5 an hour by default
        ask_for_link(laptop, "frank@example.com")
    laptop.goto("/signin/")
    laptop.page.fill("#signin-email", "frank@example.com")
    with laptop.page.expect_response(re.compile(r"/auth/request/$")) as answer:
        laptop.page.click("#request-form button[type=submit]")
    assert answer.value.status == 429
    expect(laptop.page.get_by_role("heading")).to_have_text("Too many attempts")
    # How long, in words: minutes mostly, seconds when the hour's window (its end
    # offset per address, as django-ratelimit's) happens to end within a minute.
    wait = re.compile(r"Please wait \d+ (minutes?|seconds?) and try again")
    expect(laptop.page.locator("#error")).to_contain_text(wait)
    laptop.look("rate-limited")


def test_logout_everywhere_from_the_api_ends_the_browser_session(site, person):
    from playwright.sync_api import expect

    laptop = person(site, "laptop")
    sign_in_by_link(laptop, "grace@example.com")
    expect(laptop.page.locator("#user-email")).to_have_text("grace@example.com")

    # The same person's app, signed in through the API with a second link.
    assert api(site, "/auth/request/", {"email": "grace@example.com"})[0] == 202
    link = latest_mail(laptop, "grace@example.com").locator("a[href*='token=']").first
    token = link.get_attribute("href").split("token=", 1)[1]
    status, pair = api(site, "/auth/token/", {"token": token})
    assert status == 200, pair
    assert api(site, "/auth/logout/all/", access=pair["access"])[0] == 204

    laptop.goto("/")
    expect(laptop.page.locator("#who")).to_contain_text("not signed in")


def test_api_page_and_favicon_work_offline(site, person):
    """The API page is Redoc, served by the site itself (nothing from a CDN)."""
    from playwright.sync_api import expect

    laptop = person(site, "laptop")
    laptop.goto("/")
    laptop.page.get_by_role("link", name="API", exact=True).click()
    laptop.page.wait_for_url(f"{site.url}/api/docs/")
    expect(laptop.page.get_by_text("/auth/request/").first).to_be_visible()
    laptop.look("api-docs")
    icon = laptop.page.request.get(f"{site.url}/favicon.ico")
    assert icon.status == 200
    assert icon.headers["content-type"] == "image/x-icon"


# --- the admin -----------------------------------------------------------------------


def test_staff_signs_in_to_the_admin_and_reads_the_audit_log(site, person):
    from playwright.sync_api import expect

    boss = person(site, "staff")
    boss.goto("/admin/")
    boss.page.wait_for_url(re.compile(r"/admin/login/"))
    boss.look("admin-login")
    sign_in_to_the_admin(boss, site)
    expect(boss.page.locator("#site-name")).to_be_visible()
    boss.look("admin-index", narrow=False)

    boss.goto("/admin/django_jwt_email/")
    boss.look("admin-app-index")
    boss.page.get_by_role("link", name="Token events").first.click()
    rows = boss.page.locator("#result_list tbody tr")
    expect(rows.filter(has_text="verified")).to_have_count(1)
    expect(rows.filter(has_text="issued")).to_have_count(1)
    expect(rows.filter(has_text="email sent")).to_have_count(1)
    boss.look("admin-token-events", narrow=False, admin_list="tokenevent")

    boss.page.get_by_role("link", name="Activity").click()
    expect(boss.page.get_by_role("heading", name=re.compile("Sign-in activity"))).to_be_visible()
    legend = boss.page.locator(".jwt-activity-legend")
    expect(legend).to_contain_text("issued (1)")
    expect(legend).to_contain_text("verified (1)")
    expect(boss.page.locator("#jwt-activity-reasons")).to_contain_text("No rejections.")
    boss.look("admin-activity")


def test_admin_revokes_selected_tokens_after_confirming(site, person):
    from playwright.sync_api import expect

    laptop, boss = person(site, "laptop"), person(site, "staff")
    ask_for_link(laptop, "henry.with.a.long.address@subdomain.example.com")
    sign_in_to_the_admin(boss, site)

    boss.goto("/admin/django_jwt_email/issuedtoken/")
    boss.look("admin-issued-tokens", narrow=False, admin_list="issuedtoken")
    row = boss.page.locator("#result_list tbody tr", has_text="henry.with.a.long.address")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("active")
    row.locator("input.action-select").check()
    admin_action(boss, "Revoke selected")
    expect(boss.page.get_by_role("heading", name="Revoke login links")).to_be_visible()
    boss.look("admin-revoke-confirmation")
    boss.page.fill("#id_reason", "lost_laptop")
    boss.page.get_by_role("button", name="Revoke").click()
    boss.page.wait_for_load_state()
    expect(boss.page.locator("ul.messagelist")).to_contain_text("Revoked 1 login link.")
    expect(row).to_contain_text("revoked")

    row.locator("th a").click()  # the token's detail page
    expect(boss.page.locator(".field-revoke_reason .readonly")).to_have_text("lost_laptop")
    for name in ("issued", "expires", "revoked"):
        time = boss.page.locator(f".field-{name} .readonly").inner_text()
        assert TO_THE_SECOND.match(time), (name, time)
    boss.look("admin-issued-token-detail", narrow=False)

    boss.goto("/admin/django_jwt_email/revokedtoken/")
    expect(boss.page.locator("#result_list tbody tr", has_text="lost_laptop")).to_have_count(1)
    boss.look("admin-revoked-tokens", narrow=False, admin_list="revokedtoken")
    boss.goto("/admin/django_jwt_email/tokenevent/")
    expect(boss.page.locator("#result_list tbody tr", has_text="lost_laptop")).to_have_count(1)
    boss.look("admin-token-events-after-revoking", narrow=False, admin_list="tokenevent")

    # The link is dead: its page says so and offers a new one.
    open_latest_link(laptop, "henry.with.a.long.address@subdomain.example.com")
    expect(laptop.page.locator("#reason")).to_have_attribute("data-code", "token_revoked")


def test_admin_exports_the_audit_log_as_csv(site, person, tmp_path):
    from playwright.sync_api import expect

    boss = person(site, "staff")
    sign_in_to_the_admin(boss, site)
    boss.goto("/admin/django_jwt_email/tokenevent/")
    rows = boss.page.locator("#result_list tbody tr")
    expect(rows).to_have_count(3)  # the staff's own link: issued, email sent, verified
    boss.page.check("#action-toggle")
    with boss.page.expect_download() as download:
        admin_action(boss, "Export selected as CSV")
    path = tmp_path / download.value.suggested_filename
    download.value.save_as(path)
    assert re.fullmatch(r"token-events-\d{8}-\d{6}\.csv", path.name)
    with path.open(newline="", encoding="utf-8") as handle:
        table = list(csv.DictReader(handle))
    assert [row["event"] for row in table].count("verified") == 1
    assert {row["user_email"] for row in table if row["event"] == "verified"} == {STAFF}
    # A jti in every row, never a whole token (a JWT has dots).
    assert all(row["jti"] and "." not in row["jti"] for row in table)


def test_admin_login_with_an_email_only_user_model(start_example_site, person):
    """One email field on the login page: the link button sends the login form's own."""
    from playwright.sync_api import expect

    site = start_example_site(
        settings='INSTALLED_APPS = [*INSTALLED_APPS, "tests.emailuser"]\n'
        'AUTH_USER_MODEL = "emailuser.User"\n',
        superuser=STAFF,
    )
    boss = person(site, "staff")
    boss.goto("/admin/")
    boss.page.wait_for_url(re.compile(r"/admin/login/"))
    expect(boss.page.get_by_label("Email")).to_have_count(1)
    boss.look("admin-login-email-only")
    boss.page.get_by_label("Email").fill(STAFF)
    press(boss, "Email me a sign-in link")
    expect(boss.page.locator("ul.messagelist")).to_contain_text("a sign-in link is on its way")
    open_latest_link(boss, STAFF)
    press(boss, "Sign in")
    boss.page.wait_for_url(f"{site.url}/admin/")
    expect(boss.page.get_by_role("link", name="Token events")).to_be_visible()


# --- the single-page app (cookie transport) ---------------------------------------------

SPA_SETTINGS = (
    "from datetime import timedelta\n"
    'JWT_EMAIL_LINK_URL = JWT_EMAIL_LINK_BASE_URL + "/app/#token={token}"\n'
    "# Short-lived access tokens, no leeway: a silent refresh happens within the test.\n"
    "JWT_EMAIL_ACCESS_TOKEN_TTL = timedelta(seconds=3)\n"
    "JWT_EMAIL_LEEWAY = timedelta(0)\n"
)
REFRESH_COOKIE = "jwt_email_refresh"


def get_status(site, path: str, access: str = "") -> int:
    headers = {"Authorization": f"Bearer {access}"} if access else {}
    request = urllib.request.Request(site.url + path, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def link_is_unused(site, token: str) -> bool:
    """The verify page's GET (which consumes nothing) still offers to sign in."""
    return get_status(site, f"/auth/verify/?token={token}") == 200


def test_single_page_app_signs_in_refreshes_reloads_and_signs_out(start_example_site, person):
    """The page of example_project/static/spa/app.js, end to end: the link of the
    email opens it (JWT_EMAIL_LINK_URL), which spends nothing until "Sign in"; the
    refresh token lives in an HttpOnly cookie; an expired access token is renewed
    silently, a reload keeps the person signed in, and signing out ends it all."""
    from playwright.sync_api import expect

    site = start_example_site(settings=SPA_SETTINGS)
    laptop = person(site, "laptop")
    page = laptop.page
    posts: list[str] = []
    laptop.context.on(
        "request", lambda request: posts.append(request.url) if request.method == "POST" else None
    )
    email = "erin@example.com"

    laptop.goto("/app/")
    expect(page.get_by_role("heading", name="Sign in with your email address")).to_be_visible()
    laptop.look("spa")
    page.fill("#spa-email", email)
    press(laptop, "Email me a sign-in link")
    expect(page.locator("#status")).to_contain_text("Check your inbox")

    link = latest_mail(laptop, email).locator("a[href*='/app/#token=']").first
    token = link.get_attribute("href").split("#token=", 1)[1]
    link.click()
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    laptop.look("spa-link")
    # Opening the link (what a mail scanner running scripts does) spent nothing.
    assert not [url for url in posts if url.endswith("/auth/token/")]
    assert link_is_unused(site, token)

    with page.expect_response(lambda r: r.url.endswith("/auth/token/")) as signed_in:
        press(laptop, "Sign in")
    expect(page.locator("#me-email")).to_have_text(email)
    assert page.url == f"{site.url}/app/"  # the spent token left the address bar
    assert set(signed_in.value.json()) == {
        "access",
        "token_type",
        "expires_in",
        "refresh_expires_in",
    }
    assert not link_is_unused(site, token)
    (cookie,) = [c for c in laptop.context.cookies() if c["name"] == REFRESH_COOKIE]
    assert (cookie["httpOnly"], cookie["sameSite"], cookie["path"]) == (
        True,
        "Strict",
        "/auth/token/refresh/",
    )
    assert REFRESH_COOKIE not in page.evaluate("document.cookie")  # out of the script's reach
    laptop.look("spa-signed-in")

    # The access token expires; the next call renews it through the cookie, silently.
    page.wait_for_function(
        "() => Date.now() > Number(document.getElementById('spa').dataset.accessUntil)"
    )
    with page.expect_response(lambda r: r.url.endswith("/auth/token/refresh/")) as refreshed:
        page.get_by_role("button", name="Who am I?").click()
    assert refreshed.value.status == 200
    assert "refresh" not in refreshed.value.json()
    expect(page.locator("#refresh-count")).to_have_text("1")
    expect(page.locator("#me-email")).to_have_text(email)

    # A reload forgets the access token; the refresh cookie signs the page in again.
    with page.expect_response(lambda r: r.url.endswith("/auth/token/refresh/")) as reloaded:
        page.reload()
    access = reloaded.value.json()["access"]
    expect(page.locator("#me-email")).to_have_text(email)
    laptop.check_responses()
    assert get_status(site, "/api/me/", access) == 200

    press(laptop, "Sign out")
    expect(page.locator("#status")).to_have_text("You are signed out.")
    expect(page.get_by_role("heading", name="Sign in with your email address")).to_be_visible()
    assert REFRESH_COOKIE not in [c["name"] for c in laptop.context.cookies()]
    assert get_status(site, "/api/me/", access) == 401  # the session is over, not just the page
    page.reload()
    expect(page.get_by_role("heading", name="Sign in with your email address")).to_be_visible()
    laptop.look("spa-signed-out")
