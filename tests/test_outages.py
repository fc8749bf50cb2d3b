"""Outages for real: the example site served by a real server while its Redis or its
PostgreSQL (each a server of the test's own) is stopped and started again, while its
mail server accepts and never answers, or while its queue broker is down.

Every endpoint of the app and the site's Bearer-protected ``/api/me/`` is walked
during each outage: no answer is a 500, a revoked token is never accepted, logout,
logout-all and revoke keep working while only the cache is down, and a known
address gets the same answer as an unknown one. (The finer cases of each are in
``test_emails``, ``test_tasks``, ``test_django_tasks`` and ``test_revocation_redis``.)
"""

from __future__ import annotations

import email
import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from http.cookiejar import CookieJar
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

pytestmark = pytest.mark.django_db(transaction=True)

# The walks ask for links and try tokens more often than the default rates allow.
LOOSE_LIMITS = """
JWT_EMAIL_RATE_LIMITS = {"request_email": "100/h", "request_ip": "1000/h", "failed_ip": "1000/h"}
"""


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> dict:
        return json.loads(self.body)


class Visitor:
    """An HTTP client of the live site (its own cookies, no redirects followed)."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.cookies = CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.cookies), NoRedirects()
        )
        self.answers: list[tuple[str, int]] = []

    def send(self, method: str, path: str, *, json_body=None, form=None, bearer=None, **headers):
        data = None
        headers = {key.replace("_", "-"): value for key, value in headers.items()}
        if json_body is not None:
            data = json.dumps(json_body).encode()
            headers["Content-Type"] = "application/json"
        elif form is not None:
            data = urlencode(form).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        if bearer:
            headers["Authorization"] = f"Bearer {bearer}"
        request = urllib.request.Request(self.base + path, data, headers, method=method)
        try:
            with self.opener.open(request, timeout=30) as response:
                answer = Answer(response.status, dict(response.headers), response.read())
        except urllib.error.HTTPError as error:
            answer = Answer(error.code, dict(error.headers), error.read())
        self.answers.append((f"{method} {path}", answer.status))
        return answer

    def csrf(self) -> str:
        self.send("GET", "/signin/")
        return next(c.value for c in self.cookies if c.name == "csrftoken")


class NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def newest_token(outbox: Path, address: str) -> str:
    """The login token of the newest email to ``address`` in the file outbox."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        for path in sorted(outbox.glob("*.log"), key=lambda p: p.stat().st_mtime, reverse=True):
            for raw in reversed(path.read_text().split("\n" + "-" * 79 + "\n")):
                message = email.message_from_string(raw.strip())
                if address in (message["To"] or ""):
                    body = next(
                        part.get_payload(decode=True).decode()
                        for part in message.walk()
                        if part.get_content_type() == "text/plain"
                    )
                    link = next(w for w in body.split() if "/auth/verify/?token=" in w)
                    return parse_qs(urlsplit(link).query)["token"][0]
        time.sleep(0.1)
    raise AssertionError(f"no email to {address} in {outbox}")


def sign_in(visitor: Visitor, outbox: Path, address: str) -> dict:
    assert visitor.send("POST", "/auth/request/", json_body={"email": address}).status == 202
    token = newest_token(outbox, address)
    answer = visitor.send("POST", "/auth/token/", json_body={"token": token})
    assert answer.status == 200, answer.body
    return answer.json()


def walk_every_endpoint(visitor: Visitor, pair: dict, address: str) -> None:
    """Every endpoint of the app, and the site's pages, once each."""
    csrf = visitor.csrf()
    visitor.send("POST", "/auth/request/", json_body={"email": address})
    visitor.send("POST", "/auth/request/", form={"email": address}, Accept="text/html")
    visitor.send("POST", "/auth/token/", json_body={"token": "not.a.token"})
    visitor.send("POST", "/auth/code/", json_body={"email": address, "code": "ABCD-EFGH"})
    visitor.send("POST", "/auth/token/refresh/", json_body={"refresh": pair["refresh"]})
    visitor.send("GET", "/auth/verify/?token=not.a.token")
    visitor.send(
        "POST", "/auth/verify/", form={"token": "x", "csrfmiddlewaretoken": csrf},
        Referer=visitor.base + "/signin/",
    )  # fmt: skip
    visitor.send("GET", "/auth/.well-known/jwks.json")
    visitor.send("GET", "/api/me/", bearer=pair["access"])
    visitor.send("GET", "/")
    visitor.send("GET", "/signin/")
    visitor.send("GET", "/admin/login/")


