"""Revocation marks of sign-in sessions (``sid``) in the cache, backed by the denylist.

Access tokens are stateless, so revoking one means marking its ``sid`` in the
cache named by REVOCATION_CACHE, where authentication looks on every request
without touching the database. The database (``RevokedToken``) stays the source
of truth: when the cache has lost its marks (a flush, a restart, a new process),
the missing "loaded" key says so and the live marks are reloaded in one query.
That key also expires every ``RELOAD_EVERY`` seconds, which bounds how long a
mark lost on its own (an evicting cache, a per-process cache) can go unnoticed.

When the cache cannot be reached, a check asks the database instead (one indexed
query on the session's row), and a mark that could not be written is kept in this
process and written at its next contact with the cache, which also deletes the
"loaded" key so that every process reloads the marks from the database. A
revocation therefore never depends on the cache: it is in the database first.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from itertools import islice
from threading import Lock
from typing import Any
from weakref import WeakKeyDictionary

from django.core.cache import BaseCache, caches
from django.core.cache.backends.redis import RedisCache
from django.core.signals import setting_changed
from django.db import DatabaseError
from django.dispatch import receiver
from django.utils import timezone

from .availability import is_outage, warn_once_a_minute
from .conf import PREFIX, app_settings
from .exceptions import Unavailable
from .models import RevokedKind, RevokedToken, SignInSession

__all__ = ["is_session_revoked", "mark_sessions", "reload_marks"]

KEY_PREFIX = "jwt_email:revoked:"
LOADED_KEY = KEY_PREFIX + "loaded"
# Seconds between reloads from the database: one query per interval per cache.
RELOAD_EVERY = 60


def _cache() -> BaseCache:
    return caches[_alias()]


# The alias, read once per settings: looked up on every authenticated request.
_aliases: list[str] = []


def _alias() -> str:
    if not _aliases:
        _aliases.append(app_settings.REVOCATION_CACHE)
    return _aliases[0]


@receiver(setting_changed)
def _reset_alias(*, setting: str, **kwargs: Any) -> None:
    if setting == PREFIX + "REVOCATION_CACHE":
        _aliases.clear()


def _key(sid: str) -> str:
    return f"{KEY_PREFIX}sid:{sid}"


def mark_sessions(sids: Iterable[str], expires_at: datetime) -> None:
    """Mark ``sids`` revoked until ``expires_at`` (when their access tokens are dead).

    Never raises: the revocation is in the database already. A mark the cache did
    not take is kept and written at this process's next contact with the cache.
    """
    marks = {sid: expires_at for sid in sids}
    if not marks:
        return
    try:
        _write_pending()
        _write(marks)
    except Exception:  # any cache backend error: ConnectionError, TimeoutError, ...
        warn_once_a_minute(
            "revocation_write",
            "revocation cache unreachable: %d mark(s) kept to write later; the database "
            "refuses the revoked sessions meanwhile",
            len(marks),
        )
        with _pending_lock:
            _pending.update(marks)


def _write(marks: dict[str, datetime]) -> None:
    """Write marks in one round trip, with the latest expiry among them."""
    timeout = max(1, int((max(marks.values()) - timezone.now()).total_seconds()) + 1)
    _cache().set_many({_key(sid): 1 for sid in marks}, timeout=timeout)


# Marks this process could not write, by sid, with their expiry.
_pending: dict[str, datetime] = {}
_pending_lock = Lock()


def _write_pending() -> None:
    """Write the marks kept during an outage, then delete the "loaded" key: the cache
    may have come back with old data, so every process reloads from the database."""
    if not _pending:
        return
    with _pending_lock:
        marks = dict(_pending)
    _write(marks)
    _cache().delete(LOADED_KEY)
    with _pending_lock:
        for sid in marks:
            _pending.pop(sid, None)


def is_session_revoked(sid: str) -> bool:
    """True if ``sid`` is marked revoked. One cache round trip; no database query
    unless the cache has lost its marks or cannot be reached. Raises Unavailable
    when neither the cache nor the database can answer: never a guess."""
    key = _key(sid)
    try:
        _write_pending()
        found = _present([LOADED_KEY, key])
        if LOADED_KEY not in found:
            reload_marks()
            found = _present([key])
    except DatabaseError as exc:  # reloading, with the cache up and the database not
        raise _unavailable(exc) from exc
    except Exception:  # any cache backend error: ask the source of truth instead
        warn_once_a_minute(
            "revocation_read", "revocation cache unreachable: asking the database instead"
        )
        return _revoked_in_database(sid)
    return key in found


def _revoked_in_database(sid: str) -> bool:
    """The session row says whether it is revoked: one query by its unique sid."""
    try:
        return SignInSession.objects.filter(sid=sid).exclude(revoked_at=None).exists()
    except DatabaseError as exc:
        raise _unavailable(exc) from exc


def _unavailable(exc: DatabaseError) -> Exception:
    return Unavailable("revocation_unavailable") if is_outage(exc) else exc


def _present(keys: list[str]) -> set[str]:
    """Which of ``keys`` the revocation cache holds: one round trip (a get_many)."""
    cache = _cache()
    client = _redis_client(cache)
    if client is None:
        return set(cache.get_many(keys))
    values = client.mget([cache.make_key(key) for key in keys])
    return {key for key, value in zip(keys, values, strict=True) if value is not None}


# Per cache object (Django keeps one per thread), the redis-py client to reuse.
_redis_clients: WeakKeyDictionary[BaseCache, Any] = WeakKeyDictionary()


def _redis_client(cache: BaseCache) -> Any:
    """For Django's own RedisCache, one redis-py client kept per cache object.

    That backend builds a new client for every call, which costs more CPU than
    the round trip itself (redis-py fills ~170 response callbacks per client),
    on every authenticated request. The connection pool underneath is the same
    and the question asked (MGET of the same keys) too, so reusing the client
    changes the cost, not the answer. Other backends (and subclasses, which may
    override get_many) answer through their own get_many.
    """
    if type(cache) is not RedisCache:
        return None
    client = _redis_clients.get(cache)
    if client is None:
        try:
            client = cache._cache.get_client(None, write=False)  # Django's private API
        except AttributeError:  # a Django release that changed it: the public path
            return None
        _redis_clients[cache] = client
    return client


# Marks written per round trip when reloading; rows come in expiry order, so the
# marks of one batch expire within moments of each other.
RELOAD_BATCH = 1000


def reload_marks() -> int:
    """Copy every live session revocation from the database into the cache, one round
    trip per batch of marks."""
    now = timezone.now()
    rows = (
        RevokedToken.objects.filter(kind=RevokedKind.SESSION, expires_at__gt=now)
        .order_by("expires_at")
        .values_list("jti", "expires_at")
        .iterator(chunk_size=RELOAD_BATCH)
    )
    count = 0
    while batch := dict(islice(rows, RELOAD_BATCH)):
        _write(batch)
        count += len(batch)
    # Set last: until the marks are in, other callers keep reloading.
    _cache().set(LOADED_KEY, 1, timeout=RELOAD_EVERY)
    return count
