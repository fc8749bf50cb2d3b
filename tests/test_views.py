"""The HTTP interface: status codes, error bodies, cache headers, the JWKS endpoint."""

import json
import threading
from wsgiref.simple_server import WSGIRequestHandler, make_server

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from django.core.wsgi import get_wsgi_application
from django.test import Client

from django_jwt_email.testing import bearer
from tests.conftest import KEY_DIR

pytestmark = pytest.mark.django_db

JSON_ENDPOINTS = [
    "/auth/request/",
    "/auth/token/",
    "/auth/code/",
    "/auth/token/refresh/",
    "/auth/token/revoke/",
]
NO_STORE = "max-age=0, no-cache, no-store, must-revalidate, private"


def assert_token_headers(response):
    """What every response that carries or consumes a token must say."""
    assert response["Cache-Control"] == NO_STORE
    assert response["Referrer-Policy"] == "no-referrer"


# --- malformed input: 400/415 with {"detail", "code"}, never 500 -------------------


@pytest.mark.parametrize("url", JSON_ENDPOINTS)
@pytest.mark.parametrize(
    "body",
    ["{", "null", "[]", '"text"', "42", "true", '{"token": ', "\xff\xfe", '{"a": NaN}'],
    ids=["truncated", "null", "array", "string", "number", "bool", "cut", "binary", "nan"],
)
def test_malformed_json_is_a_400_with_detail_and_code(url, body, api_client):
    response = api_client.generic("POST", url, body.encode("latin-1"), "application/json")
    assert response.status_code == 400
    assert set(response.json()) == {"detail", "code"}
    assert response.json()["code"] in {"parse_error", "invalid_request", "invalid_email"}
    assert_token_headers(response)


@pytest.mark.parametrize("url", JSON_ENDPOINTS)
@pytest.mark.parametrize("content_type", ["text/plain", "application/xml"])
def test_wrong_content_type_is_a_415_with_detail_and_code(url, content_type, api_client):
    response = api_client.generic("POST", url, b"token=x", content_type)
    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_media_type"
    assert set(response.json()) == {"detail", "code"}


@pytest.mark.parametrize("url", JSON_ENDPOINTS)
@pytest.mark.parametrize(
    "content_type", ["multipart/form-data", "multipart/form-data; boundary=x"]
)
def test_multipart_body_is_a_json_error_not_a_500(url, content_type, api_client):
    response = api_client.generic("POST", url, b"token=x", content_type)
    assert response.status_code in (400, 415)
    assert set(response.json()) == {"detail", "code"}


@pytest.mark.parametrize(
    "url,body",
    [
        ("/auth/token/", {"token": ["a"]}),
        ("/auth/token/", {"token": {"a": 1}}),
        ("/auth/token/", {"token": ""}),
        ("/auth/token/", {}),
        ("/auth/token/refresh/", {"refresh": 42}),
        ("/auth/token/refresh/", {"token": "x"}),
        ("/auth/code/", {"email": "a@b.com"}),
        ("/auth/code/", {"email": "a@b.com", "code": ["x"]}),
        ("/auth/request/", {"next": "/x/"}),
        ("/auth/request/", {"email": "a@b.com", "next": ["/x/"]}),
    ],
)
def test_wrong_fields_are_a_400_with_detail_and_code(url, body, api_client):
    response = api_client.post(url, body, format="json")
    assert response.status_code == 400
    assert set(response.json()) == {"detail", "code"}