def assert_no_500(visitor: Visitor) -> None:
    failures = [(request, status) for request, status in visitor.answers if status >= 500]
    unexpected = [(r, s) for r, s in failures if s != 503]
    assert not unexpected, unexpected


@pytest.mark.redis
def test_a_redis_outage_answers_no_500_and_accepts_nothing_revoked(
    start_example_site, private_redis
):
    site = start_example_site(env={"REDIS_URL": private_redis.url})
    visitor = Visitor(site.url)
    address = "alice@example.com"
    logged_out, revoked_later, logout_later, logout_all_later = (
        sign_in(visitor, site.outbox, address) for _ in range(4)
    )
    assert visitor.send("POST", "/auth/logout/", bearer=logged_out["access"]).status == 204

    private_redis.stop()  # --- the outage: the rate-limit counters and the marks are gone

    # A session revoked before the outage stays refused: the database answers.
    me = visitor.send("GET", "/api/me/", bearer=logged_out["access"])
    assert me.status == 401
    assert visitor.send("GET", "/api/me/", bearer=revoked_later["access"]).status == 200
    # Revoking works, and takes effect at once, though no mark can be written.
    revoke = visitor.send(
        "POST", "/auth/token/revoke/", json_body={"token": revoked_later["refresh"]}
    )
    assert revoke.status == 200
    assert visitor.send("GET", "/api/me/", bearer=revoked_later["access"]).status == 401
    assert visitor.send("POST", "/auth/logout/", bearer=logout_later["access"]).status == 204
    assert visitor.send("GET", "/api/me/", bearer=logout_later["access"]).status == 401
    everywhere = visitor.send("POST", "/auth/logout/all/", bearer=logout_all_later["access"])
    assert everywhere.status == 204
    assert visitor.send("GET", "/api/me/", bearer=logout_all_later["access"]).status == 401
    walk_every_endpoint(visitor, revoked_later, address)
    assert_no_500(visitor)
    # The rate-limited endpoints fail closed, with a time to come back.
    limited = visitor.send("POST", "/auth/request/", json_body={"email": address})
    assert limited.status in (429, 503) and limited.headers["Retry-After"].isdigit()

    # --- Redis is back, with old data: it believes its marks are loaded.
    private_redis.start()
    import redis

    redis.Redis.from_url(private_redis.url).set(":1:jwt_email:revoked:loaded", 1)
    # The revocations made during the outage are still refused: the process that could
    # not write their marks writes them and makes every process reload from the database.
    for pair in (revoked_later, logout_later, logout_all_later, logged_out):
        assert visitor.send("GET", "/api/me/", bearer=pair["access"]).status == 401
    fresh = sign_in(visitor, site.outbox, "bob@example.com")
    assert visitor.send("GET", "/api/me/", bearer=fresh["access"]).status == 200
    assert_no_500(visitor)


@pytest.mark.postgres
@pytest.mark.redis
def test_a_database_outage_is_a_503_with_retry_after_on_every_endpoint(
    start_example_site, private_postgres, private_redis
):
    env = {"DATABASE_URL": private_postgres.url, "REDIS_URL": private_redis.url}
    site = start_example_site(env=env, settings=LOOSE_LIMITS)
    visitor = Visitor(site.url)
    pair = sign_in(visitor, site.outbox, "alice@example.com")
    assert (
        visitor.send("POST", "/auth/request/", json_body={"email": "alice@example.com"}).status
        == 202
    )
    unused = newest_token(site.outbox, "alice@example.com")
    csrf = visitor.csrf()

    private_postgres.stop()  # --- the outage

    walk_every_endpoint(visitor, pair, "alice@example.com")
    for path, body in [
        ("/auth/request/", {"email": "alice@example.com"}),
        ("/auth/request/", {"email": "nobody@example.com"}),
        ("/auth/token/refresh/", {"refresh": pair["refresh"]}),
        ("/auth/token/revoke/", {"token": pair["refresh"]}),
    ]:
        answer = visitor.send("POST", path, json_body=body)
        assert answer.status == 503, (path, answer.body)
        assert answer.json() == {"detail": answer.json()["detail"], "code": "unavailable"}
        assert answer.headers["Retry-After"] == "5"
    # Identical for a known and an unknown address.
    known, unknown = (
        visitor.send("POST", "/auth/request/", json_body={"email": who}).body
        for who in ("alice@example.com", "nobody@example.com")
    )
    assert known == unknown
    for page in (
        visitor.send("GET", f"/auth/verify/?token={unused}"),
        visitor.send(
            "POST",
            "/auth/verify/",
            form={"token": unused, "csrfmiddlewaretoken": csrf},
            Referer=visitor.base + "/signin/",
        ),
    ):
        assert page.status == 503 and b'data-code="unavailable"' in page.body
        assert page.headers["Retry-After"] == "5"
        assert page.headers["Content-Type"].startswith("text/html")
    logout = visitor.send("POST", "/auth/logout/", bearer=pair["access"])
    assert logout.status in (204, 503), logout.body
    # With the revocation cache down too, nothing can say whether a session was
    # revoked: the Bearer request is a 503, never a guess.
    private_redis.stop()
    me = visitor.send("GET", "/api/me/", bearer=pair["access"])
    assert me.status == 503 and me.headers["Retry-After"] == "5", me.body
    assert me.json()["code"] == "unavailable"
    assert_no_500(visitor)

    private_redis.start()
    private_postgres.start()  # --- the database is back

    assert visitor.send("GET", "/api/me/", bearer=pair["access"]).status in (200, 401)
    again = sign_in(visitor, site.outbox, "alice@example.com")
    assert visitor.send("GET", "/api/me/", bearer=again["access"]).status == 200
    assert_no_500(visitor)


