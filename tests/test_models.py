"""Models: migrations match the models; an issued token's status and the
active()/expired() querysets agree on every state."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from django_jwt_email.models import IssuedToken, RevokedToken, TokenEvent

pytestmark = pytest.mark.django_db


def test_migrations_match_the_models():
    out = StringIO()
    # Exits with status 1 (SystemExit) if a model change has no migration.
    call_command("makemigrations", "django_jwt_email", check=True, dry_run=True, stdout=out)
    assert "No changes detected" in out.getvalue()


@pytest.fixture
def issue(user):
    counter = iter(range(1000))

    def make(**times) -> IssuedToken:
        now = timezone.now()
        return IssuedToken.objects.create(
            jti=f"jti-{next(counter)}",
            kind="login",
            user=user,
            expires_at=times.pop("expires_at", now + timedelta(minutes=10)),
            **times,
        )

    return make


def states(issue) -> dict[str, IssuedToken]:
    now = timezone.now()
    return {
        "active": issue(),
        "used": issue(used_at=now),
        "revoked": issue(revoked_at=now, revoke_reason="logout"),
        "expired": issue(expires_at=now - timedelta(seconds=1)),
        # Revoked after it was used: the revocation is what an admin needs to see.
        "used then revoked": issue(used_at=now, revoked_at=now),
        "revoked and expired": issue(revoked_at=now, expires_at=now - timedelta(days=1)),
        "used and expired": issue(used_at=now, expires_at=now - timedelta(days=1)),
    }


def test_status_of_each_state(issue):
    status = {name: token.status for name, token in states(issue).items()}
    assert status == {
        "active": "active",
        "used": "used",
        "revoked": "revoked",
        "expired": "expired",
        "used then revoked": "revoked",
        "revoked and expired": "revoked",
        "used and expired": "used",
    }


def test_status_turns_expired_at_the_expiry_time(issue):
    token = issue(expires_at=timezone.now())
    assert token.status == "expired"


def test_active_holds_only_unused_unrevoked_unexpired_tokens(issue):
    tokens = states(issue)
    assert list(IssuedToken.objects.active()) == [tokens["active"]]


def test_expired_holds_every_token_past_its_expiry(issue):
    tokens = states(issue)
    expired = {token.jti for token in IssuedToken.objects.expired()}
    assert expired == {
        tokens[name].jti for name in ("expired", "revoked and expired", "used and expired")
    }


def test_querysets_chain_with_filters(issue, user_factory):
    issue()
    other = IssuedToken.objects.create(
        jti="other",
        kind="refresh",
        user=user_factory(),
        expires_at=timezone.now() + timedelta(days=1),
    )
    assert list(IssuedToken.objects.active().filter(kind="refresh")) == [other]
    assert IssuedToken.objects.filter(kind="refresh").expired().count() == 0


def test_rows_show_only_a_prefix_of_the_jti(issue):
    token = issue()
    token.jti = "abcdefgh" + "X" * 24
    assert str(token) == "login link abcdefgh…"
    revoked = RevokedToken(jti=token.jti, kind="access", expires_at=timezone.now())
    assert "X" not in str(revoked)


def test_events_are_newest_first(user):
    old = TokenEvent.objects.create(event="issued", created_at=timezone.now() - timedelta(hours=1))
    new = TokenEvent.objects.create(event="verified")
    assert list(TokenEvent.objects.all()) == [new, old]
