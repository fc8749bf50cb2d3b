"""django-ninja: JWTEmailBearer in sync and async operations, through ninja's test
clients and through Django's own (the API mounted at ninja/ in tests/urls.py)."""

from __future__ import annotations

import asyncio
import json
import logging
import threading

import pytest
from asgiref.sync import async_to_sync
from django.contrib.auth import get_user_model
from ninja.testing import TestAsyncClient, TestClient

from django_jwt_email import revocation
from django_jwt_email.models import TokenEvent
from tests.testapp.ninja_api import api, plain_api

pytestmark = pytest.mark.django_db


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def ninja():
    return TestClient(api)


@pytest.fixture
def ninja_async():
    """ninja's async test client, its coroutines run to the end from this sync test
    (Django's database connection stays this thread's)."""
    client = TestAsyncClient(api)

    class Runner:
        def get(self, path, **kwargs):
            return async_to_sync(client.get)(path, **kwargs)

    return Runner()


def test_sync_operation_gets_the_claims_and_the_user(ninja, pair, user):
    response = ninja.get("/me", headers=bearer(pair["access"]))
    assert response.status_code == 200
    assert response.json() == {"id": user.pk, "email": user.email, "scope": "api"}


def test_async_operation_gets_the_user_with_auser(ninja_async, pair, user):
    response = ninja_async.get("/me/async", headers=bearer(pair["access"]))
    assert response.status_code == 200
    assert response.json() == {"id": user.pk, "email": user.email}


@pytest.mark.parametrize("path", ["/pk", "/pk/async"])
def test_no_query_unless_the_view_reads_the_user(
    ninja, ninja_async, pair, user, path, django_assert_num_queries
):
    client = ninja_async if path.endswith("async") else ninja
    client.get(path, headers=bearer(pair["access"]))  # warms the revocation marks
    with django_assert_num_queries(0):
        response = client.get(path, headers=bearer(pair["access"]))
    assert response.json()["id"] == user.pk


def test_reading_the_user_loads_it_with_one_query(ninja, pair, django_assert_num_queries):
    ninja.get("/pk", headers=bearer(pair["access"]))
    with django_assert_num_queries(1):
        assert ninja.get("/me", headers=bearer(pair["access"])).status_code == 200


@pytest.mark.parametrize("path", ["/me", "/me/async"])
def test_a_bad_token_is_401_with_code_and_www_authenticate(ninja, ninja_async, pair, path):
    client = ninja_async if path.endswith("async") else ninja
    forged = pair["access"][:-4] + ("AAAA" if not pair["access"].endswith("AAAA") else "BBBB")
    response = client.get(path, headers=bearer(forged))
    assert response.status_code == 401
    assert response.json() == {"detail": "The token is invalid.", "code": "invalid_token"}
    assert response["WWW-Authenticate"] == (
        'Bearer error="invalid_token", error_description="invalid_token"'
    )
    assert TokenEvent.objects.filter(event="rejected").count() == 1


@pytest.mark.parametrize("path", ["/me", "/me/async"])
def test_a_refresh_or_login_token_is_not_an_access_token(
    ninja, ninja_async, pair, request_link, user, path
):
    client = ninja_async if path.endswith("async") else ninja
    for token in (pair["refresh"], request_link(user.email)):
        response = client.get(path, headers=bearer(token))
        assert response.status_code == 401
        assert response.json()["code"] == "invalid_token"


@pytest.mark.parametrize("path", ["/me", "/me/async"])
def test_a_revoked_session_is_refused_at_once(ninja, ninja_async, pair, api_client, path):
    client = ninja_async if path.endswith("async") else ninja
    logout = api_client.post("/auth/logout/", HTTP_AUTHORIZATION=f"Bearer {pair['access']}")
    assert logout.status_code == 204
    response = client.get(path, headers=bearer(pair["access"]))
    assert response.status_code == 401
    assert response.json()["code"] == "token_revoked"


def test_a_user_deactivated_behind_the_app_is_401_when_the_view_reads_it(ninja, pair, user):
    # update() sends no signal: the sessions are not revoked, the row tells.
    get_user_model().objects.filter(pk=user.pk).update(is_active=False)
    response = ninja.get("/me", headers=bearer(pair["access"]))
    assert response.status_code == 401
    assert response.json() == {
        "detail": "The user of this token is gone.",
        "code": "invalid_token",
    }


