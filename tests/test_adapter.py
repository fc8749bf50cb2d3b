"""The adapter: the default keeps the documented behaviour, and a site's subclass
changes each decision it overrides, in the flows that make it."""

from __future__ import annotations

import jwt
import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.test import Client

from django_jwt_email import checks, tokens
from django_jwt_email.adapter import DefaultAdapter, get_adapter
from django_jwt_email.exceptions import ConfigurationError
from django_jwt_email.models import IssuedToken, SignInSession, TokenEvent

pytestmark = pytest.mark.django_db

SENT: list = []
CALLS: list[str] = []
CREATED: list = []


class SiteAdapter(DefaultAdapter):
    """Overrides every method, the way a site would."""

    def find_user(self, email):
        CALLS.append("find_user")
        # A site that also knows its users by a second address.
        if email == "ali@alias.example":
            email = "alice@example.com"
        return super().find_user(email)

    def may_receive_link(self, user, email):
        CALLS.append("may_receive_link")
        return not email.endswith("@blocked.example") and super().may_receive_link(user, email)

    def create_user(self, email):
        CALLS.append("create_user")
        user = super().create_user(email)
        CREATED.append(user)  # a profile row of the site's, say
        return user

    def build_link(self, token, next_url=""):
        CALLS.append("build_link")
        return f"https://app.example.com/signin#token={token}"

    def send_login_email(self, message):
        CALLS.append("send_login_email")
        SENT.append(message)  # an email provider's API, say

    def language_for(self, user, request):
        CALLS.append("language_for")
        return None

    def login_redirect_url(self, request, user):
        CALLS.append("login_redirect_url")
        return "/welcome/"

    def access_claims(self, user):
        CALLS.append("access_claims")
        return {"tenant": "acme"}

    def scopes_for(self, user):
        CALLS.append("scopes_for")
        return ["api", "admin"] if user.is_staff else ["api"]

    def rate_limited_views(self):
        CALLS.append("rate_limited_views")
        return {**super().rate_limited_views(), "email_link": "request_ip"}

    def client_ip(self, request):
        CALLS.append("client_ip")
        return request.META.get("HTTP_X_CLIENT_IP") or super().client_ip(request)


@pytest.fixture
def site_adapter(settings):
    settings.JWT_EMAIL_ADAPTER = "tests.test_adapter.SiteAdapter"
    for made in (SENT, CALLS, CREATED):
        made.clear()
    yield
    for made in (SENT, CALLS, CREATED):
        made.clear()


def claims_of(token):
    return jwt.decode(token, options={"verify_signature": False})


def ask(client, email, **headers):
    return client.post("/auth/request/", {"email": email}, **headers)


def test_the_default_adapter_is_the_documented_behaviour(user):
    adapter = get_adapter()
    assert type(adapter) is DefaultAdapter
    assert adapter.find_user("ALICE@example.com") == user
    assert adapter.may_receive_link(user, user.email)
    assert not adapter.may_receive_link(None, "nobody@example.com")  # CREATE_USERS off
    assert adapter.scopes_for(user) == ["api"]
    assert adapter.access_claims(user) == {}
    assert adapter.build_link("t.o.k").startswith("https://app.example.com/auth/verify/?token=")
    assert adapter.language_for(user, None) is None


def test_the_adapter_follows_the_setting(settings):
    settings.JWT_EMAIL_ADAPTER = "tests.test_adapter.SiteAdapter"
    assert isinstance(get_adapter(), SiteAdapter)
    settings.JWT_EMAIL_ADAPTER = "django_jwt_email.adapter.DefaultAdapter"
    assert type(get_adapter()) is DefaultAdapter


def test_a_site_adapter_decides_who_gets_a_link_and_how_it_is_sent(
    site_adapter, user, api_client, mailoutbox
):
    assert ask(api_client, "ali@alias.example", HTTP_X_CLIENT_IP="198.51.100.4").status_code == 202
    (message,) = SENT
    assert message.to == user.email  # the stored address, found through the alias
    assert message.link == f"https://app.example.com/signin#token={message.token}"
    assert mailoutbox == []  # sent through the "provider", not Django's backend
    assert TokenEvent.objects.get(event="issued").ip == "198.51.100.4"
    assert ask(api_client, "x@blocked.example").status_code == 202  # the same answer...
    assert len(SENT) == 1  # ...but no link