MINT_PAIR = """
from django.contrib.auth import get_user_model
from django_jwt_email.testing import token_pair
User = get_user_model()
fields = {User.get_email_field_name(): "%(email)s"}
if User.USERNAME_FIELD not in fields:
    fields[User.USERNAME_FIELD] = "%(email)s"
import json
print(json.dumps(token_pair(User._default_manager.create_user(**fields))))
"""


def minted_pair(site, email: str) -> dict:
    """A pair for a new account of ``email``, minted in the site's own process tree
    (no email needed: the mail server or the queue is the one that is down)."""
    return json.loads(site.manage("shell", "-c", MINT_PAIR % {"email": email}).splitlines()[-1])


def identical_answers_for_a_known_and_an_unknown_address(visitor: Visitor) -> Answer:
    known, unknown = (
        visitor.send("POST", "/auth/request/", json_body={"email": who})
        for who in ("alice@example.com", "nobody@example.com")
    )
    assert (known.status, known.body) == (unknown.status, unknown.body)
    return known


@pytest.mark.celery
def test_a_mail_server_that_never_answers_answers_no_500(start_example_site, silent_server):
    smtp = f"""
import django
SMTP = {{"host": "127.0.0.1", "port": {silent_server.port}}}
if django.VERSION >= (6, 1):
    MAILERS = {{"default": {{"BACKEND": "django.core.mail.backends.smtp.EmailBackend",
                            "OPTIONS": SMTP}}}}
else:
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_HOST, EMAIL_PORT = SMTP["host"], SMTP["port"]
JWT_EMAIL_EMAIL_TIMEOUT = 1
"""
    site = start_example_site(settings=LOOSE_LIMITS + smtp)
    visitor = Visitor(site.url)
    pair = minted_pair(site, "alice@example.com")

    walk_every_endpoint(visitor, pair, "alice@example.com")

    assert identical_answers_for_a_known_and_an_unknown_address(visitor).status == 202
    assert silent_server.hung_up == 0  # every connection gave up on its own timeout
    assert_no_500(visitor)


@pytest.mark.celery
def test_a_queue_broker_that_is_down_answers_503_and_no_500(start_example_site, closed_port):
    queued = f"""
from tests.testapp.celery import make_app
make_app("redis://127.0.0.1:{closed_port}/0")
JWT_EMAIL_EMAIL_SENDER = "django_jwt_email.tasks.deliver_later"
JWT_EMAIL_ENQUEUE_TIMEOUT = 1
"""
    site = start_example_site(settings=LOOSE_LIMITS + queued)
    visitor = Visitor(site.url)
    pair = minted_pair(site, "alice@example.com")

    walk_every_endpoint(visitor, pair, "alice@example.com")

    answer = identical_answers_for_a_known_and_an_unknown_address(visitor)
    assert answer.status == 503 and answer.headers["Retry-After"] == "5"
    assert answer.json()["code"] == "unavailable"
    assert visitor.send("GET", "/api/me/", bearer=pair["access"]).status == 200
    assert_no_500(visitor)
