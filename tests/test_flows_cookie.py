"""The cookie transport (JWT_EMAIL_TOKEN_TRANSPORT): the refresh token in an HttpOnly
cookie for a front end, never in a body, refreshed only with Django's CSRF token,
cleared at sign-out; and "both", where each request chooses."""

from __future__ import annotations

import json
import re

import jwt
import pytest
from django.middleware.csrf import _get_new_csrf_string
from rest_framework.test import APIClient

from django_jwt_email import urls
from django_jwt_email.models import SignInSession, TokenEvent
from tests.conftest import code_of, token_of

pytestmark = pytest.mark.django_db

COOKIE = "jwt_email_refresh"
REFRESH_PATH = "/auth/token/refresh/"
JWT = re.compile(r"eyJ[\w-]+\.eyJ[\w-]+\.[\w-]+")


@pytest.fixture
def cookie_mode(settings):
    settings.JWT_EMAIL_TOKEN_TRANSPORT = "cookie"


@pytest.fixture
def browser():
    """A front end's fetch(): Django's CSRF checks on, a CSRF cookie as Django sets it."""
    client = APIClient(enforce_csrf_checks=True)
    client.cookies["csrftoken"] = _get_new_csrf_string()
    return client


def csrf(client) -> dict[str, str]:
    """The header a page sends, its value read from the csrftoken cookie."""
    return {"HTTP_X_CSRFTOKEN": client.cookies["csrftoken"].value}


def sign_in(client, request_link, user, **extra):
    token = request_link(user.email)
    return client.post("/auth/token/", {"token": token, **extra}, format="json", **csrf(client))


def refresh(client, body=None, **headers):
    return client.post(REFRESH_PATH, body or {}, format="json", **headers)


# --- the cookie --------------------------------------------------------------------------


def test_sign_in_puts_the_refresh_token_in_an_httponly_cookie_not_the_body(
    cookie_mode, browser, request_link, user
):
    response = sign_in(browser, request_link, user)

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access", "token_type", "expires_in", "refresh_expires_in"}
    cookie = response.cookies[COOKIE]
    assert jwt.get_unverified_header(cookie.value)["typ"] == "refresh+jwt"
    assert cookie["httponly"] is True
    assert cookie["secure"] is True  # DEBUG is off
    assert cookie["samesite"] == "Strict"
    assert cookie["path"] == REFRESH_PATH
    assert cookie["max-age"] == body["refresh_expires_in"]
    assert "no-store" in response["Cache-Control"]


def test_the_cookie_is_not_secure_in_debug(cookie_mode, browser, request_link, user, settings):
    settings.DEBUG = True
    assert sign_in(browser, request_link, user).cookies[COOKIE]["secure"] == ""


def test_code_sign_in_puts_the_refresh_token_in_the_cookie(
    cookie_mode, browser, api_client, user, mailoutbox
):
    api_client.post("/auth/request/", {"email": user.email}, format="json")
    response = browser.post(
        "/auth/code/",
        {"email": user.email, "code": code_of(mailoutbox[-1])},
        format="json",
        **csrf(browser),
    )
    assert response.status_code == 200
    assert "refresh" not in response.json()
    assert response.cookies[COOKIE]["httponly"] is True


# --- refresh from the cookie ---------------------------------------------------------------


def test_refresh_from_the_cookie_with_the_csrf_token_rotates_the_cookie(
    cookie_mode, browser, request_link, user
):
    first = sign_in(browser, request_link, user).cookies[COOKIE].value

    response = refresh(browser, **csrf(browser))

    assert response.status_code == 200, response.content
    assert "refresh" not in response.json()
    second = response.cookies[COOKIE].value
    assert second != first
    assert jwt.decode(second, options={"verify_signature": False})["gen"] == 1
    assert SignInSession.objects.get().generation == 1


def test_refresh_from_the_cookie_without_the_csrf_token_is_refused(
    cookie_mode, browser, request_link, user
):
    sign_in(browser, request_link, user)

    response = refresh(browser)

    assert response.status_code == 403
    assert response.json()["code"] == "csrf_failed"
    assert "CSRF token missing" in response.json()["detail"]
    assert COOKIE not in response.cookies  # neither rotated nor cleared
    assert SignInSession.objects.get().generation == 0


