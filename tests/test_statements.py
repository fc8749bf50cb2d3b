"""statements: on PostgreSQL a redemption for an API pair consumes the link, reads its
user and writes the session and the audit row in one statement, and keeps every
rule of the general path: a link that cannot be redeemed, a user deactivated or
given a new address without save(), a link of another user or bound to a browser
are refused with their reasons, and then nothing is written."""

from datetime import timedelta

import jwt
import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import Q
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from django_jwt_email import signals, signin_codes, statements, tokens
from django_jwt_email.http import BINDING_COOKIE
from django_jwt_email.models import IssuedToken, SignInSession, TokenEvent

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]


@pytest.fixture(autouse=True)
def postgres():
    if connection.vendor != "postgresql":
        pytest.skip(
            "needs PostgreSQL: run with DATABASE_URL=postgres://postgres@127.0.0.1:5432/test"
        )


def redeem(api_client, token, **extra):
    return api_client.post("/auth/token/", {"token": token}, format="json", **extra)


def jti_of(token):
    return jwt.decode(token, options={"verify_signature": False})["jti"]


def nothing_written(token):
    """The link is still unused, and no session or verified event exists."""
    return (
        IssuedToken.objects.get(jti=jti_of(token)).used_at is None
        and not SignInSession.objects.exists()
        and not TokenEvent.objects.filter(event="verified").exists()
    )


def test_a_redemption_is_one_statement_then_last_login(user, request_link, api_client):
    token = request_link(user.email)
    with CaptureQueriesContext(connection) as queries:
        response = redeem(api_client, token, REMOTE_ADDR="203.0.113.7", HTTP_USER_AGENT="curl")

    assert response.status_code == 200
    verbs = [query["sql"].split()[0] for query in queries.captured_queries]
    # The redemption, then last_login (UPDATE_LAST_LOGIN); the test's own transaction
    # makes the flow's a savepoint.
    assert [verb for verb in verbs if verb not in ("SAVEPOINT", "RELEASE")] == ["WITH", "UPDATE"]
    link = IssuedToken.objects.get(jti=jti_of(token))
    assert link.used_at is not None
    session = SignInSession.objects.get()
    assert (session.user, session.login_jti, session.ip, session.user_agent) == (
        user,
        link.jti,
        "203.0.113.7",
        "curl",
    )
    assert session.expires_at - session.created_at == timedelta(days=14)
    event = TokenEvent.objects.get(event="verified")
    assert (event.user, event.jti, event.ip, event.user_agent) == (
        user,
        link.jti,
        "203.0.113.7",
        "curl",
    )
    user.refresh_from_db()
    assert user.last_login is not None
    claims = jwt.decode(response.json()["refresh"], options={"verify_signature": False})
    assert (claims["sid"], claims["gen"]) == (session.sid, 0)


def test_the_verified_signal_gets_the_written_row(user, request_link, api_client):
    received = []

    def receiver(sender, event, user, **kwargs):
        received.append((event.pk, user))

    signals.token_verified.connect(receiver)
    try:
        assert redeem(api_client, request_link(user.email)).status_code == 200
    finally:
        signals.token_verified.disconnect(receiver)

    assert received == [(TokenEvent.objects.get(event="verified").pk, user)]


@pytest.mark.parametrize(
    ("state", "code"),
    [
        ({"used_at": timezone.now()}, "token_used"),
        ({"revoked_at": timezone.now()}, "token_revoked"),
        ({"expires_at": timezone.now() - timedelta(seconds=1)}, "token_expired"),
        ({"code_attempts": 3}, "token_revoked"),
    ],
    ids=["used", "revoked", "expired", "locked"],
)
def test_a_link_that_cannot_be_redeemed_is_refused_and_nothing_is_written(
    user, request_link, api_client, state, code
):
    token = request_link(user.email)
    IssuedToken.objects.update(**state)

    response = redeem(api_client, token)

    assert (response.status_code, response.json()["code"]) == (400, code)
    assert not SignInSession.objects.exists()
    assert not TokenEvent.objects.filter(event="verified").exists()
    assert TokenEvent.objects.filter(event="rejected").count() == 1


