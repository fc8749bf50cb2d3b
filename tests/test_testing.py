"""The helpers for a site's own tests (``django_jwt_email.testing``): what they make is
what the flows make, so the real endpoints accept it."""

from types import SimpleNamespace
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core import mail
from django.core.mail import EmailMessage, EmailMultiAlternatives
from django.test import Client
from rest_framework.test import APIClient

from django_jwt_email import keys, testing, tokens
from django_jwt_email.models import IssuedToken, SignInSession, TokenEvent
from django_jwt_email.testing import (
    SignInEmail,
    bearer,
    login_link,
    login_token,
    sign_in_email,
    throwaway_keys,
    throwaway_signing_keys,
    token_pair,
)
from tests.conftest import ROOT

pytestmark = pytest.mark.django_db


def path_of(link):
    parts = urlsplit(link)
    return parts.path, {name: values[0] for name, values in parse_qs(parts.query).items()}


# --- login_link, login_token ---------------------------------------------------------


def test_login_link_opens_the_verify_page_and_signs_the_browser_in(user, mailoutbox):
    link = login_link(user, next_url="/home/?from=link")
    assert link.startswith("https://app.example.com/auth/verify/?token=")
    browser = Client()
    path, query = path_of(link)
    page = browser.get(path, query)
    assert page.status_code == 200
    assert b'name="token"' in page.content

    response = browser.post(path, query)
    assert response.status_code == 302
    assert response["Location"] == "/home/?from=link"
    assert browser.get("/home/").content == f"home {user}".encode()
    assert mailoutbox == []  # the helper sends nothing


def test_login_link_is_stored_and_recorded_as_a_requested_one(user):
    link = login_link(user, next_url="/next/")
    row = IssuedToken.objects.get()
    assert (row.user, row.next_url, row.used_at) == (user, "/next/", None)
    assert row.jti == tokens.decode(path_of(link)[1]["token"], tokens.TokenKind.LOGIN)["jti"]
    issued = TokenEvent.objects.get()
    assert (issued.event, issued.jti, issued.user) == ("issued", row.jti, user)
    assert issued.user_agent == "django_jwt_email.testing"  # what made it, in the admin


def test_login_link_follows_link_url(user, settings):
    settings.JWT_EMAIL_LINK_URL = "myapp://signin?token={token}"
    link = login_link(user)
    assert link.startswith("myapp://signin?token=eyJ")


def test_login_token_is_redeemed_once_by_auth_token(user, api_client):
    token = login_token(user)
    first = api_client.post("/auth/token/", {"token": token}, format="json")
    assert first.status_code == 200
    assert api_client.get("/api/me/", **bearer(first.json()["access"])).json()["id"] == user.pk
    again = api_client.post("/auth/token/", {"token": token}, format="json")
    assert again.json()["code"] == "token_used"


def test_login_link_of_a_user_whose_address_changed_is_refused(user, api_client):
    """Bound to the address as it was, like a mailed link."""
    token = login_token(user)
    user.email = "new@example.com"
    user.save()
    response = api_client.post("/auth/token/", {"token": token}, format="json")
    assert response.json()["code"] == "invalid_token"


# --- token_pair, bearer ---------------------------------------------------------------


def test_token_pair_has_the_shape_of_auth_token(user, api_client):
    pair = token_pair(user)
    answered = api_client.post("/auth/token/", {"token": login_token(user)}, format="json").json()
    assert pair.keys() == answered.keys()
    assert pair["token_type"] == "Bearer"
    assert 0 < pair["expires_in"] <= 300
    assert SignInSession.objects.filter(user=user).count() == 2


def test_token_pair_refreshes_and_logs_out_through_the_endpoints(user, api_client):
    pair = token_pair(user)
    rotated = api_client.post("/auth/token/refresh/", {"refresh": pair["refresh"]}, format="json")
    assert rotated.status_code == 200
    reused = api_client.post("/auth/token/refresh/", {"refresh": pair["refresh"]}, format="json")
    assert reused.json()["code"] == "token_used"  # rotation with reuse detection, for real


