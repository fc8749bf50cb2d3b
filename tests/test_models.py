"""Models: migrations match the models; a login link's state in Python and in SQL
agree on every combination; a session rotates and revokes on its own row."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone

from django_jwt_email.models import (
    STATES,
    IssuedToken,
    RevokedToken,
    SignInSession,
    TokenEvent,
)

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
            user=user,
            expires_at=times.pop("expires_at", now + timedelta(minutes=10)),
            **times,
        )

    return make


def table(issue) -> dict[str, tuple[IssuedToken, str]]:
    """Every combination that matters, with the one state each must have."""
    now = timezone.now()
    past = now - timedelta(days=1)
    return {
        "fresh": (issue(), "active"),
        "used": (issue(used_at=now), "used"),
        "revoked": (issue(revoked_at=now, revoke_reason="logout"), "revoked"),
        "expired": (issue(expires_at=now - timedelta(seconds=1)), "expired"),
        "locked": (issue(code_attempts=3), "locked"),
        "one wrong code": (issue(code_attempts=1), "active"),
        # Revoked after it was used: the revocation is what an admin needs to see.
        "used then revoked": (issue(used_at=now, revoked_at=now), "revoked"),
        "revoked and expired": (issue(revoked_at=now, expires_at=past), "revoked"),
        "used and expired": (issue(used_at=now, expires_at=past), "used"),
        "locked and expired": (issue(code_attempts=3, expires_at=past), "expired"),
        "locked and used": (issue(code_attempts=3, used_at=now), "used"),
    }


def test_state_of_each_row_agrees_with_the_queryset(issue):
    """One rule, two forms: ``IssuedToken.state`` in Python and ``in_state`` in SQL
    (the admin's status filter and the service's redeemable() use the latter)."""
    rows = table(issue)
    for name, (row, state) in rows.items():
        assert row.state() == state, name
    for state in STATES:
        expected = {row.pk for row, wanted in rows.values() if wanted == state}
        assert set(IssuedToken.objects.in_state(state).values_list("pk", flat=True)) == expected
    redeemable = set(IssuedToken.objects.redeemable().values_list("pk", flat=True))
    assert redeemable == {row.pk for row, state in rows.values() if state == "active"}


def test_locked_follows_code_max_attempts(issue, settings):
    row = issue(code_attempts=3)
    settings.JWT_EMAIL_CODE_MAX_ATTEMPTS = 5
    assert row.state() == "active"
    assert IssuedToken.objects.redeemable().filter(pk=row.pk).exists()


def test_state_turns_expired_at_the_expiry_time(issue):
    token = issue(expires_at=timezone.now())
    assert token.state() == "expired"


def test_expired_holds_every_token_past_its_expiry(issue):
    rows = table(issue)
    expired = {token.jti for token in IssuedToken.objects.expired()}
    assert expired == {
        rows[name][0].jti
        for name in ("expired", "revoked and expired", "used and expired", "locked and expired")
    }


def test_querysets_chain_with_filters(issue, user_factory):
    issue()
    other = IssuedToken.objects.create(
        jti="other", user=user_factory(), expires_at=timezone.now() + timedelta(days=1)
    )
    assert list(IssuedToken.objects.redeemable().filter(jti="other")) == [other]
    assert IssuedToken.objects.filter(jti="other").expired().count() == 0


# --- sign-in sessions ------------------------------------------------------------------


def session(user, **fields) -> SignInSession:
    return SignInSession.objects.create(
        sid=fields.pop("sid", "sid-1"),
        user=user,
        expires_at=fields.pop("expires_at", timezone.now() + timedelta(days=1)),
        **fields,
    )


def test_a_rotation_advances_the_generation_once(user):
    row = session(user)
    now = timezone.now()
    rotated = SignInSession.objects.rotate("sid-1", user.pk, 0, now)
    assert rotated is not None
    rotated_row, rotated_user = rotated
    assert (rotated_row.generation, rotated_user) == (1, user)
    assert SignInSession.objects.rotate("sid-1", user.pk, 0, now) is None  # the old generation
    row.refresh_from_db()
    assert (row.generation, row.refresh_count, row.refreshed_at) == (1, 1, now)


@pytest.mark.parametrize(
    "fields",
    [
        {"revoked_at": timezone.now()},
        {"expires_at": timezone.now() - timedelta(seconds=1)},
        {"session_key": "a-browser-session"},  # browser sessions have no refresh tokens
    ],
    ids=["revoked", "expired", "browser"],
)
def test_a_dead_session_does_not_rotate(user, fields):
    session(user, **fields)
    assert SignInSession.objects.rotate("sid-1", user.pk, 0, timezone.now()) is None
    assert SignInSession.objects.get().generation == 0


def test_a_session_rotates_only_for_its_own_user(user, user_factory):
    session(user)
    other = user_factory()
    assert SignInSession.objects.rotate("sid-1", other.pk, 0, timezone.now()) is None
    assert SignInSession.objects.get().generation == 0


def test_a_session_of_an_inactive_user_does_not_rotate(user):
    session(user)
    type(user).objects.filter(pk=user.pk).update(is_active=False)  # no save(): no receiver
    assert SignInSession.objects.rotate("sid-1", user.pk, 0, timezone.now()) is None


def test_revoke_returns_only_the_sessions_it_revoked(user):
    session(user, sid="a")
    session(user, sid="b", revoked_at=timezone.now() - timedelta(minutes=1))
    with transaction.atomic():
        revoked = SignInSession.objects.revoke(
            SignInSession.objects.unrevoked(), "logout", timezone.now()
        )
    assert [row.sid for row in revoked] == ["a"]
    assert set(SignInSession.objects.values_list("revoke_reason", flat=True)) == {"logout", ""}


def test_rows_show_only_a_prefix_of_the_jti(issue):
    token = issue()
    token.jti = "abcdefgh" + "X" * 24
    assert str(token) == "login link abcdefgh…"
    revoked = RevokedToken(jti=token.jti, kind="session", expires_at=timezone.now())
    assert "X" not in str(revoked)
    assert "X" not in str(SignInSession(sid=token.jti))


def test_events_are_newest_first(user):
    old = TokenEvent.objects.create(event="issued", created_at=timezone.now() - timedelta(hours=1))
    new = TokenEvent.objects.create(event="verified")
    assert list(TokenEvent.objects.all()) == [new, old]