def test_garbage_token_on_token_endpoint_is_invalid_token(api_client):
    response = api_client.post("/auth/token/", {"token": "x" * 5000}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_token"


def test_too_large_body_is_a_413_with_detail_and_code(api_client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    body = json.dumps({"token": "x" * 4096})
    response = api_client.generic("POST", "/auth/token/", body, "application/json")
    assert response.status_code == 413
    assert response.json()["code"] == "request_too_large"


@pytest.mark.parametrize("method", ["get", "put", "patch", "delete"])
@pytest.mark.parametrize("url", JSON_ENDPOINTS)
def test_other_methods_are_a_405(method, url, api_client):
    response = getattr(api_client, method)(url)
    assert response.status_code == 405
    assert set(response.json()) == {"detail", "code"}


# --- no-store and no-referrer on every token-handling response ---------------------


def test_request_response_is_no_store(user, api_client):
    assert_token_headers(api_client.post("/auth/request/", {"email": user.email}, format="json"))
    assert_token_headers(api_client.post("/auth/request/", {"email": "bad"}, format="json"))


def test_verify_pages_are_no_store(user, request_link, client):
    token = request_link(user.email)
    page = client.get("/auth/verify/", {"token": token})
    assert page["Cache-Control"] == NO_STORE
    assert page["Referrer-Policy"] == "strict-origin"  # the Sign in form: see below
    assert_token_headers(client.get("/auth/verify/", {"token": "nope"}))
    assert_token_headers(client.post("/auth/verify/", {"token": "nope"}))
    signed_in = client.post("/auth/verify/", {"token": token})
    assert signed_in.status_code == 302
    assert_token_headers(signed_in)


def test_verify_page_never_sends_its_url_but_lets_the_form_post_an_origin(
    user, request_link, client
):
    """With "no-referrer", a browser posts the Sign in form with "Origin: null"
    (Fetch standard) and Django's CSRF check refuses it: nobody could sign in.
    "strict-origin" sends only the origin, never the URL that holds the token."""
    page = client.get("/auth/verify/", {"token": request_link(user.email)})
    assert page["Referrer-Policy"] == "strict-origin"
    assert b'<meta name="referrer" content="strict-origin">' in page.content
    assert b"<a " not in page.content  # nothing on the page to follow elsewhere
    assert b"src=" not in page.content


def test_verify_post_from_a_no_referrer_page_would_be_refused(user, request_link, settings):
    """What a browser sends from the page, over HTTPS: "Origin: null" under
    "no-referrer" is refused by Django's CSRF check; the real origin, which
    "strict-origin" sends, passes."""
    settings.SESSION_COOKIE_SECURE = settings.CSRF_COOKIE_SECURE = True
    token = request_link(user.email)
    browser = Client(enforce_csrf_checks=True)
    page = browser.get("/auth/verify/", {"token": token}, secure=True)
    form = {"token": token, "csrfmiddlewaretoken": str(page.context["csrf_token"])}

    refused = browser.post("/auth/verify/", form, secure=True, HTTP_ORIGIN="null")
    assert refused.status_code == 403

    signed_in = browser.post("/auth/verify/", form, secure=True, HTTP_ORIGIN="https://testserver")
    assert signed_in.status_code == 302


def test_token_code_refresh_revoke_responses_are_no_store(user, request_link, api_client):
    ok = api_client.post("/auth/token/", {"token": request_link(user.email)}, format="json")
    assert_token_headers(ok)
    assert_token_headers(api_client.post("/auth/token/", {"token": "x"}, format="json"))
    assert_token_headers(
        api_client.post("/auth/code/", {"email": user.email, "code": "AAAA-AAAA"}, format="json")
    )
    refreshed = api_client.post(
        "/auth/token/refresh/", {"refresh": ok.json()["refresh"]}, format="json"
    )
    assert refreshed.status_code == 200
    assert_token_headers(refreshed)
    assert_token_headers(api_client.post("/auth/token/refresh/", {"refresh": "x"}, format="json"))
    assert_token_headers(
        api_client.post("/auth/token/revoke/", {"token": ok.json()["refresh"]}, format="json")
    )


def test_logout_responses_are_no_store(pair, api_client):
    assert_token_headers(api_client.post("/auth/logout/", **bearer(pair["access"])))
    assert_token_headers(api_client.post("/auth/logout/all/", **bearer(pair["access"])))
    assert_token_headers(api_client.post("/auth/logout/"))


# --- token endpoint answers ----------------------------------------------------------


def test_token_refusal_codes_are_the_documented_ones(user, request_link, api_client):
    token = request_link(user.email)
    api_client.post("/auth/token/", {"token": token}, format="json")
    used = api_client.post("/auth/token/", {"token": token}, format="json")
    assert used.status_code == 400
    assert used.json() == {"detail": "The token has already been used.", "code": "token_used"}


def test_revoke_answers_200_for_anything(api_client):
    for token in ("garbage", "a.b.c", "x" * 10_000):
        response = api_client.post("/auth/token/revoke/", {"token": token}, format="json")
        assert response.status_code == 200


def test_logout_without_credentials_is_401(api_client):
    response = api_client.post("/auth/logout/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'
    assert set(response.json()) == {"detail", "code"}


def test_verify_other_methods_are_405(client):
    assert client.put("/auth/verify/").status_code == 405


# --- JWKS -------------------------------------------------------------------------------


@pytest.fixture
def two_keys(settings):
    settings.JWT_EMAIL_SIGNING_KEYS = [
        {"kid": "es", "algorithm": "ES256", "private_key": f"file:{KEY_DIR / 'es256.pem'}"},
        {"kid": "ed", "algorithm": "EdDSA", "private_key": f"file:{KEY_DIR / 'ed25519.pem'}"},
    ]
    return settings


def public_pem(name):
    private = serialization.load_pem_private_key((KEY_DIR / f"{name}.pem").read_bytes(), None)
    return private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def test_jwks_holds_exactly_the_public_keys(two_keys, api_client):
    response = api_client.get("/auth/.well-known/jwks.json")
    assert response.status_code == 200
    keys = response.json()["keys"]
    assert [(k["kid"], k["alg"], k["kty"], k["use"]) for k in keys] == [
        ("es", "ES256", "EC", "sig"),
        ("ed", "EdDSA", "OKP", "sig"),
    ]
    assert keys[0]["crv"] == "P-256" and keys[1]["crv"] == "Ed25519"
    for key in keys:
        assert not {"d", "p", "q", "dp", "dq", "qi", "k"} & set(key)
    # The very public keys of the configured private keys, nothing else.
    for key, name in zip(keys, ["es256", "ed25519"], strict=True):
        loaded = jwt.PyJWK(key).key
        exported = loaded.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        assert exported == public_pem(name)


def test_jwks_is_cacheable(two_keys, api_client):
    response = api_client.get("/auth/.well-known/jwks.json")
    assert "max-age=300" in response["Cache-Control"]
    assert "public" in response["Cache-Control"]
    assert "no-store" not in response["Cache-Control"]


def test_jwks_leaves_out_verify_only_keys_private_parts_and_shared_secrets(settings, api_client):
    settings.JWT_EMAIL_SIGNING_KEYS = [
        {"kid": "es", "algorithm": "ES256", "private_key": f"file:{KEY_DIR / 'es256.pem'}"},
        {"kid": "old", "algorithm": "ES256", "public_key": f"file:{KEY_DIR / 'es256.pub.pem'}"},
    ]
    keys = api_client.get("/auth/.well-known/jwks.json").json()["keys"]
    assert [k["kid"] for k in keys] == ["es", "old"]
    assert all("d" not in k for k in keys)


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def site_url():
    """This site served over real HTTP on a loopback port (the JWKS view needs no
    database, so no transactional test is needed to reach it from a thread)."""
    server = make_server("127.0.0.1", 0, get_wsgi_application(), handler_class=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("signing", ["es", "ed"])
def test_another_service_verifies_access_tokens_with_only_the_jwks(
    signing, two_keys, user, request_link, api_client, site_url
):
    """Like a separate resource server: PyJWKClient fetches the JWKS over HTTP."""
    if signing == "ed":
        two_keys.JWT_EMAIL_SIGNING_KEYS = two_keys.JWT_EMAIL_SIGNING_KEYS[::-1]
    pair = api_client.post("/auth/token/", {"token": request_link(user.email)}, format="json")
    access = pair.json()["access"]

    jwks_client = jwt.PyJWKClient(f"{site_url}/auth/.well-known/jwks.json")
    key = jwks_client.get_signing_key_from_jwt(access)
    # As the README shows it: the key's own algorithm only, the audience and
    # issuer of the settings, and the explicit type of an access token.
    assert jwt.get_unverified_header(access)["typ"] == "at+jwt"
    claims = jwt.decode(
        access,
        key,
        algorithms=[key.algorithm_name],
        audience="django-jwt-email",
        issuer="django-jwt-email",
        leeway=30,
        options={"require": ["exp", "iat", "sub", "aud", "iss", "jti"]},
    )
    assert key.key_id == signing
    assert claims["sub"] == str(user.pk)
    assert claims["scope"] == "api"
    # The refresh token has its own audience: a resource server refuses it.
    with pytest.raises(jwt.InvalidAudienceError):
        jwt.decode(
            pair.json()["refresh"],
            jwks_client.get_signing_key_from_jwt(pair.json()["refresh"]),
            algorithms=["ES256", "EdDSA"],
            audience="django-jwt-email",
            issuer="django-jwt-email",
        )


def test_verify_get_with_a_csrf_client_sets_the_csrf_cookie(user, request_link):
    browser = Client(enforce_csrf_checks=True)
    page = browser.get("/auth/verify/", {"token": request_link(user.email)})
    assert "csrftoken" in browser.cookies
    assert b"csrfmiddlewaretoken" in page.content
