"""HTTP helpers: who is asking, no-store answers, safe redirects, outage answers."""

import json

import pytest
from django.db import OperationalError
from django.test import RequestFactory

from django_jwt_email import http
from django_jwt_email.adapter import DefaultAdapter
from django_jwt_email.exceptions import Unavailable

factory = RequestFactory()


def test_client_of_truncates_the_user_agent():
    client = http.client_of(factory.get("/", REMOTE_ADDR="192.0.2.1", HTTP_USER_AGENT="x" * 1000))
    assert client.ip == "192.0.2.1"
    assert client.user_agent == "x" * 255


class FixedIPAdapter(DefaultAdapter):
    def client_ip(self, request):
        return "198.51.100.7"


def test_client_of_asks_the_adapter_for_the_ip(settings):
    settings.JWT_EMAIL_ADAPTER = "tests.test_http.FixedIPAdapter"
    assert http.client_of(factory.get("/", REMOTE_ADDR="192.0.2.1")).ip == "198.51.100.7"


def test_no_store_keeps_the_answer_out_of_caches_and_referers():
    response = http.no_store(http.HttpResponse())
    assert "no-store" in response["Cache-Control"]
    assert response["Referrer-Policy"] == "no-referrer"


@pytest.mark.parametrize(
    "candidate,expected",
    [
        ("/home/", "/home/"),
        ("https://app.example.com/x", "https://app.example.com/x"),
        ("https://evil.example/", ""),
        ("//evil.example/", ""),
        ("javascript:alert(1)", ""),
    ],
)
def test_safe_next_keeps_redirects_on_this_site(candidate, expected):
    request = factory.get("/", secure=True, HTTP_HOST="app.example.com")
    assert http.safe_next(request, candidate) == expected


def test_unavailable_json_is_a_503_with_retry_after():
    response = http.unavailable_json(Unavailable())
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert json.loads(response.content)["code"] == "unavailable"
    assert "no-store" in response["Cache-Control"]


def test_a_lost_database_connection_is_unavailable_and_a_deadlock_is_not():
    class DriverError(Exception):
        sqlstate = None

    DriverError.__module__ = "psycopg"
    lost = OperationalError("server closed the connection unexpectedly")
    lost.__cause__ = DriverError()

    class Deadlock(Exception):
        sqlstate = "40P01"

    deadlock = OperationalError("deadlock detected")
    deadlock.__cause__ = Deadlock()

    assert http.as_unavailable(lost).code == "unavailable"
    assert http.as_unavailable(deadlock) is None
    assert http.as_unavailable(ValueError()) is None


# --- the cookie transport ------------------------------------------------------------


@pytest.mark.parametrize(
    "mode,asked,cookie_borne,expected",
    [
        ("body", "", False, False),
        ("body", "", True, False),
        ("cookie", "", False, True),
        ("both", "", False, False),
        ("both", "cookie", False, True),
        ("both", "", True, True),  # a refresh from the cookie goes back in it
        ("both", "body", True, False),  # unless the request asks for the body
    ],
)
def test_refresh_in_cookie(settings, mode, asked, cookie_borne, expected):
    settings.JWT_EMAIL_TOKEN_TRANSPORT = mode
    assert http.refresh_in_cookie(asked, cookie_borne=cookie_borne) is expected


@pytest.mark.parametrize(
    "mode,offered", [("body", ("body",)), ("cookie", ("cookie",)), ("both", ("body", "cookie"))]
)
def test_offered_transports(settings, mode, offered):
    settings.JWT_EMAIL_TOKEN_TRANSPORT = mode
    assert http.offered_transports() == offered


def test_refresh_cookie_is_read_only_where_the_site_sets_one(settings):
    request = factory.post("/auth/token/refresh/")
    request.COOKIES[http.REFRESH_COOKIE] = " a.b.c "
    assert http.cookie_refresh_token(request) == ""
    settings.JWT_EMAIL_TOKEN_TRANSPORT = "both"
    assert http.cookie_refresh_token(request) == "a.b.c"


def test_csrf_failure_names_the_reason_and_passes_a_matching_token():
    request = factory.post("/auth/token/refresh/")
    assert "CSRF cookie not set" in http.csrf_failure(request)
    secret = "a" * 32
    request = factory.post("/auth/token/refresh/", HTTP_X_CSRFTOKEN=secret)
    request.COOKIES["csrftoken"] = secret
    assert http.csrf_failure(request) is None
