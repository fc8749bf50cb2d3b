"""Rate limits: how often one client or one address may act, counted in a shared cache.

The HTTP-free half of the limits. ``middleware.RateLimitMiddleware`` uses it for
the per-IP limits and the failed-verification reservation (before the view);
the services use it for the per-address limit of a link request (on the
validated address the flow acts on) and for the audit budget of refused Bearer
tokens. Counters go through django-ratelimit's public ``get_usage``, in the cache
its own ``RATELIMIT_USE_CACHE`` names, with its windows and hashed keys. The app
owns one counter: the failed-verification reservation, which is given back on
success, and django-ratelimit has no call for that. Over a limit, ``Refused``;
a cache that fails refuses too (``RATELIMIT_FAIL_OPEN`` lets requests through).
No HTTP here, and no database beyond the summary rows written through ``audit``.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import re
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime
from datetime import timezone as dt_timezone
from typing import Any

from django.core.cache import BaseCache, caches
from django_ratelimit.core import get_usage

from . import addresses, audit, rediscache
from .clientinfo import Client
from .conf import app_settings, ratelimit_setting
from .models import EventType

__all__ = [
    "Refused",
    "Reservation",
    "count",
    "count_request_address",
    "enforced",
    "ip_bucket",
    "keep_bearer_refusal",
    "parse_rate",
    "reserve_failure",
    "write_bearer_summaries",
]

logger = logging.getLogger("django_jwt_email")

# Groups are namespaced so that none shares a counter with a site's own
# django-ratelimit group of the same name.
NAMESPACE = "django_jwt_email."
FAILED_GROUP = "failed_ip"
BEARER_GROUP = "bearer_failed_ip"
# Failing closed has no window to report: ask the client to come back in a minute.
FAIL_CLOSED_RETRY_AFTER = 60
# Seconds a counter outlives its window (django-ratelimit's EXPIRATION_FUDGE).
FUDGE = 5
# How long a window's tally of unwritten Bearer refusals waits for its summary row,
# and how many slots of windows a first look back scans at most.
SUMMARY_TTL = 24 * 3600
MAX_SLOTS = 1440
RATE = re.compile(r"(\d+)/(\d*)([smhd])")
PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


class Refused(Exception):
    """A limit is reached: ``group`` may try again in ``retry_after`` seconds."""

    def __init__(self, group: str, retry_after: int) -> None:
        super().__init__(group)
        self.group = group
        self.retry_after = retry_after


def parse_rate(rate: str) -> tuple[int, int]:
    """``"5/15m"`` → (5, 900): how many per how many seconds. ValueError if invalid."""
    match = RATE.fullmatch(rate) if isinstance(rate, str) else None
    if match is None or match.group(2) == "0":
        raise ValueError(f"not a rate: {rate!r}")
    allowed, multiple, unit = match.groups()
    return int(allowed), int(multiple or 1) * PERIODS[unit]


def ip_bucket(ip: str | None) -> str:
    """The client's network, as django-ratelimit masks it: an IPv6 /64 by default,
    since one subscriber usually holds a whole /64 and rotates within it for free.

    ``ip`` comes from ``clientinfo.client_ip`` (IPv4-mapped addresses already as
    IPv4), the same as in the audit log.
    """
    if ip is None:  # no usable address: all such clients share one bucket
        return "unknown"
    mask = ratelimit_setting("RATELIMIT_IPV6_MASK" if ":" in ip else "RATELIMIT_IPV4_MASK")
    return str(ipaddress.ip_network(f"{ip}/{mask}", strict=False).network_address)


# --- counted through django-ratelimit --------------------------------------------------


def count(group: str, value: str) -> None:
    """Count one request in bucket ``value`` of ``group``; raise ``Refused`` beyond
    its rate (the limit+1-th request of a window is the first refused)."""
    usage = _usage(group, value)
    if usage is not None and usage["should_limit"]:
        raise Refused(group, _retry_after(usage["time_left"]))


def _usage(group: str, value: str) -> dict[str, Any] | None:
    """django-ratelimit's ``get_usage`` of one counted request; None when limits are
    off or the cache failed open. A cache that raises fails as django-ratelimit
    fails: closed (``Refused``) unless ``RATELIMIT_FAIL_OPEN``."""
    try:
        # get_usage reads the request only for its method (not checked: the
        # default ALL) and for keys it computes itself; ours is computed here.
        return get_usage(
            None,
            group=NAMESPACE + group,
            key=lambda _group, _request: value,
            rate=app_settings.RATE_LIMITS[group],
            increment=True,
        )
    except Exception:  # any cache backend error (ConnectionError, memcached, ...), or a
        # bad rate that check E002 reports: never a 500 on the sign-in endpoints.
        logger.exception("rate limit %s could not be counted", group)
        if ratelimit_setting("RATELIMIT_FAIL_OPEN"):
            return None
        raise Refused(group, FAIL_CLOSED_RETRY_AFTER) from None


def _retry_after(time_left: int) -> int:
    # A window still holds in its last second (time_left 0): the next starts a
    # second later. A negative time_left is django-ratelimit failing closed.
    return time_left + 1 if time_left >= 0 else FAIL_CLOSED_RETRY_AFTER


# --- the per-address limit of a link request --------------------------------------------

_enforced: ContextVar[bool] = ContextVar("django_jwt_email.limits.enforced", default=False)


@contextmanager
def enforced() -> Iterator[None]:
    """Within this block (a request through ``RateLimitMiddleware``), the services'
    limits apply. Outside it (a shell, a task, a site's tests, or a site without
    the middleware, which check W005 warns about) they do not."""
    token = _enforced.set(True)
    try:
        yield
    finally:
        _enforced.reset(token)


def count_request_address(address: str) -> None:
    """Count a link request for ``address`` in ``request_email``; raise ``Refused``.

    Called by the service with the address its input validation accepted, so
    the bucket is the address the flow acts on, whatever the content type or
    charset of the body it came in.
    """
    if _enforced.get():
        count("request_email", addresses.rate_limit_key(address))


# --- the failed-verification reservation (the one counter the app owns) -----------------


class Reservation:
    """One failed verification taken in advance; ``release()`` gives it back."""

    def __init__(self, cache: BaseCache | None = None, key: str = "", expires: int = 0) -> None:
        self._cache = cache
        self._key = key
        self._expires = expires  # when the counter expires (a Unix time)

    def release(self) -> None:
        """Give the reservation back (the verification did not fail). Once only."""
        cache, self._cache = self._cache, None
        if cache is None:
            return
        try:
            _decrement(cache, self._key, self._expires)
        except ValueError:  # the window ended and its counter expired: nothing to give back
            pass
        except Exception:  # a lost give-back costs one failure of budget, never a 500
            logger.exception("rate limit %s could not be given back", FAILED_GROUP)


def reserve_failure(bucket: str) -> Reservation:
    """Take one of client ``bucket``'s ``failed_ip`` budget before the view runs.

    Counting failures after the view let a burst of concurrent bad tokens all
    pass the check before any was counted (27 tries against a limit of 20). A
    reservation is counted atomically first (``add`` then ``incr``: atomic on
    Redis and memcached), so at most ``failed_ip`` verifications are ever in
    flight or failed per window; the caller releases it when the verification
    did not fail, so successes never count. Raises ``Refused`` beyond the rate.
    """
    if not ratelimit_setting("RATELIMIT_ENABLE"):
        return Reservation()
    try:
        allowed, period = parse_rate(app_settings.RATE_LIMITS[FAILED_GROUP])
        now = int(time.time())
        end = window_end(bucket, period, now)
        key = _owned_key("failed_ip.reserved", bucket, period, end)
        cache = _cache()
        taken = _increment(cache, key, end - now + FUDGE)
    except Exception:  # as _usage: fail closed unless RATELIMIT_FAIL_OPEN
        logger.exception("rate limit %s could not be counted", FAILED_GROUP)
        if ratelimit_setting("RATELIMIT_FAIL_OPEN"):
            return Reservation()
        raise Refused(FAILED_GROUP, FAIL_CLOSED_RETRY_AFTER) from None
    reservation = Reservation(cache, key, end + FUDGE)
    if taken > allowed:
        reservation.release()  # refused requests do not hold the budget
        raise Refused(FAILED_GROUP, _retry_after(end - now))
    return reservation


def window_end(value: str, period: int, now: int) -> int:
    """The end of the current window of ``value``: django-ratelimit's windows, fixed
    from the epoch with a per-key offset, so that not every bucket resets at once."""
    if period == 1:
        return now
    end = now - now % period + zlib.crc32(value.encode()) % period
    return end + period if end < now else end


def _owned_key(name: str, value: str, period: int, end: int) -> str:
    """A hashed cache key of the app's own counters, beside django-ratelimit's."""
    digest = hashlib.sha256(f"{NAMESPACE}{name}/{period}/{value}/{end}".encode()).hexdigest()
    return f"{ratelimit_setting('RATELIMIT_CACHE_PREFIX')}{digest}"


def _increment(cache: BaseCache, key: str, timeout: int) -> int:
    client = rediscache.client_of(cache, write=True)
    if client is not None:
        # Django's RedisCache: one round trip instead of three (add, then incr's own
        # EXISTS and INCR). The counter cannot expire between the two: it lives at
        # least FUDGE seconds.
        name = cache.make_and_validate_key(key)
        pipeline = client.pipeline(transaction=False)
        pipeline.set(name, 0, ex=timeout, nx=True)
        pipeline.incr(name)
        return int(pipeline.execute()[1])
    cache.add(key, 0, timeout)
    try:
        return cache.incr(key)
    except ValueError:  # expired between add() and incr(): a new window
        cache.add(key, 0, timeout)
        return cache.incr(key)


def _decrement(cache: BaseCache, key: str, expires: int) -> None:
    client = rediscache.client_of(cache, write=True)
    if client is None:
        cache.decr(key)
        return
    # One round trip instead of two. Should the window's counter have expired
    # already, DECR makes a new one at -1: its expiry, set again with it, removes it
    # when the counter it stands for would have gone, at once if that time is past
    # (its name is that window's alone: no later window counts it).
    name = cache.make_and_validate_key(key)
    pipeline = client.pipeline(transaction=False)
    pipeline.decr(name)
    pipeline.expire(name, expires - int(time.time()))
    pipeline.execute()


def _cache() -> BaseCache:
    return caches[ratelimit_setting("RATELIMIT_USE_CACHE")]


# --- the audit budget of refused Bearer tokens ----------------------------------------
#
# Refusals within RATE_LIMITS["bearer_failed_ip"] per client are written one row
# each. Beyond it they are tallied in the cache, and one rate_limited row per
# (client, window) says how many were not written. That row is written once the
# window is over, so that its count is final: by the first Bearer refusal of any
# client after the window's end (every refusal checks, at the cost of one cache
# read). Writing it at the first unwritten refusal and updating it later would
# write the database again per refusal, or leave the count wrong. Each window
# registers its tallies under the slot of time its end falls in, and a slot is
# written once (claimed with ``add``) by whichever process sees it over first.


def keep_bearer_refusal(ip: str | None) -> bool:
    """Count one refused Bearer token of the client at ``ip``: True if its row is to
    be written (within the rate), False if it was tallied for the summary row.

    Never raises: a cache that fails means the refusal is written, as before.
    """
    if not ratelimit_setting("RATELIMIT_ENABLE"):
        return True
    try:
        write_bearer_summaries()
    except Exception:  # the database or the cache: the summaries wait for the next refusal
        logger.exception("could not write the %s summaries", BEARER_GROUP)
    bucket = ip_bucket(ip)
    try:
        usage = _usage(BEARER_GROUP, bucket)
        if usage is None or not usage["should_limit"] or usage["time_left"] < 0:
            return True
        _tally(bucket)
    except Exception:  # Refused (the cache failed closed) included: write the row
        return True
    return False


def _tally(bucket: str) -> None:
    """Count one unwritten refusal of ``bucket`` in its window; register the window
    for its summary row at its first unwritten refusal."""
    _, period = parse_rate(app_settings.RATE_LIMITS[BEARER_GROUP])
    now = int(time.time())
    end = window_end(bucket, period, now)
    cache = _cache()
    timeout = end - now + SUMMARY_TTL
    if _increment(cache, _owned_key("bearer.unwritten", bucket, period, end), timeout) == 1:
        slot = _slot_key(period, -(-end // period))  # windows ending in ((s - 1)P, sP]
        number = _increment(cache, slot, timeout)
        cache.set(f"{slot}:{number}", (bucket, end), timeout)


def write_bearer_summaries(now: float | None = None) -> int:
    """Write the summary rows of every window that is over; return how many."""
    _, period = parse_rate(app_settings.RATE_LIMITS[BEARER_GROUP])
    cache = _cache()
    due = int(now if now is not None else time.time()) // period  # slots ended by now
    done_key = _slot_key(period, "written")
    done = cache.get(done_key)
    if done is not None and done >= due:
        return 0
    # Unknown (never written, or the mark expired): look back as far as tallies live.
    first = due - min(SUMMARY_TTL // period, MAX_SLOTS) + 1
    if done is not None:
        first = max(first, done + 1)
    slots = [_slot_key(period, slot) for slot in range(first, due + 1)]
    written = 0
    for slot, entries in cache.get_many(slots).items():
        # Each slot's rows are written once, by whoever claims it first.
        if entries and cache.add(f"{slot}:claimed", 1, SUMMARY_TTL):
            written += _write_slot(cache, slot, period, int(entries))
    cache.set(done_key, due, SUMMARY_TTL)
    return written


def _write_slot(cache: BaseCache, slot: str, period: int, entries: int) -> int:
    windows = cache.get_many([f"{slot}:{number}" for number in range(1, entries + 1)])
    keys = {
        _owned_key("bearer.unwritten", bucket, period, end): (bucket, end)
        for bucket, end in windows.values()
    }
    tallies = cache.get_many(list(keys))
    for key, unwritten in tallies.items():
        bucket, end = keys[key]
        audit.record(
            EventType.RATE_LIMITED,
            reason=BEARER_GROUP,
            client=Client(ip=None if bucket == "unknown" else bucket),
            count=int(unwritten),
            # The row belongs to the window it counts, whenever it is written.
            created_at=datetime.fromtimestamp(end, tz=dt_timezone.utc),
        )
    return len(tallies)


def _slot_key(period: int, slot: object) -> str:
    return f"{ratelimit_setting('RATELIMIT_CACHE_PREFIX')}{NAMESPACE}bearer/{period}/{slot}"
