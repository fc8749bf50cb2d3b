"""The audit log: one ``record()`` writes the row, the log line and the signal;
no whole token ever reaches the database or the logs."""

import logging

import pytest
from django.db import connection

from django_jwt_email import audit, signals
from django_jwt_email.clientinfo import Client
from django_jwt_email.models import IssuedToken, RevokedToken, TokenEvent

pytestmark = pytest.mark.django_db


def test_record_writes_the_event_row(user):
    row = audit.record(
        "verified", reason="", jti="j1", user=user, client=Client("203.0.113.9", "curl/8")
    )
    assert TokenEvent.objects.get() == row
    assert (row.event, row.jti, row.user, row.ip, row.user_agent) == (
        "verified",
        "j1",
        user,
        "203.0.113.9",
        "curl/8",
    )


def test_record_truncates_to_the_columns():
    row = audit.record(
        "rejected", reason="r" * 100, jti="j" * 100, client=Client(user_agent="u" * 1000)
    )
    row.refresh_from_db()
    assert (len(row.reason), len(row.jti), len(row.user_agent)) == (64, 64, 255)


def test_record_logs_one_line_at_the_events_level(caplog, user):
    caplog.set_level(logging.INFO, logger="django_jwt_email")
    audit.record("rejected", reason="expired", jti="j1", user=user, client=Client("203.0.113.9"))
    audit.record("email_sent", jti="j2")
    (rejected, sent) = caplog.records
    assert rejected.levelno == logging.WARNING
    assert rejected.getMessage() == (
        f"event=rejected reason=expired jti=j1 user={user.pk} ip=203.0.113.9"
    )
    assert rejected.jwt_email["event"] == "rejected"
    assert sent.levelno == logging.INFO
    assert sent.getMessage() == "event=email_sent reason=- jti=j2 user=- ip=-"


def test_record_without_saving_still_logs_and_signals(caplog, user):
    calls = []

    def receiver(sender, **kwargs):
        calls.append(kwargs)

    signals.token_refreshed.connect(receiver)
    caplog.set_level(logging.INFO, logger="django_jwt_email")
    try:
        row = audit.record("refreshed", jti="j1", user=user, save=False)
    finally:
        signals.token_refreshed.disconnect(receiver)
    assert row.pk is None
    assert not TokenEvent.objects.exists()
    assert caplog.records[0].getMessage().startswith("event=refreshed")
    assert calls[0]["jti"] == "j1"


def test_email_failed_is_an_error_in_the_log(caplog):
    caplog.set_level(logging.INFO, logger="django_jwt_email")
    audit.record("email_failed", reason="SMTPException")
    assert caplog.records[0].levelno == logging.ERROR


@pytest.mark.parametrize(
    "event,signal",
    [
        ("issued", "token_issued"),
        ("verified", "token_verified"),
        ("rejected", "token_rejected"),
        ("refreshed", "token_refreshed"),
        ("revoked", "token_revoked"),
        ("refresh_reuse", "refresh_reuse_detected"),
    ],
)
def test_record_sends_the_events_signal(event, signal, user):
    received = []

    def receiver(sender, **kwargs):
        received.append(kwargs)

    getattr(signals, signal).connect(receiver)
    try:
        row = audit.record(event, reason="why", jti="j1", user=user, client=Client("203.0.113.9"))
    finally:
        getattr(signals, signal).disconnect(receiver)
    (kwargs,) = received
    assert kwargs["event"] == row
    assert (kwargs["user"], kwargs["jti"], kwargs["reason"], kwargs["ip"]) == (
        user,
        "j1",
        "why",
        "203.0.113.9",
    )


def test_no_whole_token_is_ever_stored_or_logged(user, request_link, api_client, caplog):
    caplog.set_level(logging.DEBUG)
    login = request_link(user.email)
    pair = api_client.post("/auth/token/", {"token": login}, format="json").json()
    rotated = api_client.post(
        "/auth/token/refresh/", {"refresh": pair["refresh"]}, format="json"
    ).json()
    api_client.post("/auth/token/refresh/", {"refresh": pair["refresh"]}, format="json")  # reuse
    api_client.get("/api/pk/", HTTP_AUTHORIZATION=f"Bearer {rotated['access']}")
    api_client.post("/auth/token/revoke/", {"token": rotated["refresh"]}, format="json")

    secrets = [login, pair["access"], pair["refresh"], rotated["access"], rotated["refresh"]]
    # Signatures are the part that must never leak; the payloads are public anyway.
    signatures = [token.rsplit(".", 1)[1] for token in secrets]
    stored = []
    for model in (IssuedToken, RevokedToken, TokenEvent):
        for row in model.objects.values():
            stored.extend(str(value) for value in row.values())
    with connection.cursor() as cursor:  # the sessions too
        cursor.execute("SELECT session_data FROM django_session")
        stored.extend(value for (value,) in cursor.fetchall())
    logged = [record.getMessage() for record in caplog.records]
    for text in stored + logged:
        for signature in signatures:
            assert signature not in text
    assert TokenEvent.objects.filter(event="refresh_reuse").exists()
