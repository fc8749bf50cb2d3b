"""The example site (``example_project/``): its pages, its outbox, its API, its settings.

The suite runs on ``tests.settings``; the ``example_site`` fixture swaps in the
example site's URLs, templates, apps and middleware, taken from its own
settings module so that the two cannot drift apart.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import urlencode

import pytest
from django.contrib.staticfiles import finders
from django.test import Client

from tests.conftest import code_of, link_of, token_of

EXAMPLE_DIR = Path(__file__).resolve().parent.parent / "example_project"
if str(EXAMPLE_DIR) not in sys.path:
    sys.path.insert(0, str(EXAMPLE_DIR))

example = importlib.import_module("site_config.settings")

pytestmark = pytest.mark.django_db


@pytest.fixture
def example_site(settings):
    """The example site's URLs, pages and apps over the test settings, in DEBUG."""
    settings.INSTALLED_APPS = [
        *settings.INSTALLED_APPS,
        *(app for app in example.INSTALLED_APPS if app not in settings.INSTALLED_APPS),
    ]
    for name in (
        "ROOT_URLCONF",
        "TEMPLATES",
        "MIDDLEWARE",
        "REST_FRAMEWORK",
        "STATIC_URL",
        "STATICFILES_DIRS",
        "LOGIN_URL",
        "LOGIN_REDIRECT_URL",
        "LOGOUT_REDIRECT_URL",
        "JWT_EMAIL_CREATE_USERS",
        "JWT_EMAIL_TOKEN_TRANSPORT",
        "LANGUAGES",
        "LOCALE_PATHS",
    ):
        setattr(settings, name, getattr(example, name))
    settings.DEBUG = True
    settings.JWT_EMAIL_LINK_BASE_URL = "http://testserver"
    # drf-spectacular reads its settings once, at import: patch them for the test.
    from drf_spectacular.settings import patched_settings

    spectacular = example.SPECTACULAR_SETTINGS
    with patched_settings({k: v for k, v in spectacular.items() if not k.startswith("SERVE_")}):
        yield settings


@pytest.fixture
def file_outbox(example_site, tmp_path):
    """Emails written to files, as in ``make demo``; returns their directory."""
    example_site.EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    example_site.EMAIL_FILE_PATH = example_site.OUTBOX_DIR = str(tmp_path / "outbox")
    return tmp_path / "outbox"


@pytest.fixture
def browser():
    """A client that checks CSRF tokens, as a browser session would be."""
    return Client(enforce_csrf_checks=True)


def submit(client, url: str, data: dict[str, str], **extra):
    """POST ``data`` as a browser submits a form: urlencoded, accepting HTML."""
    return client.post(
        url,
        urlencode(data),
        content_type="application/x-www-form-urlencoded",
        HTTP_ACCEPT="text/html,application/xhtml+xml,*/*;q=0.8",
        **extra,
    )


def csrf_of(client, url: str) -> str:
    client.get(url)
    return client.cookies["csrftoken"].value


def test_the_site_speaks_the_visitors_language(example_site, client):
    """LocaleMiddleware picks it; the site's pages come from its own catalogs
    (example_project/locale), the app's forms inside them from the package's."""
    home = client.get("/", HTTP_ACCEPT_LANGUAGE="fr")
    html = home.content.decode()
    assert home["Content-Language"] == "fr"
    assert '<html lang="fr" dir="ltr">' in html
    assert "<h1>Bienvenue</h1>" in html
    assert "Vous n\u2019êtes <strong>pas connecté</strong>." in html
    signin = client.get("/signin/", HTTP_ACCEPT_LANGUAGE="de").content.decode()
    assert "<h2>Stattdessen den Code eingeben</h2>" in signin
    assert '<label for="jwt-code">Code aus der E-Mail</label>' in signin
    done = submit(client, "/auth/request/", {"email": "a@example.com"}, HTTP_ACCEPT_LANGUAGE="es")
    assert "<h1>Revisa tu bandeja de entrada</h1>" in done.content.decode()
    # A language the site does not offer (LANGUAGES): its default, English.
    assert b"<h1>Welcome</h1>" in client.get("/", HTTP_ACCEPT_LANGUAGE="it").content


def test_home_anonymous_says_not_signed_in(example_site, client):
    page = client.get("/")
    assert page.status_code == 200
    assert b"not signed in" in page.content
    assert b'href="/signin/"' in page.content


def test_home_signed_in_shows_the_user_and_signs_out(example_site, user, client):
    client.force_login(user)
    page = client.get("/")
    assert b'id="user-email">alice@example.com<' in page.content
    assert b'action="/signout/"' in page.content
    response = client.post("/signout/")
    assert response.status_code == 302
    assert b"not signed in" in client.get("/").content