def test_token_pair_counts_as_a_login(user):
    assert user.last_login is None
    token_pair(user)
    user.refresh_from_db()
    assert user.last_login is not None


def test_bearer_authenticates_with_djangos_and_drfs_clients(user):
    assert Client().get("/api/me/", **bearer(user)).json()["id"] == user.pk
    assert APIClient().get("/api/me/", **bearer(user)).json()["id"] == user.pk
    api = APIClient()
    api.credentials(**bearer(user))
    assert api.get("/api/me/").json() == {"id": user.pk, "email": user.email}


def test_bearer_headers_form_for_requests_and_the_headers_argument(user):
    headers = bearer(user)
    assert headers.headers == {"Authorization": f"Bearer {headers.access}"}
    assert Client().get("/api/me/", headers=headers.headers).json()["id"] == user.pk


def test_bearer_of_an_access_token_uses_that_token(user, api_client):
    pair = token_pair(user)
    headers = bearer(pair["access"])
    assert headers == {"HTTP_AUTHORIZATION": f"Bearer {pair['access']}"}
    assert api_client.post("/auth/logout/", **headers).status_code == 204
    assert api_client.get("/api/me/", **headers).status_code == 401


def test_bearer_of_a_user_starts_a_session_of_its_own(user, api_client):
    first, second = bearer(user), bearer(user)
    assert api_client.post("/auth/logout/", **first).status_code == 204
    assert api_client.get("/api/me/", **first).status_code == 401
    assert api_client.get("/api/me/", **second).status_code == 200


# --- throw-away keys ------------------------------------------------------------------


def test_throwaway_signing_keys_are_made_once_per_process_in_memory():
    first, again = throwaway_signing_keys(), throwaway_signing_keys()
    assert first == again
    assert first is not again  # a caller may change its copy
    (entry,) = first
    assert (entry["kid"], entry["algorithm"]) == ("throwaway-es256", "ES256")
    # Key material itself, not a file: "file:PATH" or "env:VAR" would be read from outside.
    assert entry["private_key"].startswith("-----BEGIN PRIVATE KEY-----")
    assert keys.load_keyring(first).signing_key.kid == "throwaway-es256"


def test_throwaway_keys_sign_and_verify_in_place_of_the_sites(user, api_client):
    with throwaway_keys():
        pair = token_pair(user)
        assert api_client.get("/api/me/", **bearer(pair["access"])).status_code == 200
        jwks = api_client.get("/auth/.well-known/jwks.json").json()
        assert [key["kid"] for key in jwks["keys"]] == ["throwaway-es256"]
    # Outside, the suite's own key is back: the throw-away one's tokens are refused.
    assert api_client.get("/api/me/", **bearer(pair["access"])).status_code == 401


@throwaway_keys("EdDSA")
def test_throwaway_keys_decorate_a_test_with_another_algorithm(user, api_client):
    access = token_pair(user)["access"]
    assert tokens._header(access)["kid"] == "throwaway-eddsa"
    assert api_client.get("/api/me/", **bearer(access)).status_code == 200


# --- the sign-in email ----------------------------------------------------------------


def ask(api_client, email, **extra):
    response = api_client.post("/auth/request/", {"email": email, **extra}, format="json")
    assert response.status_code == 202


def test_sign_in_email_gives_the_link_token_and_code_that_work(user, api_client, mailoutbox):
    ask(api_client, "Alice@Example.com")
    email = sign_in_email()  # Django's mail.outbox, which mailoutbox is
    assert email.message is mailoutbox[-1]
    assert email.to == ["alice@example.com"]
    assert email.link == f"https://app.example.com/auth/verify/?token={email.token}"
    assert email.link in email.message.body
    assert email.code in email.message.body
    answered = api_client.post(
        "/auth/code/", {"email": user.email, "code": email.code}, format="json"
    )
    assert answered.status_code == 200
    # The code and the link are one sign-in: the link is now spent.
    spent = api_client.post("/auth/token/", {"token": email.token}, format="json")
    assert spent.json()["code"] == "token_used"


