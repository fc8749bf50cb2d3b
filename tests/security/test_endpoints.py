"""Attacks on the endpoints themselves, sent for real through the URLs.

Enumeration, header injection, look-alike addresses, host-header poisoning,
open redirects, malformed and oversized bodies, replay (sequential and
concurrent), refresh reuse, revocation surviving a cache flush, CSRF on the
browser forms, and the caching and referrer headers of every response that
carries or consumes a token.
"""

from __future__ import annotations

import threading
from urllib.parse import urljoin, urlsplit

import pytest
from django.core.cache import caches
from django.db import connection
from django.test import Client
from rest_framework.test import APIClient

from django_jwt_email.models import IssuedToken, RevokedToken, SignInSession, TokenEvent
from tests.conftest import code_of, token_of

pytestmark = pytest.mark.django_db

JSON_ENDPOINTS = {
    "request": "/auth/request/",
    "token": "/auth/token/",
    "code": "/auth/code/",
    "refresh": "/auth/token/refresh/",
    "revoke": "/auth/token/revoke/",
}


def assert_json_error(response, *statuses: int) -> dict:
    assert response.status_code in statuses, (response.status_code, response.content)
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"detail", "code"}
    assert isinstance(body["detail"], str) and isinstance(body["code"], str)
    return body


def ask(client, email, **extra):
    return client.post("/auth/request/", {"email": email, **extra}, format="json")


# --- enumeration -------------------------------------------------------------------


def _comparable(response) -> dict:
    """Status, body, headers and cookie attributes, without what differs by the clock
    or by chance (the Expires date; the random value of the binding cookie)."""
    headers = {name: value for name, value in response.items() if name not in {"Expires"}}
    cookies = {
        name: {key: value for key, value in morsel.items() if key != "expires"}
        for name, morsel in response.cookies.items()
    }
    return {
        "status": response.status_code,
        "body": response.content,
        "headers": headers,
        "cookies": cookies,
    }


@pytest.mark.parametrize("bind", [False, True], ids=["plain", "bound-to-browser"])
@pytest.mark.parametrize("other", ["unknown", "inactive"])
def test_request_answers_every_address_alike(user_factory, settings, mailoutbox, bind, other):
    settings.JWT_EMAIL_BIND_TO_BROWSER = bind
    known = user_factory("known@example.com")
    user_factory("inactive@example.com", is_active=False)
    address = {"unknown": "nobody@example.com", "inactive": "inactive@example.com"}[other]

    for_known = ask(APIClient(), known.email)
    for_other = ask(APIClient(), address)

    assert for_known.status_code == 202
    assert _comparable(for_known) == _comparable(for_other)
    if bind:
        assert set(for_known.cookies) == {"jwt_email_binding"}
    assert [message.to for message in mailoutbox] == [["known@example.com"]]


def test_request_form_page_is_the_same_for_every_address(user, mailoutbox):
    pages = [
        Client().post("/auth/request/", {"email": email}, HTTP_ACCEPT="text/html")
        for email in (user.email, "nobody@example.com")
    ]
    assert pages[0].status_code == pages[1].status_code == 202
    assert pages[0].content == pages[1].content
    assert len(mailoutbox) == 1


# --- header injection and look-alike addresses -------------------------------------

INJECTIONS = [
    "alice@example.com\r\nBcc: evil@example.com",
    "alice@example.com\nBcc: evil@example.com",
    "alice@example.com\rCc: evil@example.com",
    "alice@example.com, evil@example.com",
    "alice@example.com;evil@example.com",
    "Alice <evil@example.com>",
    '"alice@example.com\\\r\nBcc: evil"@example.com',
    "alice@example.com\x00evil@example.com",
]


@pytest.mark.parametrize("address", INJECTIONS)
def test_request_refuses_header_injection_in_address(user, mailoutbox, address):
    response = ask(APIClient(), address)
    body = assert_json_error(response, 400)
    assert body["code"] == "invalid_email"
    assert mailoutbox == []
    assert not IssuedToken.objects.exists()


LOOKALIKES = [
    "MIKE@EXAMPLE.ORG",  # plain case: found, but mailed to the stored address
    "m\u0131ke@example.org",  # dotless i (the CVE-2019-19844 example)
    "M\u0130KE@example.org",  # capital I with dot
    "\uff4dike@example.org",  # fullwidth m
    "mike@\u0435xample.org",  # Cyrillic e in the domain
    "mike@example.org\u200b",  # zero-width space
    "mi\u212aE@example.org",  # Kelvin sign K (casefolds to k)
]


