"""Audit plumbing: each signal is sent by the real flow with its documented arguments,
one log line per event with the ``jti``, and never a whole token in a log record or
an audit row.
"""

from __future__ import annotations

import logging

import jwt
import pytest

from django_jwt_email import signals
from django_jwt_email.models import IssuedToken, TokenEvent

from .conftest import token_of

pytestmark = pytest.mark.django_db

ARGUMENTS = {"signal", "sender", "event", "user", "jti", "reason", "ip"}
SIGNALS = [
    "token_issued",
    "token_verified",
    "token_rejected",
    "token_refreshed",
    "token_revoked",
    "refresh_reuse_detected",
]


def claims_of(token):
    return jwt.decode(token, options={"verify_signature": False})


@pytest.fixture
def received():
    """Every signal of the app, as {signal name: [kwargs, ...]} in the order sent."""
    calls: dict[str, list[dict]] = {name: [] for name in SIGNALS}
    receivers = {}
    for name in SIGNALS:

        def receiver(sender, _name=name, **kwargs):
            calls[_name].append({"sender": sender, **kwargs})

        receivers[name] = receiver
        getattr(signals, name).connect(receiver, weak=False)
    yield calls
    for name, receiver in receivers.items():
        getattr(signals, name).disconnect(receiver)


def only(calls):
    assert len(calls) == 1, calls
    call = calls[0]
    assert set(call) == ARGUMENTS
    assert call["sender"] is TokenEvent
    assert isinstance(call["event"], TokenEvent)
    # Saved, but for a refresh counted on its session's row (AUDIT_EVERY_REFRESH off).
    assert (call["event"].pk is None) == (call["event"].event == "refreshed")
    return call


def test_request_sends_token_issued(user, request_link, received):
    request_link(user.email)
    call = only(received["token_issued"])
    row = IssuedToken.objects.get()
    assert (call["user"], call["jti"], call["reason"], call["ip"]) == (
        user,
        row.jti,
        "",
        "127.0.0.1",
    )
    assert call["event"].event == "issued"


def test_sign_in_sends_token_verified(user, request_link, api_client, received):
    token = request_link(user.email)
    api_client.post("/auth/token/", {"token": token}, format="json")
    call = only(received["token_verified"])
    assert (call["user"], call["jti"]) == (user, IssuedToken.objects.get().jti)
    assert call["event"].event == "verified"


def test_used_link_sends_token_rejected(user, request_link, api_client, received):
    token = request_link(user.email)
    api_client.post("/auth/token/", {"token": token}, format="json")
    api_client.post("/auth/token/", {"token": token}, format="json")
    call = only(received["token_rejected"])
    assert (call["user"], call["reason"]) == (user, "used")
    assert call["jti"] == IssuedToken.objects.get().jti


def test_forged_token_sends_token_rejected_without_user(api_client, received):
    api_client.post("/auth/token/", {"token": "e30.e30.AAAA"}, format="json")
    call = only(received["token_rejected"])
    assert call["user"] is None
    assert call["reason"]


def test_refresh_sends_token_refreshed(user, pair, api_client, received):
    api_client.post("/auth/token/refresh/", {"refresh": pair["refresh"]}, format="json")
    call = only(received["token_refreshed"])
    old_jti = claims_of(pair["refresh"])["jti"]
    assert (call["user"], call["jti"], call["reason"]) == (user, old_jti, "")


def test_refresh_reuse_sends_reuse_detected_and_token_revoked(user, pair, api_client, received):
    api_client.post("/auth/token/refresh/", {"refresh": pair["refresh"]}, format="json")
    api_client.post("/auth/token/refresh/", {"refresh": pair["refresh"]}, format="json")
    reuse = only(received["refresh_reuse_detected"])
    first = claims_of(pair["refresh"])
    assert (reuse["user"], reuse["jti"], reuse["reason"]) == (user, first["jti"], "reuse")
    revoked = only(received["token_revoked"])
    assert (revoked["user"], revoked["jti"], revoked["reason"]) == (
        user,
        first["sid"],
        "refresh_reuse",
    )


