"""Fixtures shared by every test module: users, clients, keys, and the sign-in email."""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import caches
from rest_framework.test import APIClient

import django_jwt_email
from django_jwt_email import tokens
from tests.servers import REDIS_URL

KEY_DIR = Path(__file__).parent / "keys"
ROOT = Path(__file__).resolve().parent.parent
PACKAGE = Path(django_jwt_email.__file__).resolve().parent
#: The markers of tests that need a service (or the network): deselected by make test.
SERVICE_MARKERS = ("postgres", "redis", "celery", "browser", "package")
_skipped_service_tests: list[str] = []


def pytest_report_header(config):
    return f"django_jwt_email {django_jwt_email.__version__} from {PACKAGE}"


def pytest_configure(config):
    # tox sets it: the suite must test the installed wheel, not the checkout.
    if os.environ.get("JWT_EMAIL_TEST_INSTALLED") and PACKAGE == ROOT / "django_jwt_email":
        raise pytest.UsageError(f"django_jwt_email was imported from the checkout ({PACKAGE})")


def pytest_runtest_logreport(report):
    if report.skipped and any(marker in report.keywords for marker in SERVICE_MARKERS):
        _skipped_service_tests.append(f"{report.nodeid}: {report.longrepr[-1]}")


def pytest_sessionfinish(session, exitstatus):
    """Under CI a skipped service test fails the run: a service that is down, or a
    marker on a test that cannot run there, must not pass as green."""
    if os.environ.get("CI") and _skipped_service_tests and exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter):
    if os.environ.get("CI") and _skipped_service_tests:
        terminalreporter.section("service tests skipped under CI (this fails the run)", red=True)
        for line in _skipped_service_tests:
            terminalreporter.line(line)


@pytest.fixture(autouse=True)
def _clean_caches():
    """Each test starts with empty caches (rate-limit counters, revocation marks)."""
    for cache in caches.all():
        cache.clear()
    tokens._verified.entries.clear()
    yield


@pytest.fixture
def redis_client():
    """A client of the tests' Redis; the test is skipped, saying why, if none answers."""
    redis = pytest.importorskip("redis")
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.exceptions.ConnectionError as exc:
        pytest.skip(f"Redis is unreachable at {REDIS_URL}: {exc}")
    yield client
    client.close()


@pytest.fixture
def key_path():
    """The path of a test key file by name: key_path("es256")."""
    return lambda name: KEY_DIR / f"{name}.pem"


@pytest.fixture
def user_factory(db):
    counter = iter(range(1, 10_000))

    def make(email: str | None = None, **extra):
        n = next(counter)
        email = email or f"user{n}@example.com"
        return get_user_model().objects.create_user(
            username=extra.pop("username", f"user{n}"), email=email, **extra
        )

    return make


@pytest.fixture
def user(user_factory):
    return user_factory("alice@example.com")


@pytest.fixture
def api_client():
    return APIClient()


LINK = re.compile(r"https?://\S+/auth/verify/\?token=[\w.\-%]+")
CODE = re.compile(r"\b([A-Z0-9]{4}-[A-Z0-9]{4})\b")


def link_of(message) -> str:
    return LINK.search(message.body).group(0)


def token_of(message) -> str:
    return parse_qs(urlsplit(link_of(message)).query)["token"][0]


def code_of(message) -> str:
    return CODE.search(message.body).group(1)


@pytest.fixture
def request_link(api_client, mailoutbox):
    """Ask for a link for ``email`` through the API; return the login token mailed."""

    def ask(email: str, **extra) -> str:
        response = api_client.post("/auth/request/", {"email": email, **extra}, format="json")
        assert response.status_code == 202, response.content
        return token_of(mailoutbox[-1])

    return ask


@pytest.fixture
def pair(user, request_link, api_client):
    """An access/refresh pair for ``user``, through the real endpoints."""
    token = request_link(user.email)
    response = api_client.post("/auth/token/", {"token": token}, format="json")
    assert response.status_code == 200, response.content
    return response.json()


def answer(response) -> bytes:
    """The whole answer as a client receives it (status line, every header, body),
    with the clock's marks blanked: the never-cache ``Expires`` header and a cookie's
    ``expires`` date say "now", and may tick over a second between two requests."""
    raw = re.sub(rb"(?m)^Expires: [^\r\n]+", b"Expires: <now>", response.serialize())
    return re.sub(rb"expires=[^;]+; ", b"expires=<now>; ", raw)