def test_a_site_adapter_shapes_the_session_and_its_tokens(site_adapter, user_factory, api_client):
    staff = user_factory("staff@example.com", is_staff=True)
    ask(api_client, staff.email)
    pair = api_client.post("/auth/token/", {"token": SENT[-1].token}, format="json").json()
    access = claims_of(pair["access"])
    assert (access["tenant"], access["scope"]) == ("acme", "api admin")
    # Scopes are computed again when a token is minted at refresh, never per request.
    get_user_model().objects.filter(pk=staff.pk).update(is_staff=False)
    rotated = api_client.post("/auth/token/refresh/", {"refresh": pair["refresh"]}, format="json")
    assert claims_of(rotated.json()["access"])["scope"] == "api"
    assert (
        api_client.get("/api/me/", HTTP_AUTHORIZATION=f"Bearer {pair['access']}").status_code
        == 200
    )


def test_a_site_adapter_creates_accounts_and_sends_browsers_on(site_adapter, settings, api_client):
    settings.JWT_EMAIL_CREATE_USERS = True
    ask(api_client, "newcomer@example.com")
    browser = Client()
    response = browser.post("/auth/verify/", {"token": SENT[-1].token})
    assert response.status_code == 302
    assert response["Location"] == "/welcome/"
    user = get_user_model().objects.get(email="newcomer@example.com")
    assert CREATED == [user]
    assert SignInSession.objects.get().session_key  # a browser session was recorded


def test_every_method_of_the_site_adapter_was_consulted(site_adapter, settings, user, api_client):
    settings.JWT_EMAIL_CREATE_USERS = True
    ask(api_client, user.email)
    api_client.post("/auth/token/", {"token": SENT[-1].token}, format="json")
    ask(api_client, "newcomer@example.com")
    Client().post("/auth/verify/", {"token": SENT[-1].token})
    expected = {name for name in vars(SiteAdapter) if not name.startswith("_")}
    assert expected <= set(CALLS)


@pytest.mark.parametrize("claim", sorted(tokens.RESERVED_CLAIMS))
def test_extra_claims_may_not_use_a_reserved_name(claim):
    with pytest.raises(ConfigurationError, match=claim):
        tokens.mint(tokens.TokenKind.ACCESS, subject="1", sid="s", scope="api", extra={claim: "x"})


def test_extra_claims_may_not_make_a_token_too_long_to_be_accepted(settings):
    settings.JWT_EMAIL_MAX_TOKEN_LENGTH = 512
    with pytest.raises(ConfigurationError, match="MAX_TOKEN_LENGTH"):
        tokens.mint(
            tokens.TokenKind.ACCESS, subject="1", sid="s", scope="api", extra={"big": "x" * 400}
        )


def test_a_link_url_template_sends_the_link_to_the_front_end(settings, user, api_client):
    settings.JWT_EMAIL_LINK_URL = "myapp://signin?token={token}"
    ask(api_client, user.email)
    body = mail.outbox[-1].body
    token = (
        IssuedToken.objects.get().jti
        and next(word for word in body.split() if word.startswith("myapp://signin?token=")).split(
            "=", 1
        )[1]
    )
    assert api_client.post("/auth/token/", {"token": token}, format="json").status_code == 200


def test_an_adapter_that_cannot_be_imported_is_named_by_a_check(settings):
    settings.JWT_EMAIL_ADAPTER = "mysite.adapters.Missing"
    errors = [m for m in checks.check_settings() if "ADAPTER" in m.msg]
    assert len(errors) == 1
    assert "'mysite.adapters.Missing'" in errors[0].msg
    assert errors[0].id == "django_jwt_email.E002"


def test_a_sites_own_link_view_shares_the_request_ip_budget(site_adapter, rates, user):
    rates(request_ip="2/h")
    browser = Client()
    assert browser.post("/email-link/", {"email": user.email}).status_code == 200
    assert ask(browser, user.email).status_code == 202  # the app's own view: the same bucket
    refused = browser.post("/email-link/", {"email": user.email})
    assert refused.status_code == 429
    assert refused["Retry-After"].isdigit()