@pytest.mark.parametrize(
    "header", [None, "Basic YWxpY2U6c2VjcmV0", "Bearer", "Bearer a b", "Token abc"]
)
def test_no_bearer_token_is_401_and_nothing_else_runs(ninja, header):
    headers = {"Authorization": header} if header else {}
    response = ninja.get("/me", headers=headers)
    assert response.status_code == 401


def test_another_scheme_is_never_logged(ninja, pair, settings, caplog):
    """ninja's own HttpBearer logs the whole header of another scheme in DEBUG."""
    settings.DEBUG = True
    with caplog.at_level(logging.DEBUG):
        ninja.get("/me", headers={"Authorization": f"Token {pair['access']}"})
    assert pair["access"] not in caplog.text
    assert pair["access"][-20:] not in caplog.text


def test_without_the_handler_ninja_answers_its_own_401(pair):
    response = TestClient(plain_api).get("/me", headers=bearer("not-a-token"))
    assert response.status_code == 401
    assert response.json() == {"detail": "The token is invalid."}


def test_open_operations_need_no_token(ninja, user):
    assert ninja.get("/users").json() == {"count": 1}


def test_through_django_urls_and_middleware(client, pair, user):
    response = client.get("/ninja/me", HTTP_AUTHORIZATION=f"Bearer {pair['access']}")
    assert response.status_code == 200
    assert response.json()["id"] == user.pk
    assert client.get("/ninja/me").status_code == 401


def test_the_async_path_checks_revocation_off_the_event_loop(ninja_async, pair, monkeypatch):
    """The revocation check (a cache round trip, or a database query when the cache
    is down) runs in a thread where no event loop runs: the loop is never blocked."""
    seen = []
    real = revocation.is_session_revoked

    def watched(sid):
        try:
            asyncio.get_running_loop()
            on_loop = True
        except RuntimeError:
            on_loop = False
        seen.append((on_loop, threading.current_thread().name))
        return real(sid)

    monkeypatch.setattr(revocation, "is_session_revoked", watched)
    response = ninja_async.get("/pk/async", headers=bearer(pair["access"]))

    assert response.status_code == 200
    assert len(seen) == 1
    assert seen[0][0] is False, f"revocation checked on the event loop ({seen[0][1]})"


def test_the_sync_path_stays_in_the_calling_thread(ninja, pair, monkeypatch):
    seen = []
    real = revocation.is_session_revoked
    monkeypatch.setattr(
        revocation,
        "is_session_revoked",
        lambda sid: seen.append(threading.current_thread()) or real(sid),
    )
    assert ninja.get("/pk", headers=bearer(pair["access"])).status_code == 200
    assert seen == [threading.current_thread()]


def test_the_schema_has_the_bearer_security_scheme():
    schema = api.get_openapi_schema()
    assert schema["components"]["securitySchemes"]["JWTEmailBearer"] == {
        "type": "http",
        "scheme": "bearer",
    }
    assert schema["paths"]["/ninja/me"]["get"]["security"] == [{"JWTEmailBearer": []}]


@pytest.mark.parametrize("path", ["/pk", "/pk/async"])
def test_a_revocation_cache_that_is_down_falls_back_to_the_database(
    ninja, ninja_async, pair, api_client, settings, closed_port, path
):
    """A Redis where nothing listens: the check asks the session's row instead, in
    the async path too (in its thread), and still refuses a revoked session."""
    pytest.importorskip("redis")
    client = ninja_async if path.endswith("async") else ninja
    settings.CACHES = {
        **settings.CACHES,
        "revocation": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{closed_port}/0",
        },
    }
    settings.JWT_EMAIL_REVOCATION_CACHE = "revocation"
    assert client.get(path, headers=bearer(pair["access"])).status_code == 200
    api_client.post("/auth/logout/", HTTP_AUTHORIZATION=f"Bearer {pair['access']}")
    refused = client.get(path, headers=bearer(pair["access"]))
    assert refused.status_code == 401
    assert refused.json()["code"] == "token_revoked"


def test_an_outage_is_503_unavailable_with_retry_after():
    from django_jwt_email.contrib.ninja import BearerError, bearer_error_response
    from django_jwt_email.exceptions import Unavailable

    response = bearer_error_response(None, BearerError.unavailable(Unavailable()))
    assert response.status_code == 503
    assert response["Retry-After"].isdigit()
    assert "no-store" in response["Cache-Control"]
    assert json.loads(response.content)["code"] == "unavailable"