@pytest.mark.parametrize("typed", LOOKALIKES)
def test_request_mails_only_the_stored_address(user_factory, mailoutbox, typed):
    user_factory("mike@example.org")
    response = ask(APIClient(), typed)
    assert response.status_code in (202, 400)
    for message in mailoutbox:
        assert message.recipients() == ["mike@example.org"]
    assert typed not in {r for message in mailoutbox for r in message.recipients()} or (
        typed == "mike@example.org"
    )


# --- host-header poisoning -----------------------------------------------------------


def test_request_with_forged_host_is_refused_before_anything_is_sent(user, mailoutbox):
    response = APIClient().post(
        "/auth/request/", {"email": user.email}, format="json", HTTP_HOST="evil.example"
    )
    assert response.status_code == 400
    assert mailoutbox == []
    assert not IssuedToken.objects.exists()


@pytest.mark.parametrize(
    "headers",
    [
        {"HTTP_HOST": "evil.example"},
        {"HTTP_X_FORWARDED_HOST": "evil.example"},
        {"HTTP_HOST": "evil.example", "HTTP_X_FORWARDED_PROTO": "http"},
        {"HTTP_FORWARDED": "host=evil.example;proto=http"},
    ],
    ids=["host", "x-forwarded-host", "host-and-proto", "forwarded"],
)
def test_request_link_comes_from_link_base_url(user, mailoutbox, settings, headers):
    settings.ALLOWED_HOSTS = ["*"]
    settings.USE_X_FORWARDED_HOST = True
    response = APIClient().post("/auth/request/", {"email": user.email}, format="json", **headers)
    assert response.status_code == 202
    (message,) = mailoutbox
    html = message.alternatives[0][0] if message.alternatives else ""
    assert "evil.example" not in message.body + html
    assert message.body.count("https://app.example.com/auth/verify/?token=") == 1


def test_verify_ignores_next_stored_under_forged_host(user, mailoutbox, settings):
    # The attacker asks for the victim's link through a Host of their own, with a
    # next on that host; the victim then signs in on the real site.
    settings.ALLOWED_HOSTS = ["*"]
    APIClient().post(
        "/auth/request/",
        {"email": user.email, "next": "https://evil.example/welcome"},
        format="json",
        HTTP_HOST="evil.example",
    )
    token = token_of(mailoutbox[-1])
    response = Client().post("/auth/verify/", {"token": token}, HTTP_HOST="app.example.com")
    assert response.status_code == 302
    assert response["Location"] == "/home/"


# --- open redirects --------------------------------------------------------------------

REDIRECTS = [
    "https://evil.example/",
    "//evil.example",
    "///evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    " //evil.example",
    "\t//evil.example",
    "/\t/evil.example",
    "%2F%2Fevil.example",
    "https:evil.example",
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "https://app.example.com@evil.example/",
    "https://evil.example\\@app.example.com/",
    "http://app.example.com/",  # the site itself, but downgraded to http
]


def lands_on_site(location: str) -> bool:
    """Whether a browser following ``location`` from the verify page stays on the site."""
    if location != location.strip() or any(ch in location for ch in "\\\t\r\n"):
        return False
    target = urlsplit(urljoin("https://app.example.com/auth/verify/", location))
    return target.scheme == "https" and target.netloc == "app.example.com"


@pytest.mark.parametrize("url", REDIRECTS)
def test_verify_redirect_never_leaves_site_by_stored_next(user, request_link, url):
    token = request_link(user.email, next=url)
    response = Client().post("/auth/verify/", {"token": token}, secure=True)
    assert response.status_code == 302
    assert lands_on_site(response["Location"]), response["Location"]


@pytest.mark.parametrize("url", REDIRECTS)
def test_verify_redirect_never_leaves_site_by_posted_next(user, request_link, url):
    token = request_link(user.email)
    response = Client().post("/auth/verify/", {"token": token, "next": url}, secure=True)
    assert response.status_code == 302
    assert lands_on_site(response["Location"]), response["Location"]


