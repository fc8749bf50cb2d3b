"""In a real browser: sign in through the example site, then read the audit log as staff.

Headless Chromium (Debian's ``chromium`` package, never a downloaded browser)
driven by Playwright, against the example site started by the test with
``runserver`` on a free port of 127.0.0.1, its own SQLite database, key and
file outbox in a temporary directory. The flow is the one a person follows:
the sign-in page, the dev outbox, the link, the Sign in button; then the admin's
audit log and activity page, and the admin's own "Email me a sign-in link".
Screenshots go to ``test-artifacts/`` (git-ignored).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers import free_port, wait_until_up

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
MANAGE = ROOT / "example_project" / "manage.py"
ARTIFACTS = ROOT / "test-artifacts"
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
# Known bug, reported: with Referrer-Policy: no-referrer on the verify page, browsers
# send "Origin: null" with its form POST (Fetch standard), and Django's CSRF check
# refuses it. The test turns into a full pass by itself once the page is fixed.
CSRF_NULL_ORIGIN = (
    "verify page refused by CSRF: with Referrer-Policy no-referrer the browser posts "
    "Origin: null (pages with forms send strict-origin)"
)


def manage(env: dict[str, str], *args: str) -> None:
    subprocess.run(
        [sys.executable, str(MANAGE), *args],
        env=env,
        cwd=ROOT,
        check=True,
        capture_output=True,
        timeout=120,
    )


@pytest.fixture
def site(tmp_path) -> Iterator[str]:
    """A fresh example site on a free port, with a staff user; its base URL.

    One per test, so that each test sees only its own audit events.
    """
    home = tmp_path
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "site_config.settings",
        "DJANGO_DEBUG": "1",
        "DATABASE_URL": f"sqlite:///{home / 'db.sqlite3'}",
        "EMAIL_FILE_PATH": str(home / "outbox"),
        "JWT_EMAIL_LINK_BASE_URL": base,
        "JWT_EMAIL_KEY_FILE": str(home / "key.pem"),
        "REDIS_URL": "",
        "PYTHONUNBUFFERED": "1",
    }
    key = env["JWT_EMAIL_KEY_FILE"]
    manage(env, "jwt_email_keys", "generate", "--algorithm", "ES256", "--output", key)
    manage(env, "migrate", "--noinput")
    # No password: this staff user signs in by link only.
    manage(env, "createsuperuser", "--noinput", "--username", "boss", "--email", STAFF)
    # The server's output goes to a file: a pipe nobody reads would fill up and
    # stall the server, and would be left open (a ResourceWarning, an error here).
    log = home / "runserver.log"
    with log.open("wb") as out:
        server = subprocess.Popen(
            [sys.executable, str(MANAGE), "runserver", f"127.0.0.1:{port}", "--noreload"],
            env=env,
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_until_up(f"{base}/", server, log)
        yield base
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)")
    pytest.importorskip("playwright.sync_api", reason="Playwright is not installed")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        yield page
    finally:
        context.close()


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"browser-{name}.png"), full_page=True)


def open_latest_link(page, site: str, to: str) -> None:
    """Open the dev outbox and click the sign-in link of the newest email to ``to``."""
    page.goto(f"{site}/outbox/")
    mail = page.locator("article.mail", has_text=to).first
    mail.wait_for()
    shot(page, "outbox")
    mail.locator("a[href*='/auth/verify/?token=']").first.click()
    page.wait_for_url(re.compile(r"/auth/verify/\?token="))


def press_sign_in(page) -> None:
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()
    if "CSRF verification failed" in page.content():
        shot(page, "verify-csrf-refused")
        pytest.fail(CSRF_NULL_ORIGIN)


def test_sign_in_by_link_then_read_the_audit_log_as_staff(page, site):
    from playwright.sync_api import expect

    page.goto(f"{site}/signin/")
    page.fill("#signin-email", STAFF)
    shot(page, "signin")
    page.click("#request-form button[type=submit]")
    expect(page.get_by_role("heading", name="Check your inbox")).to_be_visible()

    open_latest_link(page, site, STAFF)
    shot(page, "verify")
    press_sign_in(page)
    page.wait_for_url(f"{site}/")
    expect(page.locator("#user-email")).to_have_text(STAFF)
    shot(page, "home-signed-in")

    page.goto(f"{site}/admin/django_jwt_email/tokenevent/")
    rows = page.locator("#result_list tbody tr")
    expect(rows.filter(has_text="verified")).to_have_count(1)
    expect(rows.filter(has_text="issued")).to_have_count(1)
    expect(rows.filter(has_text="email sent")).to_have_count(1)
    expect(page.get_by_role("link", name="Activity")).to_be_visible()
    shot(page, "audit-log")

    page.get_by_role("link", name="Activity").click()
    expect(page.get_by_role("heading", name=re.compile("Sign-in activity"))).to_be_visible()
    chart = page.locator("figure.jwt-activity-chart svg[role=img]")
    expect(chart).to_be_visible()
    legend = page.locator(".jwt-activity-legend")
    expect(legend).to_contain_text("issued (1)")
    expect(legend).to_contain_text("verified (1)")
    expect(legend).to_contain_text("rejected (0)")
    expect(page.locator("#jwt-activity-reasons")).to_contain_text("No rejections.")
    shot(page, "activity")


def test_staff_signs_in_to_the_admin_by_emailed_link(page, site):
    from playwright.sync_api import expect

    page.goto(f"{site}/admin/")
    page.wait_for_url(re.compile(r"/admin/login/"))
    page.fill("#id_jwt_email_link_email", STAFF)
    shot(page, "admin-login")
    page.get_by_role("button", name="Email me a sign-in link").click()
    expect(page.locator("ul.messagelist")).to_contain_text("a sign-in link is on its way")

    open_latest_link(page, site, STAFF)
    press_sign_in(page)
    page.wait_for_url(f"{site}/admin/")
    expect(page.locator("#site-name")).to_be_visible()
    expect(page.get_by_role("link", name="Token events")).to_be_visible()
    shot(page, "admin-signed-in")