def test_a_cross_site_post_to_refresh_is_refused_even_with_the_cookie(
    cookie_mode, browser, request_link, user
):
    """What a hostile page's form or fetch() sends, should a browser ignore SameSite:
    the victim's cookies, another Origin, no CSRF token of the site."""
    sign_in(browser, request_link, user)

    response = refresh(
        browser,
        HTTP_ORIGIN="https://evil.example",
        HTTP_SEC_FETCH_SITE="cross-site",
        HTTP_REFERER="https://evil.example/page",
    )
    assert response.status_code == 403
    assert response.json()["code"] == "csrf_failed"
    # The attacker's page cannot read the victim's CSRF cookie; a guessed one fails too.
    guessed = refresh(browser, HTTP_X_CSRFTOKEN=_get_new_csrf_string())
    assert guessed.status_code == 403
    assert SignInSession.objects.get().generation == 0


def test_a_cross_origin_post_with_the_csrf_token_is_refused_unless_trusted(
    cookie_mode, browser, request_link, user, settings
):
    sign_in(browser, request_link, user)
    other_origin = {"HTTP_ORIGIN": "https://app.example.net", **csrf(browser)}

    assert refresh(browser, **other_origin).status_code == 403

    settings.CSRF_TRUSTED_ORIGINS = ["https://app.example.net"]
    assert refresh(browser, **other_origin).status_code == 200


def test_the_body_wins_over_the_cookie_and_needs_no_csrf_token(
    cookie_mode, browser, api_client, request_link, user, settings
):
    settings.JWT_EMAIL_TOKEN_TRANSPORT = "both"
    sign_in(browser, request_link, user, transport="cookie")  # session 1, in the cookie
    body_pair = api_client.post(
        "/auth/token/", {"token": request_link(user.email)}, format="json"
    ).json()  # session 2, in the body
    body_sid = jwt.decode(body_pair["refresh"], options={"verify_signature": False})["sid"]

    response = refresh(browser, {"refresh": body_pair["refresh"]})  # no CSRF token

    assert response.status_code == 200
    assert "refresh" in response.json()  # answered as it asked: in the body
    rotated = SignInSession.objects.get(generation=1)
    assert rotated.sid == body_sid


def test_reusing_an_old_cookie_revokes_the_session_and_clears_the_cookie(
    cookie_mode, browser, request_link, user
):
    old = sign_in(browser, request_link, user).cookies[COOKIE].value
    assert refresh(browser, **csrf(browser)).status_code == 200

    browser.cookies[COOKIE] = old  # a copy taken before the rotation
    response = refresh(browser, **csrf(browser))

    assert response.status_code == 400
    assert response.json()["code"] == "token_used"
    assert response.cookies[COOKIE]["max-age"] == 0
    assert SignInSession.objects.get().revoke_reason == "refresh_reuse"
    assert TokenEvent.objects.filter(event="refresh_reuse").count() == 1


def test_refresh_without_body_or_cookie_is_a_bad_request(cookie_mode, browser):
    response = refresh(browser, **csrf(browser))
    assert response.status_code == 400
    assert response.json() == {
        "detail": "refresh: This field is required.",
        "code": "invalid_request",
    }


def test_under_the_body_transport_a_refresh_cookie_is_ignored(
    browser, api_client, request_link, user
):
    pair = api_client.post("/auth/token/", {"token": request_link(user.email)}, format="json")
    browser.cookies[COOKIE] = pair.json()["refresh"]

    response = refresh(browser, **csrf(browser))

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_request"
    assert COOKIE not in response.cookies


# --- sign-out clears the cookie ----------------------------------------------------------


def assert_cleared(response):
    cookie = response.cookies[COOKIE]
    assert cookie.value == ""
    assert cookie["max-age"] == 0
    assert cookie["path"] == REFRESH_PATH


@pytest.mark.parametrize("path", ["/auth/logout/", "/auth/logout/all/"])
def test_logout_clears_the_cookie_and_ends_the_session(
    cookie_mode, browser, request_link, user, path
):
    access = sign_in(browser, request_link, user).json()["access"]

    response = browser.post(path, HTTP_AUTHORIZATION=f"Bearer {access}")

    assert response.status_code == 204
    assert_cleared(response)
    assert SignInSession.objects.get().revoked_at is not None


def test_revoke_clears_the_cookie(cookie_mode, browser, request_link, user):
    access = sign_in(browser, request_link, user).json()["access"]

    response = browser.post("/auth/token/revoke/", {"token": access}, format="json")

    assert response.status_code == 200
    assert_cleared(response)
    assert SignInSession.objects.get().revoke_reason == "client_revoked"


def test_under_the_body_transport_nothing_clears_a_cookie(api_client, pair):
    response = api_client.post("/auth/logout/", HTTP_AUTHORIZATION=f"Bearer {pair['access']}")
    assert response.status_code == 204
    assert COOKIE not in response.cookies


