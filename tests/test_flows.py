"""End-to-end paths through the URLs: request → issue → send → verify → sign in / pair
→ refresh → revoke, as a browser and as an API client see them."""

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from django_jwt_email.models import IssuedToken, RevokedToken, SignInSession, TokenEvent
from django_jwt_email.testing import bearer
from tests.conftest import answer, code_of, link_of, token_of

pytestmark = pytest.mark.django_db

ANON = b"home AnonymousUser"


def events(*names):
    """The audit trail, oldest first, as (event, reason) pairs, optionally filtered."""
    rows = TokenEvent.objects.order_by("created_at", "pk")
    if names:
        rows = rows.filter(event__in=names)
    return list(rows.values_list("event", "reason"))


# --- request → issue → send ----------------------------------------------------------


def test_request_known_and_unknown_address_get_byte_identical_responses(
    user, api_client, mailoutbox
):
    known = api_client.post("/auth/request/", {"email": user.email}, format="json")
    unknown = api_client.post("/auth/request/", {"email": "nobody@example.com"}, format="json")

    assert known.status_code == unknown.status_code == 202
    assert answer(known) == answer(unknown)  # status line, every header, body
    assert known.cookies.output() == unknown.cookies.output() == ""
    assert known["Content-Length"] == unknown["Content-Length"]
    assert [m.to for m in mailoutbox] == [["alice@example.com"]]


def test_request_with_browser_binding_sets_the_same_cookie_for_every_address(
    user, client, mailoutbox, settings
):
    """BIND_TO_BROWSER sets its cookie for every address alike: for a browser that
    already holds one, known and unknown addresses get the same bytes (but for the
    cookie's Expires date, which is the clock's)."""
    settings.JWT_EMAIL_BIND_TO_BROWSER = True
    first = client.post(
        "/auth/request/", {"email": "x@example.com"}, HTTP_ACCEPT="application/json"
    )
    assert "jwt_email_binding" in first.cookies

    def ask(email):
        response = client.post("/auth/request/", {"email": email}, HTTP_ACCEPT="application/json")
        return answer(response)

    assert ask(user.email) == ask("nobody@example.com")
    assert len(mailoutbox) == 1


def test_request_from_a_browser_form_with_a_bad_address_shows_the_form_again(client, mailoutbox):
    response = client.post("/auth/request/", {"email": "not an address"}, HTTP_ACCEPT="text/html")
    assert response.status_code == 400
    assert b'data-code="invalid_email"' in response.content
    assert b'action="/auth/request/"' in response.content
    assert mailoutbox == []


def test_request_as_a_form_gets_the_same_answer(user, client, mailoutbox):
    known = client.post("/auth/request/", {"email": user.email}, HTTP_ACCEPT="application/json")
    unknown = client.post(
        "/auth/request/", {"email": "nobody@example.com"}, HTTP_ACCEPT="application/json"
    )
    assert known.status_code == 202
    assert answer(known) == answer(unknown)
    assert len(mailoutbox) == 1


def test_request_from_a_browser_form_shows_a_check_your_inbox_page(user, client, mailoutbox):
    response = client.post("/auth/request/", {"email": user.email}, HTTP_ACCEPT="text/html")
    assert response.status_code == 202
    assert response["Content-Type"].startswith("text/html")
    assert b"Check your inbox" in response.content
    assert len(mailoutbox) == 1


def test_request_for_unknown_address_sends_nothing_and_creates_nothing(api_client, mailoutbox):
    response = api_client.post("/auth/request/", {"email": "new@example.com"}, format="json")
    assert response.status_code == 202
    assert mailoutbox == []
    assert not get_user_model().objects.exists()
    assert not IssuedToken.objects.exists()


def test_request_for_inactive_user_sends_nothing(user_factory, api_client, mailoutbox):
    user_factory("off@example.com", is_active=False)
    response = api_client.post("/auth/request/", {"email": "off@example.com"}, format="json")
    assert response.status_code == 202
    assert mailoutbox == []


