"""The redis-py client behind Django's own RedisCache, made once per cache object.

Django's RedisCache builds a new redis-py client for every call, which costs more
CPU than the round trip itself (redis-py fills ~170 response callbacks per
client), and a few of its calls take two round trips (``incr`` checks that the
key exists first). The hot paths that know they talk to Redis (revocation checks,
the rate-limit counters the app owns) reuse one client per cache object instead:
the connection pool underneath is the cache's own, so the server, its options and
the keys (``cache.make_key``) are the same; only the cost changes. Other backends,
and subclasses of RedisCache (which may override its calls), get None: the
caller uses the cache's public API.
"""

from __future__ import annotations

from typing import Any
from weakref import WeakKeyDictionary

from django.core.cache import BaseCache
from django.core.cache.backends.redis import RedisCache

__all__ = ["client_of"]

# Per cache object (Django keeps one per thread): the clients of its primary
# (write=True) and of the server it reads from.
_clients: WeakKeyDictionary[BaseCache, dict[bool, Any]] = WeakKeyDictionary()


def client_of(cache: BaseCache, *, write: bool = False) -> Any:
    """The redis-py client of Django's RedisCache ``cache`` (of its primary with
    ``write``), or None for any other cache."""
    if type(cache) is not RedisCache:
        return None
    clients = _clients.setdefault(cache, {})
    client = clients.get(write)
    if client is None:
        try:
            client = cache._cache.get_client(None, write=write)  # Django's private API
        except AttributeError:  # a Django release that changed it: the public path
            return None
        clients[write] = client
    return client
