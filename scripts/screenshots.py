"""The README's two screenshots: the example site's sign-in page and the admin's
activity chart, as ``docs/images/signin.png`` and ``docs/images/activity.png``.

Run it from the checkout, after ``make install``::

    .venv/bin/python scripts/screenshots.py

It starts the example site as the browser tests do (``runserver`` on a free
port, a temporary SQLite database, signing key and outbox), fills the audit log
with 30 days of made-up events (a fixed seed, so every run draws the same
chart, ending today), signs a superuser in through the admin's password form,
and drives headless Chromium at ``/usr/bin/chromium`` with Playwright (never
``playwright install``). The pictures are quantised to a palette of 256
colours with Pillow (the ``docs`` dependency group): they are flat colours and
text, and a third of the size.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.servers import free_port, wait_until_up  # noqa: E402

MANAGE = ROOT / "example_project" / "manage.py"
IMAGES = ROOT / "docs" / "images"
CHROMIUM = "/usr/bin/chromium"

# Thirty days of a small site's audit log, drawn from a fixed seed. Documentation
# addresses only (RFC 5737); bulk-created, so no signal, log line or email.
SEED_EVENTS = """
import random
from datetime import timedelta
from django.utils import timezone
from django_jwt_email.models import EventType, TokenEvent

rng = random.Random(2026)
now = timezone.now()
rows = []
for age in range(30):
    day = now - timedelta(days=age, hours=rng.randint(0, 6))
    weekend = (now - timedelta(days=age)).weekday() >= 5
    issued = rng.randint(14, 24) if weekend else rng.randint(38, 62)
    verified = issued - rng.randint(2, 9)
    rejected = rng.randint(2, 9) + (26 if age in (9, 10) else 0)
    limited = rng.randint(0, 4) + (17 if age == 10 else 0)
    for event, count, reasons in (
        (EventType.ISSUED, issued, [""]),
        (EventType.VERIFIED, verified, [""]),
        (EventType.REJECTED, rejected, ["expired", "used", "wrong_code", "bad_signature"]),
        (EventType.RATE_LIMITED, limited, ["request_email", "failed_ip"]),
    ):
        for _ in range(count):
            rows.append(TokenEvent(
                event=event,
                reason=rng.choice(reasons),
                ip=f"203.0.113.{rng.randint(1, 40)}" if age != 10 else "198.51.100.7",
                created_at=day - timedelta(minutes=rng.randint(0, 600)),
            ))
TokenEvent.objects.bulk_create(rows, batch_size=500)
"""

CREATE_ADMIN = """
from django.contrib.auth.models import User
User.objects.create_superuser("admin", "admin@example.com", {password!r})
"""


def manage(env: dict[str, str], *args: str) -> None:
    subprocess.run([sys.executable, str(MANAGE), *args], env=env, cwd=ROOT, check=True)  # noqa: S603


def optimise(path: Path) -> None:
    """A palette of 256 colours, without metadata: the pages are flat colours and text."""
    from PIL import Image

    with Image.open(path) as image:
        small = image.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT)
    small.save(path, optimize=True)
    print(f"{path.relative_to(ROOT)}: {path.stat().st_size // 1024} KiB")


def shoot(url: str, password: str) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        context = browser.new_context(
            viewport={"width": 880, "height": 560}, locale="en-US", color_scheme="light"
        )
        page = context.new_page()
        page.goto(f"{url}/signin/")
        page.get_by_label("Email").first.fill("alice@example.com")
        page.screenshot(path=IMAGES / "signin.png", full_page=True)

        # The chart, without the admin's navigation sidebar beside it.
        page.evaluate("localStorage.setItem('django.admin.navSidebarIsOpen', 'false')")
        page.set_viewport_size({"width": 1100, "height": 620})
        page.goto(f"{url}/admin/login/")
        page.fill("#id_username", "admin")
        page.fill("#id_password", password)
        page.click("#login-form [type=submit]")
        page.goto(f"{url}/admin/django_jwt_email/tokenevent/activity/")
        page.screenshot(path=IMAGES / "activity.png")
        browser.close()


def main() -> None:
    IMAGES.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        url = f"http://127.0.0.1:{free_port()}"
        env = {
            **os.environ,
            "DJANGO_DEBUG": "1",
            "DATABASE_URL": f"sqlite:///{directory / 'db.sqlite3'}",
            "EMAIL_FILE_PATH": str(directory / "outbox"),
            "JWT_EMAIL_LINK_BASE_URL": url,
            "JWT_EMAIL_KEY_FILE": str(directory / "key.pem"),
            "REDIS_URL": "",
        }
        password = secrets.token_urlsafe(16)
        manage(env, "jwt_email_keys", "generate", "--output", env["JWT_EMAIL_KEY_FILE"])
        manage(env, "migrate", "--noinput", "-v", "0")
        manage(env, "shell", "-c", SEED_EVENTS)
        manage(env, "shell", "-c", CREATE_ADMIN.format(password=password))
        log = directory / "server.log"
        with log.open("w") as out:
            server = subprocess.Popen(  # noqa: S603
                [sys.executable, str(MANAGE), "runserver", url.rsplit("/", 1)[1], "--noreload"],
                env=env,
                cwd=ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        try:
            wait_until_up(f"{url}/signin/", server, log)
            shoot(url, password)
        finally:
            server.terminate()
            server.wait(timeout=30)
    for name in ("signin.png", "activity.png"):
        optimise(IMAGES / name)


if __name__ == "__main__":
    main()
