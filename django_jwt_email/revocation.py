"""Revocation marks of sign-in sessions (``sid``) in the cache, backed by the denylist.

Access tokens are stateless, so revoking one means marking its ``sid`` in the
cache named by REVOCATION_CACHE, where authentication looks on every request
without touching the database. The database (``RevokedToken``) stays the source
of truth: when the cache has lost its marks (a flush, a restart, a new process),
the missing "loaded" key says so and the live marks are reloaded in one query.
That key also expires every ``RELOAD_EVERY`` seconds, which bounds how long a
mark lost on its own (an evicting cache, a per-process cache) can go unnoticed.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.core.cache import BaseCache, caches
from django.utils import timezone

from .conf import app_settings
from .models import RevokedToken

KEY_PREFIX = "jwt_email:revoked:"
LOADED_KEY = KEY_PREFIX + "loaded"
# Seconds between reloads from the database: one query per interval per cache.
RELOAD_EVERY = 60


def _cache() -> BaseCache:
    return caches[app_settings.REVOCATION_CACHE]


def _key(sid: str) -> str:
    return f"{KEY_PREFIX}sid:{sid}"


def mark_sessions(sids: Iterable[str], expires_at: datetime) -> None:
    """Mark ``sids`` revoked until ``expires_at`` (when their access tokens are dead)."""
    timeout = max(1, int((expires_at - timezone.now()).total_seconds()) + 1)
    marks = {_key(sid): 1 for sid in sids}
    if marks:
        _cache().set_many(marks, timeout=timeout)


def is_session_revoked(sid: str) -> bool:
    """True if ``sid`` is marked revoked. One cache round trip; no database query
    unless the cache has lost its marks."""
    found = _cache().get_many([LOADED_KEY, _key(sid)])
    if LOADED_KEY not in found:
        reload_marks()
        found = _cache().get_many([_key(sid)])
    return _key(sid) in found


def reload_marks() -> int:
    """Copy every live session revocation from the database into the cache."""
    now = timezone.now()
    rows = RevokedToken.objects.filter(kind=RevokedToken.Kind.SESSION, expires_at__gt=now)
    count = 0
    for sid, expires_at in rows.values_list("jti", "expires_at").iterator():
        mark_sessions([sid], expires_at)
        count += 1
    # Set last: until the marks are in, other callers keep reloading.
    _cache().set(LOADED_KEY, 1, timeout=RELOAD_EVERY)
    return count