def test_request_sends_to_the_stored_address_not_the_typed_one(
    user_factory, request_link, mailoutbox
):
    stored = user_factory("Alice.Smith@example.com")
    get_user_model().objects.filter(pk=stored.pk).update(email="Alice.Smith@Example.COM")
    request_link("alice.smith@EXAMPLE.com")
    assert mailoutbox[-1].to == ["Alice.Smith@Example.COM"]


@pytest.mark.parametrize("create_users", [False, True])
def test_request_with_dotless_i_never_mails_the_typed_address(
    user_factory, api_client, mailoutbox, settings, create_users
):
    """Django's CVE-2019-19844: "m\\u0131ke" (dotless i) upper-cases to "MIKE". Whether or
    not the database matches the two, the look-alike address gets nothing."""
    settings.JWT_EMAIL_CREATE_USERS = create_users
    mike = user_factory("mike@example.org")
    attacker = "m\u0131ke@example.org"

    response = api_client.post("/auth/request/", {"email": attacker}, format="json")

    assert response.status_code == 202
    assert all(attacker not in message.to for message in mailoutbox)
    assert all(message.to == [mike.email] for message in mailoutbox)
    assert get_user_model().objects.count() == 1


def test_request_with_dotted_capital_i_never_mails_the_typed_address(
    user_factory, api_client, mailoutbox, settings
):
    settings.JWT_EMAIL_CREATE_USERS = True
    user_factory("mike@example.org")
    api_client.post("/auth/request/", {"email": "M\u0130KE@example.org"}, format="json")
    assert all("M\u0130KE@example.org" not in message.to for message in mailoutbox)