def test_verify_redirect_honours_a_next_on_the_site(user, request_link):
    # The control: the same path does redirect where it is asked, when that is safe.
    token = request_link(user.email, next="/account/?tab=1")
    response = Client().post("/auth/verify/", {"token": token}, secure=True)
    assert response["Location"] == "/account/?tab=1"


@pytest.mark.parametrize(
    "url",
    ["/home/\r\nSet-Cookie: sessionid=evil", "/home/\nLocation: https://evil.example"],
    ids=["crlf", "lf"],
)
def test_verify_next_cannot_split_the_response(user, request_link, url):
    token = request_link(user.email, next=url)
    response = Client().post("/auth/verify/", {"token": token}, secure=True)
    assert response.status_code == 302
    assert "\n" not in response["Location"] and "\r" not in response["Location"]
    assert "sessionid" not in str(response.cookies.get("sessionid", "")) or (
        response.cookies["sessionid"].value != "evil"
    )


# --- malformed, oversized and mistyped bodies -----------------------------------------

BAD_BODIES = {
    "truncated-json": ("application/json", b'{"email": '),
    "json-array": ("application/json", b'["a@example.com"]'),
    "json-string": ("application/json", b'"a@example.com"'),
    "json-null": ("application/json", b"null"),
    "json-number": ("application/json", b"1e999"),
    "json-nan": ("application/json", b'{"token": NaN, "email": NaN, "refresh": NaN}'),
    "json-deep": ("application/json", b"[" * 100_000),
    "json-bad-utf8": ("application/json", b'{"email": "\xff\xfe"}'),
    "text-plain": ("text/plain", b"email=a@example.com"),
    "xml": ("application/xml", b"<email>a@example.com</email>"),
    "no-content-type": ("", b'{"email": "a@example.com"}'),
}


@pytest.mark.parametrize("endpoint", list(JSON_ENDPOINTS))
@pytest.mark.parametrize("body", list(BAD_BODIES))
def test_endpoint_refuses_malformed_body(user, mailoutbox, endpoint, body):
    content_type, data = BAD_BODIES[body]
    response = APIClient().generic("POST", JSON_ENDPOINTS[endpoint], data, content_type)
    assert_json_error(response, 400, 415)
    assert "no-store" in response["Cache-Control"]
    assert mailoutbox == []
    assert not IssuedToken.objects.exists()


# auth/request/ is left out: the rate-limit middleware reads request.POST for the
# address, after which DRF takes Django's parsed form, multipart included; it then
# answers as to any form post (the one 202), which exposes nothing.
@pytest.mark.parametrize("endpoint", [name for name in JSON_ENDPOINTS if name != "request"])
def test_endpoint_refuses_multipart(user, mailoutbox, endpoint):
    field = {"request": "email", "code": "email", "refresh": "refresh"}.get(endpoint, "token")
    response = Client().post(JSON_ENDPOINTS[endpoint], {field: user.email})  # multipart
    assert_json_error(response, 400, 415)
    assert mailoutbox == []


@pytest.mark.parametrize("endpoint", list(JSON_ENDPOINTS))
@pytest.mark.parametrize("content_type", ["application/json", "application/x-www-form-urlencoded"])
def test_endpoint_refuses_body_over_upload_limit(
    user, mailoutbox, settings, endpoint, content_type
):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    if content_type == "application/json":
        data = b'{"email": "%s", "token": "%s"}' % (user.email.encode(), b"A" * 20_000)
    else:
        data = b"email=%s&token=%s" % (user.email.encode(), b"A" * 20_000)
    response = APIClient().generic("POST", JSON_ENDPOINTS[endpoint], data, content_type)
    assert_json_error(response, 400, 413)
    assert mailoutbox == []


def test_verify_refuses_form_over_upload_limit(user, request_link, settings):
    token = request_link(user.email)
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    response = Client().post("/auth/verify/", {"token": token, "pad": "A" * 20_000})
    assert response.status_code in (400, 413)
    assert IssuedToken.objects.get().used_at is None


