"""Revocation marks in a real Redis (Django's RedisCache), as several workers share them.

``revocation`` keeps one redis-py client per cache object instead of Django's new
client per call: these tests show that what another worker (here, another
thread with its own cache object) marks is refused at once, and that marks lost
from Redis are reloaded from the database.
"""

import os
import subprocess
import sys
import threading
import time
import uuid
from datetime import timedelta
from pathlib import Path

import jwt
import pytest
from django.core.cache import caches
from django.utils import timezone

from django_jwt_email import revocation, tokens
from django_jwt_email.models import RevokedToken
from django_jwt_email.testing import bearer
from tests.servers import REDIS_URL

pytestmark = pytest.mark.redis

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def redis_revocation(settings, redis_client):
    """REVOCATION_CACHE on Redis, under a key prefix of this test alone."""
    client = redis_client
    prefix = f"test-revocation-{uuid.uuid4().hex}"
    settings.CACHES = {
        **settings.CACHES,
        "revocation": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": prefix,
        },
    }
    settings.JWT_EMAIL_REVOCATION_CACHE = "revocation"
    yield lambda: [key for key in client.scan_iter(f"{prefix}:*")]
    for key in client.scan_iter(f"{prefix}:*"):
        client.delete(key)


def test_logout_refuses_the_access_token_at_once(redis_revocation, pair, api_client):
    assert api_client.get("/api/pk/", **bearer(pair["access"])).status_code == 200

    assert api_client.post("/auth/logout/", **bearer(pair["access"])).status_code == 204

    response = api_client.get("/api/pk/", **bearer(pair["access"]))
    assert response.status_code == 401
    assert response.json()["code"] == "token_revoked"


def test_a_mark_set_by_another_worker_is_seen_on_the_next_request(
    redis_revocation, pair, api_client
):
    # The first request makes (and keeps) this thread's client.
    assert api_client.get("/api/pk/", **bearer(pair["access"])).status_code == 200
    sid = tokens.decode(pair["access"], tokens.TokenKind.ACCESS)["sid"]

    # Another thread has its own cache object and client, as another worker would.
    worker = threading.Thread(
        target=revocation.mark_sessions, args=([sid], timezone.now() + timedelta(minutes=6))
    )
    worker.start()
    worker.join()

    response = api_client.get("/api/pk/", **bearer(pair["access"]))
    assert response.status_code == 401
    assert response.json()["code"] == "token_revoked"


def test_marks_lost_from_redis_are_reloaded_from_the_denylist(redis_revocation, pair, api_client):
    assert api_client.post("/auth/logout/", **bearer(pair["access"])).status_code == 204
    keys = redis_revocation()
    assert keys  # the session mark and the "loaded" flag
    redis = pytest.importorskip("redis")
    redis.Redis.from_url(REDIS_URL).delete(*keys)  # a flush, an eviction, a restart

    response = api_client.get("/api/pk/", **bearer(pair["access"]))
    assert response.status_code == 401
    assert response.json()["code"] == "token_revoked"


def test_another_sessions_mark_does_not_refuse_this_one(redis_revocation, user, pair, api_client):
    revocation.mark_sessions([tokens.new_id()], timezone.now() + timedelta(minutes=6))

    response = api_client.get("/api/pk/", **bearer(pair["access"]))

    assert response.status_code == 200
    assert response.json() == {"id": user.pk}


# --- each process's tracked copy of the marks (``tracking``) ---------------------------


@pytest.fixture
def private_revocation(settings, private_redis):
    """REVOCATION_CACHE on a Redis of the test's own: its command counts are this test's."""
    settings.CACHES = {
        **settings.CACHES,
        "revocation": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": private_redis.url,
            "KEY_PREFIX": "marks",
        },
    }
    settings.JWT_EMAIL_REVOCATION_CACHE = "revocation"
    redis = pytest.importorskip("redis")
    client = redis.Redis.from_url(private_redis.url)
    yield private_redis, client
    client.close()


def mget_calls(client):
    return client.info("commandstats").get("cmdstat_mget", {}).get("calls", 0)


