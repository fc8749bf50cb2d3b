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

With Django's RedisCache, each process also keeps a copy of Redis's answers
(``tracking``): Redis itself tells the process about every change to the marks,
so a check costs no round trip, and a process that cannot vouch for its copy (a
lost connection, a PING unanswered for ``tracking.STALE`` seconds) asks Redis as
before. A revocation is thus refused by every process at once, and in any case
no later than ``tracking.STALE`` seconds after Redis took its mark.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from datetime import datetime
from itertools import islice
from threading import Lock
from typing import Any

from django.core.cache import BaseCache, caches
from django.core.cache.backends.redis import RedisCache
from django.core.signals import setting_changed
from django.db import DatabaseError
from django.dispatch import receiver
from django.utils import timezone

from . import rediscache
from .availability import is_outage, warn_once_a_minute
from .conf import PREFIX, app_settings
from .exceptions import Unavailable
from .models import RevokedKind, RevokedToken, SignInSession
from .tracking import TrackedKeys

__all__ = ["is_session_revoked", "mark_sessions", "reload_marks"]

KEY_PREFIX = "jwt_email:revoked:"
LOADED_KEY = KEY_PREFIX + "loaded"
# Seconds between reloads from the database: one query per interval per cache.
RELOAD_EVERY = 60
# Each process keeps a tracked copy of Redis's answers (see the module docstring).
# False asks Redis on every check: the benchmarks measure both.
TRACK_IN_PROCESS = True


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
    if setting in (PREFIX + "REVOCATION_CACHE", "CACHES"):
        _forget_tracked()


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
        _forget([_key(sid) for sid in marks])
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
    _forget([LOADED_KEY, *(_key(sid) for sid in marks)])
    with _pending_lock:
        for sid in marks:
            _pending.pop(sid, None)


def is_session_revoked(sid: str) -> bool:
    """True if ``sid`` is marked revoked. No round trip when this process's tracked
    copy knows (Django's RedisCache), else one; no database query unless the cache
    has lost its marks or cannot be reached. Raises Unavailable when neither the
    cache nor the database can answer: never a guess."""
    key = _key(sid)
    try:
        _write_pending()
        tracked = _tracked()
        if tracked is not None:
            return _is_revoked_tracked(tracked, key)
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


def _is_revoked_tracked(tracked: TrackedKeys, key: str) -> bool:
    """The answer of this process's tracked copy, or of Redis (then kept in the copy)."""
    names = [_redis_name(tracked, LOADED_KEY), _redis_name(tracked, key)]
    known = tracked.get(names)
    if known is not None and known[0]:
        return known[1]
    # Read before asking: an invalidation that comes in meanwhile voids the answer.
    epoch = tracked.epoch
    found = _present([LOADED_KEY, key], primary=True)
    if LOADED_KEY not in found:
        reload_marks()
        return key in _present([key], primary=True)
    tracked.remember(epoch, {names[0]: True, names[1]: key in found})
    return key in found


def _present(keys: list[str], *, primary: bool = False) -> set[str]:
    """Which of ``keys`` the revocation cache holds: one round trip (a get_many).
    ``primary``: from the server the tracked copy follows, not a replica."""
    cache = _cache()
    client = rediscache.client_of(cache, write=primary)
    if client is None:
        return set(cache.get_many(keys))
    values = client.mget([cache.make_key(key) for key in keys])
    return {key for key, value in zip(keys, values, strict=True) if value is not None}


# --- the tracked copy of each process ------------------------------------------------------

# By cache alias: this process's TrackedKeys, or None where there can be none.
_tracked_keys: dict[str, TrackedKeys | None] = {}
_tracked_lock = Lock()


def _tracked() -> TrackedKeys | None:
    """This process's tracked copy of the revocation cache's marks, made at first use
    (a forked process makes its own); None where there can be none."""
    if not TRACK_IN_PROCESS:
        return None
    alias = _alias()
    if alias in _tracked_keys:
        tracked = _tracked_keys[alias]
        if tracked is None or tracked.pid == os.getpid():
            return tracked
    with _tracked_lock:
        tracked = _tracked_keys[alias] = _track(_cache())
    return tracked


def _track(cache: BaseCache) -> TrackedKeys | None:
    """Only for Django's own RedisCache (its connection pool gives the server and its
    options), and only if its KEY_FUNCTION keeps the marks' keys under one prefix
    with their names at the end (Django's default does), so that a mark's name in
    Redis is known without asking the cache (see ``_redis_name``)."""
    if type(cache) is not RedisCache:
        return None
    prefix = cache.make_key(KEY_PREFIX)
    for key in (LOADED_KEY, _key("sid")):
        if cache.make_key(key) != prefix + key.removeprefix(KEY_PREFIX):
            return None
    try:
        pool = cache._cache.get_client(None, write=True).connection_pool  # private, as above
    except AttributeError:
        return None
    return TrackedKeys(pool, prefix)


def _redis_name(tracked: TrackedKeys, key: str) -> bytes:
    """The name in Redis of the cache key ``key`` (under ``KEY_PREFIX``)."""
    return tracked.prefix + key.removeprefix(KEY_PREFIX).encode()


def _forget(keys: list[str]) -> None:
    """This process changed ``keys``: its tracked copy, if it has one, drops them now."""
    tracked = _tracked_keys.get(_alias())
    if tracked is not None and tracked.pid == os.getpid():
        tracked.forget(_redis_name(tracked, key) for key in keys)


def _forget_tracked() -> None:
    with _tracked_lock:
        for tracked in _tracked_keys.values():
            if tracked is not None and tracked.pid == os.getpid():
                tracked.close()
        _tracked_keys.clear()


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
        _write_missing(batch)
        count += len(batch)
    # Set last: until the marks are in, other callers keep reloading.
    _cache().set(LOADED_KEY, 1, timeout=RELOAD_EVERY)
    return count


def _write_missing(marks: dict[str, datetime]) -> None:
    """Write the marks the cache lacks, in one round trip. On Redis, marks already
    there are left alone (SET NX): rewriting them would send every tracking process
    an invalidation per mark at every reload, for nothing."""
    cache = _cache()
    client = rediscache.client_of(cache, write=True)
    if client is None:
        _write(marks)
        return
    timeout = max(1, int((max(marks.values()) - timezone.now()).total_seconds()) + 1)
    pipeline = client.pipeline(transaction=False)
    for sid in marks:
        # The value as RedisCache stores an int; only the key's presence is read.
        pipeline.set(cache.make_key(_key(sid)), 1, ex=timeout, nx=True)
    pipeline.execute()
