"""jwt_email_cleanup: deletes exactly the expired rows and old events, in batches.

Rows are placed a second inside and outside each boundary: login links and
sessions kept for ACCESS_TOKEN_TTL + LEEWAY after expiry, denylist entries until
their own expiry, events for AUDIT_RETENTION.
"""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from django_jwt_email.models import IssuedToken, RevokedToken, SignInSession, TokenEvent

pytestmark = pytest.mark.django_db

SECOND = timedelta(seconds=1)


@pytest.fixture
def boundaries(settings, user):
    """Rows just past and just before each boundary; returns (doomed, kept) jtis."""
    settings.JWT_EMAIL_ACCESS_TOKEN_TTL = timedelta(minutes=5)
    settings.JWT_EMAIL_LEEWAY = timedelta(seconds=30)
    settings.JWT_EMAIL_AUDIT_RETENTION = timedelta(days=90)
    now = timezone.now()
    # The command reads the clock a little later than ``now``: margins of a minute.
    grace = timedelta(minutes=5, seconds=30)
    margin = timedelta(minutes=1)
    doomed, kept = set(), set()

    def issued(jti, expires_at, **extra):
        IssuedToken.objects.create(jti=jti, user=user, expires_at=expires_at, **extra)

    issued("old-link", now - grace - margin)
    issued("old-used", now - timedelta(days=30), used_at=now - timedelta(days=31))
    doomed |= {"old-link", "old-used"}
    issued("in-grace", now - grace + margin)
    issued("just-expired", now - SECOND)
    issued("live", now + timedelta(days=1))
    kept |= {"in-grace", "just-expired", "live"}

    def session(sid, expires_at):
        SignInSession.objects.create(sid=sid, user=user, expires_at=expires_at)

    session("old-session", now - grace - margin)
    session("session-in-grace", now - grace + margin)  # a reuse must still be seen
    session("live-session", now + timedelta(days=1))
    doomed.add("old-session")
    kept |= {"session-in-grace", "live-session"}

    def revoked(jti, expires_at):
        RevokedToken.objects.create(jti=jti, kind="session", user=user, expires_at=expires_at)

    revoked("mark-gone", now - SECOND)
    revoked("mark-live", now + margin)
    doomed.add("mark-gone")
    kept.add("mark-live")

    def event(jti, age):
        TokenEvent.objects.create(event="issued", jti=jti, created_at=now - age)

    event("event-old", timedelta(days=90) + margin)
    event("event-recent", timedelta(days=90) - margin)
    doomed.add("event-old")
    kept.add("event-recent")
    return doomed, kept


def all_jtis():
    return (
        set(IssuedToken.objects.values_list("jti", flat=True))
        | set(SignInSession.objects.values_list("sid", flat=True))
        | set(RevokedToken.objects.values_list("jti", flat=True))
        | set(TokenEvent.objects.values_list("jti", flat=True))
    )


def cleanup(*args):
    out = StringIO()
    call_command("jwt_email_cleanup", *args, stdout=out)
    return out.getvalue()


def test_cleanup_deletes_exactly_what_is_past_its_boundary(boundaries):
    doomed, kept = boundaries
    output = cleanup()
    assert all_jtis() == kept
    assert not doomed & all_jtis()
    assert "Deleted 2 issued tokens, 1 sessions, 1 revoked tokens, 1 events." in output


def test_cleanup_with_verbosity_0_prints_only_the_summary(boundaries):
    _, kept = boundaries
    output = cleanup("--verbosity", "0", "--batch-size", "1")
    assert all_jtis() == kept
    assert output.strip() == "Deleted 2 issued tokens, 1 sessions, 1 revoked tokens, 1 events."


@pytest.mark.postgres
def test_cleanup_on_postgres_deletes_exactly_what_is_past_its_boundary(boundaries):
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: run with DATABASE_URL=postgres://...")
    _, kept = boundaries
    output = cleanup("--batch-size", "1")
    assert all_jtis() == kept
    assert "Deleted 2 issued tokens, 1 sessions, 1 revoked tokens, 1 events." in output