@pytest.mark.parametrize("signed_in", [False, True])
@pytest.mark.parametrize("url", ["/", "/signin/"])
def test_pages_with_a_csrf_form_send_strict_origin(example_site, user, client, url, signed_in):
    """Under no-referrer Chromium posts the Sign out and code forms with "Origin:
    null", and Django's CSRF check answers 403: these pages must say strict-origin."""
    if signed_in:
        client.force_login(user)
    page = client.get(url)
    assert page["Referrer-Policy"] == "strict-origin"
    assert b'<meta name="referrer" content="strict-origin">' in page.content


def test_sign_out_with_the_origin_a_browser_sends_under_strict_origin(example_site, user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    token = csrf_of(client, "/")
    response = client.post(
        "/signout/", {"csrfmiddlewaretoken": token}, HTTP_ORIGIN="http://testserver"
    )
    assert response.status_code == 302
    assert b"not signed in" in client.get("/").content


def test_sign_out_with_origin_null_is_refused(example_site, user):
    """What no-referrer pages made browsers send: the reason the policy matters."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    token = csrf_of(client, "/")
    response = client.post("/signout/", {"csrfmiddlewaretoken": token}, HTTP_ORIGIN="null")
    assert response.status_code == 403


def test_outbox_keeps_no_referrer(file_outbox, client):
    """The outbox holds sign-in links (tokens) and no form: it sends no Referer at all."""
    assert b'<meta name="referrer" content="no-referrer">' in client.get("/outbox/").content


def test_home_try_the_api_points_to_the_api_page_and_the_script(example_site, client):
    """(That the block fits the screen is measured in Chromium: tests/test_browser.py.)"""
    html = client.get("/").content.decode()
    assert 'id="try-the-api"' in html
    assert 'href="/api/docs/"' in html
    assert (
        "curl http://testserver/api/me/ \\\n     -H 'Authorization: Bearer &lt;access&gt;'" in html
    )
    assert "example_project/walkthrough.sh" in html


def test_favicon(example_site, client):
    response = client.get("/favicon.ico")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/x-icon"
    icon = b"".join(response.streaming_content)
    assert icon[:4] == b"\x00\x00\x01\x00"  # an ICO header
    assert b'<link rel="icon" href="/favicon.ico"' in client.get("/signin/").content


def test_api_page_is_redoc_served_by_the_site(example_site, client):
    """A readable page, not a YAML download, with every file from this site (offline)."""
    response = client.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "/auth/schema/" in html
    assert "/static/drf_spectacular_sidecar/redoc/bundles/redoc.standalone.js" in html
    assert "cdn" not in html.lower()
    assert finders.find("drf_spectacular_sidecar/redoc/bundles/redoc.standalone.js")


def test_signin_page_has_the_link_form_and_the_code_form(example_site, client):
    page = client.get("/signin/", {"next": "/admin/"})
    assert page.status_code == 200
    html = page.content.decode()
    assert 'action="/auth/request/"' in html
    assert 'action="/auth/verify/"' in html
    assert 'name="code"' in html
    assert 'name="csrfmiddlewaretoken"' in html
    assert 'name="next" value="/admin/"' in html


def test_signin_page_drops_an_offsite_next(example_site, client):
    html = client.get("/signin/", {"next": "https://evil.example/"}).content.decode()
    assert "evil.example" not in html


def test_request_from_the_signin_form_says_check_your_inbox(
    example_site, user, client, mailoutbox
):
    response = submit(client, "/auth/request/", {"email": user.email, "next": ""})
    assert response.status_code == 202
    html = response.content.decode()
    assert "<h1>Check your inbox</h1>" in html
    assert 'href="/signin/#code"' in html
    assert 'href="/outbox/"' in html
    assert len(mailoutbox) == 1


def test_request_with_a_bad_address_shows_the_form_again(example_site, client, mailoutbox):
    response = submit(client, "/auth/request/", {"email": "not-an-address"})
    assert response.status_code == 400
    assert b'data-code="invalid_email"' in response.content
    assert b'id="request-form"' in response.content
    assert mailoutbox == []


def test_signin_form_is_rate_limited_with_a_page_in_the_site_look(example_site, client):
    example_site.JWT_EMAIL_RATE_LIMITS = {"request_email": "2/h"}
    for _ in range(2):
        assert submit(client, "/auth/request/", {"email": "bob@example.com"}).status_code == 202
    response = submit(client, "/auth/request/", {"email": "bob@example.com"})
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    html = response.content.decode()
    assert "Too many attempts" in html
    assert "django-jwt-email example" in html  # the site's header, not the app's bare page


def test_outbox_lists_the_sent_email_and_its_link_signs_in(file_outbox, browser):
    client = browser
    submit(client, "/auth/request/", {"email": "new@example.com"})
    submit(client, "/auth/request/", {"email": "second@example.com"})
    page = client.get("/outbox/")
    assert page.status_code == 200
    html = page.content.decode()
    # Newest first.
    assert html.index("second@example.com") < html.index("new@example.com")
    assert "Create your account on testserver" in html

    message = SimpleNamespace(body=html)
    link = link_of(message)
    assert f'<a href="{link}"' in html
    assert client.get(link).status_code == 200
    response = submit(
        client,
        "/auth/verify/",
        {"token": token_of(message), "csrfmiddlewaretoken": client.cookies["csrftoken"].value},
    )
    assert response.status_code == 302
    assert response["Location"] == "/"
    assert b'id="user-email">second@example.com<' in client.get("/").content


def test_outbox_is_empty_before_any_email(file_outbox, client):
    page = client.get("/outbox/")
    assert page.status_code == 200
    assert b"No email yet" in page.content


def test_outbox_is_not_found_outside_debug(file_outbox, client, settings):
    submit(client, "/auth/request/", {"email": "new@example.com"})
    assert any(file_outbox.iterdir())
    settings.DEBUG = False
    assert client.get("/outbox/").status_code == 404


def test_code_form_signs_in(example_site, user, browser, mailoutbox):
    client = browser
    submit(client, "/auth/request/", {"email": user.email})
    token = csrf_of(client, "/signin/")
    response = submit(
        client,
        "/auth/verify/",
        {"email": user.email, "code": code_of(mailoutbox[-1]), "csrfmiddlewaretoken": token},
    )
    assert response.status_code == 302
    assert b'id="user-email">alice@example.com<' in client.get("/").content


def test_me_with_a_bearer_access_token(example_site, user, request_link, api_client):
    token = request_link(user.email)
    pair = api_client.post("/auth/token/", {"token": token}, format="json").json()
    me = api_client.get("/api/me/", HTTP_AUTHORIZATION=f"Bearer {pair['access']}")
    assert me.status_code == 200
    assert me.json() == {"id": user.pk, "email": "alice@example.com"}


def test_me_without_a_token_is_401(example_site, api_client):
    assert api_client.get("/api/me/").status_code == 401


def test_schema_lists_the_auth_endpoints(example_site, client):
    response = client.get("/auth/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    paths = json.loads(response.content)["paths"]
    assert {"/auth/request/", "/auth/token/", "/auth/token/refresh/", "/api/me/"} <= set(paths)


def test_me_is_described_with_the_bearer_scheme(example_site, client):
    response = client.get("/auth/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    schema = json.loads(response.content)
    assert schema["paths"]["/api/me/"]["get"]["security"] == [{"jwtEmailBearer": []}]
    scheme = schema["components"]["securitySchemes"]["jwtEmailBearer"]
    assert (scheme["type"], scheme["scheme"], scheme["bearerFormat"]) == ("http", "bearer", "JWT")


def test_the_bearer_scheme_is_loaded_by_the_app_alone():
    """In a fresh process of the example site, which never imports the extension
    itself: the app's ready() does."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "JWT_EMAIL_"))}
    result = subprocess.run(
        [sys.executable, "manage.py", "spectacular", "--format", "openapi-json", "--skip-checks"],
        cwd=EXAMPLE_DIR,
        env={**clean, "DATABASE_URL": "sqlite:///:memory:", "REDIS_URL": ""},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    me = json.loads(result.stdout)["paths"]["/api/me/"]["get"]
    assert me["security"] == [{"jwtEmailBearer": []}]


def test_ninja_router_with_a_bearer_access_token(example_site, user, request_link, api_client):
    token = request_link(user.email)
    access = api_client.post("/auth/token/", {"token": token}, format="json").json()["access"]
    for path in ("/api/ninja/me", "/api/ninja/me/async"):
        me = api_client.get(path, HTTP_AUTHORIZATION=f"Bearer {access}")
        assert me.status_code == 200, path
        assert me.json() == {"id": user.pk, "email": "alice@example.com"}
    refused = api_client.get("/api/ninja/me", HTTP_AUTHORIZATION="Bearer x.y.z")
    assert refused.status_code == 401
    assert refused.json() == {"detail": "The token is invalid.", "code": "invalid_token"}
    assert refused["WWW-Authenticate"].startswith('Bearer error="invalid_token"')


def test_asgi_application_serves_the_site(example_site, user, request_link, api_client):
    """site_config.asgi.application, called as an ASGI server calls it."""
    from asgiref.sync import async_to_sync
    from django.core import signals
    from django.db import close_old_connections

    token = request_link(user.email)
    access = api_client.post("/auth/token/", {"token": token}, format="json").json()["access"]
    application = importlib.import_module("site_config.asgi").application
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/api/ninja/me/async",
        "raw_path": b"/api/ninja/me/async",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver"), (b"authorization", f"Bearer {access}".encode())],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    sent: list[dict] = []
    bodies = [{"type": "http.request", "body": b"", "more_body": False}]

    async def receive():
        if bodies:
            return bodies.pop()
        await asyncio.Event().wait()  # the client never disconnects

    async def send(message):
        sent.append(message)

    # As Django's own test clients do: the test's database connection stays open.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        async_to_sync(application)(scope, receive, send)
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)
    assert sent[0]["status"] == 200
    body = b"".join(message.get("body", b"") for message in sent[1:])
    assert json.loads(body) == {"id": user.pk, "email": "alice@example.com"}


def test_spa_page_sets_the_csrf_cookie_and_names_the_endpoints(example_site, client):
    response = client.get("/app/")
    assert response.status_code == 200
    assert "csrftoken" in response.cookies  # read by the script for the refresh
    assert response["Referrer-Policy"] == "strict-origin"  # not Origin: null
    assert "no-store" in response["Cache-Control"] or "max-age=0" in response["Cache-Control"]
    page = response.content.decode()
    urls = json.loads(page.split('id="spa-urls" type="application/json">')[1].split("<")[0])
    assert urls == {
        "request": "/auth/request/",
        "token": "/auth/token/",
        "refresh": "/auth/token/refresh/",
        "logout": "/auth/logout/",
        "me": "/api/me/",
    }
    assert 'src="/static/spa/app.js"' in page
    assert finders.find("spa/app.js")


def test_spa_script_redeems_the_link_only_on_the_button(example_site):
    """The script's one call to auth/token/ is inside the Sign in button's handler."""
    script = Path(finders.find("spa/app.js")).read_text()
    handler = script.split('getElementById("sign-in").addEventListener("click"')[1]
    handler = handler.split("});")[0]
    assert "post(urls.token" in handler
    assert script.count("urls.token") == 1


def test_admin_login_page(example_site, client):
    response = client.get("/admin/", follow=True)
    assert response.status_code == 200
    assert b'name="password"' in response.content


# --- settings from the environment ----------------------------------------------------


def settings_under(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Import the example settings in a fresh interpreter with ``env``; print a summary."""
    script = (
        "import json, site_config.settings as s; print(json.dumps({"
        "'debug': s.DEBUG, 'db': s.DATABASES['default'], 'cache': s.CACHES['default'],"
        "'email': s.SITE_MAILER['BACKEND'], 'outbox': s.OUTBOX_DIR,"
        "'link': s.JWT_EMAIL_LINK_BASE_URL}, default=str))"
    )
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "JWT_EMAIL_"))}
    clean.pop("DATABASE_URL", None)
    clean.pop("REDIS_URL", None)
    clean.pop("EMAIL_FILE_PATH", None)
    return subprocess.run(
        [sys.executable, "-c", script],
        cwd=EXAMPLE_DIR,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_settings_defaults_are_the_demo():
    result = settings_under({})
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["debug"] is True
    assert summary["db"]["ENGINE"] == "django.db.backends.sqlite3"
    assert summary["db"]["NAME"].endswith("example_project/db.sqlite3")
    assert summary["cache"]["BACKEND"].endswith("LocMemCache")
    assert summary["email"].endswith("filebased.EmailBackend")
    assert summary["outbox"].endswith("example_project/outbox")
    assert summary["link"] == "http://127.0.0.1:8000"


def test_settings_read_postgres_and_redis_urls():
    result = settings_under(
        {
            "DJANGO_DEBUG": "0",
            "DJANGO_SECRET_KEY": "s" * 50,
            "JWT_EMAIL_LINK_BASE_URL": "https://app.example.com",
            "DATABASE_URL": "postgres://app:p%40ss@db.internal:6543/site",
            "REDIS_URL": "redis://cache.internal:6379/2",
        }
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["debug"] is False
    db = summary["db"]
    assert (db["ENGINE"], db["NAME"], db["USER"], db["PASSWORD"], db["HOST"], db["PORT"]) == (
        "django.db.backends.postgresql",
        "site",
        "app",
        "p@ss",
        "db.internal",
        "6543",
    )
    assert summary["cache"] == {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": "redis://cache.internal:6379/2",
        # A Redis that hangs must not hold every request (check W007).
        "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
    }
    assert summary["email"].endswith("smtp.EmailBackend")
    assert summary["outbox"] == ""


def test_settings_refuse_to_start_without_a_secret_key_outside_debug():
    result = settings_under({"DJANGO_DEBUG": "false"})
    assert result.returncode != 0
    assert "Set DJANGO_SECRET_KEY" in result.stderr
