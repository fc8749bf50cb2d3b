"""Revocation marks: in the REVOCATION_CACHE for the hot path, reloaded from
``RevokedToken`` when the cache lost them, shared across processes through Redis."""

import json
import os
import re
import subprocess
import sys
import urllib.error
import urllib.request
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.cache import cache, caches
from django.utils import timezone

from django_jwt_email import revocation, services
from django_jwt_email.models import RevokedToken
from django_jwt_email.testing import bearer
from tests.servers import REDIS_URL, free_port, wait_until_up

ROOT = Path(__file__).resolve().parent.parent


# --- in one process ------------------------------------------------------------------


@pytest.mark.django_db
def test_marked_session_is_revoked_and_others_are_not():
    revocation.mark_sessions(["s1"], timezone.now() + timedelta(minutes=5))
    assert revocation.is_session_revoked("s1")
    assert not revocation.is_session_revoked("s2")


@pytest.mark.django_db
def test_refusal_survives_a_cache_flush(pair, api_client, django_assert_num_queries):
    api_client.post("/auth/logout/", **bearer(pair["access"]))
    cache.clear()
    with django_assert_num_queries(2):  # the reload, and the audit row of the refusal
        response = api_client.get("/api/pk/", **bearer(pair["access"]))
    assert response.status_code == 401
    assert response.json()["code"] == "token_revoked"


@pytest.mark.django_db
def test_reload_copies_only_live_revocations(user):
    now = timezone.now()
    RevokedToken.objects.create(jti="live", kind="session", expires_at=now + timedelta(minutes=5))
    RevokedToken.objects.create(jti="dead", kind="session", expires_at=now - timedelta(minutes=1))
    RevokedToken.objects.create(jti="link", kind="login", expires_at=now + timedelta(minutes=5))
    cache.clear()
    assert revocation.reload_marks() == 1
    assert revocation.is_session_revoked("live")
    assert not revocation.is_session_revoked("dead")


@pytest.mark.django_db
def test_marks_are_reloaded_every_so_often_to_bound_a_lost_mark(user, pair, api_client):
    """A mark can vanish on its own (an evicting cache): the database still knows,
    and the next reload, at the latest RELOAD_EVERY seconds later, restores it."""
    api_client.get("/api/pk/", **bearer(pair["access"]))  # loaded
    services.logout_all(user)
    sid = RevokedToken.objects.get().jti
    cache.delete(revocation._key(sid))  # evicted
    assert api_client.get("/api/pk/", **bearer(pair["access"])).status_code == 200
    assert 0 < revocation.RELOAD_EVERY <= 300
    cache.delete(revocation.LOADED_KEY)  # what its timeout does
    assert api_client.get("/api/pk/", **bearer(pair["access"])).status_code == 401


@pytest.mark.django_db
def test_marks_last_as_long_as_an_access_token_can(pair, api_client):
    api_client.post("/auth/logout/", **bearer(pair["access"]))
    row = RevokedToken.objects.get()
    access_ttl, leeway = timedelta(minutes=5), timedelta(seconds=30)
    assert row.expires_at - row.revoked_at == access_ttl + leeway


@pytest.mark.django_db
def test_marks_go_to_the_configured_revocation_cache(pair, api_client, settings):
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        "revocation": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "revocation",
        },
    }
    settings.JWT_EMAIL_REVOCATION_CACHE = "revocation"
    api_client.post("/auth/logout/", **bearer(pair["access"]))
    sid = RevokedToken.objects.get().jti
    assert caches["revocation"].get(revocation._key(sid)) == 1
    assert caches["default"].get(revocation._key(sid)) is None
    assert api_client.get("/api/pk/", **bearer(pair["access"])).status_code == 401


# --- across processes, through Redis ------------------------------------------------


def call(port, method, path, body=None, access=None):
    headers = {"Content-Type": "application/json"}
    if access:
        headers["Authorization"] = f"Bearer {access}"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", data=data, headers=headers, method=method
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            raw = response.read()
            return response.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as error:
        raw = error.read()
        return error.code, json.loads(raw) if raw else None


