"""The flows under ASGI (Django's AsyncClient): sign-in, Bearer (DRF and ninja),
refresh (body and cookie), sign-out and the rate limits, with every middleware of
the chain, the app's included, running in async mode (none adapted)."""

from __future__ import annotations

import logging

import pytest
from asgiref.sync import async_to_sync
from django.middleware.csrf import _get_new_csrf_string
from django.test import AsyncClient

from django_jwt_email.models import SignInSession, TokenEvent
from tests.conftest import token_of

pytestmark = pytest.mark.django_db

MIDDLEWARE = "django_jwt_email.middleware.RateLimitMiddleware"


class Async:
    """An AsyncClient whose requests a sync test runs to the end (the test database
    connection stays this thread's: Django runs sync views in it)."""

    def __init__(self, **kwargs) -> None:
        self.client = AsyncClient(**kwargs)

    def post(self, path, data=None, **headers):
        return async_to_sync(self.client.post)(
            path, data or {}, content_type="application/json", headers=headers
        )

    def get(self, path, **headers):
        return async_to_sync(self.client.get)(path, headers=headers)

    @property
    def cookies(self):
        return self.client.cookies


@pytest.fixture
def adapted(settings, caplog):
    """The "handler adapted" lines Django logs (at DEBUG, when DEBUG is on) while it
    builds the middleware chain of a new client's first request."""
    settings.DEBUG = True
    caplog.set_level(logging.DEBUG, logger="django.request")

    def lines():
        return [
            record.getMessage()
            for record in caplog.records
            if record.name == "django.request" and "adapted for middleware" in record.getMessage()
        ]

    return lines


def test_the_whole_flow_under_asgi_adapts_no_middleware(adapted, user, mailoutbox):
    client = Async()
    assert client.post("/auth/request/", {"email": user.email}).status_code == 202
    pair = client.post("/auth/token/", {"token": token_of(mailoutbox[-1])}).json()
    bearer = {"Authorization": f"Bearer {pair['access']}"}

    me = client.get("/api/me/", **bearer)
    assert me.status_code == 200
    assert me.json()["email"] == user.email
    assert client.get("/ninja/me/async", **bearer).json()["email"] == user.email
    assert client.get("/ninja/me", **bearer).json()["email"] == user.email

    refreshed = client.post("/auth/token/refresh/", {"refresh": pair["refresh"]})
    assert refreshed.status_code == 200
    again = client.post("/auth/token/refresh/", {"refresh": pair["refresh"]})
    assert again.json()["code"] == "token_used"  # reuse: the session is revoked
    assert SignInSession.objects.get().revoke_reason == "refresh_reuse"

    new = client.post("/auth/token/", {"token": token_of(_ask(client, user, mailoutbox))}).json()
    logout = client.post("/auth/logout/all/", Authorization=f"Bearer {new['access']}")
    assert logout.status_code == 204
    assert client.get("/api/me/", Authorization=f"Bearer {new['access']}").status_code == 401

    assert adapted() == []


def _ask(client, user, mailoutbox):
    assert client.post("/auth/request/", {"email": user.email}).status_code == 202
    return mailoutbox[-1]


def test_a_sync_only_middleware_would_be_seen(adapted, settings):
    """The check above can fail: a middleware that cannot run async is adapted, and
    Django says so."""
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, "tests.test_flows_async.sync_only"]
    Async().get("/home/")
    assert any("tests.test_flows_async.sync_only" in line for line in adapted())


def sync_only(get_response):
    return lambda request: get_response(request)


def test_the_app_middleware_alone_in_an_async_chain(adapted, settings, user):
    settings.MIDDLEWARE = [MIDDLEWARE]
    response = Async().post("/auth/request/", {"email": user.email})
    assert response.status_code == 202
    assert adapted() == []


def test_rate_limits_under_asgi(rates, user, mailoutbox):
    rates(request_ip="2/h")
    client = Async()
    statuses = [client.post("/auth/request/", {"email": user.email}).status_code for _ in "abc"]

    assert statuses == [202, 202, 429]
    limited = client.post("/auth/request/", {"email": user.email})
    assert limited.json()["code"] == "rate_limited"
    assert limited["Retry-After"].isdigit()
    assert len(mailoutbox) == 2
    assert TokenEvent.objects.filter(event="rate_limited", reason="request_ip").count() == 2


def test_per_address_limit_under_asgi(rates, user, mailoutbox):
    """Counted by the service inside the view, raised back to the middleware."""
    rates(request_email="1/h")
    client = Async()
    assert client.post("/auth/request/", {"email": user.email}).status_code == 202
    response = client.post("/auth/request/", {"email": user.email.upper()})
    assert response.status_code == 429
    assert len(mailoutbox) == 1


def test_failed_verifications_are_counted_and_successes_given_back_under_asgi(
    rates, user, mailoutbox
):
    rates(failed_ip="2/h")
    client = Async()
    for _ in range(3):  # successes never count against failed_ip
        token = token_of(_ask(client, user, mailoutbox))
        assert client.post("/auth/token/", {"token": token}).status_code == 200
    assert [client.post("/auth/token/", {"token": "x"}).status_code for _ in "abc"] == [
        400,
        400,
        429,
    ]


def test_cookie_transport_under_asgi(settings, user, mailoutbox):
    settings.JWT_EMAIL_TOKEN_TRANSPORT = "cookie"
    client = Async(enforce_csrf_checks=True)
    client.cookies["csrftoken"] = secret = _get_new_csrf_string()
    token = token_of(_ask(client, user, mailoutbox))
    signed_in = client.post("/auth/token/", {"token": token})
    assert "refresh" not in signed_in.json()
    assert "jwt_email_refresh" in signed_in.cookies

    assert client.post("/auth/token/refresh/").status_code == 403
    refreshed = client.post("/auth/token/refresh/", **{"X-CSRFToken": secret})
    assert refreshed.status_code == 200
    assert "refresh" not in refreshed.json()
    assert SignInSession.objects.get().generation == 1
