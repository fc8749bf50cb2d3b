"""Refused tokens: the domain error a link's state means, the context attached to an
error for the audit log, and the one place refusals are recorded. No flow here."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from django.db import DatabaseError

from .. import audit
from ..availability import is_outage, warn_once_a_minute
from ..clientinfo import Client
from ..exceptions import (
    CodeInvalid,
    TokenError,
    TokenExpired,
    TokenRevoked,
    TokenUsed,
)
from ..models import EventType as Event
from ..models import IssuedToken

# The error of each state of a login link that cannot be redeemed, and its reason.
STATE_ERRORS: dict[str, tuple[type[TokenError], str]] = {
    "revoked": (TokenRevoked, "revoked"),
    "used": (TokenUsed, "used"),
    "expired": (TokenExpired, "expired"),
    "locked": (TokenRevoked, "code_attempts_exceeded"),
}


def refusal(row: IssuedToken, now: datetime) -> TokenError | None:
    """Why the link of ``row`` cannot be redeemed now, with its context; None if it can."""
    state = row.state(now)
    if state not in STATE_ERRORS:
        return None
    error_class, reason = STATE_ERRORS[state]
    return about(error_class(reason), row)


@contextmanager
def audited(client: Client, *, as_code: bool = False) -> Iterator[None]:
    """Record a refused token as ``rejected``, after any transaction is rolled back.

    Use it outside ``transaction.atomic()``, so the audit row outlives the rollback.
    With ``as_code``, a refusal becomes the one answer of the code endpoint.
    """
    try:
        yield
    except TokenError as exc:
        try:
            audit.record(
                Event.REJECTED, client=client, jti=exc.jti, user=exc.user, reason=exc.reason
            )
        except DatabaseError as db_error:
            # The refusal stands whether or not it could be written down.
            if not is_outage(db_error):
                raise
            warn_once_a_minute("audit_write", "database unreachable: refusals not recorded")
        if as_code:
            raise CodeInvalid(exc.reason) from None
        raise


def about(
    error: TokenError, row: IssuedToken | None = None, *, jti: str = "", user: Any = None
) -> TokenError:
    """``error`` with the ``jti`` and user it is about, for its audit record."""
    error.jti = row.jti if row is not None else jti
    error.user = user or (row.user if row is not None else None)
    return error


def unique(rows: Any) -> Any:
    """The row of a lookup by a unique key, or None. Unlike ``first()``, no ORDER BY:
    on the sign-in paths its compilation cost ~0.1 ms a call, to sort one row."""
    return next(iter(rows.order_by()[:1]), None)


__all__ = ["about", "audited", "refusal", "unique"]