class Site:
    """Two gunicorn processes of the test site over one database and one Redis."""

    def __init__(self, tmp_path, prefix, revocation_cache):
        self.tmp_path = tmp_path
        self.mail_dir = tmp_path / "mail"
        self.mail_dir.mkdir(parents=True)
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tests.testapp.redis_site",
            "REVOCATION_TEST_DB": str(tmp_path / "db.sqlite3"),
            "REVOCATION_TEST_MAIL_DIR": str(self.mail_dir),
            "REVOCATION_TEST_PREFIX": prefix,
            "REVOCATION_TEST_CACHE": revocation_cache,
            "REDIS_URL": REDIS_URL,
            "PYTHONPATH": str(ROOT),
        }
        self.processes = []
        self.logs = []
        self.seen = set()

    def manage(self, *args):
        subprocess.run(
            [sys.executable, "-m", "django", *args],
            cwd=ROOT,
            env=self.env,
            check=True,
            capture_output=True,
            timeout=120,
        )

    def start(self):
        self.manage("migrate", "--noinput")
        self.manage(
            "shell",
            "-c",
            "from django.contrib.auth.models import User; "
            "User.objects.create_user('alice', 'alice@example.com')",
        )
        ports = [free_port(), free_port()]
        for port in ports:
            log = (self.tmp_path / f"gunicorn-{port}.log").open("wb")
            self.logs.append(log)
            self.processes.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "gunicorn",
                        "--workers=1",
                        f"--bind=127.0.0.1:{port}",
                        "tests.testapp.wsgi:application",
                    ],
                    cwd=ROOT,
                    env=self.env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )
        for port, process, log in zip(ports, self.processes, self.logs):
            url = f"http://127.0.0.1:{port}/auth/.well-known/jwks.json"
            wait_until_up(url, process, Path(log.name))
        return ports

    def new_token(self):
        """The token of the one email written since the last call."""
        files = set(self.mail_dir.iterdir()) - self.seen
        self.seen |= files
        (text,) = [path.read_text() for path in files]
        return re.search(r"/auth/verify/\?token=([\w.\-]+)", text).group(1)

    def stop(self):
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
        for log in self.logs:
            log.close()


@pytest.fixture
def two_processes(tmp_path, redis_client):
    prefix = f"jwt-email-revocation-test-{uuid.uuid4().hex}"
    sites = []

    def start(revocation_cache="redis"):
        site = Site(tmp_path / revocation_cache, prefix, revocation_cache)
        sites.append(site)
        return site, site.start()

    yield start
    for site in sites:
        site.stop()
    for key in redis_client.scan_iter(match=f"{prefix}*"):  # only this run's keys
        redis_client.delete(key)


def sign_in_through(site, port):
    assert call(port, "POST", "/auth/request/", {"email": "alice@example.com"})[0] == 202
    status, pair = call(port, "POST", "/auth/token/", {"token": site.new_token()})
    assert status == 200, pair
    return pair


@pytest.mark.redis
def test_logout_on_one_process_is_refused_by_the_other_on_the_next_request(two_processes):
    site, (a, b) = two_processes("redis")
    pair = sign_in_through(site, a)
    assert call(b, "GET", "/api/pk/", access=pair["access"])[0] == 200  # B is warm

    assert call(a, "POST", "/auth/logout/", access=pair["access"])[0] == 204

    status, body = call(b, "GET", "/api/pk/", access=pair["access"])
    assert status == 401
    assert body["code"] == "token_revoked"


@pytest.mark.redis
def test_logout_all_on_one_process_is_refused_by_the_other(two_processes):
    site, (a, b) = two_processes("redis")
    phone = sign_in_through(site, a)
    laptop = sign_in_through(site, b)
    call(b, "GET", "/api/pk/", access=phone["access"])

    assert call(a, "POST", "/auth/logout/all/", access=laptop["access"])[0] == 204

    for access in (phone["access"], laptop["access"]):
        assert call(b, "GET", "/api/pk/", access=access)[0] == 401


@pytest.mark.redis
def test_control_per_process_marks_are_not_shared(two_processes):
    """The same steps with the marks in each process's local memory: B still
    accepts the token after A's logout. This is why production needs Redis."""
    site, (a, b) = two_processes("locmem")
    pair = sign_in_through(site, a)
    assert call(b, "GET", "/api/pk/", access=pair["access"])[0] == 200

    assert call(a, "POST", "/auth/logout/", access=pair["access"])[0] == 204

    assert call(a, "GET", "/api/pk/", access=pair["access"])[0] == 401
    assert call(b, "GET", "/api/pk/", access=pair["access"])[0] == 200