def test_cleanup_dry_run_only_counts(boundaries):
    doomed, kept = boundaries
    output = cleanup("--dry-run")
    assert output.strip() == (
        "Dry run: would delete 2 issued tokens, 1 sessions, 1 revoked tokens, 1 events."
    )
    assert all_jtis() == doomed | kept


def test_cleanup_in_batches_with_a_line_per_batch(user):
    expired = timezone.now() - timedelta(days=1)
    IssuedToken.objects.bulk_create(
        IssuedToken(jti=f"j{n}", user=user, expires_at=expired) for n in range(7)
    )
    IssuedToken.objects.create(
        jti="live", user=user, expires_at=timezone.now() + timedelta(minutes=5)
    )
    output = cleanup("--batch-size", "3")
    assert [line for line in output.splitlines() if line.startswith("issued tokens:")] == [
        "issued tokens: deleted 3 (3 so far)",
        "issued tokens: deleted 3 (6 so far)",
        "issued tokens: deleted 1 (7 so far)",
    ]
    assert "Deleted 7 issued tokens, 0 sessions, 0 revoked tokens, 0 events." in output
    assert list(IssuedToken.objects.values_list("jti", flat=True)) == ["live"]


def test_cleanup_batch_larger_than_the_databases_parameter_limit(user):
    """A batch of more rows than one statement may bind keys (999 on SQLite) is
    deleted by a range of keys, not refused by the database."""
    expired = timezone.now() - timedelta(days=1)
    IssuedToken.objects.bulk_create(
        (IssuedToken(jti=f"j{n}", user=user, expires_at=expired) for n in range(2500)),
        batch_size=500,
    )
    output = cleanup("--batch-size", "100000")
    assert "issued tokens: deleted 2500 (2500 so far)" in output
    assert not IssuedToken.objects.exists()


def test_a_batch_deletes_only_the_expired_rows_among_its_range_of_keys(user):
    """Batches are ranges of keys: live rows between expired ones stay."""
    expired, live = timezone.now() - timedelta(days=1), timezone.now() + timedelta(days=1)
    IssuedToken.objects.bulk_create(
        IssuedToken(jti=f"j{n}", user=user, expires_at=live if n % 3 == 1 else expired)
        for n in range(10)
    )
    output = cleanup("--batch-size", "2")
    assert "Deleted 7 issued tokens" in output
    assert sorted(IssuedToken.objects.values_list("jti", flat=True)) == ["j1", "j4", "j7"]


def test_cleanup_restores_the_sqlite_page_cache(user):
    from django.db import connection

    if connection.vendor != "sqlite":
        pytest.skip("SQLite only")
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA cache_size")
        (before,) = cursor.fetchone()
    cleanup()
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA cache_size")
        assert cursor.fetchone()[0] == before


def test_cleanup_follows_audit_retention(settings):
    settings.JWT_EMAIL_AUDIT_RETENTION = timedelta(days=7)
    TokenEvent.objects.create(
        event="verified", jti="week-old", created_at=timezone.now() - timedelta(days=8)
    )
    TokenEvent.objects.create(
        event="verified", jti="fresh", created_at=timezone.now() - timedelta(days=6)
    )
    cleanup()
    assert list(TokenEvent.objects.values_list("jti", flat=True)) == ["fresh"]


def test_cleanup_refuses_a_zero_batch():
    with pytest.raises(CommandError, match="--batch-size"):
        cleanup("--batch-size", "0")


def test_reuse_of_a_refresh_token_still_detected_after_cleanup(pair, api_client, settings):
    """Cleanup never removes a row that reuse detection still needs: the session is
    live, so its row stays and the reuse of an old refresh token revokes it."""
    rotated = api_client.post("/auth/token/refresh/", {"refresh": pair["refresh"]}, format="json")
    assert rotated.status_code == 200
    cleanup()
    reuse = api_client.post("/auth/token/refresh/", {"refresh": pair["refresh"]}, format="json")
    assert reuse.json()["code"] == "token_used"
    assert TokenEvent.objects.filter(event="refresh_reuse").count() == 1
    newest = api_client.post(
        "/auth/token/refresh/", {"refresh": rotated.json()["refresh"]}, format="json"
    )
    assert newest.json()["code"] == "token_revoked"
