"""The audit log: ``record()`` writes one event row, one log line and its signal.

Every flow reports through this one function, so the database, the
``django_jwt_email`` logger and the signals always tell the same story. Callers
pass a ``jti``, never a token.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from . import signals
from .clientinfo import Client
from .models import EventType as Event
from .models import TokenEvent

__all__ = ["announce", "build", "record"]

NOBODY = Client()

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
    client: Client | None = None,
    reason: str = "",
    jti: str = "",
    user: Any = None,
    email_hash: str = "",
    count: int = 1,
    created_at: datetime | None = None,
    save: bool = True,
) -> TokenEvent:
    """Record ``event`` of ``client``: save a ``TokenEvent``, log one line, send its
    signal.

    ``count`` > 1 makes the row stand for that many occurrences counted rather than
    written one by one; ``created_at`` (default now) dates such a row. With
    ``save=False`` the row is built but not written (events counted elsewhere, such
    as routine refreshes on their session's row): the log line and the signal still
    go out."""
    row = build(
        event,
        client=client,
        reason=reason,
        jti=jti,
        user=user,
        email_hash=email_hash,
        count=count,
        created_at=created_at,
    )
    if save:
        row.save(force_insert=True)
    announce(row, user=user)
    return row


def build(
    event: str,
    *,
    client: Client | None = None,
    reason: str = "",
    jti: str = "",
    user: Any = None,
    email_hash: str = "",
    count: int = 1,
    created_at: datetime | None = None,
) -> TokenEvent:
    """The unsaved row of ``event``, for a caller that writes it together with other
    rows; ``announce`` it once written. ``record`` does both."""
    client = client or NOBODY
    return TokenEvent(
        event=event,
        reason=reason[:64],
        jti=jti[:64],
        user=user if getattr(user, "pk", None) is not None else None,
        ip=client.ip or None,
        user_agent=(client.user_agent or "")[:255],
        email_hash=email_hash,
        count=count,
        **({"created_at": created_at} if created_at is not None else {}),
    )


def announce(row: TokenEvent, *, user: Any = None) -> None:
    """Log the line and send the signal of the event ``row`` (written or counted)."""
    event, reason, jti, ip, count = row.event, row.reason, row.jti, row.ip, row.count
    user_id = getattr(user, "pk", None)
    # One key=value line (logfmt) for grep and log shippers, and the same fields
    # under ``record.jwt_email`` for structured (JSON) formatters.
    line = "event=%s reason=%s jti=%s user=%s ip=%s"
    args: list[Any] = [event, reason or "-", jti or "-", "-" if user_id is None else user_id]
    args.append(ip or "-")
    if count != 1:  # a row standing for several: say how many
        line += " count=%d"
        args.append(count)
    fields = {"event": event, "reason": reason, "jti": jti, "user": user_id, "ip": ip}
    logger.log(
        LEVELS.get(Event(event), logging.INFO),
        line,
        *args,
        extra={"jwt_email": {**fields, "count": count}},
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