NON_STRINGS = {
    "request": [
        {"email": ["alice@example.com"]},
        {"email": {"$ne": ""}},
        {"email": True},
        {"email": None},
        {"email": 12345},
        {"email": "alice@example.com", "next": ["/x"]},
        {"email": "alice@example.com", "next": {"url": "//evil.example"}},
    ],
    "token": [{"token": 123}, {"token": ["x.y.z"]}, {"token": {"$gt": ""}}, {"token": None}],
    "refresh": [{"refresh": 1.5}, {"refresh": ["a"]}, {"refresh": None}, {"token": "x"}],
    "code": [
        {"email": "alice@example.com", "code": ["ABCD-EFGH"]},
        {"email": ["alice@example.com"], "code": "ABCD-EFGH"},
        {"email": "alice@example.com", "code": None},
    ],
    "revoke": [{"token": ["a"]}, {"token": None}],
}
NON_STRING_CASES = [(name, body) for name, bodies in NON_STRINGS.items() for body in bodies]


@pytest.mark.parametrize(
    "endpoint,body",
    NON_STRING_CASES,
    ids=[f"{name}-{n}" for n, (name, _) in enumerate(NON_STRING_CASES)],
)
def test_endpoint_refuses_non_string_values(user, mailoutbox, endpoint, body):
    response = APIClient().post(JSON_ENDPOINTS[endpoint], body, format="json")
    assert_json_error(response, 400)
    assert mailoutbox == []
    assert not IssuedToken.objects.exists()


# --- replay -------------------------------------------------------------------------------


def test_verify_refuses_replay_across_channels(user, request_link, mailoutbox):
    token = request_link(user.email)
    code = code_of(mailoutbox[-1])
    assert APIClient().post("/auth/token/", {"token": token}, format="json").status_code == 200
    browser = Client()
    page = browser.post("/auth/verify/", {"token": token})
    assert page.status_code == 400
    assert b'data-code="token_used"' in page.content
    assert "_auth_user_id" not in browser.session
    by_code = APIClient().post("/auth/code/", {"email": user.email, "code": code}, format="json")
    assert assert_json_error(by_code, 400)["code"] == "invalid_code"
    assert SignInSession.objects.count() == 1