def test_a_user_deactivated_without_save_is_refused_and_nothing_is_written(
    user, request_link, api_client
):
    token = request_link(user.email)
    get_user_model().objects.update(is_active=False)  # no save(): no receiver ran

    response = redeem(api_client, token)

    assert (response.status_code, response.json()["code"]) == (400, "invalid_token")
    assert nothing_written(token)
    assert TokenEvent.objects.get(event="rejected").reason == "inactive_user"


def test_an_address_changed_without_save_refuses_the_link(user, request_link, api_client):
    token = request_link(user.email)
    get_user_model().objects.update(email="new@example.com")

    response = redeem(api_client, token)

    assert (response.status_code, response.json()["code"]) == (400, "invalid_token")
    assert nothing_written(token)
    assert TokenEvent.objects.get(event="rejected").reason == "email_changed"


def test_a_link_given_to_another_user_is_refused(user, user_factory, request_link, api_client):
    token = request_link(user.email)
    IssuedToken.objects.update(user=user_factory("bob@example.com"))

    response = redeem(api_client, token)

    assert (response.status_code, response.json()["code"]) == (400, "invalid_token")
    assert nothing_written(token)
    assert TokenEvent.objects.get(event="rejected").reason == "subject_mismatch"


def test_a_link_bound_to_a_browser_is_redeemed_only_with_its_cookie(
    user, request_link, api_client
):
    token = request_link(user.email)
    IssuedToken.objects.update(browser_hash=signin_codes.hash_verifier("the-verifier"))

    refused = redeem(api_client, token)
    assert refused.status_code == 400
    assert nothing_written(token)

    api_client.cookies[BINDING_COOKIE] = "the-verifier"
    assert redeem(api_client, token).status_code == 200
    assert SignInSession.objects.count() == 1


def test_a_sign_up_link_takes_the_general_path(settings, request_link, api_client):
    settings.JWT_EMAIL_CREATE_USERS = True
    token = request_link("new@example.com")

    assert redeem(api_client, token).status_code == 200
    assert SignInSession.objects.get().user.email == "new@example.com"


def test_a_link_whose_subject_is_no_user_key_is_refused(user, api_client):
    """Signed with the site's key for another user model (a key shared by mistake):
    refused as unknown, on the general path, and nothing is written."""
    token = tokens.mint(tokens.TokenKind.LOGIN, subject="not-a-number").token

    response = redeem(api_client, token)

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_token"
    assert not SignInSession.objects.exists()


def test_redeem_link_writes_nothing_when_no_link_is_consumed(user):
    now = timezone.now()
    session = SignInSession(sid="s", user=user, created_at=now, expires_at=now)
    event = TokenEvent(event="verified", jti="nope", user=user)

    assert statements.redeem_link("nope", user.pk, now, [session, event]) is None

    assert session.pk is None and event.pk is None
    assert not SignInSession.objects.exists()
    assert not TokenEvent.objects.exists()


def test_a_redeemable_rule_the_statement_cannot_fill_in_is_refused(monkeypatch):
    """The statement reuses the one definition of a redeemable link; a condition with
    a value it does not know how to fill in must fail loudly, not be mistranslated."""
    monkeypatch.setattr(statements, "_compiled", {})
    rule = statements.state_condition
    monkeypatch.setattr(
        statements, "state_condition", lambda *args: rule(*args) & Q(revoke_reason="surprise")
    )

    with pytest.raises(ValueError, match="unexpected parameter 'surprise'"):
        statements.redeem_link("jti", 1, timezone.now(), [])


def test_statements_are_compiled_again_when_the_user_model_changes(user, settings):
    statements.redeem_link("nope", user.pk, timezone.now(), [])
    assert statements._compiled

    settings.AUTH_USER_MODEL = "auth.User"  # setting_changed, as a test's override sends

    assert not statements._compiled