@pytest.mark.parametrize(
    "email",
    [
        "not-an-address",
        "a@b.com\nBcc: x@y.com",
        "a@b.com\r\nSubject: x",
        "a@b.com\rBcc: x@y.com",
        "a@b.com, c@d.com",
        "a@b.com,c@d.com",
        '"a,b"@example.com',
        '"a\\"b"@example.com',
        "Alice <a@b.com>",
        "a@b.com;c@d.com",
        "",
        "a" * 250 + "@b.com",
    ],
)
def test_request_refuses_malformed_addresses_and_header_injection(
    email, user, api_client, mailoutbox
):
    response = api_client.post("/auth/request/", {"email": email}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_email"
    assert set(response.json()) == {"detail", "code"}
    assert mailoutbox == []


def test_request_refuses_header_injection_in_a_form_post_too(user, client, mailoutbox):
    response = client.post(
        "/auth/request/",
        "email=alice%40example.com%0D%0ABcc%3A+x%40y.com",
        content_type="application/x-www-form-urlencoded",
        HTTP_ACCEPT="application/json",
    )
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_email"
    assert mailoutbox == []


def test_email_carries_link_expiry_site_client_and_code(user, api_client, mailoutbox):
    api_client.post(
        "/auth/request/",
        {"email": user.email},
        format="json",
        REMOTE_ADDR="203.0.113.9",
        HTTP_USER_AGENT=("Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"),
    )
    (message,) = mailoutbox
    html = message.alternatives[0][0]
    assert message.subject == "Sign in to app.example.com"
    for body in (message.body, html):
        assert "https://app.example.com/auth/verify/?token=" in body
        assert "expire in 10 minutes" in body
        assert "app.example.com" in body
        assert "203.0.113.9" in body
        assert "Firefox" in body and "Linux" in body
        assert code_of(message) in body


def test_email_link_ignores_a_forged_host_header(user, api_client, mailoutbox, settings):
    settings.ALLOWED_HOSTS = ["*"]
    api_client.post(
        "/auth/request/",
        {"email": user.email},
        format="json",
        HTTP_HOST="evil.example",
        HTTP_X_FORWARDED_HOST="evil.example",
    )
    (message,) = mailoutbox
    assert link_of(message).startswith("https://app.example.com/auth/verify/?token=")
    assert "evil.example" not in message.body
    assert "evil.example" not in message.alternatives[0][0]


def test_email_link_is_http_only_with_debug(user, api_client, mailoutbox, settings):
    settings.DEBUG = True
    settings.JWT_EMAIL_LINK_BASE_URL = "http://localhost:8000"
    api_client.post("/auth/request/", {"email": user.email}, format="json")
    assert link_of(mailoutbox[0]).startswith("http://localhost:8000/auth/verify/?token=")


def test_http_link_base_without_debug_sends_nothing_and_answers_the_same(
    user, api_client, mailoutbox, settings
):
    settings.JWT_EMAIL_LINK_BASE_URL = "http://app.example.com"
    known = api_client.post("/auth/request/", {"email": user.email}, format="json")
    unknown = api_client.post("/auth/request/", {"email": "x@example.com"}, format="json")
    assert known.status_code == 202
    assert answer(known) == answer(unknown)
    assert mailoutbox == []
    assert events("email_failed") == [("email_failed", "ConfigurationError")]


def test_failing_email_backend_gives_202_and_email_failed(user, api_client, settings):
    settings.EMAIL_BACKEND = "tests.testapp.mail.FailingEmailBackend"
    response = api_client.post("/auth/request/", {"email": user.email}, format="json")
    assert response.status_code == 202
    assert response.json()["detail"].startswith("If an account exists")
    assert events() == [("issued", ""), ("email_failed", "SMTPException")]


def test_request_records_issued_and_email_sent(user, request_link):
    request_link(user.email)
    row = IssuedToken.objects.get()
    assert events() == [("issued", ""), ("email_sent", "")]
    assert set(TokenEvent.objects.values_list("jti", flat=True)) == {row.jti}
    assert set(TokenEvent.objects.values_list("user", flat=True)) == {user.pk}


# --- CREATE_USERS ------------------------------------------------------------------------


def test_create_users_creates_the_account_only_when_the_link_is_redeemed(
    api_client, mailoutbox, settings
):
    settings.JWT_EMAIL_CREATE_USERS = True
    response = api_client.post("/auth/request/", {"email": "New@Example.com"}, format="json")
    assert response.status_code == 202
    (message,) = mailoutbox
    assert message.to == ["New@example.com"]  # the domain is normalised, as Django does
    assert message.subject == "Create your account on app.example.com"
    assert not get_user_model().objects.exists()

    pair = api_client.post("/auth/token/", {"token": token_of(message)}, format="json")

    assert pair.status_code == 200
    created = get_user_model().objects.get()
    assert created.email == "New@example.com"
    me = api_client.get("/api/me/", **bearer(pair.json()["access"]))
    assert me.json() == {"id": created.pk, "email": "New@example.com"}


def test_create_users_answers_unknown_and_known_addresses_alike(
    user, api_client, mailoutbox, settings
):
    settings.JWT_EMAIL_CREATE_USERS = True
    known = api_client.post("/auth/request/", {"email": user.email}, format="json")
    unknown = api_client.post("/auth/request/", {"email": "new@example.com"}, format="json")
    assert answer(known) == answer(unknown)
    assert [m.to for m in mailoutbox] == [["alice@example.com"], ["new@example.com"]]
    assert get_user_model().objects.count() == 1


def test_create_users_browser_sign_up_signs_in_the_new_account(client, mailoutbox, settings):
    settings.JWT_EMAIL_CREATE_USERS = True
    client.post("/auth/request/", {"email": "new@example.com"}, HTTP_ACCEPT="application/json")
    response = client.post("/auth/verify/", {"token": token_of(mailoutbox[0])})
    assert response.status_code == 302
    assert get_user_model().objects.get().email == "new@example.com"
    assert client.get("/home/").content == b"home new@example.com"


def test_create_users_two_links_for_one_address_make_one_account(api_client, mailoutbox, settings):
    settings.JWT_EMAIL_CREATE_USERS = True
    api_client.post("/auth/request/", {"email": "new@example.com"}, format="json")
    api_client.post("/auth/request/", {"email": "new@example.com"}, format="json")
    first, second = (token_of(m) for m in mailoutbox)
    one = api_client.post("/auth/token/", {"token": first}, format="json")
    two = api_client.post("/auth/token/", {"token": second}, format="json")
    assert one.status_code == two.status_code == 200
    assert get_user_model().objects.count() == 1


# --- verify → sign in (browser) --------------------------------------------------------


def test_browser_sign_in(user, request_link, client):
    token = request_link(user.email)
    page = client.get("/auth/verify/", {"token": token})
    assert page.status_code == 200
    assert b'name="token"' in page.content
    assert IssuedToken.objects.get().used_at is None
    response = client.post("/auth/verify/", {"token": token})
    assert response.status_code == 302
    assert response["Location"] == "/home/"
    assert client.get("/home/").content == f"home {user}".encode()
    assert events() == [("issued", ""), ("email_sent", ""), ("verified", "")]


def test_verify_get_consumes_nothing_even_twice(user, request_link, client):
    token = request_link(user.email)
    assert client.get("/auth/verify/", {"token": token}).status_code == 200
    assert client.get("/auth/verify/", {"token": token}).status_code == 200
    assert IssuedToken.objects.get().used_at is None
    assert client.post("/auth/verify/", {"token": token}).status_code == 302


def test_link_signs_in_once_and_only_once(user, request_link, client):
    token = request_link(user.email)
    assert client.post("/auth/verify/", {"token": token}).status_code == 302
    other = Client()
    again = other.post("/auth/verify/", {"token": token})
    assert again.status_code == 400
    assert b'data-code="token_used"' in again.content
    assert other.get("/home/").content == ANON
    page = other.get("/auth/verify/", {"token": token})
    assert page.status_code == 400
    assert b'data-code="token_used"' in page.content


def test_next_is_stored_at_request_time_and_honoured(user, request_link, client):
    token = request_link(user.email, next="/dashboard/")
    assert IssuedToken.objects.get().next_url == "/dashboard/"
    response = client.post("/auth/verify/", {"token": token})
    assert response["Location"] == "/dashboard/"


def test_next_posted_at_verify_time_is_honoured(user, request_link, client):
    token = request_link(user.email)
    page = client.get("/auth/verify/", {"token": token, "next": "/dashboard/"})
    assert b'name="next" value="/dashboard/"' in page.content
    response = client.post("/auth/verify/", {"token": token, "next": "/dashboard/"})
    assert response["Location"] == "/dashboard/"


EVIL_NEXTS = [
    "https://evil.example",
    "https://evil.example/dashboard/",
    "//evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "\t//evil.example",
    " //evil.example",
    "javascript:alert(document.cookie)",
    "JavaScript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "http:evil.example",
    "https:///evil.example",
]


@pytest.mark.parametrize("evil", EVIL_NEXTS)
def test_unsafe_next_at_request_time_is_ignored(evil, user, request_link, client):
    token = request_link(user.email, next=evil)
    assert IssuedToken.objects.get().next_url == ""
    response = client.post("/auth/verify/", {"token": token})
    assert response["Location"] == "/home/"


@pytest.mark.parametrize("evil", EVIL_NEXTS)
def test_unsafe_next_at_verify_time_is_ignored(evil, user, request_link, client):
    token = request_link(user.email, next="/dashboard/")
    response = client.post("/auth/verify/", {"token": token, "next": evil})
    assert response["Location"] == "/dashboard/"  # the stored one, not the posted one


@pytest.mark.parametrize("evil", EVIL_NEXTS)
def test_unsafe_next_everywhere_goes_to_login_redirect_url(evil, user, request_link, client):
    token = request_link(user.email, next=evil)
    response = client.post("/auth/verify/", {"token": token, "next": evil})
    assert response["Location"] == "/home/"


def test_verify_refuses_csrf_less_post(user, request_link):
    token = request_link(user.email)
    browser = Client(enforce_csrf_checks=True)
    assert browser.post("/auth/verify/", {"token": token}).status_code == 403
    assert IssuedToken.objects.get().used_at is None

    page = browser.get("/auth/verify/", {"token": token})
    csrf = page.context["csrf_token"]
    response = browser.post("/auth/verify/", {"token": token, "csrfmiddlewaretoken": str(csrf)})
    assert response.status_code == 302


# --- refusals -----------------------------------------------------------------------------


def expired_link(request_link, user, settings):
    settings.JWT_EMAIL_LOGIN_TOKEN_TTL = timedelta(minutes=-5)
    token = request_link(user.email)
    settings.JWT_EMAIL_LOGIN_TOKEN_TTL = timedelta(minutes=10)
    return token


def revoked_link(request_link, user, api_client):
    token = request_link(user.email)
    assert api_client.post("/auth/token/revoke/", {"token": token}, format="json").status_code
    return token


def used_link(request_link, user, api_client):
    token = request_link(user.email)
    assert api_client.post("/auth/token/", {"token": token}, format="json").status_code == 200
    return token


def tampered_link(request_link, user):
    token = request_link(user.email)
    head, payload, signature = token.split(".")
    flipped = "A" if signature[10] != "A" else "B"
    return f"{head}.{payload}.{signature[:10]}{flipped}{signature[11:]}"


REFUSALS = [
    (expired_link, "token_expired", "expired"),
    (revoked_link, "token_revoked", "revoked"),
    (used_link, "token_used", "used"),
    (tampered_link, "invalid_token", "bad_signature"),
]


@pytest.fixture
def refused(request, user, request_link, api_client, settings):
    make, code, reason = request.param
    kwargs = {"request_link": request_link, "user": user}
    if "settings" in make.__code__.co_varnames:
        kwargs["settings"] = settings
    if "api_client" in make.__code__.co_varnames:
        kwargs["api_client"] = api_client
    return make(**kwargs), code, reason


@pytest.mark.parametrize("refused", REFUSALS, indirect=True, ids=[r[1] for r in REFUSALS])
def test_refused_link_on_token_endpoint(refused, api_client):
    token, code, reason = refused
    response = api_client.post("/auth/token/", {"token": token}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == code
    assert set(response.json()) == {"detail", "code"}
    assert ("rejected", reason) in events("rejected")


@pytest.mark.parametrize("refused", REFUSALS, indirect=True, ids=[r[1] for r in REFUSALS])
def test_refused_link_on_verify_post_shows_the_invalid_page(refused, client):
    token, code, reason = refused
    response = client.post("/auth/verify/", {"token": token})
    assert response.status_code == 400
    assert f'data-code="{code}"'.encode() in response.content
    assert b'action="/auth/request/"' in response.content  # ask for a new link
    assert client.get("/home/").content == ANON
    assert ("rejected", reason) in events("rejected")


@pytest.mark.parametrize("refused", REFUSALS, indirect=True, ids=[r[1] for r in REFUSALS])
def test_refused_link_on_verify_get_shows_the_invalid_page(refused, client):
    token, code, _ = refused
    response = client.get("/auth/verify/", {"token": token})
    assert response.status_code == 400
    assert f'data-code="{code}"'.encode() in response.content
    assert b'action="/auth/request/"' in response.content


def test_link_of_a_user_deactivated_since_is_refused(user, request_link, api_client, client):
    token = request_link(user.email)
    user.is_active = False
    user.save()
    response = api_client.post("/auth/token/", {"token": token}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] in {"invalid_token", "token_revoked"}
    assert client.post("/auth/verify/", {"token": token}).status_code == 400
    assert client.get("/home/").content == ANON


def test_link_of_a_user_deactivated_without_save_is_refused(user, request_link, api_client):
    token = request_link(user.email)
    get_user_model().objects.filter(pk=user.pk).update(is_active=False)
    response = api_client.post("/auth/token/", {"token": token}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_token"
    assert events("rejected") == [("rejected", "inactive_user")]
    assert IssuedToken.objects.get().used_at is None  # the refusal rolled back


def test_link_of_a_user_whose_email_changed_since_is_refused(user, request_link, api_client):
    token = request_link(user.email)
    user.email = "alice@elsewhere.example"
    user.save()
    response = api_client.post("/auth/token/", {"token": token}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_token"
    assert events("rejected") == [("rejected", "email_changed")]


def test_link_of_a_user_whose_email_changed_only_in_case_still_works(
    user, request_link, api_client
):
    token = request_link(user.email)
    user.email = "Alice@Example.com"
    user.save()
    assert api_client.post("/auth/token/", {"token": token}, format="json").status_code == 200


def test_verify_without_a_token_shows_the_invalid_page(client):
    assert client.get("/auth/verify/").status_code == 400
    assert client.post("/auth/verify/", {}).status_code == 400


# --- pair → refresh → revoke (API) -----------------------------------------------------


def test_request_then_token_pair_then_me(user, request_link, api_client):
    token = request_link("ALICE@example.com")
    response = api_client.post("/auth/token/", {"token": token}, format="json")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access", "refresh", "token_type", "expires_in", "refresh_expires_in"}
    assert body["token_type"] == "Bearer"
    assert 290 <= body["expires_in"] <= 300
    assert 14 * 86400 - 10 <= body["refresh_expires_in"] <= 14 * 86400
    assert response["Cache-Control"].count("no-store") == 1
    me = api_client.get("/api/me/", **bearer(body["access"]))
    assert me.json() == {"id": user.pk, "email": "alice@example.com"}


def test_link_works_once(user, request_link, api_client):
    token = request_link(user.email)
    assert api_client.post("/auth/token/", {"token": token}, format="json").status_code == 200
    again = api_client.post("/auth/token/", {"token": token}, format="json")
    assert again.status_code == 400
    assert again.json()["code"] == "token_used"
    assert TokenEvent.objects.filter(event="rejected", reason="used").count() == 1


def test_whole_api_session(user, request_link, api_client):
    """request → token → me → refresh → me → logout → refused."""
    pair = api_client.post("/auth/token/", {"token": request_link(user.email)}, format="json")
    first = pair.json()
    rotated = api_client.post(
        "/auth/token/refresh/", {"refresh": first["refresh"]}, format="json"
    ).json()
    assert api_client.get("/api/me/", **bearer(rotated["access"])).status_code == 200
    assert api_client.post("/auth/logout/", **bearer(rotated["access"])).status_code == 204
    for access in (first["access"], rotated["access"]):
        assert api_client.get("/api/me/", **bearer(access)).status_code == 401
    refused = api_client.post(
        "/auth/token/refresh/", {"refresh": rotated["refresh"]}, format="json"
    )
    assert refused.json()["code"] == "token_revoked"
    # A routine refresh is counted on the session's row, not written as a row.
    assert [e for e, _ in events()] == [
        "issued",
        "email_sent",
        "verified",
        "revoked",
        "rejected",
        "rejected",
        "rejected",
    ]
    assert SignInSession.objects.get().refresh_count == 1


def test_every_refresh_is_a_row_when_asked(user, request_link, api_client, settings):
    settings.JWT_EMAIL_AUDIT_EVERY_REFRESH = True
    pair = api_client.post("/auth/token/", {"token": request_link(user.email)}, format="json")
    api_client.post("/auth/token/refresh/", {"refresh": pair.json()["refresh"]}, format="json")
    assert [e for e, _ in events()][-1] == "refreshed"


def test_logout_all_signs_out_every_session_and_link(user, request_link, api_client):
    phone = api_client.post("/auth/token/", {"token": request_link(user.email)}, format="json")
    laptop = api_client.post("/auth/token/", {"token": request_link(user.email)}, format="json")
    pending = request_link(user.email)

    response = api_client.post("/auth/logout/all/", **bearer(phone.json()["access"]))

    assert response.status_code == 204
    for session in (phone.json(), laptop.json()):
        assert api_client.get("/api/pk/", **bearer(session["access"])).status_code == 401
        refresh = api_client.post(
            "/auth/token/refresh/", {"refresh": session["refresh"]}, format="json"
        )
        assert refresh.json()["code"] == "token_revoked"
    link = api_client.post("/auth/token/", {"token": pending}, format="json")
    assert link.json()["code"] == "token_revoked"
    assert RevokedToken.objects.filter(kind="session", reason="logout_all").count() == 2


def test_browser_session_logout_needs_csrf(user, request_link):
    browser = Client(enforce_csrf_checks=True)
    token = request_link(user.email)
    csrf = str(browser.get("/auth/verify/", {"token": token}).context["csrf_token"])
    browser.post("/auth/verify/", {"token": token, "csrfmiddlewaretoken": csrf})
    assert browser.get("/home/").content == f"home {user}".encode()

    assert browser.post("/auth/logout/").status_code == 403
    assert browser.get("/home/").content == f"home {user}".encode()

    csrf = browser.cookies["csrftoken"].value
    response = browser.post("/auth/logout/", HTTP_X_CSRFTOKEN=csrf)
    assert response.status_code == 204
    assert browser.get("/home/").content == ANON


def test_browser_session_logout_all_revokes_api_sessions_too(user, request_link, api_client):
    pair = api_client.post("/auth/token/", {"token": request_link(user.email)}, format="json")
    browser = Client()
    browser.post("/auth/verify/", {"token": request_link(user.email)})
    assert browser.post("/auth/logout/all/").status_code == 204
    assert browser.get("/home/").content == ANON
    assert api_client.get("/api/pk/", **bearer(pair.json()["access"])).status_code == 401


def test_short_code_from_the_email_signs_in_an_api_client(user, api_client, mailoutbox):
    api_client.post("/auth/request/", {"email": user.email}, format="json")
    code = code_of(mailoutbox[0])
    response = api_client.post("/auth/code/", {"email": user.email, "code": code}, format="json")
    assert response.status_code == 200
    assert api_client.get("/api/pk/", **bearer(response.json()["access"])).status_code == 200


# --- link targets (LINK_URL): a front end or a mobile app --------------------------------


@pytest.mark.parametrize(
    "template",
    ["https://app.example.com/signin#token={token}", "myapp://signin?token={token}"],
)
def test_a_link_to_a_front_end_or_an_app_carries_a_token_that_auth_token_redeems(
    settings, user, api_client, mailoutbox, template
):
    settings.JWT_EMAIL_LINK_URL = template
    # A forged Host never reaches the link: it comes from the setting alone.
    response = api_client.post(
        "/auth/request/", {"email": user.email}, format="json", HTTP_HOST="127.0.0.1"
    )
    assert response.status_code == 202
    body = mailoutbox[-1].body
    prefix = template.split("{token}")[0]
    line = next(line for line in body.splitlines() if line.startswith(prefix))
    token = line[len(prefix) :]
    assert "/auth/verify/" not in body
    assert "127.0.0.1" not in line

    pair = api_client.post("/auth/token/", {"token": token}, format="json")
    assert pair.status_code == 200
    again = api_client.post("/auth/token/", {"token": token}, format="json")
    assert again.json()["code"] == "token_used"