# --- "both": each request chooses ----------------------------------------------------------


def test_both_gives_the_body_unless_the_request_asks_for_the_cookie(
    settings, api_client, browser, request_link, user
):
    settings.JWT_EMAIL_TOKEN_TRANSPORT = "both"
    mobile = api_client.post("/auth/token/", {"token": request_link(user.email)}, format="json")
    assert "refresh" in mobile.json()
    assert COOKIE not in mobile.cookies

    spa = sign_in(browser, request_link, user, transport="cookie")
    assert "refresh" not in spa.json()
    assert COOKIE in spa.cookies
    # A refresh carried by the cookie comes back in the cookie.
    again = refresh(browser, **csrf(browser))
    assert "refresh" not in again.json()
    assert COOKIE in again.cookies


@pytest.mark.parametrize(
    "mode,asked", [("body", "cookie"), ("cookie", "body"), ("both", "header")]
)
def test_a_transport_the_site_does_not_offer_is_a_bad_request(
    settings, api_client, request_link, user, mode, asked
):
    settings.JWT_EMAIL_TOKEN_TRANSPORT = mode
    token = request_link(user.email)
    response = api_client.post("/auth/token/", {"token": token, "transport": asked}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_request"
    assert response.json()["detail"].startswith("transport: ")
    # Nothing was spent: the link still works.
    again = api_client.post("/auth/token/", {"token": token}, format="json")
    assert again.status_code == 200


# --- no body holds a refresh token ---------------------------------------------------------


def test_no_response_body_of_any_endpoint_holds_a_refresh_token(
    cookie_mode, browser, api_client, user, mailoutbox
):
    """Every endpoint of the app, each called the way a front end calls it: no body
    (JSON or page) ever holds a refresh token, whichever the cookie held."""
    bodies: dict[str, list[bytes]] = {}
    refresh_tokens: set[str] = set()

    def call(name, method, path, data=None, **headers):
        response = getattr(browser, method)(path, data, format="json", **headers)
        assert response.status_code < 500, (name, response.content)
        bodies.setdefault(name, []).append(response.content)
        if COOKIE in response.cookies and response.cookies[COOKIE].value:
            refresh_tokens.add(response.cookies[COOKIE].value)
        return response

    def ask():
        call("request", "post", "/auth/request/", {"email": user.email})
        return mailoutbox[-1]

    mail = ask()
    call("verify", "get", f"/auth/verify/?token={token_of(mail)}")
    access = call("token", "post", "/auth/token/", {"token": token_of(mail)}, **csrf(browser))
    access = access.json()["access"]
    code = {"email": user.email, "code": code_of(ask())}
    call("code", "post", "/auth/code/", code, **csrf(browser))
    call("refresh", "post", REFRESH_PATH, {}, **csrf(browser))
    call("jwks", "get", "/auth/.well-known/jwks.json")
    call("admin_request", "post", "/auth/admin/request/", {"email": user.email})
    call("revoke", "post", "/auth/token/revoke/", {"token": next(iter(refresh_tokens))})
    call("refresh", "post", REFRESH_PATH, {}, **csrf(browser))  # refused: revoked
    access = call(
        "token", "post", "/auth/token/", {"token": token_of(ask())}, **csrf(browser)
    ).json()["access"]
    call("logout", "post", "/auth/logout/", HTTP_AUTHORIZATION=f"Bearer {access}")
    access = call(
        "token", "post", "/auth/token/", {"token": token_of(ask())}, **csrf(browser)
    ).json()["access"]
    call("logout_all", "post", "/auth/logout/all/", HTTP_AUTHORIZATION=f"Bearer {access}")
    mail = ask()
    browser.post("/auth/verify/", {"token": token_of(mail)}, format="multipart", **csrf(browser))
    call("verify", "post", "/auth/verify/", {"token": token_of(mail)}, **csrf(browser))

    endpoints = {pattern.name for pattern in urls.urlpatterns}
    assert endpoints <= set(bodies), f"endpoints not called: {endpoints - set(bodies)}"
    assert len(refresh_tokens) >= 3
    for name, contents in bodies.items():
        for content in contents:
            text = content.decode()
            assert not any(token in text for token in refresh_tokens), name
            for found in JWT.findall(text):
                assert jwt.get_unverified_header(found)["typ"] != "refresh+jwt", name
            if text.startswith("{"):
                assert "refresh" not in json.loads(text), name
