"""Operations on the stored rows: recording rate-limited requests and pruning
what no check needs any more, in batches that never hold a long lock."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from django.db import connections, transaction
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

    Each batch is one short transaction (its keys selected, then deleted by key
    in statements that respect the database's parameter limit), so no lock is
    held for long. On SQLite, whose one writer lock is taken by the next batch
    the moment the last one commits, a pause between batches lets waiting
    sign-ins in (its busy handler polls at up to 100 ms), and a larger page cache
    for this connection keeps the index pages of the table in memory across
    batches (deleting rows rewrites pages all over the random-order indexes).
    """
    database = queryset.db
    connection = connections[database]
    sqlite = connection.vendor == "sqlite"
    pause = (0.1 if sqlite else 0.0) if pause is None else pause
    chunk = connection.features.max_query_params or batch_size
    last_pk = None
    with _bulk_delete_cache(connection):
        while True:
            page = queryset.order_by("pk")
            if last_pk is not None:
                page = page.filter(pk__gt=last_pk)
            pks = list(page.values_list("pk", flat=True)[:batch_size])
            if not pks:
                return
            with transaction.atomic(using=database):
                deleted = sum(
                    queryset.model._base_manager.using(database)
                    .filter(pk__in=pks[start : start + chunk])
                    .delete()[0]
                    for start in range(0, len(pks), chunk)
                )
            yield deleted
            if len(pks) < batch_size:
                return
            last_pk = pks[-1]
            time.sleep(pause)


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