def test_logout_sends_token_revoked(user, pair, api_client, received):
    api_client.post("/auth/logout/", HTTP_AUTHORIZATION=f"Bearer {pair['access']}")
    call = only(received["token_revoked"])
    sid = claims_of(pair["refresh"])["sid"]
    assert (call["user"], call["jti"], call["reason"], call["ip"]) == (
        user,
        sid,
        "logout",
        "127.0.0.1",
    )


def test_a_failing_receiver_is_logged_and_the_sign_in_goes_on(
    user, request_link, api_client, caplog
):
    """Signals notify; they cannot veto: a site's receiver that raises does not turn
    the sign-in into a 500 nor roll it back, and its error is logged."""

    def broken(sender, **kwargs):
        raise RuntimeError("the site's receiver is broken")

    signals.token_verified.connect(broken, weak=False)
    try:
        with caplog.at_level(logging.ERROR, logger="django_jwt_email"):
            response = api_client.post(
                "/auth/token/", {"token": request_link(user.email)}, format="json"
            )
    finally:
        signals.token_verified.disconnect(broken)

    assert response.status_code == 200
    assert TokenEvent.objects.filter(event="verified", user=user).exists()
    (record,) = [r for r in caplog.records if "of verified failed" in r.getMessage()]
    assert record.levelno == logging.ERROR
    assert "the site's receiver is broken" in str(record.exc_info[1])


def test_signals_document_their_arguments():
    for name in ("sender", "event", "user", "jti", "reason", "ip"):
        assert f"``{name}``" in signals.__doc__


# --- logging ---------------------------------------------------------------------


def test_one_log_line_per_event_with_jti_and_never_a_token(
    user, request_link, api_client, client, mailoutbox, caplog
):
    caplog.set_level(logging.DEBUG)
    tokens = []
    # API: link → pair → refresh → reuse (family revoked) → used link refused.
    login = request_link(user.email)
    pair = api_client.post("/auth/token/", {"token": login}, format="json").json()
    rotated = api_client.post("/auth/token/refresh/", {"refresh": pair["refresh"]}, format="json")
    api_client.post("/auth/token/refresh/", {"refresh": pair["refresh"]}, format="json")
    api_client.post("/auth/token/", {"token": login}, format="json")
    tokens += [login, pair["access"], pair["refresh"], *rotated.json().values()]
    # Browser: link → verify page → sign in → logout everywhere.
    client.post("/auth/request/", {"email": user.email}, HTTP_ACCEPT="text/html")
    browser_login = token_of(mailoutbox[-1])
    client.get("/auth/verify/", {"token": browser_login})
    client.post("/auth/verify/", {"token": browser_login})
    client.post("/auth/logout/all/")
    tokens.append(browser_login)
    tokens = [t for t in tokens if isinstance(t, str) and t.count(".") == 2]
    assert len(tokens) >= 6

    # One line per event: rows, and the refresh counted on its session's row.
    ours = [r for r in caplog.records if r.name == "django_jwt_email"]
    assert [r.jwt_email["event"] for r in ours].count("refreshed") == 1
    ours = [r for r in ours if r.jwt_email["event"] != "refreshed"]
    events = list(TokenEvent.objects.order_by("created_at", "pk"))
    assert {"issued", "verified", "refresh_reuse", "rejected", "revoked"} <= {
        e.event for e in events
    }
    assert len(ours) == len(events)
    for record, row in zip(ours, events, strict=True):
        assert record.getMessage().startswith(f"event={row.event} ")
        assert f" jti={row.jti or '-'} " in record.getMessage()
        assert record.jwt_email["jti"] == row.jti
    for token in tokens:
        for part in (token, token.split(".")[1], token.split(".")[2]):
            for record in caplog.records:
                assert part not in record.getMessage()
                assert part not in repr(record.__dict__)
            for row in events:
                assert part not in repr([row.event, row.reason, row.jti, row.ip, row.user_agent])