def test_sign_in_email_for_an_address_passes_over_newer_ones(user_factory, api_client):
    user_factory("bob@example.com")
    user_factory("carol@example.com")
    ask(api_client, "bob@example.com")
    ask(api_client, "carol@example.com")
    mail.send_mail("Welcome", "Not a sign-in email.", None, ["bob@example.com"])
    assert sign_in_email(to="BOB@example.com").to == ["bob@example.com"]
    assert sign_in_email().to == ["carol@example.com"]
    bob = sign_in_email(mail.outbox, to="bob@example.com")
    assert (
        IssuedToken.objects.get(user__email="bob@example.com").jti
        == (tokens.decode(bob.token, tokens.TokenKind.LOGIN)["jti"])
    )


def test_sign_in_email_says_when_there_is_none(user, mailoutbox):
    mail.send_mail("Welcome", "Not a sign-in email.", None, ["alice@example.com"])
    with pytest.raises(AssertionError, match="No sign-in email among the 1 in the outbox"):
        sign_in_email()
    with pytest.raises(AssertionError, match=r"No sign-in email to bob@example\.com"):
        sign_in_email(to="bob@example.com")


def test_sign_in_email_reads_a_link_url_link_and_a_custom_code(
    user, api_client, mailoutbox, settings
):
    settings.JWT_EMAIL_LINK_URL = "https://spa.example.com/signin#token={token}"
    settings.JWT_EMAIL_CODE_LENGTH = 6
    settings.JWT_EMAIL_CODE_ALPHABET = "0123456789"
    ask(api_client, user.email)
    email = sign_in_email()
    assert email.link == f"https://spa.example.com/signin#token={email.token}"
    assert len(email.code) == 7 and email.code[3] == "-"
    assert (
        api_client.post(
            "/auth/code/", {"email": user.email, "code": email.code}, format="json"
        ).status_code
        == 200
    )


def test_sign_in_email_reads_the_html_alternative_when_the_text_has_no_link(user):
    token = login_token(user)
    link = f"https://app.example.com/auth/verify/?token={token}&amp;next=%2F"
    message = EmailMultiAlternatives("Sign in", "Open the HTML version.", to=[user.email])
    message.attach_alternative(f'<a href="{link}">Sign in</a> or type ABCD-EFGH', "text/html")
    email = SignInEmail.from_message(message)
    assert (email.token, email.code) == (token, "ABCD-EFGH")
    assert email.link == link.replace("&amp;", "&")


def test_sign_in_email_passes_over_alternatives_that_are_not_html(user):
    token = login_token(user)
    message = EmailMultiAlternatives("Sign in", "Open the HTML version.", to=[user.email])
    message.attach_alternative("BEGIN:VCALENDAR ABCD-EFGH END:VCALENDAR", "text/calendar")
    message.attach_alternative(
        f'<a href="https://app.example.com/auth/verify/?token={token}">Sign in</a>', "text/html"
    )
    email = SignInEmail.from_message(message)
    assert (email.token, email.code) == (token, None)


def test_only_a_code_that_stands_alone_is_the_code(user):
    """Letters and digits of a longer run (a reference number, a word) are not a code."""
    link = login_link(user)
    body = f"Open {link}\nOrder XABCD-EFGH, ticket ABCD-EFGH-JK.\n"
    message = EmailMessage("Sign in", body, to=[user.email])
    assert SignInEmail.from_message(message).code is None


def test_from_message_refuses_an_email_without_a_link():
    with pytest.raises(ValueError, match="no sign-in link"):
        SignInEmail.from_message(SimpleNamespace(body="Hello", to=["a@example.com"]))


def test_every_public_name_is_documented_in_testing_your_site():
    page = (ROOT / "docs" / "howto" / "testing.md").read_text()
    assert [name for name in testing.__all__ if f"`{name}" not in page] == []