def _race(n: int, send) -> list[int]:
    """Run ``send`` in ``n`` threads released together; their status codes."""
    barrier = threading.Barrier(n)
    statuses: list[int] = []

    def run() -> None:
        try:
            barrier.wait(timeout=10)
            statuses.append(send().status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return sorted(statuses)


@pytest.mark.django_db(transaction=True)
def test_verify_concurrent_replay_signs_in_once(threaded_db, user_factory, mailoutbox):
    user = user_factory("racer@example.com")
    assert ask(APIClient(), user.email).status_code == 202
    token = token_of(mailoutbox[-1])

    statuses = _race(6, lambda: APIClient().post("/auth/token/", {"token": token}, format="json"))

    assert statuses.count(200) == 1, statuses
    assert set(statuses) == {200, 400}
    assert SignInSession.objects.count() == 1
    assert TokenEvent.objects.filter(event="verified").count() == 1


@pytest.mark.django_db(transaction=True)
def test_refresh_concurrent_replay_rotates_once(threaded_db, user_factory, mailoutbox):
    user = user_factory("racer@example.com")
    ask(APIClient(), user.email)
    pair = APIClient().post("/auth/token/", {"token": token_of(mailoutbox[-1])}, format="json")
    refresh = pair.json()["refresh"]

    statuses = _race(
        6, lambda: APIClient().post("/auth/token/refresh/", {"refresh": refresh}, format="json")
    )

    assert statuses.count(200) <= 1, statuses
    assert set(statuses) <= {200, 400}, statuses
    session = SignInSession.objects.get()
    assert session.refresh_count == statuses.count(200)
    # Whatever won the race, the session is not left live beside a replayed token:
    # a reuse revoked it.
    if statuses.count(400):
        assert not SignInSession.objects.live().exists()


def test_refresh_reuse_revokes_the_family(pair, api_client):
    first = api_client.post("/auth/token/refresh/", {"refresh": pair["refresh"]}, format="json")
    assert first.status_code == 200
    rotated = first.json()

    reuse = api_client.post("/auth/token/refresh/", {"refresh": pair["refresh"]}, format="json")
    assert assert_json_error(reuse, 400)["code"] == "token_used"
    assert TokenEvent.objects.filter(event="refresh_reuse").count() == 1

    # The thief's (or the owner's) rotated token and every access token are dead too.
    later = api_client.post("/auth/token/refresh/", {"refresh": rotated["refresh"]}, format="json")
    assert assert_json_error(later, 400)["code"] == "token_revoked"
    for access in (pair["access"], rotated["access"]):
        me = api_client.get("/api/me/", HTTP_AUTHORIZATION=f"Bearer {access}")
        assert me.status_code == 401
        assert me.json()["code"] == "token_revoked"


@pytest.mark.parametrize("how", ["logout", "logout_all", "revoke"])
def test_revoked_tokens_stay_refused_after_cache_flush(pair, api_client, how):
    bearer = {"HTTP_AUTHORIZATION": f"Bearer {pair['access']}"}
    if how == "revoke":
        body = {"token": pair["refresh"]}
        response = api_client.post("/auth/token/revoke/", body, format="json")
        assert response.status_code == 200
    else:
        path = "/auth/logout/" if how == "logout" else "/auth/logout/all/"
        assert api_client.post(path, **bearer).status_code == 204
    for cache in caches.all():
        cache.clear()  # a Redis flush or restart loses every revocation mark

    me = api_client.get("/api/me/", **bearer)
    assert me.status_code == 401
    assert me.json()["code"] == "token_revoked"
    again = api_client.post("/auth/token/refresh/", {"refresh": pair["refresh"]}, format="json")
    assert assert_json_error(again, 400)["code"] in {"token_revoked", "token_used"}
    assert RevokedToken.objects.exists()


def test_revoke_endpoint_ignores_a_forged_token(pair, api_client):
    from . import forge

    header, claims, _ = forge.parts(pair["refresh"])
    forged = forge.sign(claims, key="es256-other", headers={"typ": header["typ"]})
    response = api_client.post("/auth/token/revoke/", {"token": forged}, format="json")
    assert response.status_code == 200
    assert not RevokedToken.objects.exists()
    me = api_client.get("/api/me/", HTTP_AUTHORIZATION=f"Bearer {pair['access']}")
    assert me.status_code == 200


# --- guessing codes --------------------------------------------------------------------------


def test_code_guessing_locks_the_link(user, request_link, mailoutbox, api_client):
    token = request_link(user.email)
    code = code_of(mailoutbox[-1])
    for guess in ("AAAA-AAAA", "BBBB-BBBB", "CCCC-CCCC"):
        wrong = api_client.post("/auth/code/", {"email": user.email, "code": guess}, format="json")
        assert assert_json_error(wrong, 400)["code"] == "invalid_code"
    right = api_client.post("/auth/code/", {"email": user.email, "code": code}, format="json")
    assert assert_json_error(right, 400)["code"] == "invalid_code"
    link = api_client.post("/auth/token/", {"token": token}, format="json")
    assert assert_json_error(link, 400)["code"] == "token_revoked"
    assert not SignInSession.objects.exists()


# --- CSRF on the browser forms ---------------------------------------------------------------


def test_verify_post_without_csrf_token_is_refused(user, request_link):
    token = request_link(user.email)
    browser = Client(enforce_csrf_checks=True)
    assert browser.get("/auth/verify/", {"token": token}).status_code == 200  # sets csrftoken
    response = browser.post("/auth/verify/", {"token": token})
    assert response.status_code == 403
    assert IssuedToken.objects.get().used_at is None
    assert "_auth_user_id" not in browser.session


def test_verify_post_from_another_origin_is_refused(user, request_link):
    # Login CSRF: a hostile page posts the attacker's own link into the victim's browser.
    token = request_link(user.email)
    browser = Client(enforce_csrf_checks=True)
    page = browser.get("/auth/verify/", {"token": token}, secure=True)
    csrf = page.context["csrf_token"]
    response = browser.post(
        "/auth/verify/",
        {"token": token, "csrfmiddlewaretoken": str(csrf)},
        secure=True,
        HTTP_ORIGIN="https://evil.example",
        HTTP_REFERER="https://evil.example/",
    )
    assert response.status_code == 403
    assert IssuedToken.objects.get().used_at is None


def test_logout_all_by_session_needs_csrf_token(user, request_link):
    token = request_link(user.email)
    browser = Client(enforce_csrf_checks=True)
    page = browser.get("/auth/verify/", {"token": token})
    csrf = str(page.context["csrf_token"])
    browser.post("/auth/verify/", {"token": token, "csrfmiddlewaretoken": csrf})
    assert "_auth_user_id" in browser.session
    response = browser.post("/auth/logout/all/")
    assert response.status_code == 403
    assert "_auth_user_id" in browser.session
    assert not TokenEvent.objects.filter(event="revoked").exists()


# --- caching and referrer headers on every token-handling response ------------------------


def _token_responses(user, request_link, mailoutbox):
    api, browser = APIClient(), Client()
    token = request_link(user.email)
    yield "request", ask(api, user.email)
    yield "verify-get-valid", browser.get("/auth/verify/", {"token": token})
    yield "verify-get-invalid", browser.get("/auth/verify/", {"token": "x.y.z"})
    yield "verify-post-invalid", browser.post("/auth/verify/", {"token": "x.y.z"})
    pair = api.post("/auth/token/", {"token": token}, format="json")
    yield "token-ok", pair
    yield "token-invalid", api.post("/auth/token/", {"token": token}, format="json")
    second = request_link(user.email)
    yield "verify-post-ok", browser.post("/auth/verify/", {"token": second})
    code = code_of(request_link(user.email) and mailoutbox[-1])
    yield "code-ok", api.post("/auth/code/", {"email": user.email, "code": code}, format="json")
    wrong = {"email": user.email, "code": "X"}
    yield "code-invalid", api.post("/auth/code/", wrong, format="json")
    refresh = pair.json()["refresh"]
    rotated = api.post("/auth/token/refresh/", {"refresh": refresh}, format="json")
    yield "refresh-ok", rotated
    yield "refresh-invalid", api.post("/auth/token/refresh/", {"refresh": "x"}, format="json")
    yield "revoke", api.post("/auth/token/revoke/", {"token": refresh}, format="json")
    bearer = {"HTTP_AUTHORIZATION": f"Bearer {rotated.json()['access']}"}
    yield "logout", api.post("/auth/logout/", **bearer)


# Policies under which a page never sends its path or query (the token) in a Referer.
# The verify page uses strict-origin: under no-referrer browsers post its form with
# "Origin: null", which Django's CSRF check refuses.
PATHLESS_REFERRER_POLICIES = {"no-referrer", "strict-origin", "origin"}


def test_every_token_response_is_no_store_and_no_referrer(user, request_link, mailoutbox):
    seen = []
    for name, response in _token_responses(user, request_link, mailoutbox):
        assert response.status_code < 500, name
        assert "no-store" in response.get("Cache-Control", ""), name
        if response["Content-Type"].startswith("application/json"):
            assert response.get("Referrer-Policy") == "no-referrer", name
        else:
            assert response.get("Referrer-Policy") in PATHLESS_REFERRER_POLICIES, name
        seen.append(name)
    assert len(seen) == 13


# --- the verify page itself -----------------------------------------------------------------


def test_verify_page_cannot_be_framed(user, request_link):
    # Framed invisibly by a hostile page, the "Sign in" button of the attacker's own
    # link would be a click away from signing the victim into the attacker's account.
    token = request_link(user.email)
    for response in (
        Client().get("/auth/verify/", {"token": token}),
        Client().get("/auth/verify/", {"token": "x.y.z"}),
    ):
        assert response["X-Frame-Options"] == "DENY"


def test_verify_page_escapes_a_hostile_next(user, request_link):
    token = request_link(user.email)
    payload = '"><script>alert(1)</script>'
    page = Client().get("/auth/verify/", {"token": token, "next": payload})
    assert page.status_code == 200
    assert b"<script>alert(1)</script>" not in page.content


def test_jwks_never_exports_private_or_shared_keys(settings, key_path):
    settings.JWT_EMAIL_ALLOW_SYMMETRIC = True
    settings.JWT_EMAIL_SIGNING_KEYS = [
        {"kid": "es", "algorithm": "ES256", "private_key": f"file:{key_path('es256')}"},
        {"kid": "rs", "algorithm": "RS256", "private_key": f"file:{key_path('rs256')}"},
        {"kid": "ed", "algorithm": "EdDSA", "private_key": f"file:{key_path('ed25519')}"},
        {"kid": "hs", "algorithm": "HS256", "private_key": "s" * 40},
    ]
    keys = APIClient().get("/auth/.well-known/jwks.json").json()["keys"]
    assert {key["kid"] for key in keys} == {"es", "rs", "ed"}
    for key in keys:
        assert not {"d", "p", "q", "dp", "dq", "qi", "k"} & set(key), key["kid"]
