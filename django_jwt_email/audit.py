"""The audit log: ``record()`` writes one event row, one log line and its signal.

Every flow reports through this one function, so the database, the
``django_jwt_email`` logger and the signals always tell the same story. Callers
pass a ``jti``, never a token.
"""

from __future__ import annotations

import logging
from typing import Any

from . import signals
from .models import EventType as Event
from .models import TokenEvent

logger = logging.getLogger("django_jwt_email")

SIGNALS = {
    Event.ISSUED: signals.token_issued,
    Event.VERIFIED: signals.token_verified,
    Event.REJECTED: signals.token_rejected,
    Event.CODE_ATTEMPTS_EXCEEDED: signals.token_rejected,
    Event.REFRESHED: signals.token_refreshed,
    Event.REVOKED: signals.token_revoked,
    Event.REFRESH_REUSE: signals.refresh_reuse_detected,
}

LEVELS = {
    Event.REJECTED: logging.WARNING,
    Event.EMAIL_FAILED: logging.ERROR,
    Event.DELIVERY_FAILED: logging.ERROR,
    Event.REFRESH_REUSE: logging.WARNING,
    Event.RATE_LIMITED: logging.WARNING,
    Event.CODE_ATTEMPTS_EXCEEDED: logging.WARNING,
}


def record(
    event: str,
    *,
    reason: str = "",
    jti: str = "",
    user: Any = None,
    ip: str | None = None,
    user_agent: str = "",
    email_hash: str = "",
) -> TokenEvent:
    """Record ``event``: save a ``TokenEvent``, log one line, send its signal.

    ``email_hash`` (``codes.hash_email``) names the address of an event that has no
    user yet, such as a delivery that could not be queued.
    """
    row = TokenEvent.objects.create(
        event=event,
        reason=reason[:64],
        jti=jti[:64],
        user=user if getattr(user, "pk", None) is not None else None,
        ip=ip or None,
        user_agent=(user_agent or "")[:255],
        email_hash=email_hash,
    )
    user_id = getattr(user, "pk", None)
    # One key=value line (logfmt) for grep and log shippers, and the same fields
    # under ``record.jwt_email`` for structured (JSON) formatters.
    logger.log(
        LEVELS.get(Event(event), logging.INFO),
        "event=%s reason=%s jti=%s user=%s ip=%s",
        event,
        reason or "-",
        jti or "-",
        "-" if user_id is None else user_id,
        ip or "-",
        extra={
            "jwt_email": {"event": event, "reason": reason, "jti": jti, "user": user_id, "ip": ip}
        },
    )
    signal = SIGNALS.get(Event(event))
    if signal is not None:
        # Signals notify; they cannot veto. A failing receiver is logged and must
        # not turn a sign-in into a 500 (or roll back the flow's transaction).
        results = signal.send_robust(
            sender=TokenEvent, event=row, user=user, jti=jti, reason=reason, ip=ip
        )
        for receiver, result in results:
            if isinstance(result, Exception):
                logger.error("receiver %r of %s failed", receiver, event, exc_info=result)
    return row
