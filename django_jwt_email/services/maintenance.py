"""Operations on the stored rows: recording rate-limited requests and pruning
what no check needs any more, in batches that never hold a long lock."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from django.db import connections
from django.db.models import QuerySet
from django.utils import timezone

from .. import audit
from ..clientinfo import Client
from ..conf import app_settings
from ..models import EventType as Event
from ..models import IssuedToken, RevokedToken, SignInSession, TokenEvent

__all__ = [
    "cleanup_targets",
    "delete_in_batches",
    "record_rate_limited",
]

# --- limits --------------------------------------------------------------------


def record_rate_limited(group: str, *, client: Client) -> None:
    """Record that a request of endpoint group ``group`` was held back by a limit."""
    audit.record(Event.RATE_LIMITED, client=client, reason=group)


# --- cleanup -------------------------------------------------------------------


def cleanup_targets(now: datetime | None = None) -> dict[str, QuerySet[Any]]:
    """What ``jwt_email_cleanup`` may delete, by label: rows nothing will consult again.

    A login link's row and a session's row outlive their expiry by ACCESS_TOKEN_TTL +
    LEEWAY: within LEEWAY a token still decodes, and presenting a used refresh
    token then must still count as a reuse (the extra ACCESS_TOKEN_TTL is a margin:
    a revoked session's access tokens are dead by then). Afterwards the token is
    refused as expired, with or without its row. Denylist entries go at their own
    ``expires_at``; audit events once older than AUDIT_RETENTION.
    """
    now = now or timezone.now()
    grace = app_settings.ACCESS_TOKEN_TTL + app_settings.LEEWAY
    return {
        "issued tokens": IssuedToken.objects.filter(expires_at__lt=now - grace),
        "sessions": SignInSession.objects.filter(expires_at__lt=now - grace),
        "revoked tokens": RevokedToken.objects.filter(expires_at__lte=now),
        "events": TokenEvent.objects.filter(created_at__lt=now - app_settings.AUDIT_RETENTION),
    }


def delete_in_batches(
    queryset: QuerySet[Any], batch_size: int, *, pause: float | None = None
) -> Iterator[int]:
    """Delete ``queryset`` ``batch_size`` rows at a time, in primary-key order;
    yield each batch's count.

    Each batch is two short statements: the key of its last row (one value read),
    then one DELETE of the range of keys up to it, so no lock is held for long and
    no list of keys travels to Python and back (that took ~40 % of a cleanup on
    SQLite). Each batch starts after the last one's key, never at the table's
    start, where PostgreSQL's deleted rows wait for VACUUM. On SQLite, whose one
    writer lock is taken by the next batch the moment the last one commits, a
    pause between batches lets waiting sign-ins in: a waiting writer's busy handler
    polls every 25 to 50 ms through its first ~230 ms of waiting, so a 50 ms pause
    is always seen by a writer that waited through one batch. A larger page cache
    for this connection keeps the index pages of the table in memory across batches.
    """
    database = queryset.db
    connection = connections[database]
    pause = (SQLITE_PAUSE if connection.vendor == "sqlite" else 0.0) if pause is None else pause
    label = queryset.model._meta.label
    last_pk = None
    with _bulk_delete_cache(connection):
        while True:
            page = queryset.order_by("pk")
            if last_pk is not None:
                page = page.filter(pk__gt=last_pk)
            edge = list(page.values_list("pk", flat=True)[batch_size - 1 : batch_size])
            batch = page.filter(pk__lte=edge[0]) if edge else page
            # Of this model only: a cascade's rows are not this batch's.
            yield batch.delete()[1].get(label, 0)
            if not edge:
                return
            last_pk = edge[0]
            time.sleep(pause)


# Seconds between two batches on SQLite (see delete_in_batches).
SQLITE_PAUSE = 0.05

# SQLite's page cache for the cleanup's connection, in KiB (negative: a size, not
# pages). Only an upper bound: memory is used as pages are read.
SQLITE_CLEANUP_CACHE_KIB = 256 * 1024


@contextmanager
def _bulk_delete_cache(connection: Any) -> Iterator[None]:
    if connection.vendor != "sqlite":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA cache_size")
        (previous,) = cursor.fetchone()
        cursor.execute(f"PRAGMA cache_size = -{SQLITE_CLEANUP_CACHE_KIB}")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA cache_size = {int(previous)}")
