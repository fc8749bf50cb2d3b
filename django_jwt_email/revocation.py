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
from typing import Any
from weakref import WeakKeyDictionary

from django.core.cache import BaseCache, caches
from django.core.cache.backends.redis import RedisCache
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils import timezone

from .conf import PREFIX, app_settings
from .models import RevokedKind, RevokedToken

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
    """Mark ``sids`` revoked until ``expires_at`` (when their access tokens are dead)."""
    timeout = max(1, int((expires_at - timezone.now()).total_seconds()) + 1)
    marks = {_key(sid): 1 for sid in sids}
    if marks:
        _cache().set_many(marks, timeout=timeout)


def is_session_revoked(sid: str) -> bool:
    """True if ``sid`` is marked revoked. One cache round trip; no database query
    unless the cache has lost its marks."""
    key = _key(sid)
    found = _present([LOADED_KEY, key])
    if LOADED_KEY not in found:
        reload_marks()
        found = _present([key])
    return key in found


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


def reload_marks() -> int:
    """Copy every live session revocation from the database into the cache."""
    now = timezone.now()
    rows = RevokedToken.objects.filter(kind=RevokedKind.SESSION, expires_at__gt=now)
    count = 0
    for sid, expires_at in rows.values_list("jti", "expires_at").iterator():
        mark_sessions([sid], expires_at)
        count += 1
    # Set last: until the marks are in, other callers keep reloading.
    _cache().set(LOADED_KEY, 1, timeout=RELOAD_EVERY)
    return count