def eventually(predicate, seconds=10.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return False


def answered_by_the_copy(api_client, access, client):
    """Check ``access`` until a check asks Redis nothing: the copy then holds the
    answer (the first checks reload the marks and ask Redis). True if it came to that."""
    for _ in range(10):
        asked = mget_calls(client)
        assert api_client.get("/api/pk/", **bearer(access)).status_code == 200
        if mget_calls(client) == asked:
            return True
    return False


def sid_of(pair):
    return tokens.decode(pair["access"], tokens.TokenKind.ACCESS)["sid"]


def test_a_checked_session_is_checked_again_without_asking_redis(
    private_revocation, pair, api_client
):
    _, client = private_revocation
    assert answered_by_the_copy(api_client, pair["access"], client)
    asked = mget_calls(client)

    for _ in range(5):
        assert api_client.get("/api/pk/", **bearer(pair["access"])).status_code == 200

    assert mget_calls(client) == asked


MARK_IN_ANOTHER_PROCESS = """
import sys
from datetime import timedelta

import django
from django.conf import settings

settings.configure(
    INSTALLED_APPS=["django.contrib.auth", "django.contrib.contenttypes", "django_jwt_email"],
    DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
    CACHES={
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        "revocation": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": sys.argv[1],
            "KEY_PREFIX": "marks",
        },
    },
    JWT_EMAIL_REVOCATION_CACHE="revocation",
    USE_TZ=True,
)
django.setup()
from django.utils import timezone

from django_jwt_email import revocation

revocation.mark_sessions([sys.argv[2]], timezone.now() + timedelta(minutes=6))
"""


def test_a_revocation_marked_by_another_process_is_refused_by_this_one(
    private_revocation, pair, api_client
):
    """This process answers from its tracked copy; another process marks the session
    revoked; this process refuses it (polled: how soon is the benchmark's to say)."""
    server, client = private_revocation
    assert answered_by_the_copy(api_client, pair["access"], client)

    subprocess.run(
        [sys.executable, "-c", MARK_IN_ANOTHER_PROCESS, server.url, sid_of(pair)],
        cwd=ROOT,
        check=True,
        timeout=60,
    )

    assert eventually(
        lambda: api_client.get("/api/pk/", **bearer(pair["access"])).status_code == 401
    )


def test_a_mark_written_while_the_copy_cannot_hear_is_not_missed(
    private_revocation, pair, api_client
):
    """The copy's connection is cut, then the session is marked: the copy must not
    answer from what it knew (the cut is noticed, the copy dropped, Redis asked)."""
    _, client = private_revocation
    assert answered_by_the_copy(api_client, pair["access"], client)
    (tracking_client,) = [c for c in client.client_list() if "t" in c["flags"]]

    client.client_kill_filter(_id=tracking_client["id"])
    client.set(f"marks:1:{revocation._key(sid_of(pair))}", 1, ex=360)

    response = api_client.get("/api/pk/", **bearer(pair["access"]))
    assert response.status_code == 401
    assert response.json()["code"] == "token_revoked"


def test_a_forked_process_makes_its_own_copy_and_leaves_the_parents_alone(
    private_revocation, pair, api_client
):
    _, client = private_revocation
    assert answered_by_the_copy(api_client, pair["access"], client)
    parents = revocation._tracked()

    child = os.fork()
    if child == 0:  # the child: a copy of its own, on a connection of its own
        try:
            own = revocation._tracked()
            ok = own is not parents and own.pid == os.getpid() and own.get([]) == []
        except BaseException:
            ok = False
        os._exit(0 if ok else 1)
    _, status = os.waitpid(child, 0)

    assert os.waitstatus_to_exitcode(status) == 0
    asked = mget_calls(client)
    assert api_client.get("/api/pk/", **bearer(pair["access"])).status_code == 200
    assert mget_calls(client) == asked  # the parent's copy still answers


def reversed_key(key, key_prefix, version):
    return f"{key}:{version}:{key_prefix}"


def test_a_key_function_that_scatters_the_marks_gets_no_copy(
    private_revocation, settings, pair, api_client
):
    revocation_cache = {
        **settings.CACHES["revocation"],
        "KEY_FUNCTION": f"{__name__}.reversed_key",
    }
    settings.CACHES = {**settings.CACHES, "revocation": revocation_cache}
    assert revocation._tracked() is None

    assert api_client.post("/auth/logout/", **bearer(pair["access"])).status_code == 204
    assert api_client.get("/api/pk/", **bearer(pair["access"])).status_code == 401


@pytest.mark.django_db
def test_reloading_leaves_the_marks_already_there_alone(private_revocation):
    """A reload writes only the missing marks (SET NX): a mark already in Redis keeps its
    own expiry, and the copies of every process are not told to drop it for nothing."""
    _, client = private_revocation
    now = timezone.now()
    RevokedToken.objects.create(jti="early", kind="session", expires_at=now + timedelta(minutes=2))
    RevokedToken.objects.create(jti="late", kind="session", expires_at=now + timedelta(minutes=6))
    client.set(f"marks:1:{revocation._key('early')}", 1, ex=120)

    assert revocation.reload_marks() == 2

    assert 0 < client.ttl(f"marks:1:{revocation._key('early')}") <= 120
    assert 300 < client.ttl(f"marks:1:{revocation._key('late')}") <= 361


# --- a Redis of the test's own that goes down ------------------------------------------


@pytest.fixture
def outage(settings, private_redis):
    """REVOCATION_CACHE on a private Redis (short socket timeouts) the test stops."""
    settings.CACHES = {
        **settings.CACHES,
        "revocation": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": private_redis.url,
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        },
    }
    settings.JWT_EMAIL_REVOCATION_CACHE = "revocation"
    revocation._pending.clear()
    yield private_redis
    revocation._pending.clear()


def test_with_the_cache_down_the_database_answers_and_warns_once_a_minute(
    outage, pair, api_client, caplog, monkeypatch
):
    monkeypatch.setattr("django_jwt_email.availability._last_warned", {})
    api_client.post("/auth/logout/", **bearer(pair["access"]))
    outage.stop()
    for _ in range(3):
        response = api_client.get("/api/pk/", **bearer(pair["access"]))
        assert response.status_code == 401
        assert response.json()["code"] == "token_revoked"
    warnings = [r for r in caplog.records if "revocation cache unreachable" in r.getMessage()]
    assert len(warnings) == 1


def test_a_revocation_during_an_outage_is_written_when_the_cache_comes_back(
    outage, pair, api_client
):
    outage.stop()
    # Saved in the database, answered 200, refused at once (by the database).
    revoke = api_client.post("/auth/token/revoke/", {"token": pair["refresh"]}, format="json")
    assert revoke.status_code == 200
    assert api_client.get("/api/pk/", **bearer(pair["access"])).status_code == 401
    assert revocation._pending  # kept, to be written later

    outage.start()  # the cache is back, and claims its (old) marks are loaded
    cache = caches["revocation"]
    cache.set(revocation.LOADED_KEY, 1)
    assert api_client.get("/api/pk/", **bearer(pair["access"])).status_code == 401
    assert not revocation._pending
    sid = jwt.decode(pair["access"], options={"verify_signature": False})["sid"]
    assert cache.get(f"{revocation.KEY_PREFIX}sid:{sid}") == 1
    # Every process reloads on its next request: the "loaded" key was deleted, then
    # set again by this request's reload.
    assert cache.get(revocation.LOADED_KEY) == 1
