"""End to end: the short code of the sign-in email, its attempt cap, and the
same-browser binding (request → send → verify by code → sign in / pair)."""

from __future__ import annotations

import json
import logging
import re
import threading
from datetime import timedelta

import pytest
from django.core import mail
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from django_jwt_email import addresses, services, signin_codes
from django_jwt_email.clientinfo import Client as Requester
from django_jwt_email.exceptions import CodeInvalid
from django_jwt_email.models import IssuedToken, RevokedToken, TokenEvent
from tests.conftest import code_of, token_of

pytestmark = pytest.mark.django_db

COOKIE = "jwt_email_binding"
PAIR_KEYS = {"access", "refresh", "token_type", "expires_in", "refresh_expires_in"}
INVALID_CODE = {
    "detail": "The code is invalid or has expired. Ask for a new sign-in email.",
    "code": "invalid_code",
}
CSRF_VALUE = re.compile(rb'name="csrfmiddlewaretoken" value="[^"]+"')


def ask(client, email: str, **extra):
    """POST auth/request/ from ``client`` (keeping its cookies); the email sent."""
    sent = len(mail.outbox)
    response = client.post(
        "/auth/request/", json.dumps({"email": email, **extra}), content_type="application/json"
    )
    assert response.status_code == 202, response.content
    assert len(mail.outbox) == sent + 1
    return mail.outbox[-1]


def redeem(client, email: str, code: str):
    """POST auth/code/ as an API client."""
    return client.post(
        "/auth/code/", json.dumps({"email": email, "code": code}), content_type="application/json"
    )


def link_row():
    return IssuedToken.objects.get()


# --- the code in the email -------------------------------------------------------


def test_sign_in_email_shows_the_code_beside_the_link(user, api_client):
    message = ask(api_client, user.email)
    code = code_of(message)
    assert re.fullmatch(r"[23456789A-HJ-NP-Z]{4}-[23456789A-HJ-NP-Z]{4}", code)
    assert token_of(message)
    html = message.alternatives[0][0]
    assert code in html
    row = link_row()
    assert row.code_hash == signin_codes.hash_code(code)
    assert row.code_attempts == 0


def test_code_length_and_alphabet_settings_are_honoured(settings, user, api_client):
    settings.JWT_EMAIL_CODE_LENGTH = 6
    settings.JWT_EMAIL_CODE_ALPHABET = "ABCDEFGHJKLMNPQR"
    message = ask(api_client, user.email)
    code = re.search(r"\b([A-HJ-NP-R]{3}-[A-HJ-NP-R]{3})\b", message.body).group(1)
    assert code in message.alternatives[0][0]
    response = redeem(APIClient(), user.email, code)
    assert response.status_code == 200
    assert set(response.json()) == PAIR_KEYS


# --- redeem: API and browser -------------------------------------------------------


def test_code_pair_then_me(user, api_client):
    code = code_of(ask(api_client, user.email))
    phone = APIClient()
    response = redeem(phone, user.email, code)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == PAIR_KEYS
    assert body["token_type"] == "Bearer"
    assert "no-store" in response["Cache-Control"]
    assert response["Referrer-Policy"] == "no-referrer"
    me = phone.get("/api/me/", HTTP_AUTHORIZATION=f"Bearer {body['access']}")
    assert me.json() == {"id": user.pk, "email": "alice@example.com"}
    verified = TokenEvent.objects.get(event="verified")
    assert (verified.jti, verified.user) == (link_row().jti, user)


def test_code_signs_the_browser_in(user, client):
    code = code_of(ask(client, user.email, next="/home/?via=code"))
    laptop = Client()
    response = laptop.post("/auth/verify/", {"email": user.email, "code": code, "next": ""})
    assert response.status_code == 302
    assert response["Location"] == "/home/?via=code"
    assert "no-store" in response["Cache-Control"]
    assert laptop.get("/home/").content == f"home {user}".encode()


def test_code_works_with_the_address_and_code_typed_sloppily(user, api_client):
    code = code_of(ask(api_client, "alice@example.com"))
    typed = " " + code.lower().replace("-", " ") + " "
    response = redeem(APIClient(), "ALICE@Example.COM", typed)
    assert response.status_code == 200


def test_code_matches_a_stored_address_in_any_case(user_factory, api_client):
    user_factory("Alice.Smith@Example.com")
    code = code_of(ask(api_client, "alice.smith@example.com"))
    response = redeem(APIClient(), "ALICE.SMITH@EXAMPLE.COM", code)
    assert response.status_code == 200
    assert link_row().email_hash == addresses.keyed_hash("alice.smith@example.com")


