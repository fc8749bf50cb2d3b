"""Revocation marks in a real Redis (Django's RedisCache), as several workers share them.

``revocation`` keeps one redis-py client per cache object instead of Django's new
client per call: these tests show that what another worker (here, another
thread with its own cache object) marks is refused at once, and that marks lost
from Redis are reloaded from the database.
"""

import os
import threading
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from django_jwt_email import revocation, tokens
from django_jwt_email.testing import bearer

pytestmark = pytest.mark.redis

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")


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
