"""Revocation marks in a real Redis (Django's RedisCache), as several workers share them.

``revocation`` keeps one redis-py client per cache object instead of Django's new
client per call: these tests show that what another worker (here, another
thread with its own cache object) marks is refused at once, and that marks lost
from Redis are reloaded from the database.
"""

import threading
import uuid
from datetime import timedelta

import jwt
import pytest
from django.core.cache import caches
from django.utils import timezone

from django_jwt_email import revocation, tokens
from django_jwt_email.testing import bearer
from tests.servers import REDIS_URL

pytestmark = pytest.mark.redis


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