def test_code_of_a_sign_up_link_creates_the_account(settings, api_client, django_user_model):
    settings.JWT_EMAIL_CREATE_USERS = True
    code = code_of(ask(api_client, "new@example.com"))
    assert not django_user_model.objects.filter(email="new@example.com").exists()
    response = redeem(APIClient(), "NEW@example.com", code)
    assert response.status_code == 200
    assert django_user_model.objects.filter(email="new@example.com").count() == 1


# --- the code and the link consume each other ------------------------------------


def test_code_consumes_the_link(user, api_client):
    message = ask(api_client, user.email)
    assert redeem(APIClient(), user.email, code_of(message)).status_code == 200
    response = APIClient().post("/auth/token/", {"token": token_of(message)}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "token_used"
    page = Client().get("/auth/verify/", {"token": token_of(message)})
    assert b'data-code="token_used"' in page.content


def test_link_consumes_the_code(user, api_client, client):
    message = ask(api_client, user.email)
    assert client.post("/auth/verify/", {"token": token_of(message)}).status_code == 302
    response = redeem(APIClient(), user.email, code_of(message))
    assert response.status_code == 400
    assert response.json() == INVALID_CODE


def test_code_works_once(user, api_client):
    code = code_of(ask(api_client, user.email))
    assert redeem(APIClient(), user.email, code).status_code == 200
    again = redeem(APIClient(), user.email, code)
    assert again.status_code == 400
    assert again.json() == INVALID_CODE


@pytest.mark.parametrize(
    ("change", "reason"),
    [({"is_active": False}, "inactive_user"), ({"email": "new@example.com"}, "email_changed")],
    ids=["deactivated", "new-address"],
)
def test_right_code_of_a_user_changed_without_save_is_refused(user, api_client, change, reason):
    """The user was deactivated, or given a new address, by an update() that sent no
    signal: the right code still signs nobody in, gives the one answer of the code
    endpoint, records why, and leaves the link unused."""
    code = code_of(ask(api_client, user.email))
    type(user).objects.filter(pk=user.pk).update(**change)

    response = redeem(APIClient(), user.email, code)

    assert response.status_code == 400
    assert response.json() == INVALID_CODE
    assert link_row().used_at is None
    assert TokenEvent.objects.filter(event="rejected", reason=reason, user=user).exists()


# --- which links a code can match ------------------------------------------------


def _expire(message):
    IssuedToken.objects.update(expires_at=timezone.now() - timedelta(seconds=1))


def _revoke(message):
    response = APIClient().post("/auth/token/revoke/", {"token": token_of(message)}, format="json")
    assert response.status_code == 200


def _use(message):
    response = APIClient().post("/auth/token/", {"token": token_of(message)}, format="json")
    assert response.status_code == 200


@pytest.mark.parametrize("end", [_expire, _revoke, _use], ids=["expired", "revoked", "used"])
def test_code_of_an_ended_link_is_refused(user, api_client, end):
    message = ask(api_client, user.email)
    end(message)
    response = redeem(APIClient(), user.email, code_of(message))
    assert response.status_code == 400
    assert response.json() == INVALID_CODE


def test_code_works_only_with_the_address_it_was_mailed_to(user_factory, api_client):
    alice, bob = user_factory("alice@example.com"), user_factory("bob@example.com")
    alices_code = code_of(ask(api_client, alice.email))
    ask(api_client, bob.email)
    response = redeem(APIClient(), bob.email, alices_code)
    assert response.status_code == 400
    assert response.json() == INVALID_CODE
    assert redeem(APIClient(), alice.email, alices_code).status_code == 200


def test_each_outstanding_link_keeps_its_own_code(settings, user, api_client):
    settings.JWT_EMAIL_RATE_LIMITS = {"request_ip": "100/h", "request_email": "100/h"}
    messages = [ask(api_client, user.email) for _ in range(7)]
    oldest, newest = messages[0], messages[-1]
    assert redeem(APIClient(), user.email, code_of(oldest)).status_code == 200
    assert redeem(APIClient(), user.email, code_of(newest)).status_code == 200
    # Each code consumed its own link only.
    assert IssuedToken.objects.filter(used_at__isnull=False).count() == 2
    middle = APIClient().post("/auth/token/", {"token": token_of(messages[3])}, format="json")
    assert middle.status_code == 200


# --- the attempt cap ---------------------------------------------------------------


def test_three_wrong_codes_revoke_the_link(user, api_client):
    message = ask(api_client, user.email)
    attacker = APIClient()
    for attempt in (1, 2, 3):
        response = redeem(attacker, user.email, "ZZZZ-ZZZZ")
        assert response.status_code == 400
        assert response.json() == INVALID_CODE
        assert link_row().code_attempts == attempt
        assert (link_row().revoked_at is None) == (attempt < 3)
    row = link_row()
    assert row.revoke_reason == "code_attempts_exceeded"
    exceeded = TokenEvent.objects.get(event="code_attempts_exceeded")
    assert (exceeded.jti, exceeded.user) == (row.jti, user)
    assert TokenEvent.objects.filter(event="rejected", reason="wrong_code").count() == 3
    # The user must ask for a new one: neither the right code nor the link works.
    right = redeem(APIClient(), user.email, code_of(message))
    assert (right.status_code, right.json()) == (400, INVALID_CODE)
    link = APIClient().post("/auth/token/", {"token": token_of(message)}, format="json")
    assert (link.status_code, link.json()["code"]) == (400, "token_revoked")


def test_wrong_codes_below_the_cap_leave_the_right_code_working(settings, user, api_client):
    settings.JWT_EMAIL_CODE_MAX_ATTEMPTS = 5
    code = code_of(ask(api_client, user.email))
    for _ in range(4):
        assert redeem(APIClient(), user.email, "ZZZZ-ZZZZ").status_code == 400
    assert redeem(APIClient(), user.email, code).status_code == 200
    assert not TokenEvent.objects.filter(event="code_attempts_exceeded").exists()


def test_one_attempt_cap_revokes_on_the_first_wrong_code(settings, user, api_client):
    settings.JWT_EMAIL_CODE_MAX_ATTEMPTS = 1
    code = code_of(ask(api_client, user.email))
    assert redeem(APIClient(), user.email, "ZZZZ-ZZZZ").status_code == 400
    assert link_row().revoke_reason == "code_attempts_exceeded"
    assert redeem(APIClient(), user.email, code).status_code == 400


def test_wrong_code_counts_against_every_outstanding_link_of_the_address(user, api_client):
    first, second = ask(api_client, user.email), ask(api_client, user.email)
    for _ in range(3):
        redeem(APIClient(), user.email, "ZZZZ-ZZZZ")
    assert set(IssuedToken.objects.values_list("revoke_reason", flat=True)) == {
        "code_attempts_exceeded"
    }
    assert TokenEvent.objects.filter(event="code_attempts_exceeded").count() == 2
    for message in (first, second):
        assert redeem(APIClient(), user.email, code_of(message)).status_code == 400


def test_right_code_on_a_link_at_the_cap_is_refused_and_revokes_it(user, api_client):
    """As after concurrent wrong guesses that counted the link to the cap before
    any of them revoked it: the right code must not slip through."""
    message = ask(api_client, user.email)
    IssuedToken.objects.update(code_attempts=3)
    response = redeem(APIClient(), user.email, code_of(message))
    assert (response.status_code, response.json()) == (400, INVALID_CODE)
    row = link_row()
    assert row.used_at is None
    assert row.revoke_reason == "code_attempts_exceeded"
    assert TokenEvent.objects.filter(event="code_attempts_exceeded", jti=row.jti).count() == 1


def test_link_at_the_cap_is_refused_even_before_its_revoke(user, api_client):
    message = ask(api_client, user.email)
    IssuedToken.objects.update(code_attempts=3)
    response = APIClient().post("/auth/token/", {"token": token_of(message)}, format="json")
    assert response.status_code == 400
    assert "access" not in response.json()
    assert link_row().used_at is None


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_wrong_codes_cannot_skip_the_revoke(settings, user_factory):
    """Bursts of simultaneous wrong guesses, a few more than the cap, each burst on
    a fresh link: every link ends revoked, with one event, however the guesses
    interleave. (They call the service directly: through the test client,
    requests barely overlap.)"""
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: run with DATABASE_URL=postgres://postgres@127.0.0.1/test")
    settings.JWT_EMAIL_CODE_MAX_ATTEMPTS = 10
    guesses, rounds = 12, 4

    def guess(email: str, start: threading.Barrier) -> None:
        try:
            start.wait()
            with pytest.raises(CodeInvalid):
                services.code_pair(email, "ZZZZ-ZZZZ", client=Requester())
        finally:
            connection.close()

    for n in range(rounds):
        user = user_factory(f"burst{n}@example.com")
        message = ask(APIClient(), user.email)
        start = threading.Barrier(guesses)
        threads = [
            threading.Thread(target=guess, args=(user.email, start)) for _ in range(guesses)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        row = IssuedToken.objects.get(user=user)
        assert row.revoke_reason == "code_attempts_exceeded", row.code_attempts
        assert TokenEvent.objects.filter(event="code_attempts_exceeded", jti=row.jti).count() == 1
        assert redeem(APIClient(), user.email, code_of(message)).status_code == 400


# --- one answer for an unknown address, a wrong code and a locked link -------------


def _unknown_address(user, message):
    return "nobody@example.com", code_of(message)


def _wrong_code(user, message):
    return user.email, "ZZZZ-ZZZZ"


def _locked_link(user, message):
    IssuedToken.objects.filter(user=user).update(code_attempts=3)
    redeem(APIClient(), user.email, "ZZZZ-ZZZZ")  # the revoke lands
    assert IssuedToken.objects.get(user=user).revoked_at is not None
    return user.email, code_of(message)


CASES = [_unknown_address, _wrong_code, _locked_link]


@pytest.mark.parametrize("bound", [False, True], ids=["unbound", "bound"])
def test_code_refusals_look_the_same_to_the_api_caller(settings, user_factory, bound):
    settings.JWT_EMAIL_BIND_TO_BROWSER = bound
    seen = []
    for n, case in enumerate(CASES):
        user = user_factory(f"case{n}@example.com")
        email, code = case(user, ask(APIClient(), user.email))
        response = redeem(APIClient(), email, code)
        # Expires is "now" (never cache): it may tick over a second between cases.
        assert "Expires" in response
        headers = sorted((name, value) for name, value in response.items() if name != "Expires")
        seen.append((response.status_code, response.content, headers))
        assert not response.cookies
    assert seen[0][0] == 400
    assert json.loads(seen[0][1]) == INVALID_CODE
    assert seen[0] == seen[1] == seen[2]


def test_code_refusals_look_the_same_in_the_browser(user_factory):
    seen = []
    for n, case in enumerate(CASES):
        user = user_factory(f"case{n}@example.com")
        email, code = case(user, ask(APIClient(), user.email))
        response = Client().post("/auth/verify/", {"email": email, "code": code})
        # The form comes back with the typed address, and a fresh CSRF token.
        content = CSRF_VALUE.sub(b"", response.content).replace(email.encode(), b"EMAIL")
        seen.append((response.status_code, content))
    assert seen[0][0] == 400
    assert b'data-code="invalid_code"' in seen[0][1]
    assert b'name="code"' in seen[0][1]  # the code form again, for a typo
    assert seen[0] == seen[1] == seen[2]


def test_code_refusals_take_the_same_queries(user_factory):
    """One query path for the three (their timing is not asserted, only this)."""
    counts = []
    for n, case in enumerate(CASES):
        user = user_factory(f"case{n}@example.com")
        email, code = case(user, ask(APIClient(), user.email))
        with CaptureQueriesContext(connection) as queries:
            redeem(APIClient(), email, code)
        counts.append(len(queries))
    assert counts[0] == counts[1] == counts[2]


# --- the code is never kept or told in clear ----------------------------------------


def test_code_is_never_logged_stored_or_echoed(user, api_client, caplog):
    caplog.set_level(logging.DEBUG)
    message = ask(api_client, user.email)
    code = code_of(message)
    bare = code.replace("-", "")
    redeem(APIClient(), user.email, "ZZZZ-ZZZZ")
    answer = redeem(APIClient(), user.email, code.lower())
    assert answer.status_code == 200
    assert code not in answer.content.decode() and bare not in answer.content.decode()
    logged = "\n".join(record.getMessage() for record in caplog.records)
    stored = [
        str(value)
        for model in (IssuedToken, TokenEvent, RevokedToken)
        for row in model.objects.values()
        for value in row.values()
    ]
    for text in [logged, *stored]:
        assert code not in text.upper()
        assert bare not in text.upper()


# --- same-browser binding ------------------------------------------------------------


def test_binding_off_sets_no_cookie_and_the_link_works_anywhere(user, client):
    response = client.post(
        "/auth/request/", json.dumps({"email": user.email}), content_type="application/json"
    )
    assert COOKIE not in response.cookies
    assert link_row().browser_hash == ""
    other = Client()
    assert other.post("/auth/verify/", {"token": token_of(mail.outbox[-1])}).status_code == 302
    assert other.get("/home/").content == f"home {user}".encode()


def test_binding_on_sets_an_httponly_cookie_for_any_address(settings, user, client):
    settings.JWT_EMAIL_BIND_TO_BROWSER = True
    for address in (user.email, "nobody@example.com"):
        response = Client().post(
            "/auth/request/", json.dumps({"email": address}), content_type="application/json"
        )
        cookie = response.cookies[COOKIE]
        assert cookie["httponly"] and cookie["secure"]
        assert cookie["samesite"] == "Lax"
        assert signin_codes.is_verifier(cookie.value)
    ask(client, user.email)
    verifier = client.cookies[COOKIE].value
    newest = IssuedToken.objects.all().latest("pk")
    assert newest.browser_hash == signin_codes.hash_verifier(verifier) != verifier


def test_bound_link_signs_in_the_browser_that_asked(settings, user, client):
    settings.JWT_EMAIL_BIND_TO_BROWSER = True
    token = token_of(ask(client, user.email))
    assert client.get("/auth/verify/", {"token": token}).status_code == 200
    response = client.post("/auth/verify/", {"token": token})
    assert response.status_code == 302
    assert client.get("/home/").content == f"home {user}".encode()


def test_bound_link_in_another_browser_shows_the_code_for_the_first(settings, user, client):
    settings.JWT_EMAIL_BIND_TO_BROWSER = True
    message = ask(client, user.email)
    phone = Client()
    assert phone.get("/auth/verify/", {"token": token_of(message)}).status_code == 200
    relay = phone.post("/auth/verify/", {"token": token_of(message)})
    assert relay.status_code == 200
    assert "no-store" in relay["Cache-Control"]
    shown = re.search(rb'id="code">([^<]+)<', relay.content).group(1).decode()
    assert shown == code_of(message)
    assert phone.get("/home/").content == b"home AnonymousUser"
    assert link_row().used_at is None
    assert TokenEvent.objects.filter(event="rejected", reason="other_browser").count() == 1
    # Typed into the code form of the browser that asked, it signs that one in.
    response = client.post("/auth/verify/", {"email": user.email, "code": shown})
    assert response.status_code == 302
    assert client.get("/home/").content == f"home {user}".encode()
    assert link_row().used_at is not None


def test_bound_link_already_used_shows_no_code_in_another_browser(settings, user, client):
    settings.JWT_EMAIL_BIND_TO_BROWSER = True
    message = ask(client, user.email)
    assert client.post("/auth/verify/", {"token": token_of(message)}).status_code == 302
    page = Client().post("/auth/verify/", {"token": token_of(message)})
    assert page.status_code == 400
    assert b'data-code="token_used"' in page.content
    assert code_of(message).encode() not in page.content


def test_bound_link_is_refused_to_an_api_client_without_the_cookie(settings, user, api_client):
    settings.JWT_EMAIL_BIND_TO_BROWSER = True
    token = token_of(ask(api_client, user.email))
    response = APIClient().post("/auth/token/", {"token": token}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "other_browser"
    assert link_row().used_at is None
    # The client that asked keeps the cookie, as a cookie jar does.
    assert api_client.post("/auth/token/", {"token": token}, format="json").status_code == 200


def test_bound_code_works_only_with_the_cookie(settings, user, api_client):
    settings.JWT_EMAIL_BIND_TO_BROWSER = True
    code = code_of(ask(api_client, user.email))
    elsewhere = redeem(APIClient(), user.email, code)
    assert elsewhere.status_code == 400
    assert elsewhere.json()["code"] == "other_browser"
    assert code not in elsewhere.content.decode()
    assert link_row().code_attempts == 0  # the right code is no guess
    assert redeem(api_client, user.email, code).status_code == 200


def test_bound_code_typed_in_another_browser_shows_where_to_type_it(settings, user, client):
    settings.JWT_EMAIL_BIND_TO_BROWSER = True
    code = code_of(ask(client, user.email))
    page = Client().post("/auth/verify/", {"email": user.email, "code": code})
    assert page.status_code == 200
    assert b"Finish signing in on the other browser" in page.content
    assert link_row().used_at is None


def test_browser_keeps_its_binding_for_every_link_it_asked_for(settings, user, client):
    settings.JWT_EMAIL_BIND_TO_BROWSER = True
    first, second = ask(client, user.email), ask(client, user.email)
    assert len(set(IssuedToken.objects.values_list("browser_hash", flat=True))) == 1
    assert client.post("/auth/verify/", {"token": token_of(first)}).status_code == 302
    assert client.post("/auth/verify/", {"token": token_of(second)}).status_code == 302


def test_binding_cookie_not_made_by_the_app_is_replaced(settings, user, client):
    settings.JWT_EMAIL_BIND_TO_BROWSER = True
    client.cookies[COOKIE] = "chosen-by-someone-else"
    ask(client, user.email)
    verifier = client.cookies[COOKIE].value
    assert verifier != "chosen-by-someone-else"
    assert link_row().browser_hash == signin_codes.hash_verifier(verifier)
